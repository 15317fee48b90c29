package broker

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"emqxgo/internal/testutil"
)

// expect reads the next packet and checks its type (and packet id, if id > 0).
func (r *raw) expect(typ byte, id uint16, within time.Duration) packets.Packet {
	r.t.Helper()
	pk := r.read(within)
	if pk.FixedHeader.Type != typ || id > 0 && pk.PacketID != id {
		r.t.Fatalf("want packet type %d id %d, got %+v", typ, id, pk)
	}
	return pk
}

// quiet checks that nothing arrives within d.
func (r *raw) quiet(d time.Duration, what string) {
	r.t.Helper()
	if pk, err := r.next(d); err == nil {
		r.t.Fatalf("%s: unexpected packet %+v", what, pk)
	}
}

func ackPacket(typ byte, id uint16) packets.Packet {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: typ}, PacketID: id}
	if typ == packets.Pubrel {
		pk.FixedHeader.Qos = 1
	}
	return pk
}

// publishQoS2 publishes a QoS 2 message through the whole flow.
func (r *raw) publishQoS2(topic string, id uint16, payload []byte) {
	r.t.Helper()
	r.send(publishPacket(topic, 2, id, payload))
	r.expect(packets.Pubrec, id, 5*time.Second)
	r.send(ackPacket(packets.Pubrel, id))
	r.expect(packets.Pubcomp, id, 5*time.Second)
}

// TestRetryInterval: with zone.external.retry_interval = 1s, a QoS 1
// PUBLISH not PUBACKed, a QoS 2 PUBLISH not PUBRECed and a PUBREL not
// PUBCOMPed are sent again (PUBLISH with DUP) a second after, not before,
// while the client stays connected; the re-sends are not counted as more
// messages in flight.
func TestRetryInterval(t *testing.T) {
	b := startBroker(t, testConfig("zone.external.retry_interval = 1s"))
	addr := b.Addrs()["tcp:external"]
	sub, _ := dialRaw(t, addr, 5, packets.ConnectParams{ClientIdentifier: "rt-sub", Clean: true}, packets.Properties{})
	sub.subscribe("rt/#", 2)
	pub, _ := dialRaw(t, addr, 5, packets.ConnectParams{ClientIdentifier: "rt-pub", Clean: true}, packets.Properties{})
	inflight := func() int64 { return atomic.LoadInt64(&b.srv.Info.Inflight) }

	// QoS 1: sent, re-sent with DUP after 1s, then PUBACKed: no more.
	pub.send(publishPacket("rt/1", 1, 1, []byte("one")))
	pub.expect(packets.Puback, 1, 5*time.Second)
	first := sub.expect(packets.Publish, 0, 5*time.Second)
	sent := time.Now()
	if first.FixedHeader.Dup || first.FixedHeader.Qos != 1 {
		t.Fatalf("first send: %+v", first.FixedHeader)
	}
	sub.quiet(700*time.Millisecond, "before retry_interval")
	again := sub.expect(packets.Publish, first.PacketID, 3*time.Second)
	if since := time.Since(sent); since < 900*time.Millisecond {
		t.Fatalf("re-sent after %v", since)
	}
	if !again.FixedHeader.Dup || !bytes.Equal(again.Payload, first.Payload) || again.TopicName != "rt/1" {
		t.Fatalf("re-send: %+v", again)
	}
	if n := inflight(); n != 1 {
		t.Fatalf("inflight after a re-send: %d, want 1", n)
	}
	third := sub.expect(packets.Publish, first.PacketID, 3*time.Second) // and again
	if !third.FixedHeader.Dup {
		t.Fatal("second re-send without DUP")
	}
	sub.send(ackPacket(packets.Puback, first.PacketID))
	sub.quiet(1500*time.Millisecond, "after PUBACK")
	testutil.Eventually(t, 5*time.Second, "nothing in flight", func() bool { return inflight() == 0 })

	// QoS 2: the PUBLISH until PUBREC, then the PUBREL until PUBCOMP.
	pub.publishQoS2("rt/2", 2, []byte("two"))
	first = sub.expect(packets.Publish, 0, 5*time.Second)
	if first.FixedHeader.Qos != 2 || first.FixedHeader.Dup {
		t.Fatalf("first send: %+v", first.FixedHeader)
	}
	sub.quiet(700*time.Millisecond, "before retry_interval")
	if again := sub.expect(packets.Publish, first.PacketID, 3*time.Second); !again.FixedHeader.Dup {
		t.Fatal("QoS 2 re-send without DUP")
	}
	sub.send(ackPacket(packets.Pubrec, first.PacketID))
	sub.expect(packets.Pubrel, first.PacketID, 5*time.Second)
	rel := time.Now()
	sub.quiet(700*time.Millisecond, "PUBREL before retry_interval")
	sub.expect(packets.Pubrel, first.PacketID, 3*time.Second)
	if since := time.Since(rel); since < 900*time.Millisecond {
		t.Fatalf("PUBREL re-sent after %v", since)
	}
	sub.send(ackPacket(packets.Pubcomp, first.PacketID))
	sub.quiet(1500*time.Millisecond, "after PUBCOMP")
	testutil.Eventually(t, 5*time.Second, "nothing in flight", func() bool { return inflight() == 0 })
	if n := b.Drops().Resent; n != 4 {
		t.Fatalf("resent %d, want 4", n)
	}
}

// TestRetryIntervalOff: retry_interval = 0 re-sends nothing while connected.
func TestRetryIntervalOff(t *testing.T) {
	b := startBroker(t, testConfig("zone.external.retry_interval = 0s"))
	addr := b.Addrs()["tcp:external"]
	sub, _ := dialRaw(t, addr, 4, packets.ConnectParams{ClientIdentifier: "rt0-sub", Clean: true}, packets.Properties{})
	sub.subscribe("rt0", 1)
	pub, _ := dialRaw(t, addr, 4, packets.ConnectParams{ClientIdentifier: "rt0-pub", Clean: true}, packets.Properties{})
	pub.send(publishPacket("rt0", 1, 1, []byte("x")))
	sub.expect(packets.Publish, 0, 5*time.Second)
	sub.quiet(1500*time.Millisecond, "retry off")
}

// TestMaxAwaitingRel: with max_awaiting_rel = 2, a third QoS 2 PUBLISH
// awaiting PUBREL is refused as EMQX 4.4 does: MQTT 5 DISCONNECT 0x93, an
// MQTT 3.1.1 connection closed; a repeat of one awaiting is not counted.
func TestMaxAwaitingRel(t *testing.T) {
	b := startBroker(t, testConfig("zone.external.max_awaiting_rel = 2"))
	addr := b.Addrs()["tcp:external"]
	sub, _ := dialRaw(t, addr, 5, packets.ConnectParams{ClientIdentifier: "ar-sub", Clean: true}, packets.Properties{})
	sub.subscribe("ar/#", 0)
	for _, v := range []byte{5, 4} {
		topic := "ar/" + string('0'+v)
		pub, _ := dialRaw(t, addr, v, packets.ConnectParams{ClientIdentifier: "ar-pub", Clean: true}, packets.Properties{})
		for id := uint16(1); id <= 2; id++ {
			pub.send(publishPacket(topic, 2, id, seqPayload(int(id))))
			pub.expect(packets.Pubrec, id, 5*time.Second)
		}
		dup := publishPacket(topic, 2, 1, seqPayload(1))
		dup.FixedHeader.Dup = true
		pub.send(dup)
		pub.expect(packets.Pubrec, 1, 5*time.Second)
		pub.send(publishPacket(topic, 2, 3, seqPayload(3)))
		pk, err := pub.next(5 * time.Second)
		if v == 5 {
			if err != nil || pk.FixedHeader.Type != packets.Disconnect || pk.ReasonCode != 0x93 {
				t.Fatalf("MQTT 5: want DISCONNECT 0x93, got %+v, %v", pk, err)
			}
			pk, err = pub.next(5 * time.Second)
		}
		if err == nil {
			t.Fatalf("MQTT %d: connection open after the refusal, got %+v", v, pk)
		}
		for want := 1; want <= 2; want++ {
			if got := sub.expect(packets.Publish, 0, 5*time.Second); seqOf(got) != want {
				t.Fatalf("got message %d, want %d", seqOf(got), want)
			}
		}
		sub.quiet(300*time.Millisecond, "the refused message")
	}
	if n := b.Drops().AwaitRelFull; n != 2 {
		t.Fatalf("refused %d, want 2", n)
	}
}

// TestAwaitRelTimeout: a QoS 2 PUBLISH whose PUBREL does not come within
// await_rel_timeout is dropped from the awaiting set: a PUBLISH with the
// same packet id after it is a new message, delivered.
func TestAwaitRelTimeout(t *testing.T) {
	b := startBroker(t, testConfig("zone.external.await_rel_timeout = 1s"))
	addr := b.Addrs()["tcp:external"]
	sub, _ := dialRaw(t, addr, 5, packets.ConnectParams{ClientIdentifier: "at-sub", Clean: true}, packets.Properties{})
	sub.subscribe("at", 0)
	pub, _ := dialRaw(t, addr, 5, packets.ConnectParams{ClientIdentifier: "at-pub", Clean: true}, packets.Properties{})
	pub.send(publishPacket("at", 2, 7, seqPayload(1)))
	pub.expect(packets.Pubrec, 7, 5*time.Second)
	if got := sub.expect(packets.Publish, 0, 5*time.Second); seqOf(got) != 1 {
		t.Fatalf("got %d", seqOf(got))
	}

	// Before the timeout, the same id is a repeat: not delivered again.
	pub.send(publishPacket("at", 2, 7, seqPayload(2)))
	pub.expect(packets.Pubrec, 7, 5*time.Second)
	sub.quiet(300*time.Millisecond, "a repeat")

	testutil.Eventually(t, 5*time.Second, "the awaiting PUBLISH expired", func() bool { return b.Drops().AwaitRelExpired == 1 })
	pub.send(publishPacket("at", 2, 7, seqPayload(3)))
	pub.expect(packets.Pubrec, 7, 5*time.Second)
	if got := sub.expect(packets.Publish, 0, 5*time.Second); seqOf(got) != 3 {
		t.Fatalf("got %d, want the new message 3", seqOf(got))
	}
	pub.send(ackPacket(packets.Pubrel, 7))
	pub.expect(packets.Pubcomp, 7, 5*time.Second)
	testutil.Eventually(t, 5*time.Second, "nothing in flight", func() bool { return atomic.LoadInt64(&b.srv.Info.Inflight) == 0 })
}

// TestMQTT3AwaitingBeyondInflight: an MQTT 3.1.1 client (no Receive
// Maximum in its protocol) may have more QoS 2 PUBLISHes awaiting PUBREL
// than max_inflight, up to max_awaiting_rel, as in EMQX.
func TestMQTT3AwaitingBeyondInflight(t *testing.T) {
	b := startBroker(t, testConfig("zone.external.max_inflight = 4", "zone.external.max_awaiting_rel = 10"))
	pub, _ := dialRaw(t, b.Addrs()["tcp"], 4, packets.ConnectParams{ClientIdentifier: "v3-await", Clean: true}, packets.Properties{})
	for id := uint16(1); id <= 10; id++ {
		pub.send(publishPacket("v3/await", 2, id, seqPayload(int(id))))
		pub.expect(packets.Pubrec, id, 5*time.Second)
	}
	pub.send(publishPacket("v3/await", 2, 11, seqPayload(11)))
	if pk, err := pub.next(5 * time.Second); err == nil {
		t.Fatalf("the 11th awaiting PUBLISH was answered %+v; want the connection closed", pk)
	}
}
