package conformance_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// size is the encoded size of a packet the node sent.
func size(pk packets.Packet) int {
	n := 2
	for r := pk.FixedHeader.Remaining; r >= 128; r /= 128 {
		n++
	}
	return n + pk.FixedHeader.Remaining
}

// connectMax connects a 5.0 client that accepts packets up to max bytes
// (0: no limit) with the given further CONNECT properties, and checks the
// CONNACK fits.
func connectMax(t *testing.T, addr string, id string, max uint32, props packets.Properties) (*rawc, packets.Packet) {
	t.Helper()
	cp := connectPk(id, true)
	cp.Properties = props
	cp.Properties.MaximumPacketSize = max
	r, ca := connect(t, addr, 5, cp)
	if max > 0 && size(ca) > int(max) {
		t.Fatalf("CONNACK of %d bytes to a client that accepts %d", size(ca), max)
	}
	return r, ca
}

// TestMaximumPacketSize: a subscriber on the publisher's node and one on
// another node, both accepting packets of at most 200 bytes and one QoS 1
// message in flight, get none of the messages too large for them: not a
// 500-byte payload, nor a small one with 300 bytes of user properties
// (mochi sent it without them); the next message that fits comes, though
// they acknowledged nothing, so the node behaved as if the large ones were
// sent and acknowledged, and after a reconnect it sends nothing again.
// Every packet they get fits.
// [MQTT-3.1.2-24] [MQTT-3.1.2-25] [MQTT-3.3.2-17] (5.0)
func TestMaximumPacketSize(t *testing.T) {
	t.Parallel()
	const max = 200
	topic := uniq(t, "mps")
	props := packets.Properties{ReceiveMaximum: 1, SessionExpiryInterval: 60, SessionExpiryIntervalFlag: true}
	var subs []*rawc
	var ids []string
	for _, i := range []int{0, 2} {
		id := uniq(t, "s")
		s, _ := connectMax(t, addr(i), id, max, props)
		s.sub(topic, 1)
		subs, ids = append(subs, s), append(ids, id)
	}
	waitRoute(t, topic, 0, 2)
	p := connectID(t, addr(0), 5, uniq(t, "p"))
	p.publish(topic, 1, false, bytes.Repeat([]byte("x"), 500))
	p.publishProps(topic, 1, false, []byte("tiny"), packets.Properties{User: []packets.UserProperty{{Key: "k", Val: strings.Repeat("v", 300)}}})
	p.publish(topic, 1, false, []byte("fits"))
	for i, s := range subs {
		m := s.readType(packets.Publish)
		if string(m.Payload) != "fits" || size(m) > max {
			t.Fatalf("subscriber %d: first message %q of %d bytes, want %q", i, m.Payload, size(m), "fits")
		}
		s.ack(m)
		// DISCONNECT, then wait for the node to close: it has handled the
		// PUBACK before the session resumes (a bare close raced the
		// resume, and mochi rightly resent the unacknowledged message).
		s.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
		s.closed()
		cp := connectPk(ids[i], false)
		cp.Properties = props
		cp.Properties.MaximumPacketSize = max
		r, ca := connect(t, addr(i*2), 5, cp)
		if !ca.SessionPresent {
			t.Fatalf("subscriber %d: session not resumed", i)
		}
		r.quiet(300 * time.Millisecond) // nothing owed
		r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect},
			Properties: packets.Properties{SessionExpiryInterval: 0, SessionExpiryIntervalFlag: true}})
	}
	p.disconnect()
}

// TestRequestProblemInformation: a client that set Request Problem
// Information to 0 gets no Reason String on a PUBREL or PUBCOMP answering
// an unknown packet id (a client with the default gets one on the same
// packets), and still gets the User Properties of the messages forwarded
// to it (mochi left them out of its PUBLISHes too).
// [MQTT-3.1.2-29] [MQTT-3.3.2-17] (5.0)
func TestRequestProblemInformation(t *testing.T) {
	t.Parallel()
	topic := uniq(t, "rpi")
	quiet, _ := connectMax(t, addr(0), uniq(t, "q"), 0, packets.Properties{RequestProblemInfo: 0, RequestProblemInfoFlag: true})
	loud := connectID(t, addr(0), 5, uniq(t, "l"))
	for _, c := range []struct {
		name string
		typ  byte
	}{{"PUBREL for an unknown id", packets.Pubrel}, {"PUBREC for an unknown id", packets.Pubrec}} {
		answer := packets.Pubcomp
		if c.typ == packets.Pubrec {
			answer = packets.Pubrel
		}
		for _, r := range []*rawc{quiet, loud} {
			r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: c.typ, Qos: map[byte]byte{packets.Pubrel: 1}[c.typ]}, PacketID: 999})
			a := r.readType(answer)
			if a.PacketID != 999 || a.ReasonCode != 0x92 {
				t.Fatalf("%s: %+v, want reason 0x92", c.name, a)
			}
			if hasProblem := a.Properties.ReasonString != "" || len(a.Properties.User) > 0; hasProblem != (r == loud) {
				t.Fatalf("%s: reason string %q user properties %v (request problem information 0: %v)", c.name,
					a.Properties.ReasonString, a.Properties.User, r == quiet)
			}
		}
	}
	quiet.sub(topic, 1)
	waitRoute(t, topic, 0)
	user := []packets.UserProperty{{Key: "a", Val: "1"}, {Key: "b", Val: "2"}}
	p := connectID(t, addr(1), 5, uniq(t, "p"))
	p.publishProps(topic, 1, false, []byte("m"), packets.Properties{User: user})
	m := quiet.expect(topic, []byte("m"))
	if !slices.Equal(m.Properties.User, user) {
		t.Fatalf("user properties %v, want %v", m.Properties.User, user)
	}
	quiet.ack(m)
	for _, r := range []*rawc{quiet, loud, p} {
		r.disconnect()
	}
}

// TestReasonStringWithinMaximumPacketSize: where the node sends a Reason
// String (CONNACK refusing an authentication method, PUBREL and PUBCOMP
// for an unknown packet id, SUBACK and UNSUBACK for a packet id in use,
// DISCONNECT for a topic name with a wildcard), a client whose Maximum
// Packet Size is one byte short of the packet with it gets the packet
// without it (mochi's size estimate kept it and then sent nothing).
// [MQTT-3.2.2-19] [MQTT-3.6.2-2] [MQTT-3.7.2-2] [MQTT-3.9.2-1] [MQTT-3.11.2-1] [MQTT-3.14.2-3] [MQTT-3.1.2-24] (5.0)
func TestReasonStringWithinMaximumPacketSize(t *testing.T) {
	t.Parallel()
	type step func(t *testing.T, r *rawc) packets.Packet
	answer := func(send packets.Packet, typ byte) step {
		return func(t *testing.T, r *rawc) packets.Packet {
			r.send(send)
			return r.readType(typ)
		}
	}
	// inUse provokes a SUBACK or UNSUBACK 0x91: the request reuses the id
	// of a QoS 1 PUBLISH the node has in flight to the client (mochi keeps
	// one id space for both directions).
	inUse := func(req packets.Packet, typ byte) step {
		return func(t *testing.T, r *rawc) packets.Packet {
			topic := fmt.Sprint("iu/", seq.Add(1)) // short: the PUBLISH must fit the client's maximum
			r.sub(topic, 1)
			waitRoute(t, topic, 1)
			p := connectID(t, addr(1), 5, uniq(t, "p"))
			p.publish(topic, 1, false, []byte("held"))
			m := r.expect(topic, []byte("held"))
			req.PacketID = m.PacketID
			r.send(req)
			a := r.readType(typ)
			r.ack(m)
			p.disconnect()
			return a
		}
	}
	for _, c := range []struct {
		name    string
		connect packets.Properties // refused CONNECT
		run     step
	}{
		{name: "CONNACK", connect: packets.Properties{AuthenticationMethod: "SCRAM-SHA-1"}},
		{name: "PUBREL", run: answer(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrec}, PacketID: 999}, packets.Pubrel)},
		{name: "PUBCOMP", run: answer(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrel, Qos: 1}, PacketID: 999}, packets.Pubcomp)},
		{name: "SUBACK", run: inUse(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1},
			Filters: packets.Subscriptions{{Filter: "x", Qos: 1}}}, packets.Suback)},
		{name: "UNSUBACK", run: inUse(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Unsubscribe, Qos: 1},
			Filters: packets.Subscriptions{{Filter: "x"}}}, packets.Unsuback)},
		{name: "DISCONNECT", run: answer(pubPk("a/+", 0, 0, "x"), packets.Disconnect)},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			get := func(max uint32) packets.Packet {
				if c.run != nil {
					r, _ := connectMax(t, addr(1), uniq(t, "c"), max, packets.Properties{})
					return c.run(t, r)
				}
				r := dial(t, addr(1), 5)
				cp := connectPk(uniq(t, "c"), true)
				cp.Properties = c.connect
				cp.Properties.MaximumPacketSize = max
				r.send(cp)
				return r.read()
			}
			full := get(0)
			if full.Properties.ReasonString == "" || full.ReasonCode < 0x80 && len(full.ReasonCodes) == 0 {
				t.Fatalf("without a limit: %+v, want a reason string", full)
			}
			max := uint32(size(full) - 1)
			short := get(max)
			if short.FixedHeader.Type != full.FixedHeader.Type || short.Properties.ReasonString != "" || size(short) > int(max) ||
				short.ReasonCode != full.ReasonCode || !bytes.Equal(short.ReasonCodes, full.ReasonCodes) {
				t.Fatalf("maximum %d: got %+v (%d bytes), want the packet without its reason string", max, short, size(short))
			}
		})
	}
}

// TestUnsupportedAuthenticationMethod: the node supports no enhanced
// authentication: a CONNECT with an Authentication Method gets CONNACK
// 0x8C (Bad authentication method) and the connection is closed; a
// PUBLISH sent behind it is not processed.
// [MQTT-4.12.0-1] [MQTT-3.1.4-6] (5.0)
func TestUnsupportedAuthenticationMethod(t *testing.T) {
	t.Parallel()
	topic := uniq(t, "auth")
	s := connectID(t, addr(2), 5, uniq(t, "s"))
	s.sub(topic, 0)
	waitRoute(t, topic, 2)
	r := dial(t, addr(0), 5)
	cp := connectPk(uniq(t, "c"), true)
	cp.Properties = packets.Properties{AuthenticationMethod: "SCRAM-SHA-1", AuthenticationData: []byte("client-first")}
	r.write(append(r.bytes(cp), r.bytes(pubPk(topic, 0, 0, "after"))...))
	got := r.closed()
	if len(got) != 1 || got[0].FixedHeader.Type != packets.Connack || got[0].ReasonCode != 0x8C || got[0].SessionPresent {
		t.Fatalf("got %+v, want CONNACK 0x8C alone", got)
	}
	s.quiet(300 * time.Millisecond)
	s.disconnect()
}
