package nowait

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestWriteNeverWaits: on a loopback connection whose reader stops, writes
// take what the socket holds and then come back short, with no error and
// without waiting; the reader gets every byte taken, in order; a write on
// a closed connection fails. A TLS connection has no Writer.
func TestWriteNeverWaits(t *testing.T) {
	c, peer := tcpPair(t)
	w := New(c)
	if !w.Usable() {
		t.Fatal("a TCP connection has a socket to write to")
	}
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KB
	var sent bytes.Buffer
	short := false
	start := time.Now()
	for i := 0; i < 10000 && !short; i++ {
		n, err := w.Write(chunk)
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		sent.Write(chunk[:n])
		short = n < len(chunk)
	}
	if !short {
		t.Fatal("the socket took 640 MB without the reader reading")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("writes took %s: they waited", d)
	}
	got := make([]byte, sent.Len())
	if _, err := io.ReadFull(peer, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, sent.Bytes()) {
		t.Fatal("the reader got other bytes than were taken")
	}
	c.Close()
	if _, err := w.Write(chunk); err == nil {
		t.Fatal("a write on a closed connection succeeded")
	}
	if tw := New(tls.Client(c, &tls.Config{})); tw.Usable() {
		t.Fatal("a TLS connection has no Writer: its bytes are the record layer's")
	}
}

// tcpPair is a loopback TCP connection's two ends.
func tcpPair(t *testing.T) (c, peer net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		a, err := ln.Accept()
		if err == nil {
			accepted <- a
		}
	}()
	c, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer = <-accepted
	t.Cleanup(func() { c.Close(); peer.Close() })
	return c, peer
}

// TestReaderReadsAsNetConn: ReadConn through a Reader gives what net.Conn's
// Read gives: the bytes in order, waiting for them; a read deadline's
// timeout; io.EOF after the peer closes; net.ErrClosed on a closed
// connection. A TLS connection has no Reader.
func TestReaderReadsAsNetConn(t *testing.T) {
	c, peer := tcpPair(t)
	r := NewReader(c)
	if !r.Usable() {
		t.Fatal("a TCP connection has a socket to read")
	}
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<14) // 256 KB, more than a socket holds
	go func() {
		time.Sleep(20 * time.Millisecond) // a delay, not a wait: the first read finds nothing and waits in the poller
		_, _ = peer.Write(want)
	}()
	got := make([]byte, 0, len(want))
	buf := make([]byte, 4096)
	for len(got) < len(want) {
		n, err := ReadConn(&r, c, buf)
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("bytes differ")
	}
	if n, err := ReadConn(&r, c, nil); n != 0 || err != nil {
		t.Fatalf("empty read: %d %v", n, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	_, err := ReadConn(&r, c, buf)
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("past the deadline: %v, want a timeout", err)
	}
	_ = c.SetReadDeadline(time.Time{})
	_, _ = peer.Write([]byte("last"))
	peer.Close()
	n, err := ReadConn(&r, c, buf)
	if err != nil || string(buf[:n]) != "last" {
		t.Fatalf("last bytes: %q %v", buf[:n], err)
	}
	if _, err := ReadConn(&r, c, buf); err != io.EOF {
		t.Fatalf("after the peer closed: %v, want io.EOF", err)
	}
	c.Close()
	if _, err := ReadConn(&r, c, buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("closed: %v, want net.ErrClosed", err)
	}
	if r := NewReader(tls.Client(c, &tls.Config{})); r.Usable() {
		t.Fatal("a TLS connection has a Reader")
	}
}

// TestReaderResetByPeer: a read(2) error comes as net.Conn's does.
func TestReaderResetByPeer(t *testing.T) {
	c, peer := tcpPair(t)
	_ = peer.(*net.TCPConn).SetLinger(0) // close sends RST
	_, _ = peer.Write([]byte("x"))
	peer.Close()
	r := NewReader(c)
	buf := make([]byte, 1)
	var err error
	for i := 0; i < 3 && err == nil; i++ { // "x" may come first
		_, err = ReadConn(&r, c, buf)
	}
	var op *net.OpError
	if !errors.As(err, &op) || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after a reset: %v, want ECONNRESET in a *net.OpError", err)
	}
}

// countingPool is a Pool of 64-byte buffers that knows how many it has
// given out and not had back.
type countingPool struct {
	mu        sync.Mutex
	gets, out int
}

func (p *countingPool) Get() any {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gets++
	p.out++
	b := make([]byte, 64)
	return &b
}

func (p *countingPool) Put(any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out--
}

func (p *countingPool) counts() (gets, out int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gets, p.out
}

// TestReadPooledHoldsNoBufferWhileWaiting: ReadPooled tries a read with a
// buffer from the pool and gives it back before it waits for input, takes
// one again when input comes and returns it holding the bytes, in order;
// a deadline, the peer's close and a closed connection come as ReadConn's
// errors, with no buffer kept.
func TestReadPooledHoldsNoBufferWhileWaiting(t *testing.T) {
	c, peer := tcpPair(t)
	r := NewReader(c)
	pool := &countingPool{}
	type result struct {
		b   *[]byte
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, n, err := ReadPooled(&r, c, pool)
		done <- result{b, n, err}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if gets, out := pool.counts(); gets >= 1 && out == 0 {
			break // it tried, found nothing and gave the buffer back
		}
		if time.Now().After(deadline) {
			t.Fatalf("no buffer given back while waiting: %v", fmt.Sprint(pool.counts()))
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case res := <-done:
		t.Fatalf("returned with nothing to read: %d %v", res.n, res.err)
	default:
	}
	want := bytes.Repeat([]byte("0123456789"), 10) // more than one buffer
	if _, err := peer.Write(want); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.err != nil || res.n == 0 || !bytes.Equal((*res.b)[:res.n], want[:res.n]) {
		t.Fatalf("first read: %q %v", (*res.b)[:res.n], res.err)
	}
	got := append([]byte(nil), (*res.b)[:res.n]...)
	pool.Put(res.b)
	for len(got) < len(want) {
		b, n, err := ReadPooled(&r, c, pool)
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
		got = append(got, (*b)[:n]...)
		pool.Put(b)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %q", got)
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	b, _, err := ReadPooled(&r, c, pool)
	var ne net.Error
	if b != nil || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("past the deadline: %v %v, want a timeout and no buffer", b, err)
	}
	_ = c.SetReadDeadline(time.Time{})
	peer.Close()
	if b, _, err := ReadPooled(&r, c, pool); b != nil || err != io.EOF {
		t.Fatalf("after the peer closed: %v %v, want io.EOF", b, err)
	}
	c.Close()
	if b, _, err := ReadPooled(&r, c, pool); b != nil || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("closed: %v %v, want net.ErrClosed", b, err)
	}
	if _, out := pool.counts(); out != 0 {
		t.Fatalf("%d buffers not given back", out)
	}
}
