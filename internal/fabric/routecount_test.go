package fabric_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"emqxgo/internal/fabric"
	"emqxgo/internal/testutil"

	"github.com/eclipse/paho.golang/paho"
)

// TestRouteCountsFollowTheTable: routes.count and topics.count, which EMQX
// 4.4 both sets to the size of its route table (a record per topic and
// node, and per shared group on that node; members of a group are one), are
// kept as subscriptions come and go, peers' routes arrive and a stopped
// node's are dropped, and agree with the route listing (GET /routes, kept
// sorted between calls) and a pass over the table.
func TestRouteCountsFollowTheTable(t *testing.T) {
	t.Parallel()
	ns := cluster(t, 3)
	a, b, c := ns[0], ns[1], ns[2]
	expect := func(what string, routes int, on ...*tnode) {
		t.Helper()
		for _, n := range on {
			f := n.N.Fabric()
			var got string
			testutil.Eventually(t, 10*time.Second, what+" on "+n.Name, func() bool {
				r, listed, scanned := f.RouteCount(), f.Routes(), f.RoutesByScan()
				got = fmt.Sprintf("kept %d, listed %v, in the table %v", r, listed, scanned)
				if r != routes || len(scanned) != routes || !slices.Equal(listed, scanned) {
					return false
				}
				for _, rt := range scanned { // a topic's routes (GET /routes/{topic})
					var want []fabric.Route
					for _, o := range scanned {
						if o.Topic == rt.Topic {
							want = append(want, o)
						}
					}
					if of := f.RoutesOf(rt.Topic); !slices.Equal(of, want) {
						got += fmt.Sprintf("; routes of %s %v, want %v", rt.Topic, of, want)
						return false
					}
				}
				return true
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
	// c1's session outlives its connection: c stopping keeps its routes
	// until the peers drop them as it goes (PeerGone).
	c1, err := testutil.TryDialV5(c.Addr, "rc-c1", false)
	if err != nil {
		t.Fatal(err)
	}
	c1.Sub(t, "rc/x", 0)
	c1.Sub(t, "$share/g1/rc/z", 0)
	// a: rc/a; b: rc/x, rc/+/y, rc/x g1, rc/x g2, rc/q $queue (b2's are
	// b1's records); c: rc/x, rc/z g1.
	expect("all subscribed", 8, a, b, c)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// b1 leaves rc/x (plain and both groups) and rc/+/y, b2 its plain rc/x:
	// b still holds rc/x in g1 through b2. Each step changes the
	// figures, so that reaching them means the peers applied it.
	if _, err := b1.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{"rc/x", "$share/g1/rc/x", "$share/g2/rc/x", "rc/+/y"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b2.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{"rc/x"}}); err != nil {
		t.Fatal(err)
	}
	// a: rc/a; b: rc/x g1 (b2), rc/q $queue; c: rc/x, rc/z g1.
	expect("b keeps rc/x in g1 through b2", 5, a, b, c)
	_ = b2.Disconnect(&paho.Disconnect{})
	// b: rc/q $queue.
	expect("b's last rc/x gone", 4, a, b, c)
	c.Halt()
	// a: rc/a; b: rc/q.
	expect("c stopped", 2, a, b)
}
