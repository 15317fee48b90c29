package fabric_test

import (
	"context"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/testutil"
)

// TestSubscriptionIdentifiersAcrossNodes: a message delivered on another
// node carries the identifiers of the subscriber's subscriptions it matched
// there [MQTT-3.3.4-3], and none of the publisher's node (the test client
// reads one identifier per copy).
func TestSubscriptionIdentifiersAcrossNodes(t *testing.T) {
	t.Parallel()
	ns := cluster(t, 2)
	a, b := ns[0], ns[1]
	sub := testutil.DialV5(t, b.Addr, "sid-sub")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range []struct {
		filter string
		id     int
	}{{"sid/#", 7}, {"sid/x", 9}} {
		id := s.id
		if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: s.filter, QoS: 1}},
			Properties: &paho.SubscribeProperties{SubscriptionIdentifier: &id}}); err != nil {
			t.Fatal(err)
		}
	}
	other := testutil.DialV5(t, a.Addr, "sid-other") // a subscriber on the publisher's node with its own id
	id := 3
	if _, err := other.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "sid/#", QoS: 1}},
		Properties: &paho.SubscribeProperties{SubscriptionIdentifier: &id}}); err != nil {
		t.Fatal(err)
	}
	waitRoute(t, a, "sid/x", b)
	pub := testutil.DialV5(t, a.Addr, "sid-pub")
	pub.Pub(t, "sid/x", 1, []byte("m"))
	m := sub.Expect(t, "sid/x", []byte("m"))
	if m.Properties == nil || m.Properties.SubscriptionIdentifier == nil ||
		(*m.Properties.SubscriptionIdentifier != 7 && *m.Properties.SubscriptionIdentifier != 9) {
		t.Fatalf("copy on b carries identifier %+v, want 7 or 9 (the client reads one)", m.Properties)
	}
	if m := other.Expect(t, "sid/x", []byte("m")); m.Properties == nil || m.Properties.SubscriptionIdentifier == nil || *m.Properties.SubscriptionIdentifier != 3 {
		t.Fatalf("the publisher's node's subscriber got identifiers %+v, want [3]", m.Properties)
	}
}
