package fabric_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"emqxgo/internal/testutil"
	"emqxgo/internal/testutil/testnode"
)

type tnode = testnode.Node

func start(t *testing.T, name string, env ...string) *tnode { return testnode.Start(t, name, env...) }

// cluster starts count nodes emqx1..N on a fresh loopback range and joins them.
func cluster(t *testing.T, count int, env ...string) []*tnode {
	t.Helper()
	net := testutil.Subnet(t)
	var ns []*tnode
	for i := 1; i <= count; i++ {
		ns = append(ns, start(t, fmt.Sprintf("emqx%d@127.0.%d.%d", i, net, i), env...))
	}
	for _, n := range ns[1:] {
		join(t, n, ns[0])
	}
	testnode.WaitRunning(t, 10*time.Second, ns...)
	return ns
}

func join(t *testing.T, n, to *tnode) { testnode.Join(t, n, to) }

// waitRoute waits until node n knows a route of peer for topic.
func waitRoute(t *testing.T, n *tnode, topic string, peers ...*tnode) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, n.Name+" has routes for "+topic, func() bool {
		got := n.N.Fabric().RouteNodes(topic)
		for _, p := range peers {
			if !slices.Contains(got, p.Name) {
				return false
			}
		}
		return true
	})
}
