package broker

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// disconnectTooLarge is an MQTT 5 DISCONNECT with reason 0x95 (packet too large), no properties.
var disconnectTooLarge = []byte{0xE0, 0x02, 0x95, 0x00}

// conn wraps every accepted connection. It sets the CONNECT deadline and
// follows the MQTT framing of the inbound byte stream (headers only, payloads
// are skipped by count) so that a packet over the size limit can be answered
// with DISCONNECT 0x95 before mochi drops the connection.
type conn struct {
	net.Conn
	maxPacket uint32 // 0: no limit tracking

	v5 atomic.Bool // set by the connect hook once the protocol version is known

	writeMu sync.Mutex // mochi writes whole packets per Write; keep ours between them

	// framing state, touched only by the reading goroutine
	skip     uint64 // bytes of the current packet body still to pass
	inHeader bool   // inside the remaining-length varint
	length   uint64
	shift    uint
	tripped  bool
}

func newConn(c net.Conn, idle time.Duration, maxPacket uint32) *conn {
	if idle > 0 {
		_ = c.SetDeadline(time.Now().Add(idle)) // mochi resets it after CONNECT
	}
	return &conn{Conn: c, maxPacket: maxPacket}
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.maxPacket > 0 && !c.tripped {
		c.track(p[:n])
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.Conn.Write(p)
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
					_, _ = c.Conn.Write(disconnectTooLarge)
					c.writeMu.Unlock()
				}
				return
			}
			c.skip = c.length
		}
	}
}
