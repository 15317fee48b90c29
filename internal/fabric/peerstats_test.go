package fabric_test

import (
	"fmt"
	"testing"
	"time"

	"emqxgo/internal/fabric"
	"emqxgo/internal/testutil"
)

func peerStats(f *fabric.Fabric, peer string) (fabric.PeerStats, bool) {
	for _, s := range f.PeerStats() {
		if s.Peer == peer {
			return s, true
		}
	}
	return fabric.PeerStats{}, false
}

// TestPeerStats: the figures a node keeps per peer follow real traffic:
// messages forwarded to a subscriber's node are counted and acknowledged,
// the peer's routes are counted; with the peer stopped its link shows
// down and its counts stay.
func TestPeerStats(t *testing.T) {
	t.Parallel()
	ns := cluster(t, 2)
	a, b := ns[0], ns[1]
	sub := testutil.DialV5(t, b.Addr, "stats-sub")
	sub.Sub(t, "stats/#", 1)
	sub.Sub(t, "other/+", 0)
	waitRoute(t, a, "stats/x", b)
	pub := testutil.DialV5(t, a.Addr, "stats-pub")
	const n = 20
	for i := range n {
		p := []byte(fmt.Sprint(i))
		pub.Pub(t, "stats/x", 1, p)
		sub.Expect(t, "stats/x", p)
	}
	testutil.Eventually(t, 10*time.Second, "forwarded messages counted and acknowledged", func() bool {
		s, ok := peerStats(a.N.Fabric(), b.Name)
		return ok && s.Linked && s.Forwarded >= n && s.Unacked == 0 && s.Queued == 0 && s.Dropped == 0 && s.Routes == 2
	})
	if s, ok := peerStats(b.N.Fabric(), a.Name); !ok || !s.Linked || s.Routes != 0 {
		t.Fatalf("%s's figures for %s: %+v", b.Name, a.Name, s)
	}

	b.Halt()
	testutil.Eventually(t, 10*time.Second, "the link to the stopped node down", func() bool {
		s, _ := peerStats(a.N.Fabric(), b.Name)
		return !s.Linked
	})
	if s, _ := peerStats(a.N.Fabric(), b.Name); s.Forwarded < n {
		t.Fatalf("counts of the stopped peer lost: %+v", s)
	}
}
