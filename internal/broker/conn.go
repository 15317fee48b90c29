package broker

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"emqxgo/internal/metrics"
	"emqxgo/internal/nowait"
)

// conn wraps every accepted connection. It sets the CONNECT deadline and
// follows the MQTT framing of the inbound byte stream (headers only, payloads
// are skipped by count) so that a packet over the size limit can be answered
// with DISCONNECT 0x95 before mochi drops the connection, and so that an
// MQTT 5 SUBSCRIBE whose subscription options break a rule never reaches
// mochi (subscan.go; only SUBSCRIBE bodies are looked at).
//
// It also coalesces writes: mochi writes one packet per Write (a PUBACK per
// QoS 1 publish is one syscall each). While the reading goroutine works
// through the bytes of its last Read, writes are buffered; they go out in
// one syscall when it comes back for more (Read), when the buffer is large,
// when the connection closes, or after flushDelay at the latest, should the
// reader be held up elsewhere. A write while the reader waits for the
// network goes out at once, so latency is unchanged for an idle reader.
//
// Another client's goroutine may write to a plain TCP connection without
// ever waiting for it (holdNoWait): the session's pump runs on the
// publisher's goroutine, its writes are buffered, and what the socket does
// not take at once is sent by a goroutine of its own (tryFlushLocked).
type conn struct {
	net.Conn
	maxPacket uint32 // 0: no limit tracking

	v5 atomic.Bool // set by the connect hook once the protocol version is known
	// will: the will of an MQTT 5 CONNECT with its properties (will.go).
	will atomic.Pointer[willProps]
	// keepalive: the connection's keep alive in seconds, set by the connect
	// hook (see SetDeadline).
	keepalive atomic.Uint32
	// emptyPassword: the CONNECT had the password flag and a password of
	// zero bytes (limits.go); set and read on the client's goroutine.
	emptyPassword bool
	// backoff is the zone's keepalive_backoff: a client silent for
	// 2 x backoff x its keep alive is closed (0: 0.75, the 1.5 x of the
	// MQTT specification).
	backoff float64

	// badUnsub: the positions of invalid filters in the UNSUBSCRIBE being
	// answered (packet id unsubID); set by the unsubscribe hook, read when
	// its UNSUBACK is encoded, both on the client's reading goroutine.
	badUnsub []int
	unsubID  uint16
	// badSub: the filters of the SUBSCRIBE being answered (packet id subID)
	// over the node's limits, with their codes (limits.go).
	badSub []subCode
	subID  uint16

	// retain, retainDue: the SUBSCRIBE being handled, its filters' Retain
	// Handling and those whose retained messages are due (deliver.go); on
	// the client's reading goroutine.
	retain    []retainAsk
	retainDue []packets.Subscription

	// sess is the client's session (set as it is established, before the
	// reading starts); relNew, relFree: the QoS 2 PUBLISH or the PUBREL
	// being handled, packet id relPid, is one the session is to count or
	// to uncount (retry.go). On the client's reading goroutine.
	sess *session
	// mount: the client's mountpoint, variables replaced (mount.go); set
	// as the session is established, read on the reading goroutine.
	mount string
	// exclTaken: the positions of the filters of the SUBSCRIBE being
	// handled that took an exclusive topic (exclusive.go).
	exclTaken       []int
	relNew, relFree bool
	relPid          uint16

	writeMu  sync.Mutex  // mochi writes whole packets per Write; keep ours between them
	batching bool        // the reader is handling bytes of its last Read (under writeMu)
	holds    int         // session pumps writing a run of messages (under writeMu; hold, release)
	wbuf     *[]byte     // pending writes while batching (from wbufPool)
	flushT   *time.Timer // flushes wbuf after flushDelay (created on first use)
	timed    bool        // flushT is armed for what wbuf holds
	werr     error       // a failed deferred write: later writes fail with it
	nowait   bool        // holdNoWait's holder writes: nothing waits for the socket (under writeMu)
	flusher  bool        // a goroutine sends what tryFlushLocked could not (under writeMu)
	// closing: Close has begun. mochi closes the socket before it marks
	// the client closed (Client.Closed); a session's pump checks this too
	// (connGone), so that nothing is taken as sent on a connection going away.
	closing atomic.Bool
	// out: the connections this one's reading goroutine writes to while
	// it handles the bytes of its last read, released as it reads again.
	out Batch
	// busy: the last read filled half the buffer or more (set and read on
	// the reading goroutine; Broker.batchOf).
	busy bool
	// subsChanging: mochi changes its index for this connection (a
	// session's subscriptions inherited, or removed as it ends); the cache
	// is told when it is done (subsChanged; on the reading goroutine).
	subsChanging *subCache

	// raw: the socket of a plain TCP connection, for writes that do not
	// wait (not Usable: TLS, WebSocket; under writeMu).
	raw nowait.Writer

	// rbuf, rpend: the buffer of the last read from the socket (rbufPool)
	// and what mochi has not taken of it yet; rerr: the error that came
	// with it. On the reading goroutine.
	rbuf  *[]byte
	rpend []byte
	rerr  error

	// framing state, touched only by the reading goroutine
	skip        uint64 // bytes of the current packet body still to pass
	inHeader    bool   // inside the remaining-length varint
	length      uint64
	shift       uint
	tripped     bool
	level       byte    // protocol level of the CONNECT (0 until seen)
	ptype       byte    // fixed header byte of the current packet
	start       int     // where the current packet began in the bytes of this Read; -1: in an earlier one
	scanning    bool    // the current packet is an MQTT 5 SUBSCRIBE: scan holds its state
	scan        subScan //
	refused     byte    // a SUBSCRIBE broke a rule: the next Read sends DISCONNECT with this reason and fails
	refusedSent bool

	// the start of the CONNECT, kept until its properties are checked
	// (connectcheck.go); connectDone once they were
	head        []byte
	connectDone bool

	// lim paces the reading under the zone's rate limits and routing
	// quotas (ratelimit.go); nil: none.
	lim atomic.Pointer[connLimiter]

	// m counts bytes and packets read and written (EMQX's bytes.*,
	// packets.*, messages.qos<n>.*); nil: not counted.
	m *metrics.Metrics
	// traffic: this connection's own counts (traffic.go), kept with m's.
	traffic traffic
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

// readBufSize is the buffer a connection's bytes are read into from the
// socket (rbufPool). mochi's own read buffer is small (256 bytes, Broker's
// options): the bytes of one read wait in rpend, and an idle connection
// holds no buffer (nowait.ReadPooled).
const readBufSize = 2048

var rbufPool = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// Read gives mochi's reader the bytes of the last read from the socket
// (rpend) and, once they are gone, reads again: only then is the reading
// goroutine done with its input (the writes it held go out, and so on).
func (c *conn) Read(p []byte) (int, error) {
	if len(c.rpend) > 0 {
		return c.give(p), nil
	}
	c.out.Release()
	c.writeMu.Lock()
	c.batching = false
	var err error
	if !c.nowait { // else its holder sends it, without waiting
		err = c.flushLocked()
	}
	c.writeMu.Unlock()
	if err != nil {
		return 0, err
	}
	if c.refused != 0 {
		return 0, c.refuse(c.refused)
	}
	if err := c.rerr; err != nil {
		c.rerr = nil
		return 0, err
	}
	var n int
	buf := p // a large body goes straight into mochi's buffer
	if len(p) < readBufSize {
		c.rbuf, n, err = c.readPooled()
		if n == 0 {
			c.putRbuf()
			return 0, err
		}
		buf = *c.rbuf
	} else {
		n, err = c.readSocket(p)
	}
	// A read that fills half the buffer or more: data comes faster than
	// this goroutine handles it, and writes to others are better left to
	// their own goroutines (Broker.batchOf), which run beside it.
	c.busy = n >= len(buf)/2
	if n > 0 && !c.connectDone {
		if cerr := c.checkConnect(buf[:n]); cerr != nil {
			return 0, cerr
		}
	}
	if n > 0 {
		if c.m != nil {
			c.m.Add(metrics.BytesReceived, uint64(n))
			c.traffic.recvCnt.Add(1)
			c.traffic.recvOct.Add(uint64(n))
		}
		if !c.tripped {
			if at, reason := c.track(buf[:n]); reason != 0 {
				if at == 0 {
					return 0, c.refuse(reason)
				}
				// The packets before it are handled first (their answers
				// go before the DISCONNECT); the next Read ends it.
				c.refused, n, err = reason, at, nil
			}
		}
		c.writeMu.Lock()
		c.batching = true
		c.writeMu.Unlock()
	}
	if c.rbuf != nil {
		// The error, if any, once mochi has had these bytes.
		c.rpend, c.rerr = buf[:n], err
		return c.give(p), nil
	}
	return n, err
}

// readSocket reads the connection into p, paced by the zone's limits.
func (c *conn) readSocket(p []byte) (int, error) {
	if l := c.lim.Load(); l != nil {
		return l.read(c, p)
	}
	return c.Conn.Read(p)
}

// readPooled reads the connection into a buffer from rbufPool; a plain
// TCP socket without limits is waited on with no buffer held.
func (c *conn) readPooled() (*[]byte, int, error) {
	if lc, ok := c.Conn.(*lconn); ok && lc.rd.Usable() && len(lc.rest) == 0 && c.lim.Load() == nil {
		return nowait.ReadPooled(&lc.rd, lc.Conn, &rbufPool)
	}
	b := rbufPool.Get().(*[]byte)
	n, err := c.readSocket(*b)
	return b, n, err
}

// give copies what is left of the last read into p; the buffer goes
// back to the pool once it is all given.
func (c *conn) give(p []byte) int {
	n := copy(p, c.rpend)
	c.rpend = c.rpend[n:]
	if len(c.rpend) == 0 {
		c.rpend = nil
		c.putRbuf()
	}
	return n
}

func (c *conn) putRbuf() {
	if c.rbuf != nil {
		rbufPool.Put(c.rbuf)
		c.rbuf = nil
	}
}

// refuse ends the connection for a SUBSCRIBE that broke an options rule:
// DISCONNECT with reason (once), and the read fails.
func (c *conn) refuse(reason byte) error {
	if !c.refusedSent {
		c.refused, c.refusedSent = reason, true
		c.disconnect(reason)
	}
	return errSubscribeOptions
}

// disconnect sends an MQTT 5 DISCONNECT with reason after what is
// buffered, bounded by a short write deadline.
func (c *conn) disconnect(reason byte) {
	c.writeMu.Lock()
	_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	if c.flushLocked() == nil {
		_, _ = c.Conn.Write(disconnectFor(reason))
	}
	c.writeMu.Unlock()
}

func (c *conn) Write(p []byte) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.werr != nil {
		return 0, c.werr
	}
	if c.m != nil {
		c.countWrite(p)
	}
	if (!c.batching && c.holds == 0 || len(p) >= flushAt) && !c.nowait { // a large packet is not copied
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
	if c.batching {
		// The reader may be held up elsewhere; a pump's hold ends with
		// its release, no timer needed (arming one can wake the poller).
		c.armLocked()
	}
	*c.wbuf = append(*c.wbuf, p...)
	if len(*c.wbuf) >= flushAt && !c.nowait {
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

// SetDeadline gives a client with a keep alive 2 x keepalive_backoff x its
// keep alive from now (EMQX's rule; 1.5 x with the default 0.75
// [MQTT-3.1.2-24]). mochi computes 1.5 x in whole seconds, which lost half
// a second of an odd keep alive.
func (c *conn) SetDeadline(t time.Time) error {
	if k := c.keepalive.Load(); k > 0 && !t.IsZero() {
		// mochi's t is now + (k + k/2) whole seconds: move it, without a
		// second clock read per packet.
		t = t.Add(c.keepaliveWindow(k) - time.Duration(k+k/2)*time.Second)
	}
	return c.Conn.SetDeadline(t)
}

// EmptyPassword reports whether the client's CONNECT carried a password of
// zero bytes (which mochi is shown as no password).
func (c *conn) EmptyPassword() bool { return c.emptyPassword }

// keepaliveWindow is how long a client with keep alive k seconds may stay
// silent: 2 x keepalive_backoff x k.
func (c *conn) keepaliveWindow(k uint32) time.Duration {
	b := c.backoff
	if b <= 0 {
		b = 0.75
	}
	return time.Duration(2 * b * float64(k) * float64(time.Second))
}

func (c *conn) timedFlush() {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.nowait {
		// Its holder is held up: what the socket takes now goes, the
		// rest at the next tick (nothing may wait while it holds).
		c.timed = false
		c.tryFlushLocked()
		if c.wbuf != nil {
			c.armLocked()
		}
		return
	}
	_ = c.flushLocked()
}

// armLocked sees that flushT fires flushDelay from now unless it is armed
// already; under writeMu.
func (c *conn) armLocked() {
	if c.timed {
		return
	}
	c.timed = true
	if c.flushT == nil {
		c.flushT = time.AfterFunc(flushDelay, c.timedFlush)
	} else {
		c.flushT.Reset(flushDelay)
	}
}

// takeLocked takes the pending buffer (not nil) and disarms flushT; under
// writeMu.
func (c *conn) takeLocked() *[]byte {
	b := c.wbuf
	c.wbuf = nil
	if c.timed {
		c.flushT.Stop()
		c.timed = false
	}
	return b
}

// recycle returns a buffer takeLocked took to the pool.
func recycle(b *[]byte) {
	if cap(*b) <= wbufKeepLimit {
		*b = (*b)[:0]
		wbufPool.Put(b)
	}
}

// failLocked keeps a failed write's error for later writes and closes the
// connection, so the reader sees it too; under writeMu.
func (c *conn) failLocked(err error) {
	if c.werr == nil {
		c.werr = err
		_ = c.Conn.Close()
	}
}

// ReleaseHolds sends what this connection's reading goroutine holds
// (out), without waiting: it is about to do something that may take long.
func (c *conn) ReleaseHolds() { c.out.Release() }

// holdNoWait starts a run of writes from another client's goroutine that
// must not wait for this connection: they are buffered, whatever their
// size, until releaseNoWait, which sends what the socket takes at once.
// It reports false (nothing held) where that cannot be promised: not plain
// TCP, or a write that may wait is under way (the caller then writes from
// a goroutine of its own).
func (c *conn) holdNoWait() bool {
	if !c.raw.Usable() || !c.writeMu.TryLock() {
		return false
	}
	ok := !c.flusher && !c.nowait && c.werr == nil
	if ok {
		c.holds++
		c.nowait = true
	}
	c.writeMu.Unlock()
	return ok
}

// releaseNoWait ends holdNoWait's run.
func (c *conn) releaseNoWait() {
	c.writeMu.Lock()
	c.holds--
	c.nowait = false
	if c.holds == 0 && !c.batching {
		c.tryFlushLocked()
	}
	c.writeMu.Unlock()
}

// pending is how many bytes wait to be written.
func (c *conn) pending() int {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.wbuf == nil {
		return 0
	}
	return len(*c.wbuf)
}

// tryFlushLocked writes what is pending as far as the socket takes it now;
// a goroutine sends the rest (flushLocked, which may wait).
func (c *conn) tryFlushLocked() {
	if c.wbuf == nil || c.werr != nil || c.flusher {
		return
	}
	b := *c.wbuf
	n, err := c.raw.Write(b)
	if err != nil || n == len(b) {
		recycle(c.takeLocked())
		if err != nil {
			c.failLocked(err)
		}
		return
	}
	*c.wbuf = b[:copy(b, b[n:])]
	if c.nowait { // timedFlush while held: the next tick tries again
		return
	}
	c.flusher = true
	go c.flushRest()
}

// flushRest sends what tryFlushLocked could not (no holder can come
// meanwhile: holdNoWait refuses while flusher is set).
func (c *conn) flushRest() {
	c.writeMu.Lock()
	c.flusher = false
	_ = c.flushLocked()
	c.writeMu.Unlock()
}

// flushLocked writes what is pending. A failure is kept for later writes
// and closes the connection, so the reader sees it too.
func (c *conn) flushLocked() error {
	if c.wbuf == nil {
		return c.werr
	}
	b := c.takeLocked()
	_, err := c.Conn.Write(*b)
	recycle(b)
	if err != nil {
		c.failLocked(err)
	}
	return err
}

// Close sends what is still buffered (a DISCONNECT, say) first, bounded by
// a short write deadline.
func (c *conn) Close() error {
	c.closing.Store(true)
	if l := c.lim.Load(); l != nil {
		l.close() // a paused Read ends
	}
	c.out.close()
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
	if c.level == 0 {
		c.level = connectLevel(c.head)
	}
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

// track walks fixed headers: type byte, 1-4 varint bytes, then the body,
// passed by count except for the body of an MQTT 5 SUBSCRIBE, which is
// scanned (subscan.go). It returns the DISCONNECT reason for a SUBSCRIBE
// that breaks a rule, and where in b that packet began (0: in an earlier
// Read). A packet over the size limit is answered with DISCONNECT 0x95
// (MQTT 5) and tracking stops: mochi refuses it by its length.
func (c *conn) track(b []byte) (at int, reason byte) {
	c.start = -1
	for i := 0; i < len(b); {
		switch {
		case c.skip > 0:
			k := min(uint64(len(b)-i), c.skip)
			if c.scanning {
				if r := c.scan.feed(b[i : i+int(k)]); r != 0 {
					return max(c.start, 0), r
				}
			}
			c.skip -= k
			i += int(k)
			if c.skip == 0 && c.scanning {
				c.scanning = false
				if r := c.scan.end(); r != 0 {
					return max(c.start, 0), r
				}
			}
		case !c.inHeader: // packet type byte
			c.inHeader, c.length, c.shift = true, 0, 0
			c.ptype, c.start = b[i], i
			i++
			if c.m != nil {
				c.countRead(c.ptype)
			}
		default: // remaining length varint
			v := b[i]
			i++
			c.length |= uint64(v&0x7f) << c.shift
			c.shift += 7
			if v&0x80 != 0 && c.shift < 28 {
				continue
			}
			c.inHeader = false
			if c.maxPacket > 0 && c.length+1 > uint64(c.maxPacket) {
				c.tripped = true
				if c.v5.Load() {
					c.disconnect(0x95) // packet too large
				}
				return 0, 0
			}
			c.skip = c.length
			if c.ptype>>4 == packets.Subscribe && c.level == 5 && c.length > 0 {
				c.scanning, c.scan = true, newSubScan()
			}
		}
	}
	return 0, 0
}

// subCode is a SUBSCRIBE filter's position and the code it gets.
type subCode struct {
	i    int
	code byte
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

// countRead counts a packet read by its fixed header byte h (EMQX's
// emqx_metrics:inc_recv): one add; the totals are derived when read.
func (c *conn) countRead(h byte) {
	c.traffic.recvPkt.Add(1)
	if h>>4 == packets.Publish {
		if q := h >> 1 & 3; q < 3 {
			c.traffic.recvMsg[q].Add(1)
		}
		c.m.Inc(metrics.PublishReceived[h>>1&3])
	} else if id := metrics.Received[h>>4]; id != 0 {
		c.m.Inc(id)
	}
}

// countWrite counts the bytes and packets of p, whole packets as mochi
// writes them (EMQX's emqx_metrics:inc_sent): a $SYS PUBLISH is not a
// packet sent, a CONNACK refusing and a PUBACK or PUBREC with an error
// code count as errors too.
func (c *conn) countWrite(p []byte) {
	c.m.Add(metrics.BytesSent, uint64(len(p)))
	c.traffic.sendCnt.Add(1)
	c.traffic.sendOct.Add(uint64(len(p)))
	for len(p) >= 2 {
		h := p[0]
		var length, shift uint
		i := 1
		for ; i < len(p) && i <= 4; i++ {
			length |= uint(p[i]&0x7f) << shift
			shift += 7
			if p[i]&0x80 == 0 {
				break
			}
		}
		i++
		if i > len(p) {
			return
		}
		end := min(uint(len(p)), uint(i)+length)
		body := p[i:end]
		p = p[end:]
		c.traffic.sendPkt.Add(1)
		switch h >> 4 {
		case packets.Publish:
			if q := h >> 1 & 3; q < 3 {
				c.traffic.sendMsg[q].Add(1)
			}
			if len(body) >= 7 && string(body[2:7]) == "$SYS/" {
				continue
			}
			c.m.Inc(metrics.PublishSent[h>>1&3])
			continue
		case packets.Connack:
			if len(body) >= 2 && body[1] != 0 {
				c.m.Inc(metrics.PacketsConnackError)
				// 3.1.1 0x04 bad user name or password, 0x05 not
				// authorized; MQTT 5 0x86, 0x87
				switch body[1] {
				case 0x04, 0x05, 0x86, 0x87:
					c.m.Inc(metrics.PacketsConnackAuthError)
				}
			}
		case packets.Puback, packets.Pubrec:
			if len(body) >= 3 && body[2] >= 0x80 {
				c.m.Inc(metrics.PacketsPublishError)
				if body[2] == 0x87 {
					c.m.Inc(metrics.PacketsPublishAuthError)
				}
			}
		}
		if id := metrics.Sent[h>>4]; id != 0 {
			c.m.Inc(id)
		}
	}
}

// changingSubs: mochi is about to change its index for this connection.
func (c *conn) changingSubs(s *subCache) {
	if c.subsChanging == nil {
		c.subsChanging = s
		s.begin()
	}
}

// subsChanged: the change changingSubs announced is done (the CONNACK of
// a session that inherited subscriptions is going out, or the connection
// ended).
func (c *conn) subsChanged() {
	if s := c.subsChanging; s != nil {
		c.subsChanging = nil
		s.end()
	}
}
