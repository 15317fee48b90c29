package broker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/mochi-mqtt/server/v2/packets"

	"emqxgo/internal/testutil"
)

// TestServerKeepalive: zone.external.server_keepalive is told to MQTT 5
// clients in CONNACK and held against them instead of their own keep
// alive; MQTT 3.1.1 clients keep theirs (as EMQX).
func TestServerKeepalive(t *testing.T) {
	cfg := testConfig()
	cfg.ZoneOf("external").ServerKeepalive = 1
	b := startBroker(t, cfg)
	v := testutil.DialV5(t, b.Addrs()["tcp"], "ka") // asks for 30 s
	if p := v.Connack.Properties; p == nil || p.ServerKeepAlive == nil || *p.ServerKeepAlive != 1 {
		t.Fatalf("CONNACK does not carry Server Keep Alive 1: %+v", p)
	}
	_ = v.Disconnect(&paho.Disconnect{})
	// A client that stays silent (paho pings at the server keep alive) is
	// closed after 1.5 x 1 s, not sooner.
	r, _ := dialRaw(t, b.Addrs()["tcp"], 5, packets.ConnectParams{ClientIdentifier: "ka-silent", Clean: true, Keepalive: 30}, packets.Properties{})
	silent := time.Now()
	if _, err := r.next(10 * time.Second); err == nil {
		for err == nil { // a DISCONNECT may come first
			_, err = r.next(10 * time.Second)
		}
	}
	if d := time.Since(silent); d < 1400*time.Millisecond || d > 5*time.Second {
		t.Fatalf("a client silent past the server keep alive of 1 s was closed after %s, want about 1.5 s", d)
	}
	def := startBroker(t, testConfig())
	w := testutil.DialV5(t, def.Addrs()["tcp"], "own")
	if p := w.Connack.Properties; p != nil && p.ServerKeepAlive != nil {
		t.Fatalf("server_keepalive = 0 still sends Server Keep Alive %d", *p.ServerKeepAlive)
	}
}

// TestTopicAliasMaximum: mqtt.max_topic_alias is advertised in CONNACK, and
// an alias above it gets DISCONNECT 0x94.
func TestTopicAliasMaximum(t *testing.T) {
	cfg := testConfig()
	cfg.ZoneOf("external").MaxTopicAlias = 5
	b := startBroker(t, cfg)
	v := testutil.DialV5(t, b.Addrs()["tcp"], "alias")
	if p := v.Connack.Properties; p == nil || p.TopicAliasMaximum == nil || *p.TopicAliasMaximum != 5 {
		t.Fatalf("CONNACK does not advertise Topic Alias Maximum 5: %+v", p)
	}
	c := rawSession(t, b.Addrs()["tcp"], 5, "raw-alias")
	pub := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: "a/b", Payload: []byte("x"), ProtocolVersion: 5}
	pub.Properties.TopicAlias, pub.Properties.TopicAliasFlag = 6, true
	_, _ = c.Write(encode(t, pub))
	got := readUntilClosed(t, c, 5*time.Second)
	if len(got) < 3 || got[0] != 0xE0 || got[2] != 0x94 {
		t.Fatalf("alias 6 of 5: got %x before close, want DISCONNECT 0x94", got)
	}
}

// TestZonesPerListener: each listener's clients get its zone's limits:
// listener.tcp.internal (zone internal) keeps QoS 2 and the default packet
// size while zone external caps QoS at 1 and packets at 64KB.
func TestZonesPerListener(t *testing.T) {
	b := startBroker(t, testConfig("listener.tcp.internal = 127.0.0.1:0",
		"zone.external.max_qos_allowed = 1", "zone.external.max_packet_size = 64KB", "zone.internal.max_inflight = 7"))
	a := b.Addrs()
	if a["tcp:internal"] == "" || a["tcp:internal"] == a["tcp"] {
		t.Fatalf("addresses %v", a)
	}
	ext := testutil.DialV5(t, a["tcp"], "on-ext")
	in := testutil.DialV5(t, a["tcp:internal"], "on-int")
	ep, ip := ext.Connack.Properties, in.Connack.Properties
	switch {
	case ep == nil || ep.MaximumQoS == nil || *ep.MaximumQoS != 1 || ep.MaximumPacketSize == nil || *ep.MaximumPacketSize != 64<<10:
		t.Fatalf("external CONNACK %+v", ep)
	case ip == nil || ip.MaximumQoS != nil || ip.MaximumPacketSize == nil || *ip.MaximumPacketSize != 1<<20 ||
		ip.ReceiveMaximum == nil || *ip.ReceiveMaximum != 7:
		t.Fatalf("internal CONNACK %+v", ip)
	}
	for _, c := range []struct {
		v    *testutil.V5
		want byte
	}{{ext, 1}, {in, 2}} {
		sa, err := c.v.Subscribe(context.Background(), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "z/#", QoS: 2}}})
		if err != nil || len(sa.Reasons) != 1 || sa.Reasons[0] != c.want {
			t.Fatalf("SUBACK %+v %v, want granted QoS %d", sa, err, c.want)
		}
	}
}

// TestNoMochiSys: mochi's own $SYS/broker/... tree is off (the node
// publishes EMQX's $SYS/brokers/..., package sys, whose tests cover
// broker.sys_interval): nothing of it is retained or published, whatever
// broker.sys_interval says.
func TestNoMochiSys(t *testing.T) {
	b := startBroker(t, testConfig("broker.sys_interval = 1s"))
	for topic := range b.Server().Topics.Retained.GetAll() {
		if strings.HasPrefix(topic, "$SYS/") {
			t.Errorf("mochi's %s is retained", topic)
		}
	}
	v := testutil.DialV5(t, b.Addrs()["tcp"], "sys")
	v.Sub(t, "$SYS/#", 0)
	select {
	case m := <-v.Msgs:
		t.Errorf("got %s %q, want no $SYS message of mochi's", m.Topic, m.Payload)
	case <-time.After(2500 * time.Millisecond):
	}
}

// TestKeepaliveBackoff: zone.<name>.keepalive_backoff sets how long a silent
// client is kept: 2 x backoff x its keep alive (1.5 x 2 s = 3 s with 0.75
// on one listener, 2 x 0.25 x 2 s = 1 s with 0.25 on the other).
func TestKeepaliveBackoff(t *testing.T) {
	b := startBroker(t, testConfig("listener.tcp.fast = 127.0.0.1:0", "listener.tcp.fast.zone = fast",
		"zone.fast.keepalive_backoff = 0.25"))
	for _, c := range []struct {
		addr     string
		min, max time.Duration
	}{{b.Addrs()["tcp"], 2800 * time.Millisecond, 6 * time.Second}, {b.Addrs()["tcp:fast"], 900 * time.Millisecond, 2500 * time.Millisecond}} {
		r, _ := dialRaw(t, c.addr, 5, packets.ConnectParams{ClientIdentifier: "ka-backoff", Clean: true, Keepalive: 2}, packets.Properties{})
		silent := time.Now()
		for {
			if _, err := r.next(10 * time.Second); err != nil {
				break
			}
		}
		if d := time.Since(silent); d < c.min || d > c.max {
			t.Errorf("%s: a silent client with keep alive 2 s was closed after %s, want %s to %s", c.addr, d, c.min, c.max)
		}
	}
}
