package peerlink

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
)

// linkKey derives the HMAC key for link handshakes from the cookie; the
// gossip key (package cluster) comes from the same cookie with another
// salt, so the two are independent.
func linkKey(cookie string) []byte {
	k, err := hkdf.Key(sha256.New, []byte(cookie), []byte("emqx-go link salt v1"), "rpc link hmac key", 32)
	if err != nil {
		panic(err) // only for lengths sha256 cannot produce
	}
	return k
}

// proof is HMAC(key, role | own nonce | peer nonce | own name | peer name).
// Each side signs both nonces, so a recorded proof is useless later.
func proof(key []byte, role string, own, peer []byte, ownName, peerName string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range [][]byte{[]byte(role), own, peer, []byte(ownName), []byte(peerName)} {
		var l [2]byte
		l[0], l[1] = byte(len(p)>>8), byte(len(p))
		m.Write(l[:])
		m.Write(p)
	}
	return m.Sum(nil)
}
