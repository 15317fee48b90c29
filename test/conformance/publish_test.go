package conformance_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

func pubPk(topic string, qos byte, id uint16, payload string) packets.Packet {
	return packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos}, TopicName: topic, PacketID: id, Payload: []byte(payload)}
}

// TestQoSFlows: messages at QoS 0, 1 and 2 cross nodes with the
// acknowledgements of their QoS, each carrying the id of the packet it
// answers; the node sends QoS 0 without id and DUP 0, gives QoS 1 and 2
// fresh non-zero ids with DUP 0 (a DUP 1 from the publisher is not
// passed on), answers a repeated QoS 2 PUBLISH before PUBREL with PUBREC
// 0x00, as the first (mochi said 0x91), without delivering twice, and treats an id reused after PUBACK or
// PUBCOMP as a new message.
// [MQTT-2.3.1-1] [MQTT-2.3.1-4] [MQTT-2.3.1-5] [MQTT-2.3.1-6] [MQTT-3.3.1-2] [MQTT-3.3.1-3] [MQTT-3.3.4-1] [MQTT-3.6.1-1]
// [MQTT-4.3.1-1] [MQTT-4.3.2-1] [MQTT-4.3.2-2] [MQTT-4.3.3-1] [MQTT-4.3.3-2] [MQTT-4.5.0-1] (3.1.1)
// [MQTT-2.2.1-2] [MQTT-2.2.1-4] [MQTT-2.2.1-5] [MQTT-3.3.1-2] [MQTT-3.3.1-3] [MQTT-3.3.4-1] [MQTT-3.4.2-1] [MQTT-3.5.2-1]
// [MQTT-3.6.2-1] [MQTT-3.7.2-1] [MQTT-4.3.1-1] [MQTT-4.3.2-1] [MQTT-4.3.2-2] [MQTT-4.3.2-4] [MQTT-4.3.2-5]
// [MQTT-4.3.3-1] [MQTT-4.3.3-2] [MQTT-4.3.3-4] [MQTT-4.3.3-8] [MQTT-4.3.3-10] [MQTT-4.3.3-11] [MQTT-4.3.3-12] [MQTT-4.5.0-1] (5.0)
func TestQoSFlows(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		topic := uniq(t, "q")
		s := connectID(t, addr(0), v, uniq(t, "s"))
		s.sub(topic, 2)
		waitRoute(t, topic, 0)
		p := connectID(t, addr(1), v, uniq(t, "p"))

		p.send(pubPk(topic, 0, 0, "q0"))
		if m := s.expect(topic, []byte("q0")); m.FixedHeader.Qos != 0 || m.FixedHeader.Dup || m.PacketID != 0 {
			t.Fatalf("v%d qos 0 delivery: %+v", v, m.FixedHeader)
		}
		dup := pubPk(topic, 1, 11, "q1")
		dup.FixedHeader.Dup = true
		p.send(dup)
		if a := p.readType(packets.Puback); a.PacketID != 11 || a.ReasonCode != 0 {
			t.Fatalf("v%d PUBACK %+v", v, a)
		}
		m1 := s.expect(topic, []byte("q1"))
		if m1.FixedHeader.Qos != 1 || m1.FixedHeader.Dup || m1.PacketID == 0 {
			t.Fatalf("v%d qos 1 delivery: %+v id %d", v, m1.FixedHeader, m1.PacketID)
		}
		p.send(pubPk(topic, 2, 12, "q2"))
		if a := p.readType(packets.Pubrec); a.PacketID != 12 || a.ReasonCode >= 0x80 {
			t.Fatalf("v%d PUBREC %+v", v, a)
		}
		again := pubPk(topic, 2, 12, "q2")
		again.FixedHeader.Dup = true
		p.send(again)
		if a := p.readType(packets.Pubrec); a.PacketID != 12 || a.ReasonCode != 0 {
			t.Fatalf("v%d second PUBREC %+v, want 0x00 as the first", v, a)
		}
		p.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrel, Qos: 1}, PacketID: 12})
		if a := p.readType(packets.Pubcomp); a.PacketID != 12 {
			t.Fatalf("v%d PUBCOMP %+v", v, a)
		}
		m2 := s.expect(topic, []byte("q2"))
		if m2.FixedHeader.Qos != 2 || m2.FixedHeader.Dup || m2.PacketID == 0 || m2.PacketID == m1.PacketID {
			t.Fatalf("v%d qos 2 delivery: %+v id %d (qos 1 had %d)", v, m2.FixedHeader, m2.PacketID, m1.PacketID)
		}
		s.ack(m1)
		s.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrec}, PacketID: m2.PacketID})
		rel := s.readType(packets.Pubrel)
		if rel.PacketID != m2.PacketID || rel.FixedHeader.Qos != 1 {
			t.Fatalf("v%d PUBREL %+v", v, rel)
		}
		s.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubcomp}, PacketID: m2.PacketID})

		// Ids reused after the flows completed are new messages.
		p.publish(topic, 1, false, []byte("q1 again")) // id 77
		p.publish(topic, 1, false, []byte("q1 third")) // id 77 again
		p.publish(topic, 2, false, []byte("q2 again"))
		for _, want := range []string{"q1 again", "q1 third", "q2 again"} {
			s.ack(s.expect(topic, []byte(want)))
		}
		p.send(pubPk(topic, 0, 0, "end"))
		s.expect(topic, []byte("end")) // and no second copy of "q2" before it
	}
}

// TestPublishMalformed: a PUBLISH with a wildcard, empty or NUL-holding
// topic name, or with both QoS bits set, makes the node close the
// connection (5.0: DISCONNECT 0x90 for the wildcard).
// [MQTT-3.3.1-4] [MQTT-3.3.2-1] [MQTT-3.3.2-2] [MQTT-4.7.1-1] [MQTT-4.7.3-1] [MQTT-4.7.3-2] [MQTT-4.8.0-1] (3.1.1)
// [MQTT-3.3.1-4] [MQTT-3.3.2-1] [MQTT-3.3.2-2] [MQTT-4.7.0-1] [MQTT-4.7.3-1] [MQTT-4.7.3-2] [MQTT-4.13.1-1] [MQTT-3.14.0-1] (5.0)
func TestPublishMalformed(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		for _, c := range []struct {
			name  string
			pk    packets.Packet
			patch func([]byte)
			code  byte
		}{
			{"wildcard +", pubPk("a/+/b", 0, 0, "x"), nil, 0x90},
			{"wildcard #", pubPk("a/#", 1, 1, "x"), nil, 0x90},
			{"empty topic", pubPk("", 0, 0, "x"), nil, 0},
			{"nul in topic", pubPk("a\x00b", 0, 0, "x"), nil, 0},
			{"qos 3", pubPk("a/b", 1, 1, "x"), func(b []byte) { b[0] |= 0x06 }, 0},
		} {
			t.Run(fmt.Sprintf("v%d %s", v, c.name), func(t *testing.T) {
				t.Parallel()
				r := connectID(t, next(), v, uniq(t, "c"))
				b, err := encode(c.pk, v)
				if err != nil {
					t.Fatal(err)
				}
				if c.patch != nil {
					c.patch(b)
				}
				r.write(b)
				for _, pk := range r.closed() {
					if v != 5 || pk.FixedHeader.Type != packets.Disconnect || pk.ReasonCode < 0x80 || (c.code != 0 && pk.ReasonCode != c.code) {
						t.Fatalf("got %+v before the close", pk)
					}
				}
			})
		}
	}
}

// TestOrderedTopic: messages of one publisher on one topic reach a
// subscriber on another node in the order they were published.
// [MQTT-4.6.0-5] [MQTT-4.6.0-6] (both)
func TestOrderedTopic(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		topic := uniq(t, "ord")
		s := connectID(t, addr(2), v, uniq(t, "s"))
		s.sub(topic, 1)
		waitRoute(t, topic, 2)
		p := connectID(t, addr(0), v, uniq(t, "p"))
		const n = 50
		for i := 1; i <= n; i++ {
			p.send(pubPk(topic, byte(i%2), uint16(i), fmt.Sprint(i)))
		}
		for i := 1; i <= n; i++ {
			m := s.readType(packets.Publish)
			if string(m.Payload) != fmt.Sprint(i) {
				t.Fatalf("v%d message %d: got %q", v, i, m.Payload)
			}
			s.ack(m)
		}
	}
}

// TestOverlappingSubscriptions: a message matching several subscriptions
// of one client is delivered once at the highest granted QoS; in 5.0 it
// carries the identifiers of all matching subscriptions.
// [MQTT-3.3.5-1] (3.1.1) [MQTT-3.3.4-2] [MQTT-3.3.4-3] [MQTT-3.3.4-4] (5.0)
func TestOverlappingSubscriptions(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		base := uniq(t, "ov")
		s := connectID(t, addr(1), v, uniq(t, "s"))
		var p1, p2 packets.Properties
		if v == 5 {
			p1.SubscriptionIdentifier, p2.SubscriptionIdentifier = []int{7}, []int{9}
		}
		if rc := s.subscribe(1, p1, packets.Subscription{Filter: base + "/+", Qos: 0, Identifier: 7}); rc[0] != 0 {
			t.Fatalf("suback %v", rc)
		}
		if rc := s.subscribe(2, p2, packets.Subscription{Filter: base + "/#", Qos: 2, Identifier: 9}); rc[0] != 2 {
			t.Fatalf("suback %v", rc)
		}
		waitRoute(t, base+"/x", 1)
		p := connectID(t, addr(2), v, uniq(t, "p"))
		p.publish(base+"/x", 2, false, []byte("both"))
		p.publish(base+"/x", 0, false, []byte("end"))
		m := s.expect(base+"/x", []byte("both"))
		if m.FixedHeader.Qos != 2 {
			t.Fatalf("v%d delivered at qos %d, want 2", v, m.FixedHeader.Qos)
		}
		if v == 5 {
			ids := slices.Sorted(slices.Values(m.Properties.SubscriptionIdentifier))
			if !slices.Equal(ids, []int{7, 9}) {
				t.Fatalf("subscription identifiers %v, want [7 9]", ids)
			}
		}
		s.ack(m)
		s.expect(base+"/x", []byte("end"))
	}
}

// TestQoSDowngrade: a message is delivered at the lower of its QoS and
// the QoS granted to the subscription.
// [MQTT-3.8.4-6] (3.1.1) [MQTT-3.8.4-8] [MQTT-4.8.2-3] (5.0)
func TestQoSDowngrade(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		base := uniq(t, "dg")
		s := connectID(t, addr(0), v, uniq(t, "s"))
		s.sub(base+"/one", 1)
		s.sub(base+"/two", 2)
		shared := "$share/g/" + base + "/sh"
		if rc := s.subscribe(3, packets.Properties{}, packets.Subscription{Filter: shared, Qos: 1}); rc[0] != 1 {
			t.Fatalf("shared suback %v", rc)
		}
		waitRoute(t, base+"/one", 0)
		waitRoute(t, base+"/two", 0)
		waitRoute(t, base+"/sh", 0)
		p := connectID(t, addr(1), v, uniq(t, "p"))
		p.publish(base+"/one", 2, false, []byte("2 to 1"))
		p.publish(base+"/two", 0, false, []byte("0 to 2"))
		p.publish(base+"/sh", 2, false, []byte("2 to shared 1"))
		for _, c := range []struct {
			topic, payload string
			qos            byte
		}{{base + "/one", "2 to 1", 1}, {base + "/two", "0 to 2", 0}, {base + "/sh", "2 to shared 1", 1}} {
			m := s.expect(c.topic, []byte(c.payload))
			if m.FixedHeader.Qos != c.qos {
				t.Fatalf("v%d %s at qos %d, want %d", v, c.payload, m.FixedHeader.Qos, c.qos)
			}
			s.ack(m)
		}
	}
}

// TestResendOnResume: unacknowledged QoS 1 messages are sent again, in
// order, with their ids and DUP 1, when the session resumes on another
// node.
// [MQTT-2.3.1-3] [MQTT-3.3.1-1] [MQTT-4.3.2-1] [MQTT-4.4.0-1] [MQTT-4.6.0-1] [MQTT-4.1.0-1] (3.1.1)
// [MQTT-3.3.1-1] [MQTT-4.3.2-3] [MQTT-4.4.0-1] (5.0)
func TestResendOnResume(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		t.Run(fmt.Sprint("v", v), func(t *testing.T) {
			t.Parallel()
			topic, id := uniq(t, "rs"), uniq(t, "s")
			cp := connectPk(id, false)
			if v == 5 {
				cp.Properties = packets.Properties{SessionExpiryInterval: 300, SessionExpiryIntervalFlag: true}
			}
			s, _ := connect(t, addr(0), v, cp)
			s.sub(topic, 2)
			waitRoute(t, topic, 0)
			p := connectID(t, addr(1), v, uniq(t, "p"))
			p.publish(topic, 1, false, []byte("a"))
			p.publish(topic, 1, false, []byte("b"))
			ma, mb := s.expect(topic, []byte("a")), s.expect(topic, []byte("b"))
			_ = s.c.Close() // no acknowledgements, no DISCONNECT

			r, ca := connect(t, addr(2), v, cp)
			if !ca.SessionPresent {
				t.Fatal("session not present on resume")
			}
			for i, want := range []packets.Packet{ma, mb} {
				g := r.read()
				if g.FixedHeader.Type != packets.Publish || !bytes.Equal(g.Payload, want.Payload) || g.PacketID != want.PacketID || !g.FixedHeader.Dup {
					t.Fatalf("resent %d: %+v id %d, want %q id %d with DUP", i, g.FixedHeader, g.PacketID, want.Payload, want.PacketID)
				}
				r.ack(g)
			}
			r.disconnect()
		})
	}
}

// TestPubrelResentOnResume: unacknowledged QoS 1 messages and a QoS 2 message
// waiting for PUBCOMP are sent again, in order, with their ids, DUP 1 on
// the PUBLISH, when the session resumes on another node; the PUBREL is
// resent instead of the PUBLISH once PUBREC arrived.
// [MQTT-4.3.3-1] [MQTT-4.4.0-1] (3.1.1) [MQTT-4.3.3-5] [MQTT-4.3.3-6] [MQTT-4.4.0-1] (5.0)
func TestPubrelResentOnResume(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		t.Run(fmt.Sprint("v", v), func(t *testing.T) {
			t.Parallel()
			topic, id := uniq(t, "rs"), uniq(t, "s")
			cp := connectPk(id, false)
			if v == 5 {
				cp.Properties = packets.Properties{SessionExpiryInterval: 300, SessionExpiryIntervalFlag: true}
			}
			s, _ := connect(t, addr(0), v, cp)
			s.sub(topic, 2)
			waitRoute(t, topic, 0)
			p := connectID(t, addr(1), v, uniq(t, "p"))
			p.publish(topic, 2, false, []byte("two"))
			m2 := s.expect(topic, []byte("two"))
			s.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrec}, PacketID: m2.PacketID})
			if rel := s.readType(packets.Pubrel); rel.PacketID != m2.PacketID {
				t.Fatalf("PUBREL %d", rel.PacketID)
			}
			p.publish(topic, 1, false, []byte("a"))
			p.publish(topic, 1, false, []byte("b"))
			ma, mb := s.expect(topic, []byte("a")), s.expect(topic, []byte("b"))
			_ = s.c.Close() // no acknowledgements, no DISCONNECT

			r, ca := connect(t, addr(2), v, cp)
			if !ca.SessionPresent {
				t.Fatal("session not present on resume")
			}
			var got []packets.Packet
			for len(got) < 3 {
				pk, err := r.next(wait)
				if err != nil {
					var d []string
					for _, g := range got {
						d = append(d, fmt.Sprintf("type %d id %d dup %v %q", g.FixedHeader.Type, g.PacketID, g.FixedHeader.Dup, g.Payload))
					}
					t.Fatalf("after resume got %v (PUBREL for %d expected first): %v", d, m2.PacketID, err)
				}
				got = append(got, pk)
			}
			// The PUBREL of the QoS 2 message and the two QoS 1 PUBLISHes,
			// in the order first sent.
			if got[0].FixedHeader.Type != packets.Pubrel || got[0].PacketID != m2.PacketID {
				t.Fatalf("first after resume: %+v, want PUBREL %d", got[0], m2.PacketID)
			}
			for i, want := range []packets.Packet{ma, mb} {
				g := got[i+1]
				if g.FixedHeader.Type != packets.Publish || !bytes.Equal(g.Payload, want.Payload) || g.PacketID != want.PacketID || !g.FixedHeader.Dup {
					t.Fatalf("resent %d: %+v id %d, want %q id %d with DUP", i, g.FixedHeader, g.PacketID, want.Payload, want.PacketID)
				}
			}
			r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubcomp}, PacketID: m2.PacketID})
			r.ack(got[1])
			r.ack(got[2])
			r.quiet(200 * time.Millisecond) // the QoS 2 PUBLISH is not sent again
			r.disconnect()
		})
	}
}

// TestQoS2SenderIgnoresExpiry: once the node has sent a QoS 2 PUBLISH
// it keeps it unacknowledged until PUBREC, even after its expiry interval
// ran out, and resends it when the session resumes (here on another node).
// [MQTT-4.3.3-3] [MQTT-4.3.3-7] (5.0)
func TestQoS2SenderIgnoresExpiry(t *testing.T) {
	t.Parallel()
	topic := uniq(t, "q2e")
	cp := connectPk(uniq(t, "s"), false)
	cp.Properties = packets.Properties{SessionExpiryInterval: 60, SessionExpiryIntervalFlag: true}
	s, _ := connect(t, addr(0), 5, cp)
	s.sub(topic, 2)
	waitRoute(t, topic, 0)
	p := connectID(t, addr(1), 5, uniq(t, "p"))
	p.publishProps(topic, 2, false, []byte("short"), packets.Properties{MessageExpiryInterval: 1})
	m := s.expect(topic, []byte("short"))
	_ = s.c.Close() // no PUBREC
	time.Sleep(2100 * time.Millisecond)
	r, _ := connect(t, addr(2), 5, cp)
	g := r.readType(packets.Publish)
	if string(g.Payload) != "short" || g.PacketID != m.PacketID || !g.FixedHeader.Dup {
		t.Fatalf("after resume: %q id %d dup %v, want %q id %d dup", g.Payload, g.PacketID, g.FixedHeader.Dup, "short", m.PacketID)
	}
	r.ack(g)
	r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}, Properties: packets.Properties{SessionExpiryInterval: 0, SessionExpiryIntervalFlag: true}})
	p.disconnect()
}
