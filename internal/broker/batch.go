package broker

import (
	"slices"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// Batch is the run of writes one goroutine makes to subscribers' plain TCP
// connections while it works through one batch of input: a publisher's
// reading goroutine through the bytes of its last read (conn.Read), or a
// peer link's through the forwarded frames it has read (Broker.InlineBatch;
// released when the link has read no more). The
// connections it writes to are held (holdNoWait): their writes are
// buffered and go out, without waiting for the socket, in one write each
// when the batch is released (Release), once the batch is flushDelay old,
// or before the goroutine does something that may take long (an ACL
// backend over the network, a publisher waiting for queue space). No
// goroutine is started or woken per message.
type Batch struct {
	mu   sync.Mutex
	held []*conn
	at   int64 // when the first of held was taken (Unix ns)
	done bool  // closed: holds nothing more
}

// hold holds o for the batch's writes; it reports whether o is held so
// (now, or already). Only the batch's goroutine calls it.
func (b *Batch) hold(o *conn) bool {
	now := time.Now().UnixNano()
	b.mu.Lock()
	if len(b.held) > 0 && now-b.at > int64(flushDelay) {
		b.releaseLocked() // a long run of work: what is held goes now
	}
	if b.done {
		b.mu.Unlock()
		return false
	}
	if slices.Contains(b.held, o) {
		b.mu.Unlock()
		return true
	}
	// TryLock inside: o's lock is never waited for under b.mu.
	if !o.holdNoWait() {
		b.mu.Unlock()
		return false
	}
	if len(b.held) == 0 {
		b.at = now
	}
	b.held = append(b.held, o)
	b.mu.Unlock()
	return true
}

// Release sends what the batch holds, without waiting.
func (b *Batch) Release() {
	b.mu.Lock()
	if len(b.held) > 0 {
		b.releaseLocked()
	}
	b.mu.Unlock()
}

// close releases the batch and holds nothing more; safe to call twice.
func (b *Batch) close() {
	b.mu.Lock()
	b.done = true
	if len(b.held) > 0 {
		b.releaseLocked()
	}
	b.mu.Unlock()
}

// releaseLocked ends the holds; under mu, which it leaves for the while
// (each held connection's lock is taken, and may be waited for).
func (b *Batch) releaseLocked() {
	held := b.held
	b.held = nil
	b.mu.Unlock()
	for i, o := range held {
		o.releaseNoWait()
		held[i] = nil
	}
	b.mu.Lock()
	if b.held == nil && cap(held) <= 64 {
		b.held = held[:0]
	}
}

// InlineBatch is the Batch of cl, an inline client that injects a peer's
// messages on one goroutine at a time: its deliveries to local subscribers
// are written on that goroutine and go out when the caller releases it.
func (b *Broker) InlineBatch(cl *mqtt.Client) *Batch {
	v, _ := b.inlineBatches.LoadOrStore(cl, &Batch{})
	return v.(*Batch)
}

// batchOf is the Batch a PUBLISH of cl's, handled on the calling goroutine,
// writes through (nil: each subscriber's pump goroutine writes). A client's
// own connection lends its batch while its goroutine handles the bytes of
// a read that was not a busy one (conn.busy: then the subscribers'
// goroutines write beside it).
func (b *Broker) batchOf(cl *mqtt.Client) *Batch {
	if c, ok := cl.Net.Conn.(*conn); ok {
		if c.batching && !c.busy { // set and cleared on this goroutine
			return &c.out
		}
		return nil
	}
	if cl.Net.Inline {
		if v, ok := b.inlineBatches.Load(cl); ok {
			return v.(*Batch)
		}
	}
	return nil
}

// Busy reports whether cl's reading goroutine, on which this is called, is
// behind its input: its last read filled half its buffer or more. Work it
// could hand to another goroutine is better handed over then.
func Busy(cl *mqtt.Client) bool {
	c, ok := cl.Net.Conn.(*conn)
	return ok && c.busy
}
