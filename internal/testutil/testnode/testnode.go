// Package testnode starts real nodes in-process for tests: the shipped
// etc/ files plus environment overrides, each test on its own loopback range
// (testutil.Subnet).
package testnode

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"emqxgo/internal/config"
	"emqxgo/internal/node"
	"emqxgo/internal/testutil"
)

// Node is one running in-process node.
type Node struct {
	T    *testing.T
	N    *node.Node
	Name string
	Addr string // MQTT TCP listener
	API  string // the management HTTP API (host:port)
	// Dashboard is the dashboard's listener (host:port).
	Dashboard string
	Home      string
	Logs      *observer.ObservedLogs
	env       []string
	stop      bool
}

// Start runs a node named name with env overrides.
func Start(t *testing.T, name string, env ...string) *Node {
	t.Helper()
	n := Prepare(t, name, env...)
	n.Run()
	return n
}

// Prepare makes the node's home; Run starts it (so a test can start several
// nodes at the same instant).
func Prepare(t *testing.T, name string, env ...string) *Node {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	etc := filepath.Join(filepath.Dir(file), "..", "..", "..", "etc")
	plugins, _ := filepath.Glob(filepath.Join(etc, "plugins", "*.conf"))
	if err := os.MkdirAll(filepath.Join(home, "etc", "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range append([]string{"emqx.conf", "cluster.conf", "acl.conf"}, plugins...) {
		rel := f
		if filepath.IsAbs(f) {
			rel, _ = filepath.Rel(etc, f)
		}
		b, err := os.ReadFile(filepath.Join(etc, rel))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, "etc", rel), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	host := name[strings.IndexByte(name, '@')+1:]
	// The defaults, unless env sets the same variable.
	var all []string
	for _, d := range []string{"EMQX_NODE_NAME=" + name, "EMQX_LISTENER__TCP__EXTERNAL=" + host + ":0", "EMQX_NODE_COOKIE=testnode-cookie",
		"EMQX_MANAGEMENT__LISTENER__HTTP=" + host + ":0", "EMQX_DASHBOARD__LISTENER__HTTP=" + host + ":0"} {
		k, _, _ := strings.Cut(d, "=")
		if !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, k+"=") }) {
			all = append(all, d)
		}
	}
	env = append(all, env...)
	return &Node{T: t, Name: name, Home: home, env: env}
}

// Run starts a prepared node (again after Halt: same home, same data).
func (n *Node) Run() {
	n.T.Helper()
	if err := n.RunErr(); err != nil {
		n.T.Fatal(err)
	}
}

// RunErr is Run for goroutines: it returns the error instead of failing.
func (n *Node) RunErr() error {
	cfg, err := config.Load(config.Options{Home: n.Home, Env: n.env})
	if err != nil {
		return err
	}
	core, logs := observer.New(zapcore.InfoLevel)
	nd, err := node.New(cfg, zap.New(core))
	if err != nil {
		return err
	}
	if err := nd.Start(); err != nil {
		return err
	}
	n.N, n.Logs, n.stop = nd, logs, false
	n.Addr = nd.Broker().Addrs()["tcp"]
	n.API = nd.APIAddrs()["http"]
	n.Dashboard = nd.DashboardAddrs()["http"]
	n.T.Cleanup(func() {
		n.Halt()
		if n.T.Failed() {
			for _, e := range logs.All() {
				if e.Level >= zapcore.WarnLevel {
					n.T.Logf("%s %s %s %v", n.Name, e.Level, e.Message, e.ContextMap())
				}
			}
		}
	})
	return nil
}

// Halt stops the node (not a leave).
func (n *Node) Halt() {
	if n.stop || n.N == nil {
		return
	}
	n.stop = true
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_ = n.N.Stop(ctx)
}

// Names returns the sorted names of ns.
func Names(ns ...*Node) []string {
	var s []string
	for _, n := range ns {
		s = append(s, n.Name)
	}
	slices.Sort(s)
	return s
}

// WaitRunning waits until every node lists exactly ns as running (and, with
// links, has a link to each).
func WaitRunning(t *testing.T, within time.Duration, ns ...*Node) {
	t.Helper()
	all := Names(ns...)
	for _, n := range ns {
		testutil.Eventually(t, within, fmt.Sprintf("%s sees running %v with links up", n.Name, all), func() bool {
			st := n.N.Cluster().Status()
			return slices.Equal(st.Running, all) && len(st.Stopped) == 0 && len(n.N.Cluster().Links().Peers()) == len(ns)-1
		})
	}
}

// Join joins n to the cluster of to.
func Join(t *testing.T, n, to *Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.N.Cluster().Join(ctx, to.Name); err != nil {
		t.Fatalf("%s join %s: %v", n.Name, to.Name, err)
	}
}
