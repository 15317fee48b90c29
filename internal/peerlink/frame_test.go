package peerlink

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
		{Type: frameHello, Node: "emqx@127.0.0.1", To: "emqx2@127.0.0.1", Clust: "c", Nonce: []byte{1, 2, 3}, Ver: protoVersion, Want: "join", Epoch: -5},
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
	for _, junk := range [][]byte{{0, 0, 0, 0}, {0, 0, 0, 3, 0xc1, 0xc1, 0xc1}, {0, 0, 0, 1, 0x01}, {0, 0, 0, 2, 0x81, 0xa1}, {0, 0, 0, 2, frameRetired, 0}} {
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

// TestBadFrameOnOpenLink: after a valid handshake, a malformed and an
// oversized frame each close that link with a warning; the links stay up.
func TestBadFrameOnOpenLink(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	acc := New(Config{Self: "emqx@127.0.0.1", ClusterName: "emqxcl", Cookie: "secret", Log: zap.New(core)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	acc.Serve(ln, &recorder{got: map[string][]uint64{}})
	t.Cleanup(acc.Close)
	var huge [4]byte
	binary.BigEndian.PutUint32(huge[:], MaxFrame+1)
	for i, junk := range [][]byte{{0, 0, 0, 3, 0xc1, 0xc1, 0xc1}, huge[:]} {
		fake := New(Config{Self: fmt.Sprintf("emqx%d@127.0.0.1", 7+i), ClusterName: "emqxcl", Cookie: "secret"})
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(c)
		if _, err := fake.dialHandshake(c, r, "emqx@127.0.0.1", WantJoin); err != nil {
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
	testutil.Eventually(t, 5*time.Second, "both bad links gone", func() bool { return len(acc.Peers()) == 0 })
}
