package fabric_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/testutil"
)

// TestRetainedExpiresEverywhere: a retained message with a message expiry
// is dropped on every node when it runs out (a tombstone of its version in
// the retained table, nothing sent), a node that joins later does not get
// it, and one without expiry stays.
func TestRetainedExpiresEverywhere(t *testing.T) {
	t.Parallel()
	net := testutil.Subnet(t)
	a := start(t, fmt.Sprintf("emqx1@127.0.%d.1", net))
	b := start(t, fmt.Sprintf("emqx2@127.0.%d.2", net))
	join(t, b, a)
	pub := testutil.DialV5(t, a.Addr, "exp-pub")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	expiry := uint32(1)
	if _, err := pub.Publish(ctx, &paho.Publish{Topic: "exp/short", QoS: 1, Retain: true, Payload: []byte("brief"),
		Properties: &paho.PublishProperties{MessageExpiry: &expiry}}); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Publish(ctx, &paho.Publish{Topic: "exp/kept", QoS: 1, Retain: true, Payload: []byte("kept")}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*tnode{a, b} {
		testutil.Eventually(t, 5*time.Second, n.Name+" retains both", func() bool {
			_, short := n.N.Broker().Server().Topics.Retained.Get("exp/short")
			_, kept := n.N.Broker().Server().Topics.Retained.Get("exp/kept")
			return short && kept
		})
	}
	for _, n := range []*tnode{a, b} {
		testutil.Eventually(t, 10*time.Second, n.Name+" drops the expired one", func() bool {
			_, short := n.N.Broker().Server().Topics.Retained.Get("exp/short")
			_, _, deleted, ok := n.N.Fabric().RetainedTable().VersionOf("exp/short")
			return !short && ok && deleted
		})
	}
	c := start(t, fmt.Sprintf("emqx3@127.0.%d.3", net))
	join(t, c, a)
	testutil.Eventually(t, 10*time.Second, "the late node has exp/kept and the tombstone of exp/short", func() bool {
		_, kept := c.N.Broker().Server().Topics.Retained.Get("exp/kept")
		_, _, deleted, ok := c.N.Fabric().RetainedTable().VersionOf("exp/short")
		return kept && ok && deleted
	})
	for _, n := range []*tnode{a, b, c} {
		if _, short := n.N.Broker().Server().Topics.Retained.Get("exp/short"); short {
			t.Fatalf("%s retains the expired message", n.Name)
		}
		sub := testutil.DialV5(t, n.Addr, "exp-sub-"+n.Name)
		sub.Sub(t, "exp/#", 1)
		if m := sub.Expect(t, "exp/kept", []byte("kept")); !m.Retain {
			t.Fatalf("%s: exp/kept without the retain flag", n.Name)
		}
		_ = sub.Disconnect(&paho.Disconnect{})
	}
}
