package fabric_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"emqxgo/internal/config"
	"emqxgo/internal/node"
	"emqxgo/internal/testutil"
)

// subnet gives each test its own 127.0.N.x range.
var subnet atomic.Int32

func init() { subnet.Store(160) }

type tnode struct {
	t    *testing.T
	n    *node.Node
	name string
	addr string // MQTT TCP listener
	cfg  *config.Config
	stop bool
}

// start runs a real node in-process from the shipped etc/ files plus env overrides.
func start(t *testing.T, name string, env ...string) *tnode {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"emqx.conf", "cluster.conf"} {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "etc", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, "etc", f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	host := name[len(name)-len("127.0.0.0"):]
	for i := range name {
		if name[i] == '@' {
			host = name[i+1:]
		}
	}
	env = append([]string{"EMQX_NODE_NAME=" + name, "EMQX_LISTENER__TCP__EXTERNAL=" + host + ":0", "EMQX_NODE_COOKIE=fabric-test"}, env...)
	cfg, err := config.Load(config.Options{Home: home, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.WarnLevel)
	n, err := node.New(cfg, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	tn := &tnode{t: t, n: n, name: name, addr: n.Broker().Addrs()["tcp"], cfg: cfg}
	t.Cleanup(func() {
		tn.halt()
		if t.Failed() {
			for _, e := range logs.All() {
				t.Logf("%s %s %s %v", name, e.Level, e.Message, e.ContextMap())
			}
		}
	})
	return tn
}

func (n *tnode) halt() {
	if n.stop {
		return
	}
	n.stop = true
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_ = n.n.Stop(ctx)
}

// cluster starts count nodes emqx1..N on a fresh loopback range and joins them.
func cluster(t *testing.T, count int, env ...string) []*tnode {
	t.Helper()
	net := subnet.Add(1)
	var ns []*tnode
	for i := 1; i <= count; i++ {
		ns = append(ns, start(t, fmt.Sprintf("emqx%d@127.0.%d.%d", i, net, i), env...))
	}
	for _, n := range ns[1:] {
		join(t, n, ns[0])
	}
	var all []string
	for _, n := range ns {
		all = append(all, n.name)
	}
	slices.Sort(all)
	for _, n := range ns {
		testutil.Eventually(t, 10*time.Second, n.name+" sees the whole cluster with links up", func() bool {
			st := n.n.Cluster().Status()
			return slices.Equal(st.Running, all) && len(n.n.Cluster().Links().Peers()) == count-1
		})
	}
	return ns
}

func join(t *testing.T, n, to *tnode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.n.Cluster().Join(ctx, to.name); err != nil {
		t.Fatalf("%s join %s: %v", n.name, to.name, err)
	}
}

// waitRoute waits until node n knows a route of peer for topic.
func waitRoute(t *testing.T, n *tnode, topic string, peers ...*tnode) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, n.name+" has routes for "+topic, func() bool {
		got := n.n.Fabric().RouteNodes(topic)
		for _, p := range peers {
			if !slices.Contains(got, p.name) {
				return false
			}
		}
		return true
	})
}
