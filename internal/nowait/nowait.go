package nowait

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
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
func New(c any) Writer { return Writer{raw: rawConn(c)} }

// rawConn is c's socket as Go exposes it (nil: none, as for TLS).
func rawConn(c any) syscall.RawConn {
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			return raw
		}
	}
	return nil
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
	n, err := rawIO(syscall.SYS_WRITE, fd, w.buf)
	w.n, w.err = n, err
	return true
}

// rawIO is one read(2) or write(2) of b on the non-blocking socket fd,
// made without telling the scheduler (RawSyscall): it never blocks, and
// the scheduler's bookkeeping around a system call woke its monitor
// thread on every call while the process was otherwise idle (a futex
// wake-up and a thread switch per message at moderate rates).
func rawIO(trap, fd uintptr, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		n, _, e := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		switch e {
		case 0:
			return int(n), nil
		case syscall.EINTR:
			continue
		default:
			return 0, e
		}
	}
}

// Reader reads a plain TCP socket as net.Conn does (waiting for input in
// Go's poller, under the connection's read deadline), with the read(2)
// itself made as rawIO makes it. Its zero value reads nothing (Usable is
// false); one goroutine reads at a time.
type Reader struct {
	raw syscall.RawConn
	// fn, pooledFn: the reads (Read, ReadPooled) and their state, kept
	// here so that a read allocates no closure.
	fn, pooledFn func(fd uintptr) bool
	buf          []byte
	pool         Pool
	pb           *[]byte
	n            int
	err          error
}

// NewReader is the Reader of c's socket, or the zero Reader when c has
// none that Go exposes.
func NewReader(c any) Reader { return Reader{raw: rawConn(c)} }

// Usable reports whether the Reader has a socket to read.
func (r *Reader) Usable() bool { return r.raw != nil }

// Read reads what the socket holds into p, waiting for some if it holds
// nothing; io.EOF once the peer has closed its side. An error of the wait
// (the read deadline passed, the connection closed) is the poller's, as
// net.Conn's Read wraps it; an error of read(2) is an *os.SyscallError.
func (r *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if r.fn == nil {
		r.fn = r.read
	}
	r.buf, r.n, r.err = p, 0, nil
	err := r.raw.Read(r.fn)
	n, rerr := r.n, r.err
	r.buf = nil
	switch {
	case err != nil:
		return 0, err
	case rerr != nil:
		return 0, os.NewSyscallError("read", rerr)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// read is one read(2); false (nothing to read yet) has RawConn.Read wait
// for input and call it again.
func (r *Reader) read(fd uintptr) bool {
	n, err := rawIO(syscall.SYS_READ, fd, r.buf)
	if err == syscall.EAGAIN {
		return false
	}
	r.n, r.err = n, err
	return true
}

// ReadConn reads c into p through r when r is Usable (r is c's Reader),
// else with c's own Read; errors other than io.EOF come as net.Conn's do,
// in a *net.OpError.
func ReadConn(r *Reader, c net.Conn, p []byte) (int, error) {
	if !r.Usable() {
		return c.Read(p)
	}
	n, err := r.Read(p)
	if err != nil && err != io.EOF {
		err = &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	return n, err
}

// Pool is where ReadPooled takes its buffers (a *sync.Pool of *[]byte).
type Pool interface {
	Get() any
	Put(any)
}

// ReadPooled reads what c's socket holds (r is its Usable Reader) into a
// buffer from pool (a *[]byte), waiting for some if it holds nothing.
// No buffer is held while it waits: an idle connection holds none. Errors
// and io.EOF come as ReadConn's, and with them no buffer.
//
// The wait is in the same RawConn.Read as the read that found nothing:
// each RawConn.Read forgets what the poller saw before it began.
func ReadPooled(r *Reader, c net.Conn, pool Pool) (*[]byte, int, error) {
	if r.pooledFn == nil {
		r.pooledFn = r.pooled
	}
	r.pool, r.pb, r.n, r.err = pool, nil, 0, nil
	err := r.raw.Read(r.pooledFn)
	b, n, rerr := r.pb, r.n, r.err
	r.pool, r.pb = nil, nil
	switch {
	case err != nil:
	case rerr != nil:
		err = os.NewSyscallError("read", rerr)
	case n == 0:
		err = io.EOF
	}
	if err != nil {
		if b != nil {
			pool.Put(b)
		}
		if err != io.EOF {
			err = &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
		}
		return nil, 0, err
	}
	return b, n, nil
}

// pooled is one read(2) into a buffer from r.pool, which goes back to the
// pool when there is nothing to read (RawConn.Read then waits for input).
func (r *Reader) pooled(fd uintptr) bool {
	if r.pb == nil {
		r.pb = r.pool.Get().(*[]byte)
	}
	n, err := rawIO(syscall.SYS_READ, fd, *r.pb)
	if err == syscall.EAGAIN {
		r.pool.Put(r.pb)
		r.pb = nil
		return false
	}
	r.n, r.err = n, err
	return true
}
