package conformance_test

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"emqxgo/internal/testutil"
)

var versions = []byte{4, 5}

// flagsAt is the offset of the Connect Flags byte in a small CONNECT
// (fixed header 2, protocol name 6, level 1).
const flagsAt = 9

// refused checks that the node sent no successful CONNACK and closed the
// connection; in MQTT 5 a CONNACK or DISCONNECT with a code >= 0x80 may come
// first.
func refused(t *testing.T, r *rawc) {
	t.Helper()
	for _, pk := range r.closed() {
		switch {
		case pk.FixedHeader.Type == packets.Connack && pk.ReasonCode != 0 && !pk.SessionPresent:
		case pk.FixedHeader.Type == packets.Disconnect && pk.ReasonCode >= 0x80 && r.v == 5:
		default:
			t.Fatalf("v%d: got %+v before the close", r.v, pk)
		}
	}
}

// TestFirstPacketMustBeConnect: a connection whose first packet is not
// CONNECT is closed and gets no packet but a refusing CONNACK.
// [MQTT-3.1.0-1] [MQTT-3.2.0-1] (both) [MQTT-3.14.0-1] (5.0)
func TestFirstPacketMustBeConnect(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		for _, first := range []packets.Packet{
			{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}},
			{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1, Filters: packets.Subscriptions{{Filter: "a"}}},
		} {
			r := dial(t, next(), v)
			r.send(first)
			refused(t, r)
		}
	}
}

// TestSecondConnectIsProtocolError: a second CONNECT on a connection is a
// protocol violation and the node closes the connection.
// [MQTT-3.1.0-2] (both) [MQTT-4.8.0-1] (3.1.1) [MQTT-4.13.1-1] [MQTT-4.13.2-1] [MQTT-3.2.0-2] (5.0)
func TestSecondConnectIsProtocolError(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		r := connectID(t, next(), v, uniq(t, "c"))
		r.send(connectPk(uniq(t, "c2"), true))
		for _, pk := range r.closed() {
			if pk.FixedHeader.Type != packets.Disconnect || v != 5 || pk.ReasonCode < 0x80 {
				t.Fatalf("v%d: got %+v after a second CONNECT", v, pk)
			}
		}
	}
}

// TestProtocolNameAndLevel: an unsupported protocol level is refused with
// 0x01 (3.1.1) or 0x84 (5.0), Session Present 0, and the connection is
// closed; a PUBLISH sent right after the refused CONNECT is not processed.
// A protocol name other than "MQTT" is refused and closed.
// [MQTT-3.1.2-1] [MQTT-3.1.2-2] (both) [MQTT-3.2.2-4] [MQTT-3.2.2-5] [MQTT-3.1.4-5] (3.1.1)
// [MQTT-3.2.2-6] [MQTT-3.2.2-7] [MQTT-3.2.2-8] [MQTT-3.1.4-6] (5.0)
func TestProtocolNameAndLevel(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		a := next()
		topic := uniq(t, "after-refusal")
		r := dial(t, a, v)
		b := r.bytes(connectPk(uniq(t, "lvl"), true))
		b[8] = 6 // protocol level
		pub := r.bytes(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Retain: true}, TopicName: topic, Payload: []byte("no")})
		r.write(append(b, pub...))
		got := r.closed()
		// 3.1.1 requires CONNACK 0x01; 5.0 allows closing without one.
		if (v == 4 || len(got) > 0) && (len(got) != 1 || got[0].FixedHeader.Type != packets.Connack || got[0].SessionPresent ||
			(got[0].ReasonCode != 0x01 && got[0].ReasonCode != 0x84)) {
			t.Fatalf("v%d level 6: got %+v, want one CONNACK 0x01/0x84 then close", v, got)
		}
		// The PUBLISH after the refused CONNECT was not processed: no
		// retained message on that topic at the node that got it.
		s := connectID(t, a, 5, uniq(t, "chk"))
		s.sub(topic, 0)
		s.quiet(300 * time.Millisecond)

		r = dial(t, next(), v)
		b = r.bytes(connectPk(uniq(t, "name"), true))
		copy(b[4:8], "MQTX")
		r.write(b)
		refused(t, r)
	}
}

// connectCase is a CONNECT made invalid by patch.
type connectCase struct {
	name  string
	pk    packets.Packet
	patch func(b []byte)
}

// runRefused sends each case on a connection of its own and checks that
// the node refuses it and closes the connection.
func runRefused(t *testing.T, v byte, cases []connectCase) {
	for _, c := range cases {
		t.Run(fmt.Sprintf("v%d %s", v, c.name), func(t *testing.T) {
			t.Parallel()
			r := dial(t, next(), v)
			b := r.bytes(c.pk)
			c.patch(b)
			r.write(b)
			refused(t, r)
		})
	}
}

// TestConnectFlagsValidated: the reserved bit of the Connect Flags must be
// 0, the Will Retain must be 0 without a Will Flag and the Will QoS must
// not be 3; the node closes the connection on any of these.
// [MQTT-3.1.2-3] [MQTT-3.1.4-1] (both) [MQTT-3.1.2-11] [MQTT-3.1.2-14] [MQTT-3.1.2-15] (3.1.1)
// [MQTT-3.1.2-12] [MQTT-3.1.2-13] [MQTT-4.13.1-1] (5.0)
// The Will QoS without a Will Flag and (3.1.1) a password without a user
// name are accepted: TestConnectFlagsGaps (build tag conformance_gaps).
func TestConnectFlagsValidated(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		runRefused(t, v, []connectCase{
			{"reserved bit", connectPk(uniq(t, "r"), true), func(b []byte) { b[flagsAt] |= 0x01 }},
			{"will retain without will", connectPk(uniq(t, "rt"), true), func(b []byte) { b[flagsAt] |= 0x20 }},
			{"will qos 3", func() packets.Packet {
				pk := connectPk(uniq(t, "q3"), true)
				pk.Connect.WillFlag, pk.Connect.WillTopic, pk.Connect.WillPayload, pk.Connect.WillQos = true, "w", []byte("w"), 1
				return pk
			}(), func(b []byte) { b[flagsAt] |= 0x18 }},
		})
	}
}

// TestMalformedStrings: a client id that is not well-formed UTF-8 or holds
// U+0000 makes the node close the connection, and so does a will topic
// that is not well-formed UTF-8; a leading U+FEFF in a topic
// is kept (not stripped): it reaches only the subscriber of exactly that
// topic, unchanged.
// [MQTT-1.5.3-1] [MQTT-1.5.3-2] [MQTT-1.5.3-3] [MQTT-3.1.3-4] [MQTT-3.1.3-10] (3.1.1)
// [MQTT-1.5.4-1] [MQTT-1.5.4-2] [MQTT-1.5.4-3] [MQTT-3.1.3-4] [MQTT-3.1.3-11] (5.0) [MQTT-4.7.3-4] (both)
// A user name that is not well-formed UTF-8 is accepted: TestUserNameUTF8Gap
// (build tag conformance_gaps).
func TestMalformedStrings(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		for _, id := range []string{"bad\xff\xfeid", "nul\x00id", "sur\xed\xa0\x80id"} {
			r := dial(t, next(), v)
			r.send(connectPk(id, true))
			refused(t, r)
		}
		// A will topic that is not well-formed UTF-8.
		r := dial(t, next(), v)
		r.send(willPk(uniq(t, "w"), "will/\xff", "x", 0, false))
		refused(t, r)
		base := uniq(t, fmt.Sprint("bom", v))
		bom := "\uFEFF" + base
		s1 := connectID(t, addr(0), v, uniq(t, "s1"))
		s1.sub(bom, 0)
		s2 := connectID(t, addr(1), v, uniq(t, "s2"))
		s2.sub(base, 0)
		s2.sub(bom+"/x", 0)
		waitRoute(t, bom, 0)
		waitRoute(t, base, 1)
		p := connectID(t, addr(2), v, uniq(t, "p"))
		p.publish(bom, 1, false, []byte("bom"))
		p.publish(base, 1, false, []byte("plain"))
		s1.expect(bom, []byte("bom"))
		s2.expect(base, []byte("plain"))
	}
}

// TestClientIdentifiers: ids of 1 to 23 letters and digits are accepted;
// an empty id is accepted with a clean session (in 5.0 the CONNACK carries
// an Assigned Client Identifier, unique per connection) and refused without
// one (3.1.1 0x02, 5.0 0x85), closing the connection. Every accepted
// CONNECT gets a CONNACK with code 0 (connect checks it).
// [MQTT-3.1.3-3] [MQTT-3.1.3-5] [MQTT-3.1.3-6] [MQTT-3.1.3-8] [MQTT-3.1.3-9] [MQTT-3.2.2-4] [MQTT-3.2.2-5] [MQTT-3.1.4-4] (3.1.1)
// [MQTT-3.1.3-3] [MQTT-3.1.3-5] [MQTT-3.1.3-6] [MQTT-3.1.3-7] [MQTT-3.1.3-8] [MQTT-3.2.2-16] [MQTT-3.2.2-7] [MQTT-3.1.4-5] (5.0)
func TestClientIdentifiers(t *testing.T) {
	t.Parallel()
	const alnum = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for _, v := range versions {
		id := fmt.Sprintf("%s%d%05d", alnum[10:27], v, seq.Add(1)%100000) // 23 letters and digits
		r, ca := connect(t, next(), v, connectPk(id, true))
		if ca.SessionPresent {
			t.Fatalf("v%d: session present for a clean session", v)
		}
		r.disconnect()

		seen := map[string]bool{}
		for range 2 {
			_, ca := connect(t, next(), v, connectPk("", true))
			if v == 5 {
				got := ca.Properties.AssignedClientID
				if got == "" || seen[got] {
					t.Fatalf("v5: assigned client id %q (seen %v)", got, seen)
				}
				seen[got] = true
			}
		}

		r = dial(t, next(), v)
		r.send(connectPk("", false))
		got := r.closed()
		want := byte(0x02)
		if v == 5 {
			want = 0x85
		}
		if len(got) != 1 || got[0].FixedHeader.Type != packets.Connack || got[0].ReasonCode != want || got[0].SessionPresent {
			t.Fatalf("v%d empty id, clean 0: got %+v, want CONNACK %#x and close", v, got, want)
		}
	}
}

// TestConnackFlagsReserved: bits 7-1 of the CONNACK acknowledge flags are
// 0, and a CONNACK is sent only once (a PINGREQ after it gets a PINGRESP).
// [MQTT-3.2.2-1] [MQTT-3.2.0-2] [MQTT-3.12.4-1] (5.0) [MQTT-3.2.0-1] [MQTT-3.12.4-1] (3.1.1)
func TestConnackFlagsReserved(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		r := dial(t, next(), v)
		r.send(connectPk(uniq(t, "c"), false))
		_ = r.c.SetReadDeadline(time.Now().Add(wait))
		head := make([]byte, 3)
		if _, err := io.ReadFull(r.r, head); err != nil || head[0] != 0x20 {
			t.Fatalf("v%d: CONNACK head %x: %v", v, head, err)
		}
		if head[2]&0xFE != 0 {
			t.Fatalf("v%d: CONNACK flags %08b", v, head[2])
		}
		if _, err := io.ReadFull(r.r, make([]byte, int(head[1])-1)); err != nil {
			t.Fatal(err)
		}
		r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}})
		if pk := r.read(); pk.FixedHeader.Type != packets.Pingresp {
			t.Fatalf("v%d: got %+v for PINGREQ", v, pk)
		}
		r.disconnect()
	}
}

// TestKeepAlive: a client that sends PINGREQs stays connected past its
// keep alive and gets PINGRESPs; a silent client with keep alive 1s is
// disconnected after about one and a half times that (the node uses the
// client's value when it sends no Server Keep Alive).
// [MQTT-3.1.2-24] [MQTT-3.12.4-1] (3.1.1) [MQTT-3.1.2-22] [MQTT-3.2.2-22] [MQTT-3.12.4-1] (5.0)
func TestKeepAlive(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		t.Run(fmt.Sprint("v", v), func(t *testing.T) {
			t.Parallel()
			pk := connectPk(uniq(t, "ka"), true)
			pk.Connect.Keepalive = 1
			r, ca := connect(t, next(), v, pk)
			if ca.Properties.ServerKeepAliveFlag {
				t.Fatalf("server keep alive %d sent", ca.Properties.ServerKeepAlive)
			}
			for range 4 { // 2s of pings every 0.5s
				time.Sleep(500 * time.Millisecond)
				r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}})
				if got := r.read(); got.FixedHeader.Type != packets.Pingresp {
					t.Fatalf("got %+v for PINGREQ", got)
				}
			}
			silent := time.Now()
			r.closed()
			if d := time.Since(silent); d < time.Second || d > 3*time.Second {
				t.Fatalf("closed %s after the last packet; want about 1.5s", d)
			}
		})
	}
}

// TestSessionPresentAndCleanStart: a persistent session survives the
// connection: it keeps its subscriptions and the QoS 1 messages that
// arrived meanwhile, and a reconnect on another node resumes it with
// Session Present 1; a clean session starts with nothing and Session
// Present 0. In 5.0 a session with a short expiry interval is gone after it.
// [MQTT-3.1.2-4] [MQTT-3.1.2-5] [MQTT-3.1.2-6] [MQTT-3.1.3-2] [MQTT-3.1.4-3] [MQTT-3.2.2-1] [MQTT-3.2.2-2] [MQTT-3.2.2-3] [MQTT-4.1.0-1] (3.1.1)
// [MQTT-3.1.2-4] [MQTT-3.1.2-5] [MQTT-3.1.2-6] [MQTT-3.1.2-23] [MQTT-3.1.3-2] [MQTT-3.1.4-4] [MQTT-3.2.2-2] [MQTT-3.2.2-3] [MQTT-4.1.0-1] [MQTT-4.1.0-2] (5.0)
func TestSessionPresentAndCleanStart(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		t.Run(fmt.Sprint("v", v), func(t *testing.T) {
			t.Parallel()
			id, topic, other := uniq(t, "id"), uniq(t, "t"), uniq(t, "o")
			persistent := connectPk(id, false)
			if v == 5 {
				persistent.Properties = packets.Properties{SessionExpiryInterval: 300, SessionExpiryIntervalFlag: true}
			}
			r, ca := connect(t, addr(0), v, persistent)
			if ca.SessionPresent {
				t.Fatal("session present for a new session")
			}
			r.sub(topic, 1)
			waitRoute(t, topic, 0)
			r.disconnect()

			p := connectID(t, addr(1), v, uniq(t, "p"))
			p.publish(topic, 1, false, []byte("while away"))

			r, ca = connect(t, addr(2), v, persistent)
			if !ca.SessionPresent {
				t.Fatal("session present 0 for a stored session")
			}
			r.ack(r.expect(topic, []byte("while away")))
			r.disconnect()

			r, ca = connect(t, addr(0), v, connectPk(id, true))
			if ca.SessionPresent {
				t.Fatal("session present 1 for a clean start")
			}
			r.sub(other, 1)
			waitRoute(t, other, 0)
			p.publish(topic, 1, false, []byte("old subscription"))
			p.publish(other, 1, false, []byte("new subscription"))
			r.ack(r.expect(other, []byte("new subscription")))
			r.disconnect()

			if v == 5 {
				short := connectPk(uniq(t, "short"), false)
				short.Properties = packets.Properties{SessionExpiryInterval: 1, SessionExpiryIntervalFlag: true}
				r, _ = connect(t, addr(1), v, short)
				r.sub(topic, 1)
				r.disconnect()
				srv := cl.nodes[1].Broker().Server()
				testutil.Eventually(t, 5*time.Second, "expired session removed", func() bool {
					_, ok := srv.Clients.Get(short.Connect.ClientIdentifier)
					return !ok
				})
				_, ca = connect(t, addr(2), v, short)
				if ca.SessionPresent {
					t.Fatal("session present after its expiry")
				}
			}
		})
	}
}

// TestSessionTakeover: a second connection with a client id already
// connected to another node closes the first (5.0: after DISCONNECT 0x8E).
// [MQTT-3.1.4-2] (3.1.1) [MQTT-3.1.4-3] [MQTT-3.14.4-1] [MQTT-3.14.4-2] (5.0)
func TestSessionTakeover(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		id := uniq(t, "dup")
		old := connectID(t, addr(0), v, id)
		cur := connectID(t, addr(1), v, id)
		got := old.closed()
		if v == 5 && (len(got) != 1 || got[0].FixedHeader.Type != packets.Disconnect || got[0].ReasonCode != 0x8E) {
			t.Fatalf("v5 old connection got %+v, want DISCONNECT 0x8E", got)
		}
		if v == 4 && len(got) != 0 {
			t.Fatalf("v4 old connection got %+v", got)
		}
		cur.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}})
		if pk := cur.read(); pk.FixedHeader.Type != packets.Pingresp {
			t.Fatalf("new connection: %+v", pk)
		}
	}
}

// TestConnectFlags: a Will QoS without the Will Flag, and (3.1.1) a
// password without a user name, make a CONNECT invalid: the connection is
// closed (MQTT 5: after CONNACK 0x81).
// [MQTT-3.1.2-13] [MQTT-3.1.2-22] (3.1.1) [MQTT-3.1.2-11] (5.0)
func TestConnectFlags(t *testing.T) {
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

// TestUserNameUTF8: the user name is a UTF-8 string, so one that is not
// well-formed makes the CONNECT malformed and the node closes the
// connection.
// [MQTT-3.1.3-11] (3.1.1) [MQTT-3.1.3-12] (5.0)
func TestUserNameUTF8(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		pk := connectPk(uniq(t, "u"), true)
		pk.Connect.UsernameFlag, pk.Connect.Username = true, []byte("us\xc3er")
		r := dial(t, next(), v)
		r.send(pk)
		refused(t, r)
	}
}

// TestNoFittingReturnCode: a 3.1.1 CONNECT the node refuses for a reason
// no 3.1.1 return code names (a will topic with a wildcard, not a topic
// name; 5.0 has 0x90 for it) is answered with no CONNACK: the connection
// is closed.
// [MQTT-3.2.2-6] (3.1.1)
func TestNoFittingReturnCode(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		r := dial(t, next(), v)
		r.send(willPk(uniq(t, "w"), "w/#", "x", 0, false))
		got := r.closed()
		if v == 4 && len(got) != 0 {
			t.Fatalf("v3.1.1: got %+v, want a close without CONNACK", got)
		}
		if v == 5 && (len(got) != 1 || got[0].FixedHeader.Type != packets.Connack || got[0].ReasonCode != 0x90) {
			t.Fatalf("v5: got %+v, want CONNACK 0x90", got)
		}
	}
}

// TestSessionLastsWhileConnected: the session of a connected client that
// keeps none after the connection (3.1.1 clean session 1; 5.0 Session
// Expiry Interval 0) lasts as long as the connection: after a session with
// an expiry of 1 s, disconnected meanwhile on the same node, has expired
// and gone, it still has its subscription and its unacknowledged QoS 1
// message, which its PUBACK completes.
// [MQTT-4.1.0-2] (3.1.1)
func TestSessionLastsWhileConnected(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		t.Run(fmt.Sprint("v", v), func(t *testing.T) {
			t.Parallel()
			topic, id := uniq(t, "t"), uniq(t, "s")
			s := connectID(t, addr(0), v, id)
			s.sub(topic, 1)
			waitRoute(t, topic, 0)
			p := connectID(t, addr(1), v, uniq(t, "p"))
			p.publish(topic, 1, false, []byte("one"))
			one := s.expect(topic, []byte("one")) // not acknowledged yet

			short := connectPk(uniq(t, "short"), false)
			short.Properties = packets.Properties{SessionExpiryInterval: 1, SessionExpiryIntervalFlag: true}
			sc, _ := connect(t, addr(0), 5, short)
			sc.disconnect()
			gone(t, 0, short.Connect.ClientIdentifier) // the node's expiry sweep ran since

			p.publish(topic, 1, false, []byte("two"))
			two := s.expect(topic, []byte("two"))
			if two.PacketID == one.PacketID {
				t.Fatalf("second message reuses id %d of one unacknowledged", one.PacketID)
			}
			s.ack(one)
			s.ack(two)
			srv := cl.nodes[0].Broker().Server()
			testutil.Eventually(t, 5*time.Second, "acknowledgements taken", func() bool {
				c, ok := srv.Clients.Get(id)
				return ok && c.State.Inflight.Len() == 0
			})
			s.disconnect()
			p.disconnect()
		})
	}
}

// TestFurtherConnectChecks: a CONNECT that fails a check of the node's own
// (a client id in the prefix the cluster keeps for itself; an
// Authentication Method, TestUnsupportedAuthenticationMethod) is refused
// (3.1.1 0x02, 5.0 0x85) and the connection closed.
// [MQTT-3.1.4-2] (5.0)
func TestFurtherConnectChecks(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		r := dial(t, next(), v)
		r.send(connectPk("$cluster:"+uniq(t, "c"), true))
		got := r.closed()
		want := byte(0x02)
		if v == 5 {
			want = 0x85
		}
		if len(got) != 1 || got[0].FixedHeader.Type != packets.Connack || got[0].ReasonCode != want {
			t.Fatalf("v%d reserved client id: got %+v, want CONNACK %#x and close", v, got, want)
		}
	}
}
