package nowait

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"
)

// TestWriteNeverWaits: on a loopback connection whose reader stops, writes
// take what the socket holds and then come back short, with no error and
// without waiting; the reader gets every byte taken, in order; a write on
// a closed connection fails. A TLS connection has no Writer.
func TestWriteNeverWaits(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer := <-accepted
	defer peer.Close()
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
