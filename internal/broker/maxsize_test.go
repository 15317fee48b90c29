package broker

import (
	"bytes"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/testutil"
)

// dialMax connects an MQTT 5 client that accepts packets up to max bytes,
// with a session kept 5 minutes.
func dialMax(t *testing.T, addr, id string, max uint32, clean bool) *testutil.V5 {
	t.Helper()
	exp := uint32(300)
	v, err := testutil.TryConnectV5(addr, &paho.Connect{ClientID: id, CleanStart: clean, KeepAlive: 30,
		Properties: &paho.ConnectProperties{MaximumPacketSize: &max, SessionExpiryInterval: &exp}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMessageLargerThanSubscriberAccepts: a message over a subscriber's
// Maximum Packet Size is discarded for it, at every QoS, and not kept as
// owed (after a reconnect nothing comes back); smaller ones flow on
// [MQTT-3.1.2-24] [MQTT-3.1.2-25].
func TestMessageLargerThanSubscriberAccepts(t *testing.T) {
	b := startBroker(t, testConfig())
	addr := b.Addrs()["tcp"]
	small := dialMax(t, addr, "small", 200, false)
	small.Sub(t, "size/#", 1)
	big := testutil.DialV5(t, addr, "big")
	big.Sub(t, "size/#", 1)
	pub := testutil.DialV5(t, addr, "pub")
	large := bytes.Repeat([]byte("x"), 500)
	for qos := byte(0); qos <= 1; qos++ {
		pub.Pub(t, "size/large", qos, large)
		pub.Pub(t, "size/small", qos, []byte("fits"))
		big.Expect(t, "size/large", large)
		big.Expect(t, "size/small", []byte("fits"))
		small.Expect(t, "size/small", []byte("fits")) // the large one never came first
	}
	// its PUBACKs in, so that nothing is owed but the large ones, if kept
	testutil.Eventually(t, 5*time.Second, "small's acknowledgements", func() bool {
		cl, ok := b.Server().Clients.Get("small")
		return ok && cl.State.Inflight.Len() == 0
	})
	_ = small.Disconnect(&paho.Disconnect{})
	again := dialMax(t, addr, "small", 200, false)
	if !again.Connack.SessionPresent {
		t.Fatal("session not resumed")
	}
	defer func() { _ = again.Disconnect(&paho.Disconnect{}) }()
	select {
	case m := <-again.Msgs:
		t.Fatalf("after a reconnect the session sent %s (%d bytes)", m.Topic, len(m.Payload))
	case <-time.After(300 * time.Millisecond):
	}
	pub.Pub(t, "size/small", 1, []byte("still"))
	again.Expect(t, "size/small", []byte("still"))
}
