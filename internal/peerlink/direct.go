package peerlink

import (
	"bufio"
	"net"
	"sync/atomic"

	"emqxgo/internal/nowait"
)

// direct lets a sender write a frame on the link from its own goroutine,
// without waiting for the socket and without waking the link's writer:
// at moderate rates most frames go alone, and the wake-up of writeLoop
// cost more than the write. What the socket does not take at once is
// left to writeLoop (rest), ahead of anything else.
type direct struct {
	w    nowait.Writer // not Usable: TLS; every frame goes through writeLoop
	kick chan struct{} // rest is waiting (cap 1)
	rest []byte        // under link.wmu, which writeLoop holds while it writes and flushes
	// rests counts the frames tryWrite wrote only in part (writeLoop
	// finished them).
	rests atomic.Uint64
}

// init readies d for c's socket.
func (d *direct) init(c any) {
	d.kick = make(chan struct{}, 1)
	d.w = nowait.New(c)
}

// tryWrite writes frame b now if nothing is ahead of it (no frame queued
// for writeLoop or being written, nothing left over) and the socket takes
// some of it at once; it reports whether b is written or left for
// writeLoop to finish (false: the caller queues it). Once the link is
// closed, its socket takes nothing.
func (l *link) tryWrite(b []byte) bool {
	d := &l.direct
	if !d.w.Usable() || !l.wmu.TryLock() {
		return false
	}
	defer l.wmu.Unlock()
	if d.rest != nil || len(l.out) > 0 || l.queued.Load() != l.written.Load() {
		return false
	}
	n, err := d.w.Write(b)
	if err != nil || n == 0 {
		return false // full, or broken: writeLoop sees to it
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

// sockReader reads a link's connection: a plain TCP socket through
// nowait.Reader (no scheduler bookkeeping per read), anything else (TLS)
// with its own Read.
type sockReader struct {
	c  net.Conn
	rd nowait.Reader
}

func newSockReader(c net.Conn) *sockReader { return &sockReader{c: c, rd: nowait.NewReader(c)} }

func (s *sockReader) Read(p []byte) (int, error) { return nowait.ReadConn(&s.rd, s.c, p) }
