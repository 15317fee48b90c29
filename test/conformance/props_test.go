package conformance_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// TestMessageProperties: the Payload Format Indicator, Response Topic,
// Correlation Data, User Properties (with their order and repeated keys)
// and Content Type of a PUBLISH reach a subscriber on another node
// unchanged, at every QoS and for a retained message sent on subscribe.
// [MQTT-3.3.2-4] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-18] [MQTT-3.3.2-20] (5.0)
func TestMessageProperties(t *testing.T) {
	t.Parallel()
	topic := uniq(t, "mp")
	s := connectID(t, addr(0), 5, uniq(t, "s"))
	s.sub(topic, 2)
	waitRoute(t, topic, 0)
	p := connectID(t, addr(1), 5, uniq(t, "p"))
	props := packets.Properties{
		PayloadFormat: 1, PayloadFormatFlag: true,
		ResponseTopic:   topic + "/reply/é",
		CorrelationData: []byte{0, 1, 0xff, 'x'},
		User:            []packets.UserProperty{{Key: "b", Val: "1"}, {Key: "a", Val: "2"}, {Key: "b", Val: "3"}, {Key: "ü", Val: ""}},
		ContentType:     "application/json; charset=utf-8",
	}
	check := func(what string, m packets.Packet) {
		t.Helper()
		g := m.Properties
		if !g.PayloadFormatFlag || g.PayloadFormat != 1 || g.ResponseTopic != props.ResponseTopic ||
			!bytes.Equal(g.CorrelationData, props.CorrelationData) || !slices.Equal(g.User, props.User) || g.ContentType != props.ContentType {
			t.Fatalf("%s: properties %+v", what, g)
		}
	}
	for qos := range byte(3) {
		payload := []byte(fmt.Sprint("qos ", qos))
		p.publishProps(topic, qos, qos == 2, payload, props)
		m := s.expect(topic, payload)
		check(fmt.Sprint("qos ", qos), m)
		s.ack(m)
	}
	binary := props
	binary.PayloadFormat = 0
	p.publishProps(topic, 1, false, []byte{0xff, 0}, binary)
	if m := s.expect(topic, []byte{0xff, 0}); !m.Properties.PayloadFormatFlag || m.Properties.PayloadFormat != 0 {
		t.Fatalf("payload format 0: %+v", m.Properties)
	} else {
		s.ack(m)
	}
	retainedEverywhere(t, topic)
	n := connectID(t, addr(2), 5, uniq(t, "n"))
	n.sub(topic, 2)
	m := n.expect(topic, []byte("qos 2"))
	check("retained", m)
	n.ack(m)
	p.publish(topic, 0, true, nil)
	for _, c := range []*rawc{p, s, n} {
		c.disconnect()
	}
}

// TestPropertyStringsUTF8: a Response Topic, Content Type or either string
// of a User Property that is not well-formed UTF-8 makes the PUBLISH
// malformed: the node closes the connection (after a DISCONNECT with a
// code >= 0x80, if any).
// [MQTT-1.5.7-1] [MQTT-3.3.2-13] [MQTT-3.3.2-19] (5.0)
func TestPropertyStringsUTF8(t *testing.T) {
	t.Parallel()
	for _, props := range []packets.Properties{
		{ResponseTopic: "re\xffply"}, {ContentType: "text/\xc3("},
		{User: []packets.UserProperty{{Key: "k\xff", Val: "v"}}}, {User: []packets.UserProperty{{Key: "k", Val: "\xed\xa0\x80"}}},
	} {
		r := connectID(t, next(), 5, uniq(t, "c"))
		pk := pubPk(uniq(t, "t"), 1, 1, "x")
		pk.Properties = props
		r.send(pk)
		for _, got := range r.closed() {
			if got.FixedHeader.Type != packets.Disconnect || got.ReasonCode < 0x80 {
				t.Fatalf("%q %q %q: got %+v before the close", props.ResponseTopic, props.ContentType, props.User, got)
			}
		}
	}
}

// TestMessageExpiry: a message whose expiry interval runs out while it
// waits in an offline session is not delivered; one that is still valid
// is delivered, on resume on another node, with its interval reduced by
// the time it waited.
// [MQTT-3.3.2-5] [MQTT-3.3.2-6] (5.0)
func TestMessageExpiry(t *testing.T) {
	t.Parallel()
	topic := uniq(t, "exp")
	cp := connectPk(uniq(t, "s"), false)
	cp.Properties = packets.Properties{SessionExpiryInterval: 60, SessionExpiryIntervalFlag: true}
	s, _ := connect(t, addr(0), 5, cp)
	s.sub(topic, 1)
	waitRoute(t, topic, 0)
	s.disconnect() // waits until node 0 has hung up: nothing below is sent on that connection
	p := connectID(t, addr(1), 5, uniq(t, "p"))
	p.publishProps(topic, 1, false, []byte("short"), packets.Properties{MessageExpiryInterval: 1})
	p.publishProps(topic, 1, false, []byte("long"), packets.Properties{MessageExpiryInterval: 10})
	published := time.Now()
	// Let the short one expire in the offline session. Expiry is kept in
	// whole seconds (as mochi keeps it), and each node a message crosses
	// (the publisher's, the offline session's, the one it resumes on)
	// rounds what is left to whole seconds: up to 3 s past its interval.
	time.Sleep(4100 * time.Millisecond)
	r, ca := connect(t, addr(2), 5, cp)
	if !ca.SessionPresent {
		t.Fatal("session not resumed")
	}
	m := r.readType(packets.Publish)
	if string(m.Payload) != "long" {
		t.Fatalf("first after resume: %q with expiry %d s, %s after it was published (the expired message was delivered)",
			m.Payload, m.Properties.MessageExpiryInterval, time.Since(published))
	}
	waited := time.Since(published)
	if e := m.Properties.MessageExpiryInterval; e == 0 || time.Duration(e)*time.Second > 10*time.Second-waited+3*time.Second { // the rounding above
		t.Fatalf("expiry interval %d s after waiting %s, want at most %d s", e, waited, 13-int(waited.Seconds()))
	}
	r.ack(m)
	r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}, Properties: packets.Properties{SessionExpiryInterval: 0, SessionExpiryIntervalFlag: true}})
	p.disconnect()
}

// TestTopicAlias: the node announces its Topic Alias Maximum and accepts
// aliases 1 up to it: a PUBLISH with topic and alias sets the mapping, a
// PUBLISH with an empty topic and the alias uses it (the subscriber on
// another node sees the full topic name, no alias). Alias 0 and aliases
// above the maximum are refused (DISCONNECT 0x94, close), and a mapping
// does not carry over to the client's next connection (a PUBLISH there
// with an empty topic and that alias does not reach the old topic). The
// node's DISCONNECT carries no Session Expiry Interval.
// [MQTT-3.3.2-7] [MQTT-3.3.2-8] [MQTT-3.3.2-12] [MQTT-3.14.2-1] [MQTT-3.14.2-2] (5.0)
func TestTopicAlias(t *testing.T) {
	t.Parallel()
	base := uniq(t, "ta")
	s := connectID(t, addr(0), 5, uniq(t, "s"))
	s.sub(base+"/+", 1)
	waitRoute(t, base+"/x", 0)
	id := uniq(t, "p")
	p, ca := connect(t, addr(1), 5, connectPk(id, true))
	if ca.Properties.TopicAliasMaximum != maxTopicAlias {
		t.Fatalf("CONNACK Topic Alias Maximum %d, want %d", ca.Properties.TopicAliasMaximum, maxTopicAlias)
	}
	alias := func(a uint16) packets.Properties { return packets.Properties{TopicAlias: a, TopicAliasFlag: true} }
	for _, a := range []uint16{1, maxTopicAlias} {
		name := fmt.Sprintf("%s/%d", base, a)
		p.publishProps(name, 1, false, []byte("set"), alias(a))
		p.publishProps("", 1, false, []byte("used"), alias(a))
		for _, want := range []string{"set", "used"} {
			m := s.expect(name, []byte(want))
			if m.Properties.TopicAliasFlag {
				t.Fatalf("delivery with topic alias %d", m.Properties.TopicAlias)
			}
			s.ack(m)
		}
	}
	p.disconnect()

	refuse := func(what string, b []byte) {
		t.Helper()
		r, _ := connect(t, addr(1), 5, connectPk(id, true))
		r.write(b)
		got := r.closed()
		if len(got) > 1 || len(got) == 1 && (got[0].FixedHeader.Type != packets.Disconnect || got[0].ReasonCode != 0x94 || got[0].Properties.SessionExpiryIntervalFlag) {
			t.Fatalf("%s: got %d packets, first type %d code %#x; want DISCONNECT 0x94 and close", what, len(got), got[0].FixedHeader.Type, got[0].ReasonCode)
		}
	}
	// mochi's encoder leaves out alias 0: encode alias 1 and patch it.
	pk := pubPk(base+"/0", 1, 1, "zero")
	pk.Properties = alias(1)
	b := s.bytes(pk)
	i := bytes.Index(b, []byte{packets.PropTopicAlias, 0, 1})
	b[i+2] = 0
	refuse("alias 0", b)
	pk = pubPk(base+"/big", 1, 1, "big")
	pk.Properties = alias(maxTopicAlias + 1)
	refuse("alias above the maximum", s.bytes(pk))

	// The mapping for alias 1 is gone on the next connection: a PUBLISH
	// using it does not reach the topic it stood for.
	r, _ := connect(t, addr(1), 5, connectPk(id, true))
	pk = pubPk("", 0, 0, "stale")
	pk.Properties = alias(1)
	r.send(pk)
	r.publish(base+"/end", 1, false, []byte("end")) // same connection: comes after "stale"
	if more := upTo(s, base+"/end"); len(more) != 0 {
		t.Fatalf("refused or unmapped PUBLISHes were delivered: %v", more)
	}
	r.disconnect()
	s.disconnect()
}

// TestNoLocal: with No Local a client does not get the messages it
// publishes itself (a subscriber on another node does, and so does the
// client for messages of others).
// [MQTT-3.8.3-3] (5.0)
// No Local on a shared subscription: TestNoLocalShared.
func TestNoLocal(t *testing.T) {
	t.Parallel()
	topic := uniq(t, "nl")
	c := connectID(t, addr(0), 5, uniq(t, "c"))
	if rc := c.subscribe(1, packets.Properties{}, packets.Subscription{Filter: topic, Qos: 1, NoLocal: true}); rc[0] != 1 {
		t.Fatalf("SUBACK %v", rc)
	}
	o := connectID(t, addr(1), 5, uniq(t, "o"))
	o.sub(topic, 1)
	waitRoute(t, topic, 0, 1)
	c.publish(topic, 1, false, []byte("own"))
	o.ack(o.expect(topic, []byte("own")))
	o.publish(topic, 1, false, []byte("other"))
	c.ack(c.expect(topic, []byte("other"))) // and not "own" before it
	o.ack(o.expect(topic, []byte("other")))
	c.disconnect()
	o.disconnect()
}

// TestReceiveMaximum: the node sends a client no more unacknowledged QoS 1
// and 2 PUBLISHes than the client's Receive Maximum (each with its own
// non-zero id); at quota 0 it still answers PINGREQ and SUBSCRIBE, and
// every acknowledgement lets one more message through.
// [MQTT-3.3.4-9] [MQTT-3.3.4-10] [MQTT-4.9.0-1] [MQTT-4.9.0-2] [MQTT-4.9.0-3] (5.0)
func TestReceiveMaximum(t *testing.T) {
	t.Parallel()
	topic := uniq(t, "rm")
	cp := connectPk(uniq(t, "s"), true)
	cp.Properties.ReceiveMaximum = 2
	s, _ := connect(t, addr(0), 5, cp)
	s.sub(topic, 2)
	waitRoute(t, topic, 0)
	p := connectID(t, addr(1), 5, uniq(t, "p"))
	const n = 6
	for i := range n {
		p.publish(topic, byte(1+i%2), false, fmt.Appendf(nil, "%d", i))
	}
	var inflight []packets.Packet
	for i := range 2 {
		m := s.expect(topic, fmt.Appendf(nil, "%d", i))
		inflight = append(inflight, m)
	}
	if a, b := inflight[0].PacketID, inflight[1].PacketID; a == 0 || b == 0 || a == b {
		t.Fatalf("ids in flight %d and %d", a, b)
	}
	s.quiet(300 * time.Millisecond) // quota 0: no third PUBLISH
	s.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}})
	if pk := s.read(); pk.FixedHeader.Type != packets.Pingresp {
		t.Fatalf("at quota 0 got %+v for PINGREQ", pk)
	}
	if rc := s.subscribe(500, packets.Properties{}, packets.Subscription{Filter: topic + "/other", Qos: 1}); rc[0] != 1 {
		t.Fatalf("SUBACK at quota 0: %#v", rc)
	}
	for i := 2; i < n; i++ {
		// acknowledging the oldest frees one slot for the next message
		s.ack(inflight[0])
		inflight = inflight[1:]
		m := s.expect(topic, fmt.Appendf(nil, "%d", i))
		if m.PacketID == 0 || m.PacketID == inflight[0].PacketID {
			t.Fatalf("id %d while %d is in flight", m.PacketID, inflight[0].PacketID)
		}
		inflight = append(inflight, m)
	}
	for _, m := range inflight {
		s.ack(m)
	}
	s.disconnect()
	p.disconnect()
}

// TestQoS2ReceiverIgnoresExpiry: as the receiver of a QoS 2 PUBLISH whose
// expiry interval runs out before the PUBREL, the node still completes the
// flow with PUBCOMP (and the subscriber on another node got it once).
// [MQTT-4.3.3-13] (5.0)
// The node as sender drops a QoS 2 PUBLISH it sent once its expiry runs
// out: TestQoS2SenderIgnoresExpiryGap (build tag conformance_gaps).
func TestQoS2ReceiverIgnoresExpiry(t *testing.T) {
	t.Parallel()
	topic := uniq(t, "q2e")
	s := connectID(t, addr(0), 5, uniq(t, "s"))
	s.sub(topic, 2)
	waitRoute(t, topic, 0)
	p := connectID(t, addr(1), 5, uniq(t, "p"))
	pk := pubPk(topic, 2, 5, "short")
	pk.Properties.MessageExpiryInterval = 1
	p.send(pk)
	if rec := p.readType(packets.Pubrec); rec.PacketID != 5 || rec.ReasonCode >= 0x80 {
		t.Fatalf("PUBREC %+v", rec)
	}
	s.ack(s.expect(topic, []byte("short")))
	time.Sleep(2100 * time.Millisecond) // the expiry interval runs out
	p.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrel, Qos: 1}, PacketID: 5})
	if comp := p.readType(packets.Pubcomp); comp.PacketID != 5 || comp.ReasonCode != 0 {
		t.Fatalf("PUBCOMP after expiry %+v", comp)
	}
	p.publish(topic, 1, false, []byte("end"))
	s.ack(s.expect(topic, []byte("end"))) // "short" was not delivered again
	p.disconnect()
	s.disconnect()
}

// TestServerTopicAliases: to a client that allows 2 topic aliases the node
// sends aliases 1 and 2 at most (a third topic goes by name each time),
// the topic name with an alias the first time and the alias alone after;
// resolved as the client must, every message has the topic it was
// published to. A client that allows none gets no alias.
// [MQTT-3.1.2-26] [MQTT-3.1.2-27] [MQTT-3.3.2-11] (5.0)
func TestServerTopicAliases(t *testing.T) {
	t.Parallel()
	base := uniq(t, "sta")
	two, _ := connect(t, addr(0), 5, func() packets.Packet {
		cp := connectPk(uniq(t, "two"), true)
		cp.Properties.TopicAliasMaximum = 2
		return cp
	}())
	none := connectID(t, addr(2), 5, uniq(t, "none"))
	for _, s := range []*rawc{two, none} {
		s.sub(base+"/+", 1)
	}
	waitRoute(t, base+"/x", 0, 2)
	p := connectID(t, addr(1), 5, uniq(t, "p"))
	topics := []string{"a", "b", "c", "a", "c", "b", "a"}
	for i, tp := range topics {
		p.publish(base+"/"+tp, 1, false, fmt.Appendf(nil, "%d", i))
	}
	aliases := map[uint16]string{}
	for i, tp := range topics {
		m := two.readType(packets.Publish)
		a := m.Properties.TopicAlias
		switch {
		case !m.Properties.TopicAliasFlag && m.TopicName == "":
			t.Fatalf("message %d: no topic name and no alias", i)
		case m.Properties.TopicAliasFlag && (a == 0 || a > 2):
			t.Fatalf("message %d: topic alias %d, the client allows 2", i, a)
		case m.Properties.TopicAliasFlag && m.TopicName != "":
			aliases[a] = m.TopicName
		case m.Properties.TopicAliasFlag:
			m.TopicName = aliases[a]
		}
		if m.TopicName != base+"/"+tp || string(m.Payload) != fmt.Sprint(i) {
			t.Fatalf("message %d: %q %q, want %q", i, m.TopicName, m.Payload, base+"/"+tp)
		}
		two.ack(m)
		n := none.expect(base+"/"+tp, fmt.Appendf(nil, "%d", i))
		if n.Properties.TopicAliasFlag {
			t.Fatalf("alias %d to a client that allows none", n.Properties.TopicAlias)
		}
		none.ack(n)
	}
	if len(aliases) != 2 {
		t.Fatalf("aliases used: %v, want 2", aliases)
	}
	for _, r := range []*rawc{two, none, p} {
		r.disconnect()
	}
}
