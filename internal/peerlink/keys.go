package peerlink

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
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

// mac is HMAC-SHA256(key) over each part, each preceded by its 2-byte
// length, so no two lists of parts sign the same bytes.
func mac(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		var l [2]byte
		binary.BigEndian.PutUint16(l[:], uint16(len(p)))
		m.Write(l[:])
		m.Write(p)
	}
	return m.Sum(nil)
}

func epochBytes(e int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(e)) }

// dialerProof is the dialer's proof in its hello h: over the acceptor's
// nonce (so it cannot be recorded and replayed), its own nonce, and all it
// claims (its name, the name it dialed, cluster.name, intent, epoch).
func dialerProof(key, acceptorNonce []byte, h *frame) []byte {
	return mac(key, []byte("dialer"), []byte{h.Ver}, acceptorNonce, h.Nonce,
		[]byte(h.Node), []byte(h.To), []byte(h.Clust), []byte(h.Want), epochBytes(h.Epoch))
}

// acceptorProof is the acceptor's proof in its welcome w, sent only once
// the dialer proved: over both nonces, the dialer's name and what the
// acceptor tells about itself. The role differs from the dialer's, so one
// side's proof is never valid as the other's.
func acceptorProof(key, acceptorNonce, dialerNonce []byte, w *frame, dialer string) []byte {
	return mac(key, []byte("acceptor"), []byte{w.Ver}, acceptorNonce, dialerNonce,
		[]byte(w.Node), []byte(dialer), []byte(w.Clust), epochBytes(w.Epoch))
}
