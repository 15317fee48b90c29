package conformance_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"emqxgo/internal/testutil"
)

// willPk is a clean CONNECT for id carrying a will on topic.
func willPk(id, topic, payload string, qos byte, retain bool) packets.Packet {
	pk := connectPk(id, true)
	pk.Connect.WillFlag, pk.Connect.WillTopic, pk.Connect.WillPayload = true, topic, []byte(payload)
	pk.Connect.WillQos, pk.Connect.WillRetain = qos, retain
	return pk
}

// gone waits until node i no longer holds a client with this id (its
// connection was closed and its clean session removed).
func gone(t testing.TB, i int, id string) {
	t.Helper()
	srv := cl.nodes[i%len(cl.nodes)].Broker().Server()
	testutil.Eventually(t, 5*time.Second, "client "+id+" removed", func() bool {
		_, ok := srv.Clients.Get(id)
		return !ok
	})
}

// upTo reads and acknowledges PUBLISHes until one on topic arrives and
// returns the payloads (as topic=payload) of those read before it.
func upTo(r *rawc, topic string) []string {
	r.t.Helper()
	var before []string
	for {
		m := r.readType(packets.Publish)
		r.ack(m)
		if m.TopicName == topic {
			return before
		}
		before = append(before, m.TopicName+"="+string(m.Payload))
	}
}

// TestWill: a will is published, once, at its QoS when the connection
// ends without DISCONNECT (the subscriber on another node gets it); with
// Will Retain 0 it is not retained, with Will Retain 1 it is (a later
// subscriber gets it with RETAIN 1; 3.1.1 subscribers that were already
// there get it with RETAIN 0); a normal DISCONNECT discards it; in 5.0 a
// DISCONNECT with reason 0x04 publishes it.
// [MQTT-3.1.2-8] [MQTT-3.1.2-9] [MQTT-3.1.2-10] [MQTT-3.1.2-16] [MQTT-3.1.2-17] [MQTT-3.14.4-3] (3.1.1)
// [MQTT-3.1.2-7] [MQTT-3.1.2-8] [MQTT-3.1.2-9] [MQTT-3.1.2-10] [MQTT-3.1.2-14] [MQTT-3.1.2-15] [MQTT-3.14.4-3] (5.0)
func TestWill(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		t.Run(fmt.Sprint("v", v), func(t *testing.T) {
			t.Parallel()
			base := uniq(t, "will")
			s := connectID(t, addr(0), v, uniq(t, "s"))
			// 5.0: Retain As Published shows the RETAIN flag of the will.
			if rc := s.subscribe(1, packets.Properties{}, packets.Subscription{Filter: base + "/+", Qos: 2, RetainAsPublished: true}); rc[0] != 2 {
				t.Fatalf("SUBACK %v", rc)
			}
			waitRoute(t, base+"/x", 0)

			w := willPk(uniq(t, "w1"), base+"/plain", "plain", 1, false)
			wc, _ := connect(t, addr(1), v, w)
			_ = wc.c.Close() // no DISCONNECT
			m := s.expect(base+"/plain", []byte("plain"))
			if m.FixedHeader.Qos != 1 || m.FixedHeader.Retain {
				t.Fatalf("will: qos %d retain %v, want qos 1 retain 0", m.FixedHeader.Qos, m.FixedHeader.Retain)
			}
			s.ack(m)

			w = willPk(uniq(t, "w2"), base+"/kept", "kept", 2, true)
			wc, _ = connect(t, addr(2), v, w)
			_ = wc.c.Close()
			m = s.expect(base+"/kept", []byte("kept"))
			if m.FixedHeader.Qos != 2 || m.FixedHeader.Retain != (v == 5) {
				t.Fatalf("retained will: qos %d retain %v, want qos 2 retain %v", m.FixedHeader.Qos, m.FixedHeader.Retain, v == 5)
			}
			s.ack(m)

			// A normal DISCONNECT discards the will; a PUBLISH from the
			// same node after the connection is gone comes next.
			w = willPk(uniq(t, "w3"), base+"/discarded", "discarded", 1, false)
			wc, _ = connect(t, addr(1), v, w)
			wc.disconnect()
			gone(t, 1, w.Connect.ClientIdentifier)
			p := connectID(t, addr(1), v, uniq(t, "p"))
			p.publish(base+"/end", 1, false, []byte("end"))
			if before := upTo(s, base+"/end"); len(before) != 0 {
				t.Fatalf("before end: %v (wills sent twice or despite DISCONNECT)", before)
			}

			if v == 5 {
				w = willPk(uniq(t, "w4"), base+"/asked", "asked", 1, false)
				wc, _ = connect(t, addr(2), v, w)
				wc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}, ReasonCode: 0x04})
				s.ack(s.expect(base+"/asked", []byte("asked")))
			}

			// Only the will with Will Retain 1 was retained: a new
			// subscriber gets it (RETAIN 1) and nothing else before a
			// message published after it subscribed.
			n := connectID(t, addr(1), v, uniq(t, "n"))
			testutil.Eventually(t, 5*time.Second, "retained will on every node", func() bool {
				for _, nd := range cl.nodes {
					if _, ok := nd.Broker().Server().Topics.Retained.Get(base + "/kept"); !ok {
						return false
					}
				}
				return true
			})
			n.sub(base+"/+", 2)
			m = n.expect(base+"/kept", []byte("kept"))
			if !m.FixedHeader.Retain || m.FixedHeader.Qos != 2 {
				t.Fatalf("retained will to a new subscriber: retain %v qos %d", m.FixedHeader.Retain, m.FixedHeader.Qos)
			}
			n.ack(m)
			waitRoute(t, base+"/x", 1)
			p.publish(base+"/end", 0, false, []byte("end"))
			if before := upTo(n, base+"/end"); len(before) != 0 {
				t.Fatalf("new subscriber got %v besides the retained will", before)
			}
			p.publish(base+"/kept", 1, true, nil) // clear
			s.disconnect()
			n.disconnect()
			p.disconnect()
		})
	}
}

// TestWillProperties: the user properties of a 5.0 will reach the
// subscriber on another node in the order the client gave them.
// [MQTT-3.1.3-10] (5.0)
func TestWillProperties(t *testing.T) {
	t.Parallel()
	topic := uniq(t, "wp")
	s := connectID(t, addr(2), 5, uniq(t, "s"))
	s.sub(topic, 1)
	waitRoute(t, topic, 2)
	user := []packets.UserProperty{{Key: "k", Val: "1"}, {Key: "a", Val: "2"}, {Key: "k", Val: "3"}, {Key: "z", Val: ""}}
	w := willPk(uniq(t, "w"), topic, "props", 1, false)
	w.Connect.WillProperties.User = user
	wc, _ := connect(t, addr(0), 5, w)
	_ = wc.c.Close()
	m := s.expect(topic, []byte("props"))
	if !slices.Equal(m.Properties.User, user) {
		t.Fatalf("will user properties %v, want %v", m.Properties.User, user)
	}
	s.ack(m)
	s.disconnect()
}

// TestWillDelay: a 5.0 will with a delay is published after the delay;
// a client that reconnects (on another node) before the delay ends gets
// no will published. Both wills start on one node with the same delay;
// the one that was not cancelled shows when the other would be due.
// [MQTT-3.1.3-9] (5.0)
func TestWillDelay(t *testing.T) {
	t.Parallel()
	base := uniq(t, "wd")
	s := connectID(t, addr(0), 5, uniq(t, "s"))
	s.sub(base+"/+", 1)
	waitRoute(t, base+"/x", 0)
	delayed := func(name string) packets.Packet {
		pk := willPk(uniq(t, name), base+"/"+name, name, 1, false)
		pk.Connect.Clean = false
		pk.Properties = packets.Properties{SessionExpiryInterval: 10, SessionExpiryIntervalFlag: true}
		pk.Connect.WillProperties.WillDelayInterval = 1
		return pk
	}
	cancelled, kept := delayed("cancelled"), delayed("kept")
	cc, _ := connect(t, addr(1), 5, cancelled)
	kc, _ := connect(t, addr(1), 5, kept)
	_ = cc.c.Close()
	_ = kc.c.Close()
	closed := time.Now()
	cancelled.Connect.WillFlag, cancelled.Connect.WillQos = false, 0
	back, ca := connect(t, addr(2), 5, cancelled)
	if !ca.SessionPresent {
		t.Fatal("session not resumed")
	}
	if before := upTo(s, base+"/kept"); len(before) != 0 {
		t.Fatalf("before the kept will: %v", before)
	}
	if d := time.Since(closed); d < 900*time.Millisecond {
		t.Fatalf("delayed will published %s after the close, want >= 1s", d)
	}
	s.quiet(300 * time.Millisecond) // the cancelled will, due no later, stays away
	back.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}, Properties: packets.Properties{SessionExpiryInterval: 0, SessionExpiryIntervalFlag: true}})
	kept.Connect.WillFlag, kept.Connect.WillQos = false, 0
	kept.Connect.Clean = true
	r, _ := connect(t, addr(1), 5, kept) // ends the kept session
	r.disconnect()
	s.disconnect()
}

// TestDisconnectReservedBits: a DISCONNECT whose reserved fixed-header
// bits are not 0 is malformed: the node closes the connection, and as the
// client did not disconnect normally its will is published.
// [MQTT-3.14.1-1] (both)
func TestDisconnectReservedBits(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		topic := uniq(t, "dr")
		s := connectID(t, addr(0), v, uniq(t, "s"))
		s.sub(topic, 1)
		waitRoute(t, topic, 0)
		w, _ := connect(t, addr(1), v, willPk(uniq(t, "w"), topic, "bad disconnect", 1, false))
		b := w.bytes(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
		b[0] |= 0x02
		w.write(b)
		for _, pk := range w.closed() {
			if v != 5 || pk.FixedHeader.Type != packets.Disconnect || pk.ReasonCode < 0x80 {
				t.Fatalf("v%d: got %+v before the close", v, pk)
			}
		}
		s.ack(s.expect(topic, []byte("bad disconnect")))
		s.disconnect()
	}
}

// TestWillMessageProperties: a 5.0 will is published with the properties
// its CONNECT gave it (Payload Format Indicator, Content Type, Response
// Topic, Correlation Data, User Properties in order, Message Expiry
// Interval) to subscribers on the node its client was connected to and on
// other nodes, immediate or delayed, and a retained will keeps them for a
// later subscriber on another node. Its Message Expiry Interval is its own,
// counted from when the will is published (not from the close, before
// the delay), and a will without one is published without one (not with
// the node's maximum). (Section 3.1.3.2 of MQTT 5.0.)
// [MQTT-3.1.3-10] (5.0)
func TestWillMessageProperties(t *testing.T) {
	t.Parallel()
	base := uniq(t, "wp")
	local := connectID(t, addr(1), 5, uniq(t, "local"))
	local.sub(base+"/+", 1)
	remote := connectID(t, addr(2), 5, uniq(t, "remote"))
	remote.sub(base+"/+", 1)
	waitRoute(t, base+"/x", 1, 2)
	props := packets.Properties{PayloadFormat: 1, PayloadFormatFlag: true, ContentType: "text/plain; charset=utf-8",
		ResponseTopic: base + "/reply", CorrelationData: []byte{1, 2, 3, 0}, MessageExpiryInterval: 100,
		User: []packets.UserProperty{{Key: "k", Val: "1"}, {Key: "a", Val: "2"}, {Key: "k", Val: "3"}}}
	// check compares the properties of a delivered will with want; its
	// expiry must lie in [least, want's].
	check := func(what string, m packets.Packet, want packets.Properties, least uint32) {
		t.Helper()
		p := m.Properties
		if p.PayloadFormatFlag != want.PayloadFormatFlag || p.PayloadFormat != want.PayloadFormat || p.ContentType != want.ContentType ||
			p.ResponseTopic != want.ResponseTopic || !bytes.Equal(p.CorrelationData, want.CorrelationData) || !slices.Equal(p.User, want.User) {
			t.Fatalf("%s: properties %+v, want %+v", what, p, want)
		}
		if p.MessageExpiryInterval > want.MessageExpiryInterval || p.MessageExpiryInterval < least {
			t.Fatalf("%s: message expiry interval %d, want %d..%d", what, p.MessageExpiryInterval, least, want.MessageExpiryInterval)
		}
	}

	// Immediate, and without a Message Expiry Interval.
	w := willPk(uniq(t, "now"), base+"/now", "now", 1, false)
	w.Connect.WillProperties = props
	wc, _ := connect(t, addr(1), 5, w)
	plain := willPk(uniq(t, "plain"), base+"/plain", "plain", 1, false)
	plain.Connect.WillProperties = packets.Properties{ContentType: "none"}
	pc, _ := connect(t, addr(1), 5, plain)
	_ = wc.c.Close()
	for _, s := range []*rawc{local, remote} {
		m := s.expect(base+"/now", []byte("now"))
		check("immediate will", m, props, 97)
		s.ack(m)
	}
	_ = pc.c.Close()
	for _, s := range []*rawc{local, remote} {
		m := s.expect(base+"/plain", []byte("plain"))
		check("will without expiry", m, plain.Connect.WillProperties, 0)
		s.ack(m)
	}

	// Delayed by 2 s and retained: the expiry runs from the publication.
	d := willPk(uniq(t, "later"), base+"/later", "later", 1, true)
	d.Properties = packets.Properties{SessionExpiryInterval: 10, SessionExpiryIntervalFlag: true}
	d.Connect.WillProperties = props
	d.Connect.WillProperties.WillDelayInterval = 2
	dc, _ := connect(t, addr(1), 5, d)
	_ = dc.c.Close()
	m := local.expect(base+"/later", []byte("later"))
	check("delayed will, same node", m, props, 99)
	local.ack(m)
	m = remote.expect(base+"/later", []byte("later"))
	check("delayed will, other node", m, props, 97)
	remote.ack(m)
	testutil.Eventually(t, 5*time.Second, "retained will on every node", func() bool {
		for _, nd := range cl.nodes {
			if r, ok := nd.Broker().Server().Topics.Retained.Get(base + "/later"); !ok || r.Properties.ContentType != props.ContentType {
				return false
			}
		}
		return true
	})
	late := connectID(t, addr(0), 5, uniq(t, "late"))
	late.sub(base+"/later", 1)
	m = late.expect(base+"/later", []byte("later"))
	if !m.FixedHeader.Retain {
		t.Fatal("retained will delivered without RETAIN")
	}
	check("retained will", m, props, 90)
	late.ack(m)

	late.publish(base+"/later", 1, true, nil) // clear
	d.Connect.WillFlag, d.Connect.WillQos, d.Connect.WillRetain = false, 0, false
	d.Properties.SessionExpiryInterval = 0
	r, _ := connect(t, addr(1), 5, d) // ends the delayed will's session
	r.disconnect()
	for _, s := range []*rawc{local, remote, late} {
		s.disconnect()
	}
}

// disconnected waits until node i sees the connection of client id closed
// (its session may stay).
func disconnected(t testing.TB, i int, id string) {
	t.Helper()
	srv := cl.nodes[i%len(cl.nodes)].Broker().Server()
	testutil.Eventually(t, 5*time.Second, "client "+id+" disconnected", func() bool {
		c, ok := srv.Clients.Get(id)
		return !ok || c.Closed()
	})
}

// TestWillFlagZero: a connection whose CONNECT has the Will Flag 0 has no
// will published when it ends without DISCONNECT, also when it resumes a
// session (on another node) whose earlier connection had a will; the
// end of a clean connection without a will publishes nothing either.
// [MQTT-3.1.2-12] (3.1.1; in 5.0 "the Server MUST NOT publish a Will Message", listed under 3.1.2-11)
func TestWillFlagZero(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		t.Run(fmt.Sprint("v", v), func(t *testing.T) {
			t.Parallel()
			base, id := uniq(t, "wf"), uniq(t, "c")
			s := connectID(t, addr(0), v, uniq(t, "s"))
			s.sub(base+"/+", 1)
			waitRoute(t, base+"/x", 0)
			w := willPk(id, base+"/will", "will", 1, false)
			w.Connect.Clean = false
			if v == 5 {
				w.Properties = packets.Properties{SessionExpiryInterval: 60, SessionExpiryIntervalFlag: true}
			}
			wc, _ := connect(t, addr(1), v, w)
			wc.disconnect() // the will goes with it
			disconnected(t, 1, id)

			none := w
			none.Connect.WillFlag, none.Connect.WillTopic, none.Connect.WillPayload, none.Connect.WillQos = false, "", nil, 0
			nc, ca := connect(t, addr(2), v, none)
			if !ca.SessionPresent {
				t.Fatal("session not resumed")
			}
			_ = nc.c.Close() // no DISCONNECT
			disconnected(t, 2, id)
			freshID := uniq(t, "f")
			fresh := connectID(t, addr(2), v, freshID) // no will, clean
			_ = fresh.c.Close()
			gone(t, 2, freshID)
			p := connectID(t, addr(2), v, uniq(t, "p"))
			p.publish(base+"/end", 1, false, []byte("end"))
			if before := upTo(s, base+"/end"); len(before) != 0 {
				t.Fatalf("published before end: %v", before)
			}
			s.quiet(300 * time.Millisecond)

			none.Connect.Clean = true
			none.Properties = packets.Properties{}
			r, _ := connect(t, addr(0), v, none) // ends the session
			r.disconnect()
			s.disconnect()
			p.disconnect()
		})
	}
}
