// Package nowait writes to a plain TCP socket without ever waiting for it:
// one write(2) on the non-blocking socket, taking what the socket takes at
// once. The broker's connections use it for writes made on a publisher's
// goroutine, the peer links for frames written on a sender's.
package nowait

import (
	"syscall"
)

// Writer is the socket of one connection; its zero value writes nothing
// (Usable is false). Its callers serialize Write themselves.
type Writer struct {
	raw syscall.RawConn
	// fn, buf, n, err: the write and its result, kept here so that a write
	// allocates no closure.
	fn  func(fd uintptr) bool
	buf []byte
	n   int
	err error
}

// New is the Writer of c's socket, or the zero Writer when c has none that
// Go exposes (TLS, WebSocket, a wrapper).
func New(c any) Writer {
	var w Writer
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			w.raw = raw
		}
	}
	return w
}

// Usable reports whether the Writer has a socket to write to.
func (w *Writer) Usable() bool { return w.raw != nil }

// Write writes as much of b as the socket takes now and reports how much;
// a full socket is no error (n is 0 or short), a broken one is.
func (w *Writer) Write(b []byte) (int, error) {
	if w.fn == nil {
		w.fn = w.write
	}
	w.buf, w.n, w.err = b, 0, nil
	err := w.raw.Write(w.fn)
	n, werr := w.n, w.err
	w.buf = nil
	if err == nil && werr != syscall.EAGAIN {
		err = werr
	}
	return n, err
}

// write is one write(2) (the socket is non-blocking): it ends
// RawConn.Write at once, whatever the socket took.
func (w *Writer) write(fd uintptr) bool {
	for {
		n, err := syscall.Write(int(fd), w.buf)
		if err == syscall.EINTR {
			continue
		}
		w.n, w.err = max(n, 0), err
		return true
	}
}
