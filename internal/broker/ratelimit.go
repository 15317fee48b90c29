package broker

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"emqxgo/internal/config"
)

// Rate limits and routing quotas of a connection (zone.<name>.rate_limit.*
// and quota.*), as EMQX 4.4 applies them: a connection over a limit is not
// read for a while (EMQX stops reading its socket), so the TCP window fills
// and the client slows down; nothing is dropped.
//
//   - rate_limit.conn_bytes_in: bytes read from the connection;
//   - rate_limit.conn_messages_in (publish_limit, its EMQX 4.2 name, when
//     unset): PUBLISH packets read;
//   - quota.conn_messages_routing: messages routed by the connection, one
//     per PUBLISH and one per subscriber it was delivered to (as EMQX
//     counts them);
//   - quota.overall_messages_routing: the same, in one bucket shared by
//     every connection of the zone.
//
// Each is a token bucket holding "count" tokens, refilled at count/period.
// The connection's reader (connLimiter.read, under conn.Read) reads the
// socket into a buffer of its own and hands bytes on only as far as the
// buckets allow: up to the byte tokens there are, and a PUBLISH's first
// byte only once a message token of each bucket is taken for it. What a
// PUBLISH costs in deliveries is known only once it is routed; that takes
// the routing buckets into debt, and the connection's next PUBLISH waits
// until the debt is paid. A wait ends when the connection is closed or its
// listener stops; a connection without limits has no limiter (conn.lim is
// nil) and pays nothing.

// bucket is a token bucket that can go into debt. Safe for concurrent use
// (the overall quota is shared).
type bucket struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

// newBucket is a full bucket for r; nil when r is off.
func newBucket(r config.Rate) *bucket {
	if r.Zero() {
		return nil
	}
	return &bucket{rate: r.PerSecond(), burst: max(r.Count, 1), tokens: max(r.Count, 1), last: time.Now()}
}

func (b *bucket) refill(now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
		b.last = now
	}
}

// avail is the tokens there are now (negative: debt).
func (b *bucket) avail(now time.Time) float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	return b.tokens
}

// until is how long until n tokens (at most the burst) are there.
func (b *bucket) until(now time.Time, n float64) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	return b.untilLocked(n)
}

func (b *bucket) untilLocked(n float64) time.Duration {
	n = min(n, b.burst)
	if b.tokens >= n {
		return 0
	}
	return max(time.Millisecond, time.Duration((n-b.tokens)/b.rate*float64(time.Second)))
}

// take takes n tokens, into debt if there are fewer.
func (b *bucket) take(now time.Time, n float64) {
	b.mu.Lock()
	b.refill(now)
	b.tokens -= n
	b.mu.Unlock()
}

// tryTake takes n tokens if they are there; else it says how long until
// they are.
func (b *bucket) tryTake(now time.Time, n float64) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	if w := b.untilLocked(n); w > 0 {
		return w
	}
	b.tokens -= n
	return 0
}

// zoneLimits holds the buckets shared by the connections of each zone (the
// overall routing quota), and counts the pauses.
type zoneLimits struct {
	overall map[string]*bucket // zone name -> its overall_messages_routing bucket
	pauses  atomic.Int64
}

func (zl *zoneLimits) init(cfg *config.Config) {
	zl.overall = map[string]*bucket{}
	for name, z := range cfg.Zones {
		if b := newBucket(z.QuotaOverallMessagesRouting); b != nil {
			zl.overall[name] = b
		}
	}
}

// limitConn gives c, the connection of cl, its zone's limits (none: no
// limiter). It runs in the connect hook, on the connection's reading
// goroutine; the limiter takes over the framing where conn.track is.
func (b *Broker) limitConn(cl *mqtt.Client, c *conn) {
	z := b.Zone(cl)
	msgsIn := z.RateLimitConnMessagesIn
	if msgsIn.Zero() {
		msgsIn = z.PublishLimit // EMQX 4.2's name for it
	}
	l := &connLimiter{
		bytesIn: newBucket(z.RateLimitConnBytesIn),
		msgsIn:  newBucket(msgsIn),
		route:   newBucket(z.QuotaConnMessagesRouting),
		overall: b.limits.overall[z.Name],
		pauses:  &b.limits.pauses,
	}
	if l.bytesIn == nil && l.msgsIn == nil && l.route == nil && l.overall == nil {
		return
	}
	if c.tripped {
		return // an oversized packet: the connection is ending
	}
	l.fr = frame{skip: c.skip, inHeader: c.inHeader, length: c.length, shift: c.shift}
	l.closed = make(chan struct{})
	for _, ln := range b.current() {
		if ln.id == cl.Net.Listener {
			l.stop = ln.done
		}
	}
	c.lim.Store(l)
}

// RateLimitPauses counts, since start, the times a connection was not read
// for a while because it was over a rate limit or routing quota.
func (b *Broker) RateLimitPauses() int64 { return b.limits.pauses.Load() }

// frame follows the packet boundaries of the inbound stream.
type frame struct {
	skip     uint64 // body bytes of the current packet still to pass
	inHeader bool   // inside the remaining-length varint
	length   uint64
	shift    uint
}

// connLimiter paces the reading of one connection.
type connLimiter struct {
	bytesIn, msgsIn, route *bucket // this connection's
	overall                *bucket // the zone's, shared
	pauses                 *atomic.Int64

	buf  []byte // read from the socket, not handed on yet: buf[pos:]
	pos  int
	rerr error // the error of the read that filled buf, returned once it is handed on
	fr   frame

	closed    chan struct{} // closed by close
	closeOnce sync.Once
	stop      <-chan struct{} // the listener's: closed when the node stops
}

const limitReadBuf = 4096

func (l *connLimiter) close() { l.closeOnce.Do(func() { close(l.closed) }) }

// read fills p from the connection as far as the buckets allow, waiting
// while they allow nothing.
func (l *connLimiter) read(c *conn, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if l.pos == len(l.buf) {
		if l.rerr != nil {
			err := l.rerr
			l.rerr = nil
			return 0, err
		}
		if l.buf == nil {
			l.buf = make([]byte, limitReadBuf)
		}
		n, err := c.Conn.Read(l.buf[:cap(l.buf)])
		l.buf, l.pos = l.buf[:n], 0
		if n == 0 {
			return 0, err
		}
		l.rerr = err
	}
	out := 0
	for out < len(p) && l.pos < len(l.buf) {
		now := time.Now()
		k := min(len(p)-out, len(l.buf)-l.pos)
		if l.bytesIn != nil {
			avail := int(l.bytesIn.avail(now))
			if avail < 1 {
				if out > 0 {
					break
				}
				// Wait for a share of the burst, not all of it: the
				// client is read in steps of an eighth of a burst.
				need := max(1, min(float64(k), l.bytesIn.burst/8))
				if err := l.pause(c, l.bytesIn.until(now, need)); err != nil {
					return 0, err
				}
				continue
			}
			k = min(k, avail)
		}
		j, wait := l.walk(l.buf[l.pos:l.pos+k], now)
		copy(p[out:], l.buf[l.pos:l.pos+j])
		out += j
		l.pos += j
		if l.bytesIn != nil && j > 0 {
			l.bytesIn.take(now, float64(j))
		}
		if wait > 0 {
			if out > 0 {
				break
			}
			if err := l.pause(c, wait); err != nil {
				return 0, err
			}
		}
	}
	if l.pos == len(l.buf) && l.rerr != nil {
		err := l.rerr
		l.rerr = nil
		return out, err
	}
	return out, nil
}

// walk follows the packets in b and returns how many of its bytes may be
// handed on: all of them, or up to a PUBLISH for which a bucket has no
// message token yet, with how long until it has.
func (l *connLimiter) walk(b []byte, now time.Time) (int, time.Duration) {
	f := &l.fr
	for i := 0; i < len(b); {
		switch {
		case f.skip > 0:
			k := min(uint64(len(b)-i), f.skip)
			f.skip -= k
			i += int(k)
		case !f.inHeader: // packet type byte
			if b[i]>>4 == packets.Publish {
				if w := l.admit(now); w > 0 {
					return i, w
				}
			}
			f.inHeader, f.length, f.shift = true, 0, 0
			i++
		default: // remaining length varint
			v := b[i]
			i++
			f.length |= uint64(v&0x7f) << f.shift
			f.shift += 7
			if v&0x80 != 0 && f.shift < 28 {
				continue
			}
			f.inHeader = false
			f.skip = f.length
		}
	}
	return len(b), 0
}

// admit takes a message token of each bucket for a PUBLISH, or says how
// long until every one has one.
func (l *connLimiter) admit(now time.Time) time.Duration {
	var wait time.Duration
	if l.msgsIn != nil {
		wait = max(wait, l.msgsIn.until(now, 1))
	}
	if l.route != nil {
		wait = max(wait, l.route.until(now, 1))
	}
	if wait > 0 {
		return wait
	}
	if l.overall != nil {
		if w := l.overall.tryTake(now, 1); w > 0 {
			return w
		}
	}
	if l.msgsIn != nil {
		l.msgsIn.take(now, 1)
	}
	if l.route != nil {
		l.route.take(now, 1)
	}
	return 0
}

// routed charges the routing quotas for the deliveries of a PUBLISH (its
// own token was taken as it was read).
func (l *connLimiter) routed(n int) {
	if n <= 0 {
		return
	}
	now := time.Now()
	if l.route != nil {
		l.route.take(now, float64(n))
	}
	if l.overall != nil {
		l.overall.take(now, float64(n))
	}
}

// pause waits d, or until the connection is closed or the node stops.
// The client could not be heard meanwhile: its keep alive runs afresh.
func (l *connLimiter) pause(c *conn, d time.Duration) error {
	l.pauses.Add(1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-l.closed:
		return net.ErrClosed
	case <-l.stop:
		return net.ErrClosed
	}
	if k := c.keepalive.Load(); k > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.keepaliveWindow(k)))
	}
	return nil
}
