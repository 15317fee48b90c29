package cluster

import (
	"crypto/hkdf"
	"crypto/sha256"
)

// gossipKey derives serf's AES-256 key from the cookie (the peer links
// derive their HMAC key from it with another salt).
func gossipKey(cookie string) []byte {
	k, err := hkdf.Key(sha256.New, []byte(cookie), []byte("emqx-go gossip salt v1"), "serf gossip key", 32)
	if err != nil {
		panic(err) // only for lengths sha256 cannot produce
	}
	return k
}
