package conformance_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

// TestSubscribeAcks: one SUBSCRIBE with several filters gets one SUBACK
// with its packet id and a code per filter, in order: the granted QoS,
// or a failure (3.1.1 0x80, 5.0 0x8F) for an invalid filter ('#' not last,
// a bad share name); the valid filters work, '#' matching the parent level,
// and the delivered topic name is the one published, which the filter matches.
// [MQTT-3.3.2-3] (both) [MQTT-2.3.1-7] [MQTT-3.8.4-1] [MQTT-3.8.4-2] [MQTT-3.8.4-4] [MQTT-3.8.4-5] [MQTT-3.9.3-1] [MQTT-3.9.3-2] [MQTT-4.7.1-2] (3.1.1)
// [MQTT-2.2.1-6] [MQTT-3.8.4-1] [MQTT-3.8.4-2] [MQTT-3.8.4-5] [MQTT-3.8.4-6] [MQTT-3.8.4-7] [MQTT-3.9.3-1] [MQTT-3.9.3-2]
// [MQTT-4.7.1-1] [MQTT-4.8.2-1] [MQTT-4.8.2-2] (5.0)
func TestSubscribeAcks(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		base := uniq(t, "sa")
		bad := byte(0x80)
		if v == 5 {
			bad = 0x8F
		}
		s := connectID(t, addr(1), v, uniq(t, "s"))
		subs := []packets.Subscription{
			{Filter: base + "/+", Qos: 0}, {Filter: base + "/#/x", Qos: 1}, {Filter: base + "/#", Qos: 1},
			{Filter: base, Qos: 2}, {Filter: "$share/g+x/" + base, Qos: 1},
		}
		want := []byte{0, bad, 1, 2, bad}
		if rc := s.subscribe(4242, packets.Properties{}, subs...); !slices.Equal(rc, want) {
			t.Fatalf("v%d SUBACK codes %#v, want %#v", v, rc, want)
		}
		waitRoute(t, base+"/k", 1)
		p := connectID(t, addr(0), v, uniq(t, "p"))
		p.publish(base+"/k", 1, false, []byte("k"))
		p.publish(base, 2, false, []byte("parent")) // '#' also matches the parent level
		m := s.expect(base+"/k", []byte("k"))
		if m.FixedHeader.Qos != 1 {
			t.Fatalf("v%d qos %d, want the higher of two matching subscriptions", v, m.FixedHeader.Qos)
		}
		s.ack(m)
		s.ack(s.expect(base, []byte("parent")))
	}
}

// TestSubscribeMalformed (the 5.0 subscription options:
// TestSubscriptionOptionsReserved): SUBSCRIBE, UNSUBSCRIBE and PUBREL with wrong
// reserved fixed-header bits, a SUBSCRIBE or UNSUBSCRIBE without a filter,
// a subscription QoS of 3, a filter with U+0000 and an UNSUBSCRIBE filter
// that is not well-formed UTF-8 make the node close the connection.
// [MQTT-2.2.2-2] [MQTT-3.6.1-1] [MQTT-3.8.1-1] [MQTT-3.8.3-1] [MQTT-3.8.3-3] [MQTT-3.8.3-4] [MQTT-3.10.1-1] [MQTT-3.10.3-2] (3.1.1)
// [MQTT-3.6.1-1] [MQTT-3.8.1-1] [MQTT-3.8.3-1] [MQTT-3.8.3-2] [MQTT-3.10.1-1] [MQTT-3.10.3-2] [MQTT-4.13.1-1] (5.0)
// [MQTT-3.10.3-1] (both)
func TestSubscribeMalformed(t *testing.T) {
	t.Parallel()
	sub := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 3, Filters: packets.Subscriptions{{Filter: "a/b", Qos: 1}}}
	unsub := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Unsubscribe, Qos: 1}, PacketID: 4, Filters: packets.Subscriptions{{Filter: "a/b"}}}
	rel := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrel, Qos: 1}, PacketID: 5}
	for _, v := range versions {
		for _, c := range []struct {
			name  string
			pk    packets.Packet
			patch func([]byte) []byte
		}{
			{"subscribe flags", sub, func(b []byte) []byte { b[0] = 0x80; return b }},
			{"unsubscribe flags", unsub, func(b []byte) []byte { b[0] = 0xA0; return b }},
			{"pubrel flags", rel, func(b []byte) []byte { b[0] = 0x60; return b }},
			{"subscribe qos 3", sub, func(b []byte) []byte { b[len(b)-1] |= 0x03; return b }},
			{"subscribe without filters", sub, func(b []byte) []byte {
				n := 2 // packet id
				if v == 5 {
					n = 3 // and an empty property length
				}
				return append([]byte{0x82, byte(n)}, b[2:2+n]...)
			}},
			{"unsubscribe without filters", unsub, func(b []byte) []byte {
				n := 2
				if v == 5 {
					n = 3
				}
				return append([]byte{0xA2, byte(n)}, b[2:2+n]...)
			}},
			{"nul in filter", packets.Packet{FixedHeader: sub.FixedHeader, PacketID: 3, Filters: packets.Subscriptions{{Filter: "a\x00b"}}}, nil},
			{"bad utf-8 in unsubscribe", packets.Packet{FixedHeader: unsub.FixedHeader, PacketID: 4, Filters: packets.Subscriptions{{Filter: "a/\xffb"}}}, nil},
		} {
			t.Run(fmt.Sprintf("v%d %s", v, c.name), func(t *testing.T) {
				t.Parallel()
				r := connectID(t, next(), v, uniq(t, "c"))
				b, err := encode(c.pk, v)
				if err != nil {
					t.Fatal(err)
				}
				if c.patch != nil {
					b = c.patch(b)
				}
				r.write(b)
				for _, pk := range r.closed() {
					if v != 5 || pk.FixedHeader.Type != packets.Disconnect || pk.ReasonCode < 0x80 {
						t.Fatalf("got %+v before the close", pk)
					}
				}
			})
		}
	}
}

// TestSubscriptionOptionsReserved: a 5.0 SUBSCRIBE whose subscription
// options have reserved bit 6 or 7 set is malformed: DISCONNECT 0x81 and
// close, also when the bad options are those of a later filter and the
// packet reaches the node a few bytes at a time. A Retain Handling of 3 is
// a Protocol Error (0x82; section 3.8.3.1), and a filter without its
// options byte is malformed (0x81). No SUBACK is sent for any of them.
// [MQTT-3.8.3-5] (5.0)
func TestSubscriptionOptionsReserved(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		patch func([]byte) []byte
		code  byte
	}{
		{"bit 6", func(b []byte) []byte { b[len(b)-1] |= 0x40; return b }, 0x81},
		{"bit 7", func(b []byte) []byte { b[len(b)-1] |= 0x80; return b }, 0x81},
		{"bits 6 and 7", func(b []byte) []byte { b[len(b)-1] |= 0xC0; return b }, 0x81},
		{"retain handling 3", func(b []byte) []byte { b[len(b)-1] |= 0x30; return b }, 0x82},
		{"no options byte", func(b []byte) []byte { b[1]--; return b[:len(b)-1] }, 0x81},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := connectID(t, next(), 5, uniq(t, "c"))
			b, err := encode(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 3,
				Properties: packets.Properties{SubscriptionIdentifier: []int{300}},
				Filters:    packets.Subscriptions{{Filter: "a/b", Qos: 1}, {Filter: "c/#", Qos: 2, RetainAsPublished: true}}}, 5)
			if err != nil {
				t.Fatal(err)
			}
			b = c.patch(b)
			for len(b) > 0 { // a few bytes at a time
				k := min(3, len(b))
				r.write(b[:k])
				b = b[k:]
			}
			got := r.closed()
			if len(got) != 1 || got[0].FixedHeader.Type != packets.Disconnect || got[0].ReasonCode != c.code {
				t.Fatalf("got %+v before the close, want DISCONNECT %#x alone", got, c.code)
			}
		})
	}
}

// TestResubscribeReplaces: subscribing again with the same filter
// replaces the subscription (one copy per message, at the new QoS).
// [MQTT-3.8.4-3] (both)
func TestResubscribeReplaces(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		topic := uniq(t, "re")
		s := connectID(t, addr(2), v, uniq(t, "s"))
		s.sub(topic, 0)
		s.sub(topic, 1)
		waitRoute(t, topic, 2)
		p := connectID(t, addr(0), v, uniq(t, "p"))
		p.publish(topic, 1, false, []byte("one"))
		p.publish(topic, 0, false, []byte("end"))
		m := s.expect(topic, []byte("one"))
		if m.FixedHeader.Qos != 1 {
			t.Fatalf("v%d qos %d after resubscribe at 1", v, m.FixedHeader.Qos)
		}
		s.ack(m)
		s.expect(topic, []byte("end"))
	}
}

// TestUnsubscribe: UNSUBSCRIBE compares filters character by character
// (a/+ does not remove a/1), answers with UNSUBACK carrying its id (5.0:
// a code per filter in order, 0x11 where nothing was subscribed) even when
// nothing is removed, and stops new messages for the removed filters.
// [MQTT-2.3.1-7] [MQTT-3.10.3-1] [MQTT-3.10.4-1] [MQTT-3.10.4-2] [MQTT-3.10.4-4] [MQTT-3.10.4-5] [MQTT-3.10.4-6] (3.1.1)
// [MQTT-2.2.1-6] [MQTT-3.10.4-1] [MQTT-3.10.4-2] [MQTT-3.10.4-4] [MQTT-3.10.4-5] [MQTT-3.10.4-6] [MQTT-3.11.3-1] [MQTT-3.11.3-2] (5.0)
func TestUnsubscribe(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		base := uniq(t, "un")
		s := connectID(t, addr(0), v, uniq(t, "s"))
		s.sub(base+"/+", 1)
		s.sub(base+"/keep", 1)
		s.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Unsubscribe, Qos: 1}, PacketID: 909,
			Filters: packets.Subscriptions{{Filter: base + "/1"}, {Filter: base + "/+"}, {Filter: base + "/none"}}})
		ua := s.readType(packets.Unsuback)
		if ua.PacketID != 909 {
			t.Fatalf("v%d UNSUBACK id %d", v, ua.PacketID)
		}
		if want := []byte{0x11, 0x00, 0x11}; v == 5 && !slices.Equal(ua.ReasonCodes, want) {
			t.Fatalf("UNSUBACK codes %#v, want %#v", ua.ReasonCodes, want)
		}
		waitRoute(t, base+"/keep", 0)
		p := connectID(t, addr(1), v, uniq(t, "p"))
		p.publish(base+"/1", 1, false, []byte("gone"))
		p.publish(base+"/keep", 1, false, []byte("kept"))
		s.ack(s.expect(base+"/keep", []byte("kept")))
	}
}

// TestDollarTopics: filters starting with a wildcard do not match topic
// names starting with '$'; a filter starting with '$' does.
// [MQTT-4.7.2-1] (both)
func TestDollarTopics(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		name := uniq(t, "d")
		s := connectID(t, addr(1), v, uniq(t, "s"))
		s.sub("#", 0)
		s.sub("+/"+name, 0)
		s.sub("$x/"+name, 0)
		waitRoute(t, "$x/"+name, 1)
		p := connectID(t, addr(2), v, uniq(t, "p"))
		p.publish("$x/"+name, 1, false, []byte("dollar"))
		for {
			m := s.readType(packets.Publish)
			if m.TopicName == "$x/"+name {
				break // exactly once: the next check would see a second copy
			}
		}
		p.publish("end/"+name, 1, false, []byte("end"))
		for {
			m := s.readType(packets.Publish)
			if m.TopicName == "$x/"+name {
				t.Fatalf("v%d: $ topic delivered twice", v)
			}
			if m.TopicName == "end/"+name {
				break
			}
		}
	}
}

// TestSharedSubscription: each message on a shared subscription goes to
// one member of the group, members on different nodes.
// [MQTT-4.8.2-1] [MQTT-4.8.2-3] (5.0)
func TestSharedSubscription(t *testing.T) {
	t.Parallel()
	topic := uniq(t, "sh")
	var ms []*rawc
	for i := range 2 {
		m := connectID(t, addr(i), 5, uniq(t, "m"))
		m.sub("$share/grp/"+topic, 1)
		ms = append(ms, m)
	}
	waitRoute(t, topic, 0, 1)
	p := connectID(t, addr(2), 5, uniq(t, "p"))
	const n = 20
	for i := range n {
		p.publish(topic, 1, false, fmt.Appendf(nil, "%d", i))
	}
	got := map[string]int{}
	done := make(chan string, n)
	for _, m := range ms {
		go func() {
			for {
				pk, err := m.next(wait)
				if err != nil {
					return
				}
				if pk.FixedHeader.Type == packets.Publish {
					_ = r(m, pk)
					done <- string(pk.Payload)
				}
			}
		}()
	}
	for range n {
		got[<-done]++
	}
	for k, c := range got {
		if c != 1 {
			t.Fatalf("message %s delivered %d times", k, c)
		}
	}
	if len(got) != n {
		t.Fatalf("got %d distinct messages, want %d", len(got), n)
	}
}

// r acknowledges pk from a goroutine (no test failure from there).
func r(c *rawc, pk packets.Packet) error {
	b, err := encode(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: pk.PacketID}, c.v)
	if err == nil {
		c.write(b)
	}
	return err
}

// TestPlusFillsLevel: a '+' must fill a whole level of a filter: "a/b+"
// is refused in the SUBACK (0x80, 0x8F in 5.0).
// [MQTT-4.7.1-3] (3.1.1) [MQTT-4.7.1-2] (5.0)
func TestPlusFillsLevel(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		bad := byte(0x80)
		if v == 5 {
			bad = 0x8F
		}
		s := connectID(t, next(), v, uniq(t, "s"))
		if rc := s.subscribe(1, packets.Properties{}, packets.Subscription{Filter: "a/b+", Qos: 1}); len(rc) != 1 || rc[0] != bad {
			t.Errorf("v%d SUBACK for a/b+: %#v, want %#x", v, rc, bad)
		}
	}
}

// TestUnsubscribeFinishesInflight: QoS 1 and 2 deliveries already sent
// when the client unsubscribes are still completed by the node (PUBREL
// for the QoS 2 one, and the acknowledgements are taken without error).
// [MQTT-3.10.4-3] (both)
func TestUnsubscribeFinishesInflight(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		topic := uniq(t, "ui")
		s := connectID(t, addr(2), v, uniq(t, "s"))
		s.sub(topic, 2)
		waitRoute(t, topic, 2)
		p := connectID(t, addr(1), v, uniq(t, "p"))
		p.publish(topic, 1, false, []byte("one"))
		p.publish(topic, 2, false, []byte("two"))
		m1, m2 := s.expect(topic, []byte("one")), s.expect(topic, []byte("two"))
		s.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Unsubscribe, Qos: 1}, PacketID: 300, Filters: packets.Subscriptions{{Filter: topic}}})
		if ua := s.readType(packets.Unsuback); ua.PacketID != 300 {
			t.Fatalf("v%d UNSUBACK id %d", v, ua.PacketID)
		}
		s.ack(m1)
		s.ack(m2) // PUBREC, then the node's PUBREL, then PUBCOMP
		s.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}})
		if pk := s.read(); pk.FixedHeader.Type != packets.Pingresp {
			t.Fatalf("v%d after completing: %+v", v, pk)
		}
		s.disconnect()
		p.disconnect()
	}
}

// TestNoLocalShared: No Local on a shared subscription is a protocol
// error: the node sends DISCONNECT 0x82 and closes the connection.
// [MQTT-3.8.3-4] (5.0)
func TestNoLocalShared(t *testing.T) {
	t.Parallel()
	r := connectID(t, next(), 5, uniq(t, "sh"))
	r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 2,
		Filters: packets.Subscriptions{{Filter: "$share/g/" + uniq(t, "t"), Qos: 1, NoLocal: true}}})
	for _, got := range r.closed() {
		if got.FixedHeader.Type != packets.Disconnect || got.ReasonCode != 0x82 {
			t.Fatalf("got type %d codes %#v, want DISCONNECT 0x82 and close", got.FixedHeader.Type, got.ReasonCodes)
		}
	}
}
