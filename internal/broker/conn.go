package broker

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// disconnectTooLarge is an MQTT 5 DISCONNECT with reason 0x95 (packet too large), no properties.
var disconnectTooLarge = []byte{0xE0, 0x02, 0x95, 0x00}

// conn wraps every accepted connection. It sets the CONNECT deadline and
// follows the MQTT framing of the inbound byte stream (headers only, payloads
// are skipped by count) so that a packet over the size limit can be answered
// with DISCONNECT 0x95 before mochi drops the connection.
//
// It also coalesces writes: mochi writes one packet per Write (a PUBACK per
// QoS 1 publish is one syscall each). While the reading goroutine works
// through the bytes of its last Read, writes are buffered; they go out in
// one syscall when it comes back for more (Read), when the buffer is large,
// when the connection closes, or after flushDelay at the latest, should the
// reader be held up elsewhere. A write while the reader waits for the
// network goes out at once, so latency is unchanged for an idle reader.
type conn struct {
	net.Conn
	maxPacket uint32 // 0: no limit tracking

	v5 atomic.Bool // set by the connect hook once the protocol version is known
	// keepalive: the connection's keep alive in seconds, set by the connect
	// hook (see SetDeadline).
	keepalive atomic.Uint32

	// badUnsub: the positions of invalid filters in the UNSUBSCRIBE being
	// answered (packet id unsubID); set by the unsubscribe hook, read when
	// its UNSUBACK is encoded, both on the client's reading goroutine.
	badUnsub []int
	unsubID  uint16

	// retain, retainDue: the SUBSCRIBE being handled, its filters' Retain
	// Handling and those whose retained messages are due (deliver.go); on
	// the client's reading goroutine.
	retain    []retainAsk
	retainDue []packets.Subscription

	writeMu  sync.Mutex  // mochi writes whole packets per Write; keep ours between them
	batching bool        // the reader is handling bytes of its last Read (under writeMu)
	holds    int         // session pumps writing a run of messages (under writeMu; hold, release)
	wbuf     *[]byte     // pending writes while batching (from wbufPool)
	flushT   *time.Timer // flushes wbuf after flushDelay (created on first use)
	timed    bool        // flushT is armed for what wbuf holds
	werr     error       // a failed deferred write: later writes fail with it

	// framing state, touched only by the reading goroutine
	skip     uint64 // bytes of the current packet body still to pass
	inHeader bool   // inside the remaining-length varint
	length   uint64
	shift    uint
	tripped  bool

	// the start of the CONNECT, kept until its properties are checked
	// (connectcheck.go); connectDone once they were
	head        []byte
	connectDone bool
}

func newConn(c net.Conn, idle time.Duration, maxPacket uint32) *conn {
	if idle > 0 {
		_ = c.SetDeadline(time.Now().Add(idle)) // mochi resets it after CONNECT
	}
	return &conn{Conn: c, maxPacket: maxPacket}
}

const (
	flushDelay    = 2 * time.Millisecond // longest a buffered write waits
	flushAt       = 16 << 10             // buffered bytes that are written at once
	wbufKeepLimit = 64 << 10             // larger buffers are not pooled
)

var wbufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func (c *conn) Read(p []byte) (int, error) {
	c.writeMu.Lock()
	c.batching = false
	err := c.flushLocked()
	c.writeMu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	if n > 0 && !c.connectDone {
		if cerr := c.checkConnect(p[:n]); cerr != nil {
			return 0, cerr
		}
	}
	if n > 0 {
		c.writeMu.Lock()
		c.batching = true
		c.writeMu.Unlock()
		if c.maxPacket > 0 && !c.tripped {
			c.track(p[:n])
		}
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.werr != nil {
		return 0, c.werr
	}
	if !c.batching && c.holds == 0 || len(p) >= flushAt { // a large packet is not copied
		if c.wbuf != nil { // keep order behind what is pending
			if err := c.flushLocked(); err != nil {
				return 0, err
			}
		}
		return c.Conn.Write(p)
	}
	if c.wbuf == nil {
		c.wbuf = wbufPool.Get().(*[]byte)
	}
	if c.batching && !c.timed {
		// The reader may be held up elsewhere; a pump's hold ends with
		// its release, no timer needed (arming one can wake the poller).
		c.timed = true
		if c.flushT == nil {
			c.flushT = time.AfterFunc(flushDelay, c.timedFlush)
		} else {
			c.flushT.Reset(flushDelay)
		}
	}
	*c.wbuf = append(*c.wbuf, p...)
	if len(*c.wbuf) >= flushAt {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// hold buffers writes until release, as the reader's batching does: a
// session's pump writing a run of queued messages sends them together.
func (c *conn) hold() {
	c.writeMu.Lock()
	c.holds++
	c.writeMu.Unlock()
}

// release ends a hold; the last one out sends what is buffered unless the
// reader will (it flushes when it comes back to Read).
func (c *conn) release() {
	c.writeMu.Lock()
	c.holds--
	if c.holds == 0 && !c.batching {
		_ = c.flushLocked()
	}
	c.writeMu.Unlock()
}

// SetDeadline lets the client the whole one and a half times its keep
// alive [MQTT-3.1.2-24]: mochi computes it in whole seconds, and an odd keep
// alive lost half a second (a keep alive of 1 s closed after 1 s).
func (c *conn) SetDeadline(t time.Time) error {
	if k := c.keepalive.Load(); k%2 == 1 && !t.IsZero() {
		t = t.Add(500 * time.Millisecond)
	}
	return c.Conn.SetDeadline(t)
}

func (c *conn) timedFlush() {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.flushLocked()
}

// flushLocked writes what is pending. A failure is kept for later writes
// and closes the connection, so the reader sees it too.
func (c *conn) flushLocked() error {
	if c.wbuf == nil {
		return c.werr
	}
	b := c.wbuf
	c.wbuf = nil
	if c.timed {
		c.flushT.Stop()
		c.timed = false
	}
	_, err := c.Conn.Write(*b)
	if cap(*b) <= wbufKeepLimit {
		*b = (*b)[:0]
		wbufPool.Put(b)
	}
	if err != nil && c.werr == nil {
		c.werr = err
		_ = c.Conn.Close()
	}
	return err
}

// Close sends what is still buffered (a DISCONNECT, say) first, bounded by
// a short write deadline.
func (c *conn) Close() error {
	c.writeMu.Lock()
	if c.wbuf != nil {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		_ = c.flushLocked()
	}
	c.writeMu.Unlock()
	return c.Conn.Close()
}

// checkConnect looks at the first bytes of the connection: a CONNECT whose
// properties break a rule is answered with CONNACK 0x82 before mochi sees
// all of it, and the read fails.
func (c *conn) checkConnect(b []byte) error {
	room := maxConnectHead - len(c.head)
	c.head = append(c.head, b[:min(len(b), room)]...)
	answer := connackProtocolError
	bad, more := connectVerdict(c.head)
	if fbad, fmore, fanswer := connectFlagsVerdict(c.head); fbad {
		bad, answer = true, fanswer
	} else if fmore {
		more = true
	}
	if bad {
		c.connectDone, c.head = true, nil
		c.writeMu.Lock()
		_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		if c.flushLocked() == nil && answer != nil {
			_, _ = c.Conn.Write(answer)
		}
		c.writeMu.Unlock()
		return errConnectProperties
	}
	if !more || len(c.head) >= maxConnectHead {
		c.connectDone, c.head = true, nil
	}
	return nil
}

// track walks fixed headers: type byte, 1-4 varint bytes, then the body.
func (c *conn) track(b []byte) {
	for len(b) > 0 {
		switch {
		case c.skip > 0:
			k := uint64(len(b))
			if k > c.skip {
				k = c.skip
			}
			c.skip -= k
			b = b[k:]
		case !c.inHeader: // packet type byte
			c.inHeader, c.length, c.shift = true, 0, 0
			b = b[1:]
		default: // remaining length varint
			v := b[0]
			b = b[1:]
			c.length |= uint64(v&0x7f) << c.shift
			c.shift += 7
			if v&0x80 != 0 && c.shift < 28 {
				continue
			}
			c.inHeader = false
			if c.length+1 > uint64(c.maxPacket) {
				c.tripped = true
				if c.v5.Load() {
					c.writeMu.Lock()
					_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
					if c.flushLocked() == nil {
						_, _ = c.Conn.Write(disconnectTooLarge)
					}
					c.writeMu.Unlock()
				}
				return
			}
			c.skip = c.length
		}
	}
}

// TLSState is the TLS state of an ssl or wss connection (the gate reads
// the client's certificate).
func (c *conn) TLSState() (tls.ConnectionState, bool) {
	under := c.Conn
	if w, ok := under.(*wsConn); ok {
		under = w.Conn
	}
	if t, ok := under.(*tls.Conn); ok {
		return t.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}
