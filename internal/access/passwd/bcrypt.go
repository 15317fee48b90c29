package passwd

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"

	//lint:ignore SA1019 bcrypt is built on Blowfish (golang.org/x/crypto/bcrypt imports it too)
	"golang.org/x/crypto/blowfish"
)

// bcrypt with a given salt, as the OpenBSD code of the erlang-bcrypt NIF
// EMQX uses computes it (golang.org/x/crypto/bcrypt only hashes with a
// salt of its own drawing). The Blowfish key schedule is
// golang.org/x/crypto/blowfish's, made for this.

// bcryptSettingLen is the length of "$2b$10$" and the 22-character salt.
const bcryptSettingLen = 29

// bcryptEncoding is bcrypt's base64: its own alphabet, no padding.
var bcryptEncoding = base64.NewEncoding("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789").WithPadding(base64.NoPadding)

var errBcryptSalt = errors.New(`bcrypt salt must be "$2a$", "$2b$", "$2x$" or "$2y$", a cost from 04 to 31, "$" and 22 salt characters`)

// NewBcryptSalt returns a fresh bcrypt setting of the given cost (4 to
// 31): "$2b$", the cost in two digits, "$" and 22 salt characters.
func NewBcryptSalt(cost int) ([]byte, error) {
	if cost < 4 || cost > 31 {
		return nil, fmt.Errorf("bcrypt cost %d: must be from 4 to 31", cost)
	}
	raw := make([]byte, 16)
	_, _ = rand.Read(raw)
	return fmt.Appendf(nil, "$2b$%02d$%s", cost, bcryptEncoding.EncodeToString(raw)), nil
}

// bcryptHash hashes password with the setting at the start of salt.
func bcryptHash(password, salt []byte) ([]byte, error) {
	if len(salt) < bcryptSettingLen || salt[0] != '$' || salt[1] != '2' || salt[3] != '$' || salt[6] != '$' {
		return nil, errBcryptSalt
	}
	minor := salt[2]
	// The NIF hands the password over as a C string: it ends at a NUL.
	if i := bytes.IndexByte(password, 0); i >= 0 {
		password = password[:i]
	}
	var keyLen int
	switch minor {
	case 'a':
		keyLen = (len(password) + 1) & 0xff // the 8-bit wrap of $2a$
	case 'b', 'x', 'y':
		keyLen = min(len(password), 72) + 1
	default:
		return nil, errBcryptSalt
	}
	if keyLen == 0 {
		return nil, errors.New("bcrypt: a $2a$ password of 255 bytes hashes with an empty key")
	}
	key := append(password[:min(len(password), keyLen):min(len(password), keyLen)], 0)[:keyLen]
	cost, err := strconv.Atoi(string(salt[4:6]))
	if err != nil || cost < 4 || cost > 31 {
		return nil, errBcryptSalt
	}
	// 22 characters carry 132 bits: the last 4 are dropped, and the salt
	// written out is the canonical encoding of the 16 bytes.
	csalt, err := bcryptEncoding.DecodeString(string(salt[7:bcryptSettingLen]))
	if err != nil {
		return nil, errBcryptSalt
	}

	c, err := blowfish.NewSaltedCipher(key, csalt)
	if err != nil {
		return nil, err
	}
	for i := uint64(0); i < 1<<cost; i++ {
		blowfish.ExpandKey(key, c)
		blowfish.ExpandKey(csalt, c)
	}
	text := []byte("OrpheanBeholderScryDoubt")
	for i := 0; i < len(text); i += 8 {
		for range 64 {
			c.Encrypt(text[i:i+8], text[i:i+8])
		}
	}
	out := fmt.Appendf(make([]byte, 0, 60), "$2%c$%02d$", minor, cost)
	out = bcryptEncoding.AppendEncode(out, csalt)
	return bcryptEncoding.AppendEncode(out, text[:23]), nil
}
