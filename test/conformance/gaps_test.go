//go:build conformance_gaps

package conformance_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// The tests in this file assert what the specifications require where the
// node does something else today (README.md lists these as known gaps).
// They run only with -tags conformance_gaps, so the default run stays green.

// TestConnectFlagsGaps: a Will QoS without the Will Flag, and (3.1.1) a
// password without a user name, make a CONNECT invalid; the node should
// close the connection. It accepts both.
// [MQTT-3.1.2-13] [MQTT-3.1.2-22] (3.1.1) [MQTT-3.1.2-11] (5.0)
func TestConnectFlagsGaps(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		cases := []connectCase{
			{"will qos without will", connectPk(uniq(t, "q"), true), func(b []byte) { b[flagsAt] |= 0x08 }},
		}
		if v == 4 {
			pk := connectPk(uniq(t, "pw"), true)
			pk.Connect.PasswordFlag, pk.Connect.Password = true, []byte("secret")
			cases = append(cases, connectCase{"password without user name", pk, func([]byte) {}})
		}
		runRefused(t, v, cases)
	}
}

// TestPubrelResentOnResume: unacknowledged QoS 1 messages and a QoS 2 message
// waiting for PUBCOMP are sent again, in order, with their ids, DUP 1 on
// the PUBLISH, when the session resumes on another node; the PUBREL is
// resent instead of the PUBLISH once PUBREC arrived.
// The node resends the two PUBLISHes but not the PUBREL.
// [MQTT-4.3.3-1] [MQTT-4.4.0-1] (3.1.1) [MQTT-4.3.3-5] [MQTT-4.4.0-1] (5.0)
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

// TestFilterGaps: a '+' must fill a whole level of a filter, and the
// reserved bits of the 5.0 subscription options must be 0. The node grants
// "a/b+" and accepts options with bits 6-7 set.
// [MQTT-4.7.1-3] (3.1.1) [MQTT-4.7.1-2] [MQTT-3.8.3-5] (5.0)
func TestFilterGaps(t *testing.T) {
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
	r := connectID(t, next(), 5, uniq(t, "c"))
	b, err := encode(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 3,
		Filters: packets.Subscriptions{{Filter: "a/b", Qos: 1}}}, 5)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] |= 0xC0
	r.write(b)
	for _, pk := range r.closed() {
		if pk.FixedHeader.Type != packets.Disconnect || pk.ReasonCode < 0x80 {
			t.Fatalf("got %+v before the close", pk)
		}
	}
}
