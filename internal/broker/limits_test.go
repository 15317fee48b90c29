package broker

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// connectRaw connects a raw client and returns it with its CONNACK.
func connectRaw(t *testing.T, addr string, v byte, id string) (*raw, packets.Packet) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &raw{t: t, c: c, r: bufio.NewReaderSize(c, 64<<10), v: v}
	r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: v,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: id, Clean: true, Keepalive: 60}})
	ca := r.read(5 * time.Second)
	if ca.FixedHeader.Type != packets.Connack || ca.ReasonCode != 0 {
		t.Fatalf("CONNACK: %+v", ca)
	}
	return r, ca
}

// suback subscribes to filters (QoS 2 each) and returns the codes.
func (r *raw) suback(filters ...string) []byte {
	r.t.Helper()
	var subs packets.Subscriptions
	for _, f := range filters {
		subs = append(subs, packets.Subscription{Filter: f, Qos: 2})
	}
	r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 7, Filters: subs})
	pk := r.read(5 * time.Second)
	if pk.FixedHeader.Type != packets.Suback {
		r.t.Fatalf("want SUBACK, got %+v", pk)
	}
	return pk.ReasonCodes
}

// refused sends pk and expects the connection to end: with DISCONNECT
// code (MQTT 5), or closed (code 0).
func (r *raw) refused(pk packets.Packet, code byte) {
	r.t.Helper()
	r.send(pk)
	for {
		got, err := r.next(5 * time.Second)
		if err != nil {
			if code != 0 {
				r.t.Fatalf("closed without DISCONNECT %#x: %v", code, err)
			}
			return
		}
		if got.FixedHeader.Type == packets.Disconnect {
			if got.ReasonCode != code {
				r.t.Fatalf("DISCONNECT %#x, want %#x", got.ReasonCode, code)
			}
			return
		}
		if got.FixedHeader.Type == packets.Puback || got.FixedHeader.Type == packets.Pubrec {
			r.t.Fatalf("refused PUBLISH was acknowledged: %+v", got)
		}
	}
}

// TestMQTTLimits: mqtt.max_qos_allowed, retain_available,
// wildcard_subscription, shared_subscription and max_topic_levels are told
// in CONNACK (MQTT 5) and enforced with their codes.
func TestMQTTLimits(t *testing.T) {
	cfg := testConfig()
	cfg.ZoneOf("external").MaxQoSAllowed, cfg.ZoneOf("external").MaxTopicLevels = 1, 3
	cfg.ZoneOf("external").RetainAvailable, cfg.ZoneOf("external").WildcardSubscription, cfg.ZoneOf("external").SharedSubscription = false, false, false
	b := startBroker(t, cfg)
	addr := b.Addrs()["tcp"]

	r, ca := connectRaw(t, addr, 5, "lim5")
	p := ca.Properties
	if !p.MaximumQosFlag || p.MaximumQos != 1 || !p.RetainAvailableFlag || p.RetainAvailable != 0 ||
		!p.WildcardSubAvailableFlag || p.WildcardSubAvailable != 0 || !p.SharedSubAvailableFlag || p.SharedSubAvailable != 0 {
		t.Fatalf("CONNACK properties: %+v", p)
	}
	if got := r.suback("a/b", "a/+", "$share/g/a", "a/b/c/d", "a/b/c"); string(got) != "\x01\xa2\x9e\x8f\x01" {
		t.Fatalf("SUBACK %x, want 01 a2 9e 8f 01", got)
	}
	r.refused(publishPacket("a/b", 2, 1, []byte("x")), 0x9B)

	r, _ = connectRaw(t, addr, 5, "lim5b")
	pk := publishPacket("a/b", 1, 1, []byte("x"))
	pk.FixedHeader.Retain = true
	r.refused(pk, 0x9A)

	r, _ = connectRaw(t, addr, 5, "lim5c")
	r.refused(publishPacket("a/b/c/d", 0, 0, []byte("x")), 0x90)

	// MQTT 3.1.1: 0x80 in the SUBACK, the connection closed for a PUBLISH.
	r, _ = connectRaw(t, addr, 4, "lim3")
	if got := r.suback("a/+", "$share/g/a", "a/b/c/d", "a/b"); string(got) != "\x80\x80\x80\x01" {
		t.Fatalf("3.1.1 SUBACK %x, want 80 80 80 01", got)
	}
	r.refused(publishPacket("a/b", 2, 1, []byte("x")), 0)

	// Within the limits all is as usual.
	s, _ := connectRaw(t, addr, 5, "ok-sub")
	if got := s.suback("x/y"); string(got) != "\x01" {
		t.Fatalf("SUBACK %x", got)
	}
	pub, _ := connectRaw(t, addr, 5, "ok-pub")
	pub.send(publishPacket("x/y", 1, 1, []byte("fine")))
	for {
		got := s.read(5 * time.Second)
		if got.FixedHeader.Type == packets.Publish {
			if string(got.Payload) != "fine" {
				t.Fatalf("got %q", got.Payload)
			}
			break
		}
	}
	if got := b.Refusals(); got.Publish != 4 || got.Subscribe != 6 {
		t.Fatalf("refusals counted %+v, want 4 PUBLISHes and 6 filters", got)
	}
}
