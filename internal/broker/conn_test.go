package broker

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"

	"emqxgo/internal/testutil"
)

// countingConn records each Write as the network would see it.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, append([]byte(nil), p...))
	c.mu.Unlock()
	return len(p), nil
}

func (c *countingConn) snapshot() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.writes...)
}

// pipeConn is a conn over one end of a loopback TCP pair, with its writes counted.
func pipeConn(t *testing.T) (*conn, *countingConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	cc := &countingConn{Conn: s}
	c := newConn(cc, 0, 0)
	t.Cleanup(func() { _ = c.Close(); _ = peer.Close() })
	return c, cc, peer
}

func TestConnCoalescesWritesWhileReaderIsBusy(t *testing.T) {
	c, cc, peer := pipeConn(t)
	if _, err := peer.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if _, err := c.Read(buf); err != nil { // the reader now handles these bytes
		t.Fatal(err)
	}
	for i := byte(0); i < 10; i++ {
		if _, err := c.Write([]byte{i}); err != nil {
			t.Fatal(err)
		}
	}
	if w := cc.snapshot(); len(w) != 0 {
		t.Fatalf("writes went out while the reader was busy: %d", len(w))
	}
	if _, err := peer.Write([]byte("d")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(buf); err != nil { // coming back for more flushes first
		t.Fatal(err)
	}
	w := cc.snapshot()
	if len(w) != 1 || !bytes.Equal(w[0], []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("want one write of 0..9 in order, got %v", w)
	}
}

// TestConnGivesOneReadInPieces: mochi reads through a small buffer; the
// bytes of one read from the socket come in order over its calls, the
// writes meanwhile stay held until it has taken them all and comes back
// for more, and the read buffer goes back to the pool then.
func TestConnGivesOneReadInPieces(t *testing.T) {
	c, cc, peer := pipeConn(t)
	want := bytes.Repeat([]byte("abcdefgh"), 100) // 800 bytes, one read
	if _, err := peer.Write(want); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	var got []byte
	for len(got) < len(want) {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
		if _, err := c.Write([]byte{byte(len(got))}); err != nil {
			t.Fatal(err)
		}
		if w := cc.snapshot(); len(w) != 0 {
			t.Fatalf("a write went out after %d of the %d bytes read at once", len(got), len(want))
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %q", got)
	}
	if c.rbuf != nil || c.rpend != nil {
		t.Fatal("the read buffer is kept after its bytes were all taken")
	}
	if _, err := peer.Write([]byte("z")); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "z" {
		t.Fatalf("next read: %q %v", buf[:n], err)
	}
	if w := cc.snapshot(); len(w) != 1 || len(w[0]) != len(want)/len(buf) {
		t.Fatalf("want the held writes in one write as the reader came back, got %d writes", len(w))
	}
}

func TestConnWritesAtOnceWhileReaderWaits(t *testing.T) {
	c, cc, peer := pipeConn(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 8)
		_, _ = c.Read(buf) // blocks until the peer writes
	}()
	// Until Read returns the reader waits on the network: a write is not held.
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if w := cc.snapshot(); len(w) != 1 {
		t.Fatalf("a write while the reader waits must go out at once, got %d writes", len(w))
	}
	_, _ = peer.Write([]byte("y"))
	<-done
}

func TestConnFlushesWhenReaderIsHeldUp(t *testing.T) {
	c, cc, peer := pipeConn(t)
	_, _ = peer.Write([]byte("a"))
	if _, err := c.Read(make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	// The reader never comes back; the write still leaves within flushDelay.
	testutil.Eventually(t, time.Second, "buffered write flushed by the timer", func() bool { return len(cc.snapshot()) == 1 })
}

func TestConnCloseSendsPendingWrites(t *testing.T) {
	c, _, peer := pipeConn(t)
	_, _ = peer.Write([]byte("a"))
	if _, err := c.Read(make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	c.Conn = c.Conn.(*countingConn).Conn // the real socket this time
	if _, err := c.Write([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 8)
	n, _ := peer.Read(got)
	if string(got[:n]) != "bye" {
		t.Fatalf("peer got %q before close, want \"bye\"", got[:n])
	}
}

func TestConnLargeBufferGoesOutWithoutWaiting(t *testing.T) {
	c, cc, peer := pipeConn(t)
	_, _ = peer.Write([]byte("a"))
	if _, err := c.Read(make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1024)
	for i := 0; i < flushAt/len(chunk); i++ {
		if _, err := c.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if w := cc.snapshot(); len(w) != 1 || len(w[0]) != flushAt {
		t.Fatalf("want one write of %d bytes once the buffer is full, got %d writes", flushAt, len(w))
	}
	// A packet of flushAt bytes or more is written as it is, after what is pending.
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, flushAt)
	if _, err := c.Write(big); err != nil {
		t.Fatal(err)
	}
	w := cc.snapshot()
	if len(w) != 3 || string(w[1]) != "x" || len(w[2]) != flushAt {
		t.Fatalf("want the pending byte then the large packet, got %d writes", len(w))
	}
}
