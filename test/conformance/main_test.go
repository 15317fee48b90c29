// Package conformance_test checks the node against the normative statements
// of MQTT 3.1.1 and MQTT 5.0 that a server is responsible for. Every test
// runs against one shared 3-node cluster started in TestMain; clients are
// spread over the nodes the way a round-robin load balancer would place
// them. README.md maps each statement to its test.
package conformance_test

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

	"emqxgo/internal/config"
	"emqxgo/internal/node"
	"emqxgo/internal/testutil"
)

// Settings of the shared cluster that the tests rely on.
const (
	maxPacketSize = 64 * 1024 // mqtt.max_packet_size
	maxTopicAlias = 8         // mqtt.max_topic_alias
	clusterSize   = 3
)

// cl is the shared cluster.
var cl struct {
	nodes   []*node.Node
	names   []string
	addrs   []string
	wsAddrs []string // the WebSocket listeners (path wsPath)
	rr      atomic.Uint32
}

// wsPath is the MQTT path of the WebSocket listeners (the shipped default).
const wsPath = "/mqtt"

// wsAddr returns the WebSocket address of node i (0-based, modulo the cluster size).
func wsAddr(i int) string { return cl.wsAddrs[i%len(cl.wsAddrs)] }

// addr returns the MQTT address of node i (0-based, modulo the cluster size).
func addr(i int) string { return cl.addrs[i%len(cl.addrs)] }

// next returns the address of the next node in round-robin order.
func next() string { return addr(int(cl.rr.Add(1))) }

// mainTB lends testutil.Subnet the few testing.TB methods it uses while no
// test is running yet.
type mainTB struct {
	testing.TB
	cleanups []func()
}

func (m *mainTB) Helper()                        {}
func (m *mainTB) Cleanup(f func())               { m.cleanups = append(m.cleanups, f) }
func (m *mainTB) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }
func (m *mainTB) Fatal(a ...any)                 { panic(fmt.Sprint(a...)) }

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	tb := &mainTB{}
	defer func() {
		for i := len(tb.cleanups) - 1; i >= 0; i-- {
			tb.cleanups[i]()
		}
	}()
	stop, err := startCluster(testutil.Subnet(tb))
	defer stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance cluster:", err)
		return 1
	}
	return m.Run()
}

// startCluster starts clusterSize nodes on 127.0.net.0/24 with the shipped
// etc/ files and joins them; stop halts them and removes their homes.
func startCluster(net int) (stop func(), err error) {
	_, file, _, _ := runtime.Caller(0)
	etc := filepath.Join(filepath.Dir(file), "..", "..", "etc")
	var homes []string
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		for _, n := range cl.nodes {
			_ = n.Stop(ctx)
		}
		for _, h := range homes {
			_ = os.RemoveAll(h)
		}
	}
	for i := 1; i <= clusterSize; i++ {
		name := fmt.Sprintf("emqx%d@127.0.%d.%d", i, net, i)
		home, err := os.MkdirTemp("", "conformance-")
		if err != nil {
			return stop, err
		}
		homes = append(homes, home)
		if err := os.MkdirAll(filepath.Join(home, "etc"), 0o755); err != nil {
			return stop, err
		}
		for _, f := range []string{"emqx.conf", "cluster.conf"} {
			b, err := os.ReadFile(filepath.Join(etc, f))
			if err != nil {
				return stop, err
			}
			if err := os.WriteFile(filepath.Join(home, "etc", f), b, 0o644); err != nil {
				return stop, err
			}
		}
		env := []string{
			"EMQX_NODE_NAME=" + name,
			fmt.Sprintf("EMQX_LISTENER__TCP__EXTERNAL=127.0.%d.%d:0", net, i), fmt.Sprintf("EMQX_MANAGEMENT__LISTENER__HTTP=127.0.%d.%d:0", net, i),
			fmt.Sprintf("EMQX_DASHBOARD__LISTENER__HTTP=127.0.%d.%d:0", net, i),
			fmt.Sprintf("EMQX_LISTENER__WS__EXTERNAL=127.0.%d.%d:0", net, i),
			"EMQX_NODE_COOKIE=conformance-cookie",
			fmt.Sprintf("EMQX_MQTT__MAX_PACKET_SIZE=%dKB", maxPacketSize/1024),
			fmt.Sprintf("EMQX_MQTT__MAX_TOPIC_ALIAS=%d", maxTopicAlias),
		}
		cfg, err := config.Load(config.Options{Home: home, Env: env})
		if err != nil {
			return stop, err
		}
		nd, err := node.New(cfg, zap.NewNop())
		if err != nil {
			return stop, err
		}
		if err := nd.Start(); err != nil {
			return stop, err
		}
		cl.nodes = append(cl.nodes, nd)
		cl.names = append(cl.names, name)
		cl.addrs = append(cl.addrs, nd.Broker().Addrs()["tcp"])
		cl.wsAddrs = append(cl.wsAddrs, nd.Broker().Addrs()["ws"])
	}
	for _, n := range cl.nodes[1:] {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := n.Cluster().Join(ctx, cl.names[0])
		cancel()
		if err != nil {
			return stop, err
		}
	}
	all := slices.Sorted(slices.Values(cl.names))
	deadline := time.Now().Add(15 * time.Second)
	for _, n := range cl.nodes {
		for {
			st := n.Cluster().Status()
			if slices.Equal(st.Running, all) && len(st.Stopped) == 0 && len(n.Cluster().Links().Peers()) == clusterSize-1 {
				break
			}
			if time.Now().After(deadline) {
				return stop, fmt.Errorf("cluster not formed: %+v", st)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return stop, nil
}

// waitRoute waits until every node knows that each node in on has a
// subscription matching topic, so that a publish on any node reaches it.
func waitRoute(t testing.TB, topic string, on ...int) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, "routes for "+topic, func() bool {
		for j, n := range cl.nodes {
			got := n.Fabric().RouteNodes(topic)
			for _, i := range on {
				if i%len(cl.names) != j && !slices.Contains(got, cl.names[i%len(cl.names)]) {
					return false
				}
			}
		}
		return true
	})
}

// uniq returns a name unique to the test (client ids, topics).
func uniq(t testing.TB, s string) string {
	return fmt.Sprintf("%s-%s-%d", t.Name(), s, seq.Add(1))
}

var seq atomic.Uint64
