package cluster

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"emqxgo/internal/testutil"
)

func TestFrameRoundTrip(t *testing.T) {
	in := &frame{Type: frameRequest, ID: 7, Op: "leave", Body: []byte("x"), Node: "a@b", Nonce: []byte{1, 2}}
	b, err := appendFrame(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := readFrame(bufio.NewReader(bytes.NewReader(b)))
	if err != nil || out.Type != in.Type || out.ID != 7 || out.Op != "leave" || string(out.Body) != "x" || out.Node != "a@b" {
		t.Fatalf("%+v %v", out, err)
	}
}

func TestFrameRoundTripEveryField(t *testing.T) {
	for _, in := range []*frame{
		{Type: frameHello, Node: "emqx@127.0.0.1", Clust: "c", Nonce: []byte{1, 2, 3}, Ver: protoVersion, Want: "join", Epoch: -5},
		{Type: frameChallenge, Node: "n", Nonce: make([]byte, 32), Proof: make([]byte, 32), Epoch: 1 << 62},
		{Type: frameWelcome},
		{Type: frameRefuse, Err: "cookie"},
		{Type: frameRequest, ID: 1 << 40, Op: "join", Body: []byte{0}},
		{Type: frameResponse, ID: 3, Err: "node_down"},
		{Type: frameNotify, Op: "fwd", Body: bytes.Repeat([]byte("x"), 300)},
	} {
		b, err := appendFrame([]byte("prefix"), in)
		if err != nil || string(b[:6]) != "prefix" {
			t.Fatalf("%+v: %v", in, err)
		}
		b = b[6:]
		out, err := readFrame(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			t.Fatalf("%+v: %v", in, err)
		}
		if fmt.Sprintf("%+v", out) != fmt.Sprintf("%+v", in) {
			t.Fatalf("round trip changed the frame:\n in  %+v\n out %+v", in, out)
		}
		// Every truncation of the body is an error, never a panic or a frame.
		for k := 0; k < len(b)-4; k++ {
			if _, err := decodeFrame(b[4 : 4+k]); err == nil {
				t.Fatalf("%+v truncated to %d bytes decoded", in, k)
			}
		}
	}
}

func TestFrameLimits(t *testing.T) {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], MaxFrame+1)
	if _, err := readFrame(bufio.NewReader(bytes.NewReader(hdr[:]))); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized header: %v", err)
	}
	if _, err := appendFrame(nil, &frame{Type: frameNotify, Body: make([]byte, MaxFrame)}); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized encode: %v", err)
	}
	for _, junk := range [][]byte{{0, 0, 0, 0}, {0, 0, 0, 3, 0xc1, 0xc1, 0xc1}, {0, 0, 0, 1, 0x01}, {0, 0, 0, 2, 0x81, 0xa1}} {
		if _, err := readFrame(bufio.NewReader(bytes.NewReader(junk))); err == nil {
			t.Fatalf("junk %x decoded", junk)
		}
	}
}

// FuzzReadFrame: no input may panic the decoder or make it allocate past
// the announced (bounded) size. Corpus in testdata/fuzz/FuzzReadFrame.
func FuzzReadFrame(f *testing.F) {
	good, _ := appendFrame(nil, &frame{Type: frameHello, Node: "emqx@127.0.0.1", Nonce: make([]byte, 32), Ver: 1})
	f.Add(good)
	f.Add([]byte{0, 0, 0, 5, 0x85, 0xa1, 0x74, 0x01, 0x00})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		for i := 0; i < 8; i++ {
			fr, err := readFrame(r)
			if err != nil {
				return
			}
			if fr.Type < frameHello || fr.Type > frameNotify {
				t.Fatalf("accepted frame type %d", fr.Type)
			}
		}
	})
}

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
		if err := b.c.Join(ctx(t), cs[0].Name.String()); ReasonOf(err) != ReasonBadCookie {
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

// TestBadFrameOnOpenLink: after a valid handshake, a malformed and an
// oversized frame each close that link with a warning; the node stays up.
func TestBadFrameOnOpenLink(t *testing.T) {
	t.Parallel()
	cs := trio(t)
	core, logs := observer.New(zapcore.InfoLevel)
	cs[0].Log = zap.New(core)
	a := startNode(t, cs[0])
	_, rpc, _ := a.c.peerAddrs(cs[0].Name.String())
	var huge [4]byte
	binary.BigEndian.PutUint32(huge[:], MaxFrame+1)
	for i, junk := range [][]byte{{0, 0, 0, 3, 0xc1, 0xc1, 0xc1}, huge[:]} {
		fake := &Links{self: fmt.Sprintf("emqx%d@%s", 7+i, cs[0].Name.Host), clusterName: "emqxcl", key: linkKey("secret"), logged: newLogFilter(zap.NewNop()), log: zap.NewNop()}
		c, err := net.Dial("tcp", rpc)
		if err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(c)
		if _, err := fake.dialHandshake(c, r, cs[0].Name.String(), wantJoin); err != nil {
			t.Fatalf("handshake: %v", err)
		}
		_, _ = c.Write(junk)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatalf("link not closed: %v", err)
		}
		c.Close()
	}
	testutil.Eventually(t, 5*time.Second, "two bad-frame warnings", func() bool {
		return logs.FilterMessageSnippet("bad frame").Len() == 2
	})
	a.waitStatus(names(cs[0]), nil, time.Second)
}
