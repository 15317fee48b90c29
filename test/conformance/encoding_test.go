package conformance_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// rawPacket is a packet as the node sent it, byte for byte.
type rawPacket struct {
	first  byte   // packet type and flags
	length []byte // the Remaining Length bytes
	body   []byte
}

func (p rawPacket) typ() byte { return p.first >> 4 }

// nextRaw reads one packet as sent. Only for tests that read nothing else
// from r.
func (r *rawc) nextRaw() rawPacket {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(wait))
	var p rawPacket
	var err error
	if p.first, err = r.r.ReadByte(); err != nil {
		r.t.Fatalf("read: %v", err)
	}
	for {
		b, err := r.r.ReadByte()
		if err != nil {
			r.t.Fatalf("read: %v", err)
		}
		p.length = append(p.length, b)
		if b&0x80 == 0 || len(p.length) == 4 {
			break
		}
	}
	n, _ := binary.Uvarint(p.length)
	p.body = make([]byte, n)
	if _, err := io.ReadFull(r.r, p.body); err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return p
}

// nextRawType reads packets as sent until one of type typ, checking each
// with check on the way.
func (r *rawc) nextRawType(typ byte, check func(rawPacket)) rawPacket {
	r.t.Helper()
	for {
		p := r.nextRaw()
		check(p)
		if p.typ() == typ {
			return p
		}
	}
}

// varintOK reports whether b is a Variable Byte Integer in the fewest
// bytes for its value, and the value.
func varintOK(b []byte) (uint64, bool) {
	v, n := binary.Uvarint(b)
	if n <= 0 || n > 4 {
		return 0, false
	}
	return v, n == 1 || b[n-1] != 0 // a last byte of 0 adds nothing
}

// propertyIDs gives the size of each MQTT 5 property's value: a fixed
// number of bytes, or -1 variable byte integer, -2 string or binary data,
// -3 string pair.
var propertyIDs = map[byte]int{
	0x01: 1, 0x02: 4, 0x03: -2, 0x08: -2, 0x09: -2, 0x0B: -1, 0x11: 4, 0x12: -2, 0x13: 2, 0x15: -2, 0x16: -2,
	0x17: 1, 0x18: 4, 0x19: 1, 0x1A: -2, 0x1C: -2, 0x1F: -2, 0x21: 2, 0x22: 2, 0x23: 2, 0x24: 1, 0x25: 1,
	0x26: -3, 0x27: 4, 0x28: 1, 0x29: 1, 0x2A: 1,
}

// checkProperties checks the properties of an MQTT 5 packet at the start
// of b: a Property Length (0 when there are none) in the fewest bytes
// that counts exactly the properties that follow, each well formed,
// subscription identifiers in the fewest bytes too. It returns the
// subscription identifiers.
func checkProperties(t *testing.T, what string, b []byte) []uint64 {
	t.Helper()
	plen, ok := varintOK(b)
	if !ok {
		t.Fatalf("%s: property length % x not in the fewest bytes", what, b[:min(4, len(b))])
	}
	_, n := binary.Uvarint(b)
	props := b[n:]
	if uint64(len(props)) < plen {
		t.Fatalf("%s: property length %d, %d bytes left", what, plen, len(props))
	}
	props = props[:plen]
	var ids []uint64
	for i := 0; i < len(props); {
		id := props[i]
		i++
		sz, known := propertyIDs[id]
		if !known {
			t.Fatalf("%s: unknown property %#x", what, id)
		}
		switch sz {
		case -1:
			v, ok := varintOK(props[i:])
			if !ok {
				t.Fatalf("%s: subscription identifier % x not in the fewest bytes", what, props[i:min(i+4, len(props))])
			}
			ids = append(ids, v)
			_, k := binary.Uvarint(props[i:])
			i += k
		case -2, -3:
			for range -sz - 1 {
				if i+2 > len(props) {
					t.Fatalf("%s: property %#x cut short", what, id)
				}
				i += 2 + int(binary.BigEndian.Uint16(props[i:]))
			}
		default:
			i += sz
		}
		if i > len(props) {
			t.Fatalf("%s: property %#x runs past the property length", what, id)
		}
	}
	return ids
}

// checkPacket checks what every packet the node sends must hold: the
// Remaining Length in the fewest bytes, the fixed-header flags of its
// type, and in MQTT 5 a Property Length wherever the packet has one.
func checkPacket(t *testing.T, v byte, p rawPacket) []uint64 {
	t.Helper()
	what := fmt.Sprintf("packet type %d", p.typ())
	if _, ok := varintOK(p.length); !ok {
		t.Fatalf("%s: remaining length % x not in the fewest bytes", what, p.length)
	}
	flags := p.first & 0x0F
	switch p.typ() {
	case packets.Publish:
		if flags>>1&3 == 3 {
			t.Fatalf("%s: QoS 3", what)
		}
	case packets.Pubrel:
		if flags != 0x02 {
			t.Fatalf("%s: flags %04b, want 0010", what, flags)
		}
	default:
		if flags != 0 {
			t.Fatalf("%s: flags %04b, want 0000", what, flags)
		}
	}
	if v != 5 {
		return nil
	}
	b := p.body
	switch p.typ() {
	case packets.Connack, packets.Suback, packets.Unsuback:
		return checkProperties(t, what, b[2:])
	case packets.Publish:
		off := 2 + int(binary.BigEndian.Uint16(b))
		if flags>>1&3 > 0 {
			off += 2
		}
		return checkProperties(t, what, b[off:])
	case packets.Puback, packets.Pubrec, packets.Pubrel, packets.Pubcomp:
		if len(b) >= 4 { // shorter: reason code 0x00 or no properties, both implied
			return checkProperties(t, what, b[3:])
		}
	case packets.Disconnect:
		if len(b) >= 2 {
			return checkProperties(t, what, b[1:])
		}
	}
	return nil
}

// TestServerEncodings: every packet the node sends over a session that
// sees each packet type it sends (CONNACK, PUBLISH at QoS 0, 1 and 2 with
// the acknowledgements of both directions, SUBACK, UNSUBACK, PINGRESP,
// and in 5.0 DISCONNECT) has the fixed-header flags its type lists, a
// Remaining Length in the fewest bytes (PUBLISHes of 127, 128, 16383 and
// 16384 bytes of body included), and in 5.0 a Property Length wherever the
// packet has one, 0 where it has no properties (PUBLISH, SUBACK, UNSUBACK),
// and Subscription Identifiers in the fewest bytes from 1 to 268435455.
// [MQTT-2.2.2-1] (3.1.1) [MQTT-1.5.5-1] [MQTT-2.1.3-1] [MQTT-2.2.2-1] (5.0)
func TestServerEncodings(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		t.Run(fmt.Sprint("v", v), func(t *testing.T) {
			t.Parallel()
			base := fmt.Sprint("enc/", seq.Add(1))
			id := uniq(t, "s")
			r := dial(t, addr(0), v)
			r.send(connectPk(id, true))
			check := func(p rawPacket) { checkPacket(t, v, p) }
			r.nextRawType(packets.Connack, check)
			sub := func(pid uint16, filter string, qos byte, subID int) {
				pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: pid,
					Filters: packets.Subscriptions{{Filter: filter, Qos: qos}}}
				if subID > 0 {
					pk.Properties.SubscriptionIdentifier = []int{subID}
				}
				r.send(pk)
				p := r.nextRawType(packets.Suback, check)
				if v == 5 && p.body[2] != 0 {
					t.Fatalf("SUBACK without properties: property length % x", p.body[2:])
				}
			}
			sub(1, base+"/plain/#", 2, 0)
			subIDs := []int{1, 127, 128, 16383, 16384, 2097151, 2097152, 268435455}
			if v == 5 {
				for i, sid := range subIDs {
					sub(uint16(10+i), fmt.Sprint(base, "/id/", i), 0, sid)
				}
			}
			waitRoute(t, base+"/plain/x", 0)
			p := connectID(t, addr(1), v, uniq(t, "p"))

			// Remaining Lengths around the one- and two-byte boundaries.
			topic := base + "/plain/len"
			fixed := 2 + len(topic)
			if v == 5 {
				fixed++ // property length 0
			}
			var lens []int
			for _, body := range []int{127, 128, 16383, 16384} {
				p.publish(topic, 0, false, bytes.Repeat([]byte("x"), body-fixed))
				m := r.nextRawType(packets.Publish, check)
				lens = append(lens, len(m.body))
			}
			if !slices.Equal(lens, []int{127, 128, 16383, 16384}) {
				t.Fatalf("PUBLISH bodies of %v bytes, want 127, 128, 16383, 16384 (properties added?)", lens)
			}
			if v == 5 {
				for i, sid := range subIDs {
					p.publish(fmt.Sprint(base, "/id/", i), 0, false, []byte("id"))
					m := r.nextRawType(packets.Publish, check)
					if got := checkPacket(t, v, m); !slices.Equal(got, []uint64{uint64(sid)}) {
						t.Fatalf("subscription identifiers %v, want %d", got, sid)
					}
				}
			}

			// QoS 1 and 2 to the client, and from it.
			p.publish(base+"/plain/q1", 1, false, []byte("q1"))
			m := r.nextRawType(packets.Publish, check)
			r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: binary.BigEndian.Uint16(m.body[2+len(base+"/plain/q1"):])})
			p.publish(base+"/plain/q2", 2, false, []byte("q2"))
			m = r.nextRawType(packets.Publish, check)
			pid := binary.BigEndian.Uint16(m.body[2+len(base+"/plain/q2"):])
			r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrec}, PacketID: pid})
			r.nextRawType(packets.Pubrel, check)
			r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubcomp}, PacketID: pid})
			r.send(pubPk(base+"/other", 1, 5, "from"))
			r.nextRawType(packets.Puback, check)
			r.send(pubPk(base+"/other", 2, 6, "from"))
			r.nextRawType(packets.Pubrec, check)
			r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrel, Qos: 1}, PacketID: 6})
			r.nextRawType(packets.Pubcomp, check)
			// The error codes' forms too: PUBREL and PUBCOMP for an unknown id.
			if v == 5 {
				r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrec}, PacketID: 900})
				r.nextRawType(packets.Pubrel, check)
				r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrel, Qos: 1}, PacketID: 901})
				r.nextRawType(packets.Pubcomp, check)
			}
			r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Unsubscribe, Qos: 1}, PacketID: 7,
				Filters: packets.Subscriptions{{Filter: base + "/plain/#"}}})
			u := r.nextRawType(packets.Unsuback, check)
			if v == 5 && u.body[2] != 0 {
				t.Fatalf("UNSUBACK without properties: property length % x", u.body[2:])
			}
			r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}})
			r.nextRawType(packets.Pingresp, check)
			if v == 5 {
				connectID(t, addr(2), v, id) // takes the session over: DISCONNECT 0x8E
				d := r.nextRawType(packets.Disconnect, check)
				if len(d.body) < 1 || d.body[0] != 0x8E {
					t.Fatalf("DISCONNECT % x, want 0x8E", d.body)
				}
			}
			p.disconnect()
		})
	}
}
