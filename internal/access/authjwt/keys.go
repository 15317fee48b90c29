package authjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
)

// key is one verification key: []byte (HMAC), *rsa.PublicKey,
// *ecdsa.PublicKey or ed25519.PublicKey, with the "kid" of its JWK.
type key struct {
	kid    string
	hasKid bool
	k      any
}

// readPubkey reads the first PEM block of a file: a public key (PKIX or
// PKCS #1), a certificate, or a private key (PKCS #8, PKCS #1, SEC 1)
// whose public half is taken.
func readPubkey(path string) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	var pub any
	switch blk.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(blk.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(blk.Bytes)
	case "CERTIFICATE":
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(blk.Bytes); err == nil {
			pub = c.PublicKey
		}
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
		var priv any
		switch blk.Type {
		case "PRIVATE KEY":
			priv, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "RSA PRIVATE KEY":
			priv, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		default:
			priv, err = x509.ParseECPrivateKey(blk.Bytes)
		}
		if s, ok := priv.(crypto.Signer); ok && err == nil {
			pub = s.Public()
		}
	default:
		return nil, fmt.Errorf("%s: PEM block %q is not a key or certificate", path, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch pub.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return pub, nil
	}
	return nil, fmt.Errorf("%s: %T is not an RSA, EC or Ed25519 key", path, pub)
}

// errSkip marks a JWK that is well-formed but of a kind no JWS algorithm
// here verifies with (Ed448, X25519, ...): it is left out of the set.
var errSkip = errors.New("key type not usable for signatures here")

// parseJWKS reads a JSON Web Key Set. A key that is malformed fails the
// whole set (as it fails EMQX's), a well-formed one this cannot use is
// left out; skipped counts those.
func parseJWKS(body []byte) (keys []key, skipped int, err error) {
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, 0, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	if set.Keys == nil {
		return nil, 0, errors.New(`not a JSON Web Key Set: no "keys" list`)
	}
	keys = []key{}
	for i, m := range set.Keys {
		k, err := parseJWK(m)
		if errors.Is(err, errSkip) {
			skipped++
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("key %d: %w", i, err)
		}
		keys = append(keys, k)
	}
	return keys, skipped, nil
}

func parseJWK(m map[string]any) (key, error) {
	var k key
	if kid, ok := m["kid"].(string); ok {
		k.kid, k.hasKid = kid, true
	}
	str := func(name string) (string, error) {
		s, ok := m[name].(string)
		if !ok {
			return "", fmt.Errorf("%q missing or not a string", name)
		}
		return s, nil
	}
	b64 := func(name string) ([]byte, error) {
		s, err := str(name)
		if err != nil {
			return nil, err
		}
		b, err := decodeB64URL(s)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", name, err)
		}
		return b, nil
	}
	kty, err := str("kty")
	if err != nil {
		return k, err
	}
	switch kty {
	case "oct":
		b, err := b64("k")
		if err != nil {
			return k, err
		}
		k.k = b
	case "RSA":
		n, err := b64("n")
		if err != nil {
			return k, err
		}
		e, err := b64("e")
		if err != nil {
			return k, err
		}
		ei := new(big.Int).SetBytes(e)
		if len(n) == 0 || !ei.IsInt64() || ei.Int64() < 2 || ei.Int64() > 1<<31-1 {
			return k, errors.New("bad RSA modulus or exponent")
		}
		k.k = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(ei.Int64())}
	case "EC":
		crv, err := str("crv")
		if err != nil {
			return k, err
		}
		var c elliptic.Curve
		switch crv {
		case "P-256":
			c = elliptic.P256()
		case "P-384":
			c = elliptic.P384()
		case "P-521":
			c = elliptic.P521()
		default:
			return k, errSkip // secp256k1 and others
		}
		x, err := b64("x")
		if err != nil {
			return k, err
		}
		y, err := b64("y")
		if err != nil {
			return k, err
		}
		size := (c.Params().BitSize + 7) / 8
		if len(x) > size || len(y) > size {
			return k, errors.New("EC coordinates too long for the curve")
		}
		pt := make([]byte, 1+2*size)
		pt[0] = 4
		copy(pt[1+size-len(x):], x)
		copy(pt[1+2*size-len(y):], y)
		pub, err := ecdsa.ParseUncompressedPublicKey(c, pt)
		if err != nil {
			return k, err
		}
		k.k = pub
	case "OKP":
		crv, err := str("crv")
		if err != nil {
			return k, err
		}
		if crv != "Ed25519" {
			return k, errSkip
		}
		x, err := b64("x")
		if err != nil {
			return k, err
		}
		if len(x) != ed25519.PublicKeySize {
			return k, errors.New("Ed25519 key of a wrong size")
		}
		k.k = ed25519.PublicKey(x)
	default:
		return k, fmt.Errorf("unknown key type %q", kty)
	}
	return k, nil
}

// decodeB64URL reads base64url with or without padding.
func decodeB64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
