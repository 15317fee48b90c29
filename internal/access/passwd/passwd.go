package passwd

import (
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
)

// Alg is a hash type of emqx_passwd, by its EMQX name.
type Alg string

// The hash types of emqx_passwd.
const (
	Plain  Alg = "plain"
	MD5    Alg = "md5"
	SHA    Alg = "sha" // SHA-1
	SHA256 Alg = "sha256"
	SHA512 Alg = "sha512"
	Bcrypt Alg = "bcrypt"
	PBKDF2 Alg = "pbkdf2"
)

// MnesiaKey is the built-in database's setting; MnesiaAlgs are the values
// it takes and MnesiaDefault its default (emqx_auth_mnesia.schema).
const (
	MnesiaKey     = "auth.mnesia.password_hash"
	MnesiaDefault = SHA256
)

// MnesiaAlgs are the values of auth.mnesia.password_hash.
var MnesiaAlgs = []Alg{Plain, MD5, SHA, SHA256, SHA512}

// Algs are every hash type emqx_passwd knows.
var Algs = []Alg{Plain, MD5, SHA, SHA256, SHA512, Bcrypt, PBKDF2}

// ErrUnknownAlg is wrapped by the errors about a hash type not in Algs (or,
// for a pbkdf2 MAC, not one of md5, sha, sha224, sha256, sha384, sha512).
var ErrUnknownAlg = errors.New("unknown hash type")

// ErrNeedsParams is returned by Hash for pbkdf2, whose MAC, iterations and
// key length are not in its arguments: use HashPBKDF2.
var ErrNeedsParams = errors.New("pbkdf2 needs a MAC, iterations and a key length: use HashPBKDF2")

// ParseAlg returns the hash type named s (any of Algs).
func ParseAlg(s string) (Alg, error) {
	if a := Alg(s); slices.Contains(Algs, a) {
		return a, nil
	}
	return "", fmt.Errorf("%w %q (one of %s)", ErrUnknownAlg, s, joinAlgs(Algs))
}

// ParseMnesiaAlg returns the hash type of an auth.mnesia.password_hash
// value (one of MnesiaAlgs).
func ParseMnesiaAlg(s string) (Alg, error) {
	if a := Alg(s); slices.Contains(MnesiaAlgs, a) {
		return a, nil
	}
	return "", fmt.Errorf("%w %q (one of %s)", ErrUnknownAlg, s, joinAlgs(MnesiaAlgs))
}

func joinAlgs(as []Alg) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

// newDigest returns the hash function of a digest type, nil for others.
func newDigest(a Alg) func() hash.Hash {
	switch a {
	case MD5:
		return md5.New
	case SHA:
		return sha1.New
	case SHA256:
		return sha256.New
	case SHA512:
		return sha512.New
	}
	return nil
}

// hexLen is the length of a's hex digest, 0 for a type that is not a digest.
func hexLen(a Alg) int {
	if d := newDigest(a); d != nil {
		return 2 * d().Size()
	}
	return 0
}

// Hash is emqx_passwd's hash of password under salt, with the salt placed
// as the built-in database places it:
//
//   - plain: salt ++ password;
//   - md5, sha, sha256, sha512: the lowercase hex digest of salt ++ password;
//   - bcrypt: salt is a bcrypt setting ("$2b$10$" and 22 characters, or a
//     whole bcrypt hash, of which the first 29 bytes count) and the result
//     the 60-character bcrypt hash of password;
//   - pbkdf2: ErrNeedsParams (see HashPBKDF2).
//
// A nil salt hashes the password alone.
func Hash(alg Alg, salt, password []byte) ([]byte, error) {
	switch alg {
	case Plain:
		return slices.Concat(salt, password), nil
	case Bcrypt:
		return bcryptHash(password, salt)
	case PBKDF2:
		return nil, ErrNeedsParams
	}
	d := newDigest(alg)
	if d == nil {
		_, err := ParseAlg(string(alg))
		return nil, err
	}
	h := d()
	h.Write(salt)
	h.Write(password)
	return hex.AppendEncode(nil, h.Sum(nil)), nil
}

// Check reports whether stored is Hash(alg, salt, password), comparing in
// constant time (for a given length). For bcrypt a nil salt means the
// salt of stored itself (emqx_passwd's plain "bcrypt" type); a given salt
// must be the one stored was made with ("salt,bcrypt"). It is false for
// pbkdf2 (see CheckPBKDF2) and an unknown type.
func Check(alg Alg, salt, stored, password []byte) bool {
	if alg == Bcrypt && salt == nil {
		if len(stored) < bcryptSettingLen {
			return false
		}
		salt = stored[:bcryptSettingLen]
	}
	h, err := Hash(alg, salt, password)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(h, stored) == 1
}

// pbkdf2MAC returns the hash function of a pbkdf2 MAC name: those of the
// Erlang pbkdf2 library EMQX uses, except md4 and ripemd160.
func pbkdf2MAC(mac Alg) func() hash.Hash {
	switch mac {
	case "sha224":
		return sha256.New224
	case "sha384":
		return sha512.New384
	}
	return newDigest(mac)
}

// HashPBKDF2 is emqx_passwd's pbkdf2 hash (the password_hash setting
// "pbkdf2,<mac>,<iterations>,<dklen>" of the SQL and Mongo plugins): the
// lowercase hex of the PBKDF2-HMAC-<mac> key of dkLen bytes derived from
// password and salt in iterations rounds. mac is md5, sha, sha224, sha256,
// sha384 or sha512.
func HashPBKDF2(mac Alg, salt, password []byte, iterations, dkLen int) ([]byte, error) {
	h := pbkdf2MAC(mac)
	if h == nil {
		return nil, fmt.Errorf("pbkdf2: %w %q (one of md5, sha, sha224, sha256, sha384, sha512)", ErrUnknownAlg, mac)
	}
	if iterations < 1 || dkLen < 1 {
		return nil, fmt.Errorf("pbkdf2: iterations (%d) and key length (%d) must be at least 1", iterations, dkLen)
	}
	k, err := pbkdf2.Key(h, string(password), salt, iterations, dkLen)
	if err != nil {
		return nil, err
	}
	return hex.AppendEncode(nil, k), nil
}

// CheckPBKDF2 reports whether stored is HashPBKDF2(mac, salt, password,
// iterations, dkLen), comparing in constant time.
func CheckPBKDF2(mac Alg, salt, stored, password []byte, iterations, dkLen int) bool {
	h, err := HashPBKDF2(mac, salt, password, iterations, dkLen)
	return err == nil && subtle.ConstantTimeCompare(h, stored) == 1
}

// SaltLen is the length of the built-in database's salt.
const SaltLen = 4

// NewSalt returns a salt for a built-in database record: 4 random bytes,
// a big-endian integer from 1 to 2^32-1 as EMQX draws it.
func NewSalt() []byte {
	for {
		var b [SaltLen]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
		if binary.BigEndian.Uint32(b[:]) != 0 {
			return b[:]
		}
	}
}

// NewRecord returns a new built-in database record of password: a fresh
// salt followed by Hash(alg, salt, password). alg is one of MnesiaAlgs.
func NewRecord(alg Alg, password []byte) ([]byte, error) {
	if _, err := ParseMnesiaAlg(string(alg)); err != nil {
		return nil, err
	}
	return MakeRecord(alg, NewSalt(), password)
}

// MakeRecord is NewRecord with a given salt of SaltLen bytes.
func MakeRecord(alg Alg, salt, password []byte) ([]byte, error) {
	if len(salt) != SaltLen {
		return nil, fmt.Errorf("salt of %d bytes, want %d", len(salt), SaltLen)
	}
	h, err := Hash(alg, salt, password)
	if err != nil {
		return nil, err
	}
	return slices.Concat(salt, h), nil
}

// CheckRecord reports whether password matches a built-in database record
// under alg (one of MnesiaAlgs), as emqx_auth_mnesia matches it: a record
// as long as an unsalted hex digest of alg is that digest of the password;
// any other is 4 salt bytes and the salted hash. A record too short to hold
// a salt never matches (EMQX fails the check with an exception, which
// leaves the decision to the next backend; here it is simply no match). A
// nil password is the empty one, as in EMQX.
func CheckRecord(alg Alg, record, password []byte) bool {
	if !slices.Contains(MnesiaAlgs, alg) {
		return false
	}
	if alg != Plain && len(record) == hexLen(alg) {
		return Check(alg, nil, record, password)
	}
	if len(record) < SaltLen {
		return false
	}
	return Check(alg, record[:SaltLen], record[SaltLen:], password)
}

// EncodeRecord is a record as EMQX's data export writes it: standard
// base64 with padding.
func EncodeRecord(record []byte) string { return base64.StdEncoding.EncodeToString(record) }

// DecodeRecord reads a record written by EncodeRecord or by EMQX's export.
func DecodeRecord(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
