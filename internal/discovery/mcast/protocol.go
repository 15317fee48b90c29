package mcast

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"strings"
)

// Wire format: magic, then a JSON object (see the package documentation).
const (
	magic      = "EMQXGOMC"
	version    = 1
	typePing   = "ping"
	typePong   = "pong"
	maxField   = 255  // longest node or cluster name accepted
	maxMessage = 1024 // longest datagram accepted
	readBuffer = 2048 // > maxMessage, so an oversized datagram is seen as such
	nonceLen   = 16   // bytes, sent as hex
	proofLen   = 16   // bytes of HMAC-SHA256 kept, sent as hex
	keyLabel   = "emqxgo cluster.discovery=mcast v1"
)

type message struct {
	V       int    `json:"v"`
	T       string `json:"t"`
	Node    string `json:"node"`
	Cluster string `json:"cluster"`
	Nonce   string `json:"nonce"`
	Cookie  string `json:"cookie"` // proof of the cookie, never the cookie
}

// proofKey derives the key of the proofs from the cookie, so that the
// strategy does not keep the cookie itself.
func proofKey(cookie string) []byte {
	h := hmac.New(sha256.New, []byte(cookie))
	h.Write([]byte(keyLabel))
	return h.Sum(nil)
}

// proof is HMAC-SHA256(key, type|cluster|node|nonce), length-prefixed,
// truncated to proofLen bytes.
func proof(key []byte, m *message) []byte {
	h := hmac.New(sha256.New, key)
	var n [binary.MaxVarintLen64]byte
	for _, f := range []string{m.T, m.Cluster, m.Node, m.Nonce} {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		h.Write([]byte(f))
	}
	return h.Sum(nil)[:proofLen]
}

func verify(key []byte, m *message) bool {
	got, err := hex.DecodeString(m.Cookie)
	if err != nil || len(got) != proofLen {
		return false
	}
	return hmac.Equal(got, proof(key, m))
}

// encode fills in the proof and returns the datagram.
func encode(key []byte, m *message) []byte {
	m.Cookie = hex.EncodeToString(proof(key, m))
	b, err := json.Marshal(m)
	if err != nil { // cannot happen: strings and an int
		panic(err)
	}
	return append([]byte(magic), b...)
}

// decode parses and sanity-checks a datagram; ok is false for anything that
// is not a well-formed message of this protocol version. The proof is not
// checked here.
func decode(b []byte) (m *message, ok bool) {
	if len(b) > maxMessage || !bytes.HasPrefix(b, []byte(magic)) {
		return nil, false
	}
	m = new(message)
	if err := json.Unmarshal(b[len(magic):], m); err != nil {
		return nil, false
	}
	switch {
	case m.V != version,
		m.T != typePing && m.T != typePong,
		m.Node == "" || len(m.Node) > maxField || !strings.Contains(m.Node, "@"),
		m.Cluster == "" || len(m.Cluster) > maxField,
		!isHex(m.Nonce, nonceLen),
		!isHex(m.Cookie, proofLen):
		return nil, false
	}
	return m, true
}

func isHex(s string, n int) bool {
	if len(s) != 2*n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

func newNonce() string {
	var b [nonceLen]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go >= 1.24)
	return hex.EncodeToString(b[:])
}
