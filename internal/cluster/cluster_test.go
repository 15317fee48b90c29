package cluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"emqxgo/internal/emqxterm"
	"emqxgo/internal/nodename"
	"emqxgo/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testutil.IgnoreSerf()...) }

type tnode struct {
	t    *testing.T
	c    *Cluster
	cfg  Config
	stop bool
}

func testConfig(t *testing.T, name, dataDir string) Config {
	n, err := nodename.Parse(name)
	if err != nil {
		t.Fatal(err)
	}
	// memberlist may log from its goroutines after the test ends, so no zaptest
	// logger: warnings are kept and printed if the test fails.
	core, logs := observer.New(zapcore.WarnLevel)
	t.Cleanup(func() {
		if t.Failed() {
			for _, e := range logs.All() {
				t.Logf("%s %s %s %v", n.Name, e.Level, e.Message, e.ContextMap())
			}
		}
	})
	return Config{Name: n, Cookie: "secret", ClusterName: "emqxcl", DataDir: dataDir, Autoheal: true,
		Log: zap.New(core), ProbeInterval: 200 * time.Millisecond}
}

// trio returns configs for three nodes emqx1..3 on a fresh loopback range.
func trio(t *testing.T) []Config {
	net := testutil.Subnet(t)
	var cs []Config
	for i := 1; i <= 3; i++ {
		cs = append(cs, testConfig(t, fmt.Sprintf("emqx%d@127.0.%d.%d", i, net, i), t.TempDir()))
	}
	return cs
}

func startNode(t *testing.T, cfg Config) *tnode {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(nil); err != nil {
		t.Fatal(err)
	}
	n := &tnode{t: t, c: c, cfg: cfg}
	t.Cleanup(n.halt)
	return n
}

func (n *tnode) halt() {
	if !n.stop {
		n.stop = true
		n.c.Stop()
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func (n *tnode) waitStatus(running, stopped []string, within time.Duration) {
	n.t.Helper()
	var last Status
	testutil.Eventually(n.t, within, fmt.Sprintf("%s sees running=%v stopped=%v", n.c.self, running, stopped), func() bool {
		last = n.c.Status()
		return slices.Equal(last.Running, running) && slices.Equal(last.Stopped, stopped)
	})
}

func names(cs ...Config) []string {
	var s []string
	for _, c := range cs {
		s = append(s, c.Name.String())
	}
	slices.Sort(s)
	return s
}

func TestJoinLeaveForceLeave(t *testing.T) {
	t.Parallel()
	cs := trio(t)
	a, b, c := startNode(t, cs[0]), startNode(t, cs[1]), startNode(t, cs[2])
	if err := b.c.Join(ctx(t), cs[0].Name.String()); err != nil {
		t.Fatalf("join: %v", err)
	}
	// No '@' means this node's own host: emqx1@<c's address> does not run.
	if err := c.c.Join(ctx(t), cs[0].Name.Name); emqxterm.ReasonOf(err) != emqxterm.ReasonNodeDown || !strings.Contains(err.Error(), cs[2].Name.Host) {
		t.Fatalf("join by short name: %v", err)
	}
	if err := c.c.Join(ctx(t), cs[1].Name.String()); err != nil {
		t.Fatalf("join via b: %v", err)
	}
	all := names(cs...)
	for _, n := range []*tnode{a, b, c} {
		n.waitStatus(all, nil, 10*time.Second)
	}
	if err := c.c.Join(ctx(t), cs[0].Name.String()); emqxterm.ReasonOf(err) != emqxterm.ReasonAlreadyInCluster {
		t.Fatalf("join a member: %v", err)
	}
	if err := a.c.Join(ctx(t), cs[0].Name.String()); err != ErrIgnored {
		t.Fatalf("join self: %v", err)
	}
	// leave: peers drop c, c runs standalone.
	if err := c.c.Leave(ctx(t)); err != nil {
		t.Fatalf("leave: %v", err)
	}
	a.waitStatus(names(cs[0], cs[1]), nil, 10*time.Second)
	c.waitStatus(names(cs[2]), nil, time.Second)
	if err := c.c.Leave(ctx(t)); emqxterm.ReasonOf(err) != emqxterm.ReasonNotInCluster {
		t.Fatalf("second leave: %v", err)
	}
	// join again in the same process.
	if err := c.c.Join(ctx(t), cs[1].Name.String()); err != nil {
		t.Fatalf("rejoin: %v", err)
	}
	a.waitStatus(all, nil, 10*time.Second)
	// force-leave of a running node.
	if err := a.c.ForceLeave(ctx(t), cs[2].Name.String()); err != nil {
		t.Fatalf("force-leave running: %v", err)
	}
	a.waitStatus(names(cs[0], cs[1]), nil, 10*time.Second)
	b.waitStatus(names(cs[0], cs[1]), nil, 10*time.Second)
	c.waitStatus(names(cs[2]), nil, 10*time.Second)
	if err := a.c.ForceLeave(ctx(t), cs[2].Name.String()); emqxterm.ReasonOf(err) != emqxterm.ReasonNotInCluster {
		t.Fatalf("force-leave non-member: %v", err)
	}
	if err := a.c.ForceLeave(ctx(t), cs[0].Name.String()); err != ErrIgnored {
		t.Fatalf("force-leave self: %v", err)
	}
}

// formed starts the trio and joins b and c to a.
func formed(t *testing.T, cs []Config) []*tnode {
	t.Helper()
	ns := []*tnode{startNode(t, cs[0]), startNode(t, cs[1]), startNode(t, cs[2])}
	for _, n := range ns[1:] {
		if err := n.c.Join(ctx(t), cs[0].Name.String()); err != nil {
			t.Fatalf("%s join: %v", n.c.self, err)
		}
	}
	for _, n := range ns {
		n.waitStatus(names(cs...), nil, 10*time.Second)
	}
	return ns
}

func TestStopIsNotLeaveAndRestartRejoins(t *testing.T) {
	t.Parallel()
	cs := trio(t)
	ns := formed(t, cs)
	ns[2].halt()
	start := time.Now()
	ns[0].waitStatus(names(cs[0], cs[1]), names(cs[2]), 10*time.Second)
	ns[1].waitStatus(names(cs[0], cs[1]), names(cs[2]), 10*time.Second)
	t.Logf("stopped node shown as stopped after %s", time.Since(start))
	// Restart with the same data dir: it rejoins with no command.
	start = time.Now()
	c := startNode(t, cs[2])
	for _, n := range []*tnode{ns[0], ns[1], c} {
		n.waitStatus(names(cs...), nil, 15*time.Second)
	}
	t.Logf("restarted node running again after %s", time.Since(start))
	// Restart the whole cluster: every node comes back by itself.
	for _, n := range []*tnode{ns[0], ns[1], c} {
		n.halt()
	}
	var again []*tnode
	for _, cfg := range cs {
		again = append(again, startNode(t, cfg))
	}
	for _, n := range again {
		n.waitStatus(names(cs...), nil, 20*time.Second)
	}
}

func TestForceLeaveStoppedIsSticky(t *testing.T) {
	t.Parallel()
	cs := trio(t)
	ns := formed(t, cs)
	ns[2].halt()
	ns[0].waitStatus(names(cs[0], cs[1]), names(cs[2]), 10*time.Second)
	ns[1].waitStatus(names(cs[0], cs[1]), names(cs[2]), 10*time.Second)
	if err := ns[1].c.ForceLeave(ctx(t), cs[2].Name.String()); err != nil {
		t.Fatalf("force-leave stopped: %v", err)
	}
	ns[0].waitStatus(names(cs[0], cs[1]), nil, 10*time.Second)
	ns[1].waitStatus(names(cs[0], cs[1]), nil, 10*time.Second)
	// The removed node restarts with its stale record: refused, runs standalone.
	c := startNode(t, cs[2])
	c.waitStatus(names(cs[2]), nil, 15*time.Second)
	testutil.Eventually(t, 10*time.Second, "stale record dropped", func() bool {
		c.c.mu.Lock()
		defer c.c.mu.Unlock()
		return len(c.c.rec.Members) == 0
	})
	ns[0].waitStatus(names(cs[0], cs[1]), nil, time.Second)
	// It may join again explicitly.
	if err := c.c.Join(ctx(t), cs[0].Name.String()); err != nil {
		t.Fatalf("join after force-leave: %v", err)
	}
	ns[1].waitStatus(names(cs...), nil, 10*time.Second)
}

func TestAutoclean(t *testing.T) {
	t.Parallel()
	cs := trio(t)
	for i := range cs {
		cs[i].Autoclean = 2 * time.Second
	}
	ns := formed(t, cs)
	ns[2].halt()
	ns[0].waitStatus(names(cs[0], cs[1]), names(cs[2]), 10*time.Second)
	start := time.Now()
	ns[0].waitStatus(names(cs[0], cs[1]), nil, 15*time.Second)
	ns[1].waitStatus(names(cs[0], cs[1]), nil, 5*time.Second)
	t.Logf("stopped node autocleaned after %s (autoclean 2s)", time.Since(start))
}

func TestJoinAnotherClusterLeavesTheOld(t *testing.T) {
	t.Parallel()
	cs := trio(t)
	a, b, c := startNode(t, cs[0]), startNode(t, cs[1]), startNode(t, cs[2])
	if err := b.c.Join(ctx(t), cs[0].Name.String()); err != nil {
		t.Fatal(err)
	}
	a.waitStatus(names(cs[0], cs[1]), nil, 10*time.Second)
	// b moves to c's cluster: a sees b leave (not stop).
	if err := b.c.Join(ctx(t), cs[2].Name.String()); err != nil {
		t.Fatalf("join other cluster: %v", err)
	}
	a.waitStatus(names(cs[0]), nil, 10*time.Second)
	c.waitStatus(names(cs[1], cs[2]), nil, 10*time.Second)
	b.waitStatus(names(cs[1], cs[2]), nil, 10*time.Second)
}

func TestJoinRefusals(t *testing.T) {
	t.Parallel()
	cs := trio(t)
	cs[1].Cookie = "another-cookie"
	cs[2].ClusterName = "othercl"
	a, b, c := startNode(t, cs[0]), startNode(t, cs[1]), startNode(t, cs[2])
	for _, tc := range []struct {
		from   *tnode
		to     string
		reason string
	}{
		{a, cs[1].Name.String(), emqxterm.ReasonBadCookie},
		{b, cs[0].Name.String(), emqxterm.ReasonBadCookie},
		{a, cs[2].Name.String(), emqxterm.ReasonClusterNameMismatch},
		{c, cs[0].Name.String(), emqxterm.ReasonClusterNameMismatch},
		{a, fmt.Sprintf("emqx9@%s", cs[0].Name.Host), emqxterm.ReasonNodeDown},
		{a, "bad name", emqxterm.ReasonInvalidNodeName},
	} {
		err := tc.from.c.Join(ctx(t), tc.to)
		if emqxterm.ReasonOf(err) != tc.reason {
			t.Fatalf("%s join %s: %v, want %s", tc.from.c.self, tc.to, err, tc.reason)
		}
		want := "{" + tc.reason + ","
		if got := err.Error(); len(got) < len(want) || got[:len(want)] != want {
			t.Fatalf("error text %q", got)
		}
	}
	// Gossip itself refuses them too: another key, another label.
	for _, from := range []*tnode{b, c} {
		if _, err := from.c.serf.Join([]string{net.JoinHostPort(cs[0].Name.Host, "4371")}, true); err == nil {
			t.Fatalf("%s: gossip join across cookie/cluster.name succeeded", from.c.self)
		}
	}
	for _, n := range []*tnode{a, b, c} {
		n.waitStatus([]string{n.c.self}, nil, time.Second)
	}
}

// TestTLSLinks: rpc.driver = ssl; nodes with the CA join over TLS, a node
// speaking plain TCP cannot.
func TestTLSLinks(t *testing.T) {
	t.Parallel()
	cs := trio(t)
	certs := testutil.WriteCerts(t, t.TempDir(), cs[0].Name.Host, cs[1].Name.Host)
	cert, err := tls.LoadX509KeyPair(certs.CertFile, certs.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		cs[i].ServerTLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: certs.Pool, ClientAuth: tls.RequireAndVerifyClientCert}
		cs[i].ClientTLS = func(host string) *tls.Config {
			return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: certs.Pool, ServerName: host}
		}
	}
	a, b, c := startNode(t, cs[0]), startNode(t, cs[1]), startNode(t, cs[2])
	if err := b.c.Join(ctx(t), cs[0].Name.String()); err != nil {
		t.Fatalf("join over TLS: %v", err)
	}
	a.waitStatus(names(cs[0], cs[1]), nil, 10*time.Second)
	if err := c.c.Join(ctx(t), cs[0].Name.String()); err == nil {
		t.Fatal("plain-TCP node joined a TLS cluster")
	}
	a.waitStatus(names(cs[0], cs[1]), nil, time.Second)
}

// TestOneLinkPerPeerAndReconnect: every pair has exactly one link, and a
// broken link comes back by itself.
func TestOneLinkPerPeerAndReconnect(t *testing.T) {
	t.Parallel()
	cs := trio(t)
	ns := formed(t, cs)
	linkCount := func(n *tnode) int { return len(n.c.links.Peers()) }
	for _, n := range ns {
		testutil.Eventually(t, 10*time.Second, n.c.self+" has a link to each peer", func() bool { return linkCount(n) == 2 })
	}
	ns[0].c.links.Drop(cs[1].Name.String())
	testutil.Eventually(t, 10*time.Second, "link re-established", func() bool {
		return ns[0].c.links.Has(cs[1].Name.String()) && ns[1].c.links.Has(cs[0].Name.String())
	})
	for _, n := range ns {
		if got := linkCount(n); got != 2 {
			t.Fatalf("%s has %d links, want 2", n.c.self, got)
		}
		n.waitStatus(names(cs...), nil, time.Second)
	}
}

// TestStopTwice: Stop is safe twice, and on a cluster never started.
func TestStopTwice(t *testing.T) {
	t.Parallel()
	cs := trio(t)
	c, err := New(cs[0])
	if err != nil {
		t.Fatal(err)
	}
	c.Stop()
	c.Stop()
	n := startNode(t, cs[1])
	n.c.Stop()
	n.c.Stop() // and once more by the test's cleanup
}
