package mcast

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestEncodeDecode(t *testing.T) {
	key := proofKey("cookie")
	m := message{V: 1, T: typePing, Node: "emqx1@10.0.0.1", Cluster: "emqxcl", Nonce: newNonce()}
	b := encode(key, &m)
	if len(b) > maxMessage {
		t.Fatalf("datagram of %d bytes", len(b))
	}
	got, ok := decode(b)
	if !ok || *got != m || !verify(key, got) {
		t.Fatalf("decode(%q) = %+v, %v", b, got, ok)
	}
	if verify(proofKey("other"), got) {
		t.Fatal("verified with another cookie")
	}
	for _, f := range []func(*message){
		func(m *message) { m.T = typePong },
		func(m *message) { m.Node = "emqx2@10.0.0.1" },
		func(m *message) { m.Cluster = "other" },
		func(m *message) { m.Nonce = newNonce() },
	} {
		c := *got
		f(&c)
		if verify(key, &c) {
			t.Errorf("proof still valid after changing %+v", c)
		}
	}
	if !bytes.HasPrefix(b, []byte(magic)) || bytes.Contains(b, []byte(`"cookie":"cookie`)) {
		t.Fatalf("unexpected datagram %q", b)
	}
	// the longest names still fit
	m = message{V: 1, T: typePong, Node: "a@" + strings.Repeat("h", maxField-2),
		Cluster: strings.Repeat("c", maxField), Nonce: newNonce()}
	if b := encode(key, &m); len(b) > maxMessage {
		t.Fatalf("longest message is %d bytes > %d", len(b), maxMessage)
	} else if _, ok := decode(b); !ok {
		t.Fatal("longest message rejected")
	}
	// one byte longer is not
	m.Cluster += "c"
	if _, ok := decode(encode(key, &m)); ok {
		t.Fatal("over-long cluster name accepted")
	}
}

func TestDecodeRandomBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	key := proofKey("cookie")
	valid := encode(key, &message{V: 1, T: typePing, Node: "a@b", Cluster: "c", Nonce: newNonce()})
	for range 20000 {
		var b []byte
		if r.IntN(2) == 0 {
			b = make([]byte, r.IntN(300))
			for i := range b {
				b[i] = byte(r.Uint32())
			}
		} else { // mutate a valid datagram
			b = append([]byte(nil), valid...)
			for range 1 + r.IntN(4) {
				b[r.IntN(len(b))] = byte(r.Uint32())
			}
			b = b[:r.IntN(len(b)+1)]
		}
		if m, ok := decode(b); ok {
			verify(key, m)
		}
	}
}

func FuzzDecode(f *testing.F) {
	key := proofKey("cookie")
	f.Add(encode(key, &message{V: 1, T: typePing, Node: "a@b", Cluster: "c", Nonce: newNonce()}))
	f.Add([]byte(magic + "{}"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, ok := decode(b); ok {
			verify(key, m)
		}
	})
}
