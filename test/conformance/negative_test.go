package conformance_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// keptSession is a 5.0 CONNECT for id whose session is kept 60 s.
func keptSession(id string, props packets.Properties) packets.Packet {
	cp := connectPk(id, false)
	cp.Properties = props
	cp.Properties.SessionExpiryInterval, cp.Properties.SessionExpiryIntervalFlag = 60, true
	return cp
}

// endSession closes r with a DISCONNECT that ends its session.
func endSession(r *rawc) {
	r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect},
		Properties: packets.Properties{SessionExpiryInterval: 0, SessionExpiryIntervalFlag: true}})
	_ = r.c.Close()
}

// TestNegativeAckNotResent: a PUBACK or PUBREC with a reason code of 0x80
// or more acknowledges the message: the node sends no PUBREL for the QoS 2
// one, their places in the client's Receive Maximum are free again (the
// message queued behind them comes), and neither is sent again when the
// session resumes on another node.
// [MQTT-4.4.0-2] (5.0)
func TestNegativeAckNotResent(t *testing.T) {
	t.Parallel()
	topic, id := uniq(t, "nack"), uniq(t, "s")
	cp := keptSession(id, packets.Properties{ReceiveMaximum: 2})
	s, _ := connect(t, addr(0), 5, cp)
	s.sub(topic, 2)
	waitRoute(t, topic, 0)
	p := connectID(t, addr(1), 5, uniq(t, "p"))
	p.publish(topic, 1, false, []byte("one"))
	p.publish(topic, 2, false, []byte("two"))
	p.publish(topic, 1, false, []byte("three")) // waits behind the two
	one, two := s.expect(topic, []byte("one")), s.expect(topic, []byte("two"))
	s.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: one.PacketID, ReasonCode: 0x80})
	s.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrec}, PacketID: two.PacketID, ReasonCode: 0x80})
	three := s.expect(topic, []byte("three"))
	s.ack(three)
	s.quiet(300 * time.Millisecond) // no PUBREL for two, nothing resent
	_ = s.c.Close()
	r, ca := connect(t, addr(2), 5, cp)
	if !ca.SessionPresent {
		t.Fatal("session not resumed")
	}
	r.quiet(300 * time.Millisecond)
	endSession(r)
	p.disconnect()
}

// firstPublish reads the members in turn until one gets a PUBLISH, and
// returns which and the packet.
func firstPublish(t *testing.T, members []*rawc) (int, packets.Packet) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		for i, m := range members {
			pk, err := m.next(20 * time.Millisecond)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			if err != nil {
				t.Fatalf("member %d: %v", i, err)
			}
			if pk.FixedHeader.Type != packets.Publish {
				t.Fatalf("member %d: packet type %d", i, pk.FixedHeader.Type)
			}
			return i, pk
		}
	}
	t.Fatal("no member got the message")
	return 0, packets.Packet{}
}

// sharedGroup subscribes one member of a new shared group on each node
// (sessions kept when keep is set) and returns them with the topic.
func sharedGroup(t *testing.T, keep bool) (string, []*rawc, []packets.Packet) {
	t.Helper()
	topic := uniq(t, "sh")
	var ms []*rawc
	var cps []packets.Packet
	for i := range clusterSize {
		cp := connectPk(uniq(t, "m"), true)
		if keep {
			cp = keptSession(cp.Connect.ClientIdentifier, packets.Properties{})
		}
		m, _ := connect(t, addr(i), 5, cp)
		m.sub("$share/g/"+topic, 2)
		ms, cps = append(ms, m), append(cps, cp)
	}
	waitRoute(t, topic, 0, 1, 2)
	return topic, ms, cps
}

// TestSharedNegativeAck: the member of a shared group that answers a QoS 1
// message with PUBACK 0x80, or a QoS 2 one with PUBREC 0x80, ends its
// delivery: no other member gets it, and it is not sent again.
// [MQTT-4.8.2-6] (5.0)
func TestSharedNegativeAck(t *testing.T) {
	t.Parallel()
	topic, ms, _ := sharedGroup(t, false)
	p := connectID(t, addr(0), 5, uniq(t, "p"))
	for _, qos := range []byte{1, 2} {
		p.publish(topic, qos, false, []byte{'0' + qos})
		i, m := firstPublish(t, ms)
		typ := byte(packets.Puback)
		if qos == 2 {
			typ = packets.Pubrec
		}
		ms[i].send(packets.Packet{FixedHeader: packets.FixedHeader{Type: typ}, PacketID: m.PacketID, ReasonCode: 0x80})
		for _, o := range ms {
			o.quiet(300 * time.Millisecond)
		}
	}
	for _, m := range append(ms, p) {
		m.disconnect()
	}
}

// TestSharedQoS2CompletesOnReconnect: a QoS 2 message in flight to the
// member of a shared group chosen for it, whose connection breaks before
// the flow is complete, is completed with that member when it reconnects
// (on another node): the PUBLISH resent with DUP 1 and its id when it had
// no PUBREC, the PUBREL when it had; no other member gets it.
// [MQTT-4.8.2-4] (5.0)
func TestSharedQoS2CompletesOnReconnect(t *testing.T) {
	t.Parallel()
	topic, ms, cps := sharedGroup(t, true)
	p := connectID(t, addr(0), 5, uniq(t, "p"))
	for _, afterPubrec := range []bool{false, true} {
		payload := []byte("publish")
		if afterPubrec {
			payload = []byte("pubrel")
		}
		p.publish(topic, 2, false, payload)
		i, m := firstPublish(t, ms)
		if afterPubrec {
			ms[i].send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrec}, PacketID: m.PacketID})
			if rel := ms[i].readType(packets.Pubrel); rel.PacketID != m.PacketID {
				t.Fatalf("PUBREL %d, want %d", rel.PacketID, m.PacketID)
			}
		}
		_ = ms[i].c.Close()
		r, ca := connect(t, addr(i+1), 5, cps[i])
		if !ca.SessionPresent {
			t.Fatal("member's session not resumed")
		}
		if afterPubrec {
			if rel := r.readType(packets.Pubrel); rel.PacketID != m.PacketID {
				t.Fatalf("resent PUBREL %d, want %d", rel.PacketID, m.PacketID)
			}
		} else {
			g := r.readType(packets.Publish)
			if string(g.Payload) != string(payload) || g.PacketID != m.PacketID || !g.FixedHeader.Dup || g.FixedHeader.Qos != 2 {
				t.Fatalf("resent %q id %d dup %v qos %d, want %q id %d dup qos 2", g.Payload, g.PacketID, g.FixedHeader.Dup, g.FixedHeader.Qos, payload, m.PacketID)
			}
			r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrec}, PacketID: g.PacketID})
			if rel := r.readType(packets.Pubrel); rel.PacketID != g.PacketID {
				t.Fatalf("PUBREL %d", rel.PacketID)
			}
		}
		r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubcomp}, PacketID: m.PacketID})
		ms[i] = r
		for _, o := range ms {
			o.quiet(300 * time.Millisecond) // no other member got it, nor it again
		}
	}
	for _, m := range ms {
		endSession(m)
	}
	p.disconnect()
}
