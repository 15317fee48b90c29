package peerlink

import (
	"bufio"
	"sync/atomic"
	"syscall"
)

// direct lets a sender write a frame on the link from its own goroutine,
// without waiting for the socket and without waking the link's writer:
// at moderate rates most frames go alone, and the wake-up of writeLoop
// cost more than the write. What the socket does not take at once is
// left to writeLoop (rest), ahead of anything else.
type direct struct {
	raw  syscall.RawConn // nil: TLS or not a socket; every frame goes through writeLoop
	kick chan struct{}   // rest is waiting (cap 1)
	// under link.wmu, which writeLoop holds while it writes and flushes
	rest   []byte
	fn     func(fd uintptr) bool
	buf    []byte
	n      int
	errno  error
	closed bool
	// rests counts the frames tryWrite wrote only in part (writeLoop
	// finished them).
	rests atomic.Uint64
}

// init readies d for c's socket.
func (d *direct) init(c any) {
	d.kick = make(chan struct{}, 1)
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			d.raw = raw
		}
	}
}

// tryWrite writes frame b now if nothing is ahead of it (no frame queued
// for writeLoop or being written, nothing left over) and the socket takes
// some of it at once; it reports whether b is written or left for
// writeLoop to finish (false: the caller queues it).
func (l *link) tryWrite(b []byte) bool {
	d := &l.direct
	if d.raw == nil || !l.wmu.TryLock() {
		return false
	}
	defer l.wmu.Unlock()
	if d.closed || d.rest != nil || len(l.out) > 0 || l.queued.Load() != l.written.Load() {
		return false
	}
	if d.fn == nil {
		d.fn = d.write
	}
	d.buf, d.n, d.errno = b, 0, nil
	err := d.raw.Write(d.fn)
	n := d.n
	d.buf = nil
	if err != nil || n == 0 {
		return false // EAGAIN, or broken: writeLoop sees to it
	}
	l.queued.Add(1)
	if n == len(b) {
		l.written.Add(1)
		return true
	}
	d.rest = b[n:]
	d.rests.Add(1)
	select {
	case d.kick <- struct{}{}:
	default:
	}
	return true
}

// write is one write(2) that does not wait (the socket is non-blocking).
func (d *direct) write(fd uintptr) bool {
	for {
		n, err := syscall.Write(int(fd), d.buf)
		if err == syscall.EINTR {
			continue
		}
		d.n, d.errno = max(n, 0), err
		return true
	}
}

// writeRest puts what tryWrite left over into w, ahead of what follows;
// under wmu. It reports how many frames that completes (0 or 1).
func (l *link) writeRest(w *bufio.Writer) (uint64, error) {
	d := &l.direct
	if d.rest == nil {
		return 0, nil
	}
	_, err := w.Write(d.rest)
	d.rest = nil
	return 1, err
}
