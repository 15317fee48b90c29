package fabric_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"emqxgo/internal/testutil"

	"github.com/eclipse/paho.golang/paho"
)

// TestRouteCountsFollowTheTable: routes.count and topics.count (one route
// per topic and node holding it, a shared group's filter counting as its
// topic) are kept as subscriptions come and go, peers' routes arrive and a
// stopped node's are dropped, and agree with a pass over the whole table.
func TestRouteCountsFollowTheTable(t *testing.T) {
	t.Parallel()
	ns := cluster(t, 3)
	a, b, c := ns[0], ns[1], ns[2]
	expect := func(what string, routes, topics int, on ...*tnode) {
		t.Helper()
		for _, n := range on {
			f := n.N.Fabric()
			var got string
			testutil.Eventually(t, 10*time.Second, what+" on "+n.Name, func() bool {
				r, tp := f.RouteCounts()
				sr, stp := f.RouteCountsByScan()
				got = fmt.Sprintf("kept %d/%d, scanned %d/%d", r, tp, sr, stp)
				return r == routes && tp == topics && sr == r && stp == tp
			})
			t.Logf("%s on %s: %s", what, n.Name, got)
		}
	}
	a1 := testutil.DialV5(t, a.Addr, "rc-a1")
	a1.Sub(t, "rc/a", 0)
	b1 := testutil.DialV5(t, b.Addr, "rc-b1")
	for _, f := range []string{"rc/x", "rc/+/y", "$share/g1/rc/x", "$share/g2/rc/x", "$queue/rc/q"} {
		b1.Sub(t, f, 1)
	}
	b2 := testutil.DialV5(t, b.Addr, "rc-b2")
	b2.Sub(t, "rc/x", 0)
	b2.Sub(t, "$share/g1/rc/x", 0)
	c1 := testutil.DialV5(t, c.Addr, "rc-c1")
	c1.Sub(t, "rc/x", 0)
	c1.Sub(t, "$share/g1/rc/z", 0)
	// a: rc/a; b: rc/x, rc/+/y, rc/q; c: rc/x, rc/z.
	expect("all subscribed", 6, 5, a, b, c)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := b1.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{"rc/x", "$share/g1/rc/x", "$share/g2/rc/x"}}); err != nil {
		t.Fatal(err)
	}
	// b2 still holds rc/x on b, plainly and in g1.
	if _, err := b2.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{"rc/x"}}); err != nil {
		t.Fatal(err)
	}
	expect("b keeps rc/x through a shared member", 6, 5, a, b, c)
	_ = b2.Disconnect(&paho.Disconnect{})
	expect("b's last rc/x gone", 5, 5, a, b, c)
	c.Halt()
	// a: rc/a; b: rc/+/y, rc/q.
	expect("c stopped", 3, 3, a, b)
}
