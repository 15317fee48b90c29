package cluster

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"emqxgo/internal/emqxterm"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestGarbageToPorts: junk and oversized frames on the RPC port and junk on
// the gossip port close those connections, are logged once, and the cluster
// keeps working.
func TestGarbageToPorts(t *testing.T) {
	t.Parallel()
	cs := trio(t)
	core, logs := observer.New(zapcore.DebugLevel)
	cs[0].Log = zap.New(core)
	a, b := startNode(t, cs[0]), startNode(t, cs[1])
	if err := b.c.Join(ctx(t), cs[0].Name.String()); err != nil {
		t.Fatal(err)
	}
	_, rpc, _ := a.c.peerAddrs(cs[0].Name.String())
	gossip := net.JoinHostPort(cs[0].Name.Host, "4371")
	var huge [4]byte
	binary.BigEndian.PutUint32(huge[:], 1<<30)
	for _, junk := range [][]byte{[]byte("GET / HTTP/1.0\r\n\r\n"), huge[:], {0, 0, 0, 4, 0xde, 0xad, 0xbe, 0xef}, bytes.Repeat([]byte{0xff}, 4096)} {
		for _, addr := range []string{rpc, gossip} {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = c.Write(junk)
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _ = io.Copy(io.Discard, c) // returns when the node closes it
			c.Close()
		}
		u, err := net.Dial("udp", gossip)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = u.Write(junk)
		u.Close()
	}
	// Still one cluster, and a third node can still join.
	c := startNode(t, cs[2])
	if err := c.c.Join(ctx(t), cs[0].Name.String()); err != nil {
		t.Fatalf("join after garbage: %v", err)
	}
	a.waitStatus(names(cs...), nil, 10*time.Second)
	// Four bad connections from one host: logged once, not per connection.
	if n := logs.FilterMessageSnippet("handshake failed").Len(); n != 1 {
		t.Fatalf("garbage on the RPC port logged %d times, want once", n)
	}
}

// TestBadCookieLoggedOnce: a node with another cookie that keeps trying is
// refused every time and logged once on each side.
func TestBadCookieLoggedOnce(t *testing.T) {
	t.Parallel()
	cs := trio(t)
	cs[1].Cookie = "wrong"
	ca, la := observer.New(zapcore.InfoLevel)
	cb, lb := observer.New(zapcore.InfoLevel)
	cs[0].Log, cs[1].Log = zap.New(ca), zap.New(cb)
	a, b := startNode(t, cs[0]), startNode(t, cs[1])
	for i := 0; i < 5; i++ {
		if err := b.c.Join(ctx(t), cs[0].Name.String()); emqxterm.ReasonOf(err) != emqxterm.ReasonBadCookie {
			t.Fatalf("try %d: %v", i, err)
		}
	}
	// Gossip packets encrypted with another key are dropped too.
	if _, err := b.c.serf.Join([]string{net.JoinHostPort(cs[0].Name.Host, "4371")}, true); err == nil {
		t.Fatal("gossip join with a wrong cookie succeeded")
	}
	a.waitStatus(names(cs[0]), nil, time.Second)
	b.waitStatus(names(cs[1]), nil, time.Second)
	if n := la.FilterMessageSnippet("different cookie").Len(); n != 1 {
		t.Fatalf("acceptor logged the bad cookie %d times, want 1", n)
	}
	if n := lb.FilterMessageSnippet("cookie").Len(); n != 1 {
		t.Fatalf("dialer logged the bad cookie %d times, want 1", n)
	}
}
