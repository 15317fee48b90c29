package broker

import (
	"slices"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/mochi-mqtt/server/v2/packets"

	"emqxgo/internal/testutil"
)

// listenerAddr is the bound address of the listener id ("tcp:small").
func listenerAddr(t *testing.T, b *Broker, id string) string {
	t.Helper()
	for _, l := range b.listeners {
		if l.id == id {
			return l.Address()
		}
	}
	t.Fatalf("no listener %s", id)
	return ""
}

// twoZones is a node with listener tcp:external in zone external and
// tcp:small in zone small, with lines over them.
func twoZones(t *testing.T, lines ...string) (b *Broker, ext, small string) {
	t.Helper()
	b = startBroker(t, testConfig(append([]string{"listener.tcp.small = 127.0.0.1:0", "listener.tcp.small.zone = small"}, lines...)...))
	return b, listenerAddr(t, b, "tcp:external"), listenerAddr(t, b, "tcp:small")
}

// TestZoneSessionLimits: a session keeps the max_inflight, max_mqueue_len
// and mqueue_store_qos0 of its client's zone, not zone external's.
func TestZoneSessionLimits(t *testing.T) {
	b, ext, small := twoZones(t, "zone.small.max_inflight = 2", "zone.small.max_mqueue_len = 3",
		"zone.small.mqueue_store_qos0 = false", "zone.external.max_inflight = 32",
		"zone.external.max_mqueue_len = 100", "zone.external.mqueue_store_qos0 = true")
	pub, _ := dialRaw(t, ext, 4, packets.ConnectParams{ClientIdentifier: "zl-pub", Clean: true}, packets.Properties{})

	// The window: 2 in flight in zone small, 5 (all) in zone external.
	for _, c := range []struct {
		addr   string
		window int
	}{{small, 2}, {ext, 5}} {
		sub, _ := dialRaw(t, c.addr, 4, packets.ConnectParams{ClientIdentifier: "zl-win", Clean: true}, packets.Properties{})
		sub.subscribe("zl/win", 1)
		pub.publishWindowed("zl/win", 5, 5)
		for i := 0; i < c.window; i++ {
			sub.read(5 * time.Second)
		}
		if pk, err := sub.next(300 * time.Millisecond); err == nil {
			t.Fatalf("message #%d sent beyond the zone's max_inflight of %d", seqOf(pk), c.window)
		}
		sub.c.Close()
	}

	// The offline queue: 3 kept in zone small (QoS 0 dropped), all in
	// zone external (QoS 0 too).
	for _, c := range []struct {
		id, addr string
		want     []int
	}{{"zl-small", small, seq(8, 10)}, {"zl-ext", ext, seq(0, 10)}} {
		sub, _ := dialRaw(t, c.addr, 4, packets.ConnectParams{ClientIdentifier: c.id}, packets.Properties{})
		sub.subscribe("zl/q/"+c.id, 1)
		sub.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
		sub.c.Close()
		waitOffline(t, b, c.id)
		pub.send(publishPacket("zl/q/"+c.id, 0, 0, seqPayload(0))) // handled before the QoS 1 ones
		pub.publishWindowed("zl/q/"+c.id, 10, 1)
		testutil.Eventually(t, 5*time.Second, "the messages queued", func() bool { return b.Queued(c.id) == len(c.want) })
		again, present := dialRaw(t, c.addr, 4, packets.ConnectParams{ClientIdentifier: c.id}, packets.Properties{})
		if !present {
			t.Fatal("session not resumed")
		}
		receiveInOrder(t, again, c.want, false)
		if pk, err := again.next(300 * time.Millisecond); err == nil {
			t.Fatalf("%s: unexpected message #%d", c.id, seqOf(pk))
		}
		again.c.Close()
	}
	if d := b.Drops(); d.QueueFull != 7 || d.QoS0Offline != 1 {
		t.Fatalf("drops %+v, want 7 from the full queue and 1 QoS 0 of zone small", d)
	}
}

// TestUpgradeQoS: with zone.<name>.upgrade_qos on, a message goes out at
// the higher of its QoS and the subscription's (EMQX: max(SubQoS,
// PubQoS)); off, at the lower.
func TestUpgradeQoS(t *testing.T) {
	_, ext, small := twoZones(t, "zone.small.upgrade_qos = on")
	pub, _ := dialRaw(t, ext, 4, packets.ConnectParams{ClientIdentifier: "up-pub", Clean: true}, packets.Properties{})
	for _, c := range []struct {
		name           string
		addr           string
		subQoS, pubQoS byte
		want           byte
	}{
		{"on, publish above", small, 0, 1, 1},
		{"on, subscription above", small, 2, 0, 2},
		{"off, publish above", ext, 0, 1, 0},
		{"off, subscription above", ext, 2, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			sub, _ := dialRaw(t, c.addr, 4, packets.ConnectParams{ClientIdentifier: "up-sub", Clean: true}, packets.Properties{})
			sub.subscribe("up", c.subQoS)
			id := uint16(0)
			if c.pubQoS > 0 {
				id = 1
			}
			pub.send(publishPacket("up", c.pubQoS, id, seqPayload(1)))
			pk := sub.read(5 * time.Second)
			if pk.FixedHeader.Type != packets.Publish || pk.FixedHeader.Qos != c.want {
				t.Fatalf("got %+v at QoS %d, want a PUBLISH at QoS %d", pk.FixedHeader, pk.FixedHeader.Qos, c.want)
			}
			sub.c.Close()
		})
	}
}

// TestIgnoreLoopDeliver: with zone.<name>.ignore_loop_deliver on, an MQTT
// 3.1.1 client does not get its own publishes back (EMQX sets No Local on
// every subscription of an MQTT 3 client of such a zone); MQTT 5 clients
// keep their own No Local per subscription.
func TestIgnoreLoopDeliver(t *testing.T) {
	_, ext, small := twoZones(t, "zone.small.ignore_loop_deliver = true")
	other, _ := dialRaw(t, ext, 4, packets.ConnectParams{ClientIdentifier: "loop-other", Clean: true}, packets.Properties{})
	for _, c := range []struct {
		name    string
		addr    string
		v       byte
		getsOwn bool
	}{{"v3 zone on", small, 4, false}, {"v5 zone on", small, 5, true}, {"v3 zone off", ext, 4, true}} {
		t.Run(c.name, func(t *testing.T) {
			cl, _ := dialRaw(t, c.addr, c.v, packets.ConnectParams{ClientIdentifier: "loop", Clean: true}, packets.Properties{})
			cl.subscribe("loop", 0)
			// Its own, at QoS 1: queued for it (or not) before the PUBACK,
			// so ahead of #2 in its session's queue.
			cl.send(publishPacket("loop", 1, 1, seqPayload(1)))
			var got []int
			for acked := false; !acked; {
				pk := cl.read(5 * time.Second)
				if pk.FixedHeader.Type == packets.Publish {
					got = append(got, seqOf(pk))
				}
				acked = pk.FixedHeader.Type == packets.Puback
			}
			other.send(publishPacket("loop", 0, 0, seqPayload(2)))
			for len(got) == 0 || got[len(got)-1] != 2 {
				got = append(got, seqOf(cl.read(5*time.Second)))
			}
			want := []int{2}
			if c.getsOwn {
				want = []int{1, 2}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got messages %v, want %v", got, want)
			}
			cl.c.Close()
		})
	}
}

// TestMaxSubscriptions: the filters of a SUBSCRIBE beyond
// zone.<name>.max_subscriptions get SUBACK 0x97 (MQTT 3.1.1: 0x80); the
// existing subscriptions count, one renewed takes no more room, and an
// unsubscribe makes room.
func TestMaxSubscriptions(t *testing.T) {
	b := startBroker(t, testConfig("zone.external.max_subscriptions = 2"))
	for _, c := range []struct {
		v    byte
		over byte
	}{{5, 0x97}, {4, 0x80}} {
		cl, _ := dialRaw(t, b.Addrs()["tcp"], c.v, packets.ConnectParams{ClientIdentifier: "maxsubs", Clean: true}, packets.Properties{})
		cl.subscribe("s/a", 1)
		suback := func(id uint16, filters ...string) []byte {
			t.Helper()
			pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: id}
			for _, f := range filters {
				pk.Filters = append(pk.Filters, packets.Subscription{Filter: f, Qos: 1})
			}
			cl.send(pk)
			ack := cl.read(5 * time.Second)
			if ack.FixedHeader.Type != packets.Suback || ack.PacketID != id {
				t.Fatalf("v%d: got %+v, want SUBACK %d", c.v, ack, id)
			}
			return ack.ReasonCodes
		}
		if got, want := suback(2, "s/a", "s/b", "s/c", "s/d"), []byte{1, 1, c.over, c.over}; !slices.Equal(got, want) {
			t.Fatalf("v%d: SUBACK %x, want %x", c.v, got, want)
		}
		cl.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Unsubscribe, Qos: 1}, PacketID: 3,
			Filters: packets.Subscriptions{{Filter: "s/a"}}})
		if pk := cl.read(5 * time.Second); pk.FixedHeader.Type != packets.Unsuback {
			t.Fatalf("v%d: got %+v, want UNSUBACK", c.v, pk)
		}
		if got, want := suback(4, "s/c", "s/d"), []byte{1, c.over}; !slices.Equal(got, want) {
			t.Fatalf("v%d: after an unsubscribe SUBACK %x, want %x", c.v, got, want)
		}
		cl.c.Close()
	}
}

// TestSessionExpiryInterval: zone.<name>.session_expiry_interval caps an
// MQTT 5 client's Session Expiry Interval (CONNACK tells the capped value,
// and only then), and is how long an MQTT 3.1.1 session with clean
// session off outlives its connection (mochi kept those for ever).
func TestSessionExpiryInterval(t *testing.T) {
	b, ext, small := twoZones(t, "zone.external.session_expiry_interval = 1m", "zone.small.session_expiry_interval = 1s",
		"zone.internal.session_expiry_interval = 2m")
	if got := b.srv.Options.Capabilities.MaximumSessionExpiryInterval; got != 120 {
		t.Fatalf("mochi keeps MQTT 3 sessions %d s, want the longest zone's 120", got)
	}
	for _, c := range []struct {
		ask, want uint32
		told      bool
	}{{3600, 60, true}, {30, 30, false}} {
		ask := c.ask
		v, err := testutil.TryConnectV5(ext, &paho.Connect{ClientID: "sei-v5", CleanStart: true, KeepAlive: 30,
			Properties: &paho.ConnectProperties{SessionExpiryInterval: &ask}})
		if err != nil {
			t.Fatal(err)
		}
		p := v.Connack.Properties
		if told := p != nil && p.SessionExpiryInterval != nil; told != c.told || told && *p.SessionExpiryInterval != c.want {
			t.Fatalf("asked %d: CONNACK Session Expiry Interval %v, want told %v (%d)", c.ask, p, c.told, c.want)
		}
		cl, ok := b.srv.Clients.Get("sei-v5")
		if !ok || cl.Properties.Props.SessionExpiryInterval != c.want {
			t.Fatalf("asked %d: the session keeps %d s, want %d", c.ask, cl.Properties.Props.SessionExpiryInterval, c.want)
		}
		_ = v.Disconnect(&paho.Disconnect{})
	}

	// MQTT 3.1.1 in zone small: gone about 1 s after the disconnect.
	sub, _ := dialRaw(t, small, 4, packets.ConnectParams{ClientIdentifier: "sei-v3"}, packets.Properties{})
	sub.subscribe("sei", 1)
	sub.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
	sub.c.Close()
	waitOffline(t, b, "sei-v3")
	gone := time.Now()
	testutil.Eventually(t, 5*time.Second, "the session of sei-v3 ended", func() bool {
		_, ok := b.srv.Clients.Get("sei-v3")
		return !ok && b.sessions.get("sei-v3") == nil
	})
	if d := time.Since(gone); d < 500*time.Millisecond { // measured from after waitOffline: less than the real time
		t.Fatalf("the session ended %s after the disconnect, want 1 s", d)
	}
	if b.srv.Topics.Subscribers("sei").Subscriptions["sei-v3"].Filter != "" {
		t.Fatal("the expired session's subscription is still routed")
	}
	again, present := dialRaw(t, small, 4, packets.ConnectParams{ClientIdentifier: "sei-v3"}, packets.Properties{})
	if present {
		t.Fatal("an expired session was resumed")
	}
	again.c.Close()
}
