package broker

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/testutil"
)

// TestStalledSubscriberDoesNotHoldPublisher: messages are written to a
// subscriber's connection on the publisher's goroutine (pumpHere). A
// subscriber on the same node that never reads fills its socket; the
// publisher's goroutine never waits for it, so a second subscriber gets
// every message, and the publisher's own acknowledgements keep coming.
func TestStalledSubscriberDoesNotHoldPublisher(t *testing.T) {
	b := startBroker(t, testConfig())
	addr := b.Addrs()["tcp"]
	testutil.StalledSubscriber(t, addr, "stalled", "load/#")
	fast := testutil.DialV5(t, addr, "fast")
	fast.Sub(t, "load/#", 0)
	var got atomic.Int64
	fast.Each(t, func(*paho.Publish) { got.Add(1) })
	pub := testutil.DialV5(t, addr, "pub")
	const total = 20000
	payload := bytes.Repeat([]byte("x"), 1024)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for i := range total {
		if i%500 == 0 { // QoS 1 now and then: its PUBACK comes back through the same goroutine
			if _, err := pub.Publish(ctx, &paho.Publish{Topic: "load/x", QoS: 1, Payload: payload}); err != nil {
				t.Fatalf("publish %d: %v", i, err)
			}
		} else if _, err := pub.Publish(ctx, &paho.Publish{Topic: "load/x", QoS: 0, Payload: payload}); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if i%250 == 249 { // within the subscriber's queue: this is about the stalled one
			testutil.Eventually(t, 20*time.Second, "the fast subscriber keeps up", func() bool { return got.Load() >= int64(i-500) })
		}
	}
	testutil.Eventually(t, 30*time.Second, "the fast subscriber got everything", func() bool { return got.Load() == total })
}
