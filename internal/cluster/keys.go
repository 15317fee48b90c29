package cluster

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
)

// gossipKey derives serf's AES-256 key from the cookie.
func gossipKey(cookie string) []byte {
	k, err := hkdf.Key(sha256.New, []byte(cookie), []byte("emqx-go gossip salt v1"), "serf gossip key", 32)
	if err != nil {
		panic(err) // only for lengths sha256 cannot produce
	}
	return k
}

// linkKey derives the HMAC key for link handshakes from the cookie, so the
// gossip key and the link key are independent.
func linkKey(cookie string) []byte {
	k, err := hkdf.Key(sha256.New, []byte(cookie), []byte("emqx-go link salt v1"), "rpc link hmac key", 32)
	if err != nil {
		panic(err)
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
