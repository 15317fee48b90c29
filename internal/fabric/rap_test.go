package fabric_test

import (
	"context"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/testutil"
)

func subRAP(t *testing.T, v *testutil.V5, filter string, rap bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := v.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1, RetainAsPublished: rap}}}); err != nil {
		t.Fatal(err)
	}
}

func expectRetain(t *testing.T, v *testutil.V5, who, topic string, payload []byte, retain bool) {
	t.Helper()
	m := v.Expect(t, topic, payload)
	if m.Retain != retain {
		t.Fatalf("%s got %s with retain %v, want %v", who, topic, m.Retain, retain)
	}
}

// TestRetainAsPublishedAcrossNodes: a retained publish, and a will with
// retain, reach a Retain As Published subscriber on another node with the
// retain flag set and other subscribers without it [MQTT-3.3.1-12]
// [MQTT-3.3.1-13]; the retained message is stored there once, newest wins.
func TestRetainAsPublishedAcrossNodes(t *testing.T) {
	t.Parallel()
	ns := cluster(t, 2)
	a, b := ns[0], ns[1]
	rap := testutil.DialV5(t, b.Addr, "rap")
	subRAP(t, rap, "rap/#", true)
	plain := testutil.DialV5(t, b.Addr, "plain")
	subRAP(t, plain, "rap/#", false)
	waitRoute(t, a, "rap/x", b)
	pub := testutil.DialV5(t, a.Addr, "rap-pub")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := pub.Publish(ctx, &paho.Publish{Topic: "rap/x", QoS: 1, Retain: true, Payload: []byte("v1")}); err != nil {
		t.Fatal(err)
	}
	expectRetain(t, rap, "RAP subscriber", "rap/x", []byte("v1"), true)
	expectRetain(t, plain, "plain subscriber", "rap/x", []byte("v1"), false)
	if _, err := pub.Publish(ctx, &paho.Publish{Topic: "rap/x", QoS: 1, Retain: true, Payload: []byte("v2")}); err != nil {
		t.Fatal(err)
	}
	expectRetain(t, rap, "RAP subscriber", "rap/x", []byte("v2"), true)
	expectRetain(t, plain, "plain subscriber", "rap/x", []byte("v2"), false)
	// A new subscriber on b gets the newest retained message, once.
	late := testutil.DialV5(t, b.Addr, "late")
	testutil.Eventually(t, 5*time.Second, "b retains v2", func() bool {
		pk, ok := b.N.Broker().Server().Topics.Retained.Get("rap/x")
		return ok && string(pk.Payload) == "v2"
	})
	late.Sub(t, "rap/x", 1)
	expectRetain(t, late, "late subscriber", "rap/x", []byte("v2"), true)
	select {
	case m := <-late.Msgs:
		t.Fatalf("late subscriber got a second retained message %q", m.Payload)
	case <-time.After(200 * time.Millisecond):
	}
	// A will with retain, from a client of a, dropped without DISCONNECT.
	dies, err := testutil.TryConnectV5(a.Addr, &paho.Connect{ClientID: "dies-retained", CleanStart: true, KeepAlive: 30,
		WillMessage: &paho.WillMessage{Topic: "rap/will", QoS: 1, Retain: true, Payload: []byte("gone")}})
	if err != nil {
		t.Fatal(err)
	}
	dies.Conn.Close()
	expectRetain(t, rap, "RAP subscriber", "rap/will", []byte("gone"), true)
	expectRetain(t, plain, "plain subscriber", "rap/will", []byte("gone"), false)
}
