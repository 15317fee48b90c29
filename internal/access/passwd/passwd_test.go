package passwd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// The digests below were computed outside Go, e.g.
//
//	printf public | openssl dgst -sha256 -r
//	(printf '\x01\x02\x03\x04'; printf public) | openssl dgst -sha256 -r
var unsalted = map[Alg]string{
	MD5:    "4c9184f37cff01bcdc32dc486ec36961",
	SHA:    "61c9b2b17db77a27841bbeeabff923448b0f6388",
	SHA256: "efa1f375d76194fa51a3556a97e641e61685f914d446979da50a551a4333ffd7",
	SHA512: "d32997e9747b65a3ecf65b82533a4c843c4e16dd30cf371e8c81ab60a341de00051da422d41ff29c55695f233a1e06fac8b79aeb0a4d91ae5d3d18c8e09b8c73",
}

var salted = map[Alg]string{ // salt 01 02 03 04, password "public"
	MD5:    "274a116ae66899c55421c57ec999475f",
	SHA:    "b86e42bf7ccd9ba13c9d5937338a1414c0bd7f57",
	SHA256: "a103cdb4d4621c292a41cc5bc632db0cbe1272a3f04886c5dc24c72194fe555c",
	SHA512: "c8047d2e00cb1fa29fcdbd742530e3f9c8539dd877c798a06d907eb3f570d333d093e2768613d7db8f41293b98c2aaf690bed3495feb0cbc98f8f78b245714ae",
}

var salt1234 = []byte{1, 2, 3, 4}

func TestHashDigests(t *testing.T) {
	for alg, want := range unsalted {
		got, err := Hash(alg, nil, []byte("public"))
		if err != nil || string(got) != want {
			t.Errorf("Hash(%s, nil, public) = %s, %v; want %s", alg, got, err, want)
		}
		if !Check(alg, nil, []byte(want), []byte("public")) || Check(alg, nil, []byte(want), []byte("Public")) {
			t.Errorf("Check(%s) unsalted", alg)
		}
	}
	for alg, want := range salted {
		got, err := Hash(alg, salt1234, []byte("public"))
		if err != nil || string(got) != want {
			t.Errorf("Hash(%s, 01020304, public) = %s, %v; want %s", alg, got, err, want)
		}
		if !Check(alg, salt1234, []byte(want), []byte("public")) || Check(alg, []byte{1, 2, 3, 5}, []byte(want), []byte("public")) {
			t.Errorf("Check(%s) salted", alg)
		}
		// EMQX compares the hex as written: upper case does not match.
		if Check(alg, salt1234, []byte(strings.ToUpper(want)), []byte("public")) {
			t.Errorf("Check(%s) took upper-case hex", alg)
		}
	}
	if h, _ := Hash(Plain, salt1234, []byte("pw")); !bytes.Equal(h, []byte("\x01\x02\x03\x04pw")) {
		t.Errorf("plain = %q", h)
	}
	// printf '' | sha256sum: an absent password hashes as the empty one.
	if h, _ := Hash(SHA256, nil, nil); string(h) != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("sha256 of nothing = %s", h)
	}
}

func TestParse(t *testing.T) {
	for _, a := range Algs {
		if got, err := ParseAlg(string(a)); err != nil || got != a {
			t.Errorf("ParseAlg(%s) = %s, %v", a, got, err)
		}
	}
	for _, s := range []string{"sha1", "SHA256", "", "md4", "sha224"} {
		if _, err := ParseAlg(s); !errors.Is(err, ErrUnknownAlg) {
			t.Errorf("ParseAlg(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"bcrypt", "pbkdf2"} { // not for the built-in database
		if _, err := ParseMnesiaAlg(s); !errors.Is(err, ErrUnknownAlg) {
			t.Errorf("ParseMnesiaAlg(%q) = %v", s, err)
		}
	}
	if a, err := ParseMnesiaAlg(string(MnesiaDefault)); err != nil || a != SHA256 {
		t.Errorf("default %s %v", a, err)
	}
	if _, err := Hash("sha3", nil, nil); !errors.Is(err, ErrUnknownAlg) {
		t.Errorf("Hash(sha3) = %v", err)
	}
	if _, err := Hash(PBKDF2, nil, nil); !errors.Is(err, ErrNeedsParams) {
		t.Errorf("Hash(pbkdf2) = %v", err)
	}
}

// Records exported by EMQX (apps/emqx_management/test/
// emqx_auth_mnesia_data_export_import_SUITE_data/ee427.json and ee435.json,
// password_hash sha256): both are the password 123456, which
//
//	(echo <record> | base64 -d | head -c4; printf 123456) | sha256sum
//
// confirms against the record's tail.
var exported = []string{
	"WVlGsjBiNGJkOWRkN2QyZmYyOWViYjI4MzRiZjQyMDgzNDhkYzJjZmZlOGVjMjUzOGU5NDkwYmYyYjY5N2Q3NjUyMDU=",
	"joYZ7GY2NzcxNTQwMzY4OTRjNWUyMTdmNDlkNmE5Yzc5MDJiNjA5OWRkMWRkZjc5N2E5OGI4YWFlYTdlOWNiMjU5OWE=",
}

func TestRecordExportedByEMQX(t *testing.T) {
	for _, s := range exported {
		rec, err := DecodeRecord(s)
		if err != nil {
			t.Fatal(err)
		}
		if len(rec) != SaltLen+64 {
			t.Fatalf("record of %d bytes", len(rec))
		}
		if !CheckRecord(SHA256, rec, []byte("123456")) {
			t.Errorf("%s: 123456 does not verify", s)
		}
		if CheckRecord(SHA256, rec, []byte("1234567")) || CheckRecord(SHA512, rec, []byte("123456")) {
			t.Errorf("%s: a wrong password or type verifies", s)
		}
		if EncodeRecord(rec) != s {
			t.Errorf("EncodeRecord does not give back %s", s)
		}
	}
}

func TestRecords(t *testing.T) {
	for _, alg := range MnesiaAlgs {
		rec, err := NewRecord(alg, []byte("secret"))
		if err != nil {
			t.Fatal(err)
		}
		if !CheckRecord(alg, rec, []byte("secret")) || CheckRecord(alg, rec, []byte("Secret")) || CheckRecord(alg, rec, nil) {
			t.Errorf("%s: record %q", alg, rec)
		}
		if alg != Plain && len(rec) != SaltLen+hexLen(alg) {
			t.Errorf("%s: record of %d bytes", alg, len(rec))
		}
	}
	// Known salted record: 01020304 ++ the salted vector.
	rec, err := MakeRecord(SHA256, salt1234, []byte("public"))
	if err != nil || string(rec) != "\x01\x02\x03\x04"+salted[SHA256] {
		t.Fatalf("MakeRecord = %q, %v", rec, err)
	}
	// plain: salt ++ salt ++ password.
	rec, _ = MakeRecord(Plain, salt1234, []byte("pw"))
	if string(rec) != "\x01\x02\x03\x04\x01\x02\x03\x04pw" || !CheckRecord(Plain, rec, []byte("pw")) {
		t.Errorf("plain record %q", rec)
	}
	// A record as long as a bare digest is an unsalted digest (records of
	// EMQX before salts).
	for alg, h := range unsalted {
		if !CheckRecord(alg, []byte(h), []byte("public")) {
			t.Errorf("%s: unsalted record does not verify", alg)
		}
	}
	// Empty password records.
	rec, _ = MakeRecord(MD5, salt1234, nil)
	if !CheckRecord(MD5, rec, nil) || !CheckRecord(MD5, rec, []byte{}) || CheckRecord(MD5, rec, []byte("x")) {
		t.Error("empty password")
	}
	for _, short := range [][]byte{nil, {1}, {1, 2, 3}} {
		if CheckRecord(Plain, short, nil) || CheckRecord(SHA256, short, nil) {
			t.Errorf("record %v too short for a salt matched", short)
		}
	}
	if CheckRecord(Bcrypt, rec, nil) {
		t.Error("bcrypt is not a built-in database type")
	}
	if _, err := NewRecord(Bcrypt, nil); err == nil {
		t.Error("NewRecord(bcrypt)")
	}
	if _, err := MakeRecord(SHA256, []byte{1, 2}, nil); err == nil {
		t.Error("salt of 2 bytes")
	}
}

func TestNewSalt(t *testing.T) {
	seen := map[uint32]bool{}
	for range 100 {
		s := NewSalt()
		if len(s) != SaltLen {
			t.Fatalf("salt of %d bytes", len(s))
		}
		v := binary.BigEndian.Uint32(s)
		if v == 0 {
			t.Fatal("zero salt (EMQX draws 1 to 2^32-1)")
		}
		seen[v] = true
	}
	if len(seen) < 95 {
		t.Errorf("%d distinct salts of 100", len(seen))
	}
}

func TestPBKDF2(t *testing.T) {
	for _, c := range []struct {
		mac             Alg
		pw, salt        string
		iter, dkLen     int
		want            string
		computedOutside string
	}{
		// RFC 6070.
		{SHA, "password", "salt", 1, 20, "0c60c80f961f0e71f3a9b524af6012062fe037a6", "RFC 6070"},
		{SHA, "password", "salt", 4096, 20, "4b007901b765489abead49d926f721d065a429c1", "RFC 6070"},
		// openssl kdf -keylen 20 -kdfopt digest:SHA256 -kdfopt pass:password
		//   -kdfopt salt:salt -kdfopt iter:1000 PBKDF2 (the case of
		// emqx_passwd_SUITE), and python3 hashlib.pbkdf2_hmac.
		{SHA256, "password", "salt", 1000, 20, "632c2812e46d4604102ba7618e9d6d7d2f8128f6", "openssl"},
		// openssl kdf -keylen 32 -kdfopt digest:SHA1 -kdfopt pass:public
		//   -kdfopt salt:NaCl -kdfopt iter:4096 PBKDF2
		{SHA, "public", "NaCl", 4096, 32, "43782971094dd46a592c8cfe0237b85036c6db305e98d2daa3b8efe17d93a05a", "openssl"},
	} {
		got, err := HashPBKDF2(c.mac, []byte(c.salt), []byte(c.pw), c.iter, c.dkLen)
		if err != nil || string(got) != c.want {
			t.Errorf("%s %s/%s/%d/%d = %s, %v; want %s (%s)", c.mac, c.pw, c.salt, c.iter, c.dkLen, got, err, c.want, c.computedOutside)
		}
		if !CheckPBKDF2(c.mac, []byte(c.salt), []byte(c.want), []byte(c.pw), c.iter, c.dkLen) ||
			CheckPBKDF2(c.mac, []byte(c.salt), []byte(c.want), []byte(c.pw+"x"), c.iter, c.dkLen) {
			t.Errorf("CheckPBKDF2 %s", c.want)
		}
	}
	for _, mac := range []Alg{"md4", "ripemd160", Bcrypt, ""} {
		if _, err := HashPBKDF2(mac, nil, nil, 1, 20); !errors.Is(err, ErrUnknownAlg) {
			t.Errorf("mac %q: %v", mac, err)
		}
	}
	if _, err := HashPBKDF2(SHA256, nil, nil, 0, 20); err == nil {
		t.Error("0 iterations")
	}
}

// Vectors of the bcrypt-ruby suite (the ones erlang-bcrypt, EMQX's NIF,
// tests with) and of OpenWall's crypt_blowfish.
var bcryptVectors = []struct{ pw, hash string }{
	{"", "$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s."},
	{"a", "$2a$06$m0CrhHm10qJ3lXRY.5zDGO3rS2KdeeWLuGmsfGlMfOxih58VYVfxe"},
	{"abc", "$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i"},
	{"abcdefghijklmnopqrstuvwxyz", "$2a$06$.rCVZVOThsIa97pEDOxvGuRRgzG64bvtJ0938xuqzv18d3ZpQhstC"},
	{"~!@#$%^&*()      ~!@#$%^&*()PNBFRD", "$2a$06$fPIsBO8qRqkjj273rfaOI.HtSV9jLDpTbZn782DC6/t7qT67P6FfO"},
	{"U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"},
}

func TestBcryptVectors(t *testing.T) {
	for _, v := range bcryptVectors {
		got, err := Hash(Bcrypt, []byte(v.hash[:29]), []byte(v.pw))
		if err != nil || string(got) != v.hash {
			t.Errorf("bcrypt(%q) = %s, %v; want %s", v.pw, got, err, v.hash)
		}
		// emqx_passwd's "bcrypt": the salt is the stored hash's.
		if !Check(Bcrypt, nil, []byte(v.hash), []byte(v.pw)) || Check(Bcrypt, nil, []byte(v.hash), []byte(v.pw+"x")) {
			t.Errorf("Check(bcrypt, %q)", v.pw)
		}
		// "salt,bcrypt": the salt column; the whole hash works as one too.
		if !Check(Bcrypt, []byte(v.hash), []byte(v.hash), []byte(v.pw)) {
			t.Errorf("Check(bcrypt, hash as salt, %q)", v.pw)
		}
	}
}

func TestBcryptAgainstXCrypto(t *testing.T) {
	for _, pw := range []string{"", "p", "public", strings.Repeat("x", 72), strings.Repeat("y", 100)} {
		salt, err := NewBcryptSalt(4)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(salt, []byte("$2b$04$")) || len(salt) != 29 {
			t.Fatalf("salt %s", salt)
		}
		h, err := Hash(Bcrypt, salt, []byte(pw))
		if err != nil || !bytes.HasPrefix(h, salt) || len(h) != 60 {
			t.Fatalf("Hash = %s, %v", h, err)
		}
		if err := bcrypt.CompareHashAndPassword(h, []byte(pw)); err != nil {
			t.Errorf("x/crypto rejects our hash of %d bytes: %v", len(pw), err)
		}
		ref, _ := bcrypt.GenerateFromPassword([]byte(pw[:min(len(pw), 72)]), 4)
		if !Check(Bcrypt, nil, ref, []byte(pw)) {
			t.Errorf("x/crypto's hash of %d bytes does not check", len(pw))
		}
	}
	// $2b$ uses 72 bytes at most; the NIF reads the password as a C string.
	salt, _ := NewBcryptSalt(4)
	a, _ := Hash(Bcrypt, salt, []byte(strings.Repeat("z", 72)+"tail"))
	b, _ := Hash(Bcrypt, salt, []byte(strings.Repeat("z", 72)))
	c, _ := Hash(Bcrypt, salt, []byte("ab\x00cd"))
	d, _ := Hash(Bcrypt, salt, []byte("ab"))
	if !bytes.Equal(a, b) || !bytes.Equal(c, d) {
		t.Error("truncation at 72 bytes or at NUL")
	}
}

func TestBcryptBadSalt(t *testing.T) {
	for _, s := range []string{"", "$2b$04$short", "$3b$04$CCCCCCCCCCCCCCCCCCCCC.", "$2c$04$CCCCCCCCCCCCCCCCCCCCC.",
		"$2b$03$CCCCCCCCCCCCCCCCCCCCC.", "$2b$32$CCCCCCCCCCCCCCCCCCCCC.", "$2b$04$CCCCCCCCCCCCCCCCCCCC!.", "$2b$0x$CCCCCCCCCCCCCCCCCCCCC."} {
		if _, err := Hash(Bcrypt, []byte(s), []byte("pw")); err == nil {
			t.Errorf("salt %q accepted", s)
		}
		if Check(Bcrypt, nil, []byte(s), []byte("pw")) {
			t.Errorf("stored %q checks", s)
		}
	}
	if _, err := NewBcryptSalt(3); err == nil {
		t.Error("cost 3")
	}
}
