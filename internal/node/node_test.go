package node_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"

	"emqxgo/internal/config"
	"emqxgo/internal/ctlrpc"
	"emqxgo/internal/node"
	"emqxgo/internal/testutil"
	"emqxgo/internal/testutil/testnode"
)

func TestMain(m *testing.M) {
	// lumberjack's mill goroutine (TestCtlLog's file logger) has no way to end.
	goleak.VerifyTestMain(m, append(testutil.IgnoreSerf(), goleak.IgnoreTopFunction("gopkg.in/natefinch/lumberjack%2ev2.(*Logger).millRun"))...)
}

// TestStopTwice: a second Stop returns the first one's result and panics
// on nothing (the cluster, fabric, broker and ctl socket are each stopped once).
func TestStopTwice(t *testing.T) {
	n := testnode.Start(t, fmt.Sprintf("emqx@127.0.%d.1", testutil.Subnet(t)))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := n.N.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.N.Stop(ctx); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	select {
	case <-n.N.StopRequested():
	default:
		t.Fatal("StopRequested not closed by Stop")
	}
}

// TestFailedStartLeavesNothing: a Start that fails on the cluster port
// closes what it opened before (ctl socket, MQTT listener), and the node
// can then be started by a second process with the same ports.
func TestFailedStartLeavesNothing(t *testing.T) {
	host := fmt.Sprintf("127.0.%d.1", testutil.Subnet(t))
	blocker, err := net.Listen("tcp", net.JoinHostPort(host, "5370")) // emqx's cluster RPC port
	if err != nil {
		t.Fatal(err)
	}
	prep := testnode.Prepare(t, "emqx@"+host)
	mqttAddr := net.JoinHostPort(host, fmt.Sprint(freePort(t, host)))
	cfg, err := config.Load(config.Options{Home: prep.Home, Env: []string{"EMQX_NODE_NAME=emqx@" + host,
		"EMQX_LISTENER__TCP__EXTERNAL=" + mqttAddr, "EMQX_NODE_COOKIE=c",
		"EMQX_MANAGEMENT__LISTENER__HTTP=" + host + ":0", "EMQX_DASHBOARD__LISTENER__HTTP=" + host + ":0"}})
	if err != nil {
		t.Fatal(err)
	}
	nd, err := node.New(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if err := nd.Start(); err == nil {
		t.Fatal("start succeeded on a busy cluster port")
	}
	if _, err := os.Stat(filepath.Join(cfg.Node.DataDir, ctlrpc.SocketName)); !os.IsNotExist(err) {
		t.Fatalf("ctl socket left behind: %v", err)
	}
	if ln, err := net.Listen("tcp", mqttAddr); err != nil {
		t.Fatalf("MQTT port still bound: %v", err)
	} else {
		ln.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_ = nd.Stop(ctx) // stopping a node whose start failed is harmless
	blocker.Close()
	nd2, err := node.New(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if err := nd2.Start(); err != nil {
		t.Fatalf("start after the port was freed: %v", err)
	}
	if err := nd2.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T, host string) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
