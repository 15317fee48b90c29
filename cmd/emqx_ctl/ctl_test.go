package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"emqxgo/internal/ctlrpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	self    = "emqx@127.0.0.1" // the default node.name
	other   = "emqx2@127.0.0.1"
	version = "9.9.9-test"
)

// nodeUsage is the fake node's answer to "$usage".
const nodeUsage = "Usage: emqx_ctl\n" + "----\n" + "status    # Show broker status\n"

// Status lines as the node's answers render them.
const (
	aloneLine   = "Cluster status: [{running_nodes,['emqx@127.0.0.1']}]\n"
	twoLine     = "Cluster status: [{running_nodes,['emqx2@127.0.0.1','emqx@127.0.0.1']}]\n"
	stoppedLine = "Cluster status: [{running_nodes,['emqx@127.0.0.1']},{stopped_nodes,['emqx2@127.0.0.1']}]\n"
)

// fakeNode is a test double of the node behind the ctl socket: its answers
// have the shapes internal/node's Handle gives (the cluster status on every
// cluster command, none on status and discovery enable), with the failure
// reason or "ignored" the test sets for the next cluster command.
type fakeNode struct {
	mu      sync.Mutex
	running []string
	stopped []string
	reason  string // the failure of join, leave, force-leave or discovery enable; "" = ok
	ignored bool   // join self, force-leave self
	got     []ctlrpc.Request
}

func (f *fakeNode) Handle(req ctlrpc.Request) ctlrpc.Response {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, req)
	resp := ctlrpc.Response{Node: self, Version: version, Pid: 4242}
	switch req.Op {
	case ctlrpc.OpPing, ctlrpc.OpStatus:
		resp.Listeners = map[string]string{"tcp": "127.0.0.1:1883"}
	case ctlrpc.OpStop:
	case ctlrpc.OpClusterStatus:
	case ctlrpc.OpDiscoveryEnable:
		resp.Error = f.reason
	case ctlrpc.OpJoin, ctlrpc.OpLeave, ctlrpc.OpForceLeave:
		resp.Error, resp.Ignored = f.reason, f.ignored
	case ctlrpc.OpCommand:
		switch strings.Join(req.Args, " ") {
		case "plugins list":
			resp.Output = "Plugin(emqx_auth_http, description=d, active=false)\n"
			return resp
		case "$usage":
			resp.Output = nodeUsage
			return resp
		}
		resp.Error = "unknown_command"
	default:
		resp.Error = "unknown_command"
	}
	if req.Op != ctlrpc.OpPing && req.Op != ctlrpc.OpStatus && req.Op != ctlrpc.OpStop && req.Op != ctlrpc.OpDiscoveryEnable {
		resp.Cluster = &ctlrpc.ClusterStatus{Running: f.running, Stopped: f.stopped}
	}
	return resp
}

// set prepares the answer to the next requests and forgets what was received.
func (f *fakeNode) set(running, stopped []string, reason string, ignored bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running, f.stopped, f.reason, f.ignored, f.got = running, stopped, reason, ignored, nil
}

func (f *fakeNode) requests() []ctlrpc.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ctlrpc.Request(nil), f.got...)
}

type handlerFunc func(ctlrpc.Request) ctlrpc.Response

func (h handlerFunc) Handle(r ctlrpc.Request) ctlrpc.Response { return h(r) }

// release makes a release home with empty config files and points the
// environment at it (EMQX_HOME, EMQX_NODE__DATA_DIR), clearing every other
// EMQX_* variable. It returns the data dir.
func release(t *testing.T) (home, dataDir string) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(strings.ToUpper(name), "EMQX_") {
			t.Setenv(name, "") // restores the value after the test
			os.Unsetenv(name)
		}
	}
	home, err := os.MkdirTemp("", "ctl") // short: a socket path has at most 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	dataDir = filepath.Join(home, "data")
	for _, d := range []string{filepath.Join(home, "etc"), dataDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"emqx.conf", "cluster.conf"} {
		if err := os.WriteFile(filepath.Join(home, "etc", f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("EMQX_HOME", home)
	t.Setenv("EMQX_NODE__DATA_DIR", dataDir)
	return home, dataDir
}

// serve runs a real ctl server with h on the socket of dataDir until the test ends.
func serve(t *testing.T, dataDir string, h ctlrpc.Handler) {
	t.Helper()
	ln, err := net.Listen("unix", ctlrpc.SocketPath(dataDir))
	if err != nil {
		t.Fatal(err)
	}
	s := ctlrpc.NewServer(ln, h, zaptest.NewLogger(t))
	s.Start()
	t.Cleanup(s.Close)
}

// run executes emqx_ctl in-process.
func run(args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = execute(args, &o, &e)
	return o.String(), e.String(), code
}

type ctlCase struct {
	args    []string
	running []string // the node's answer
	stopped []string
	reason  string
	ignored bool

	out, err string
	code     int
	req      *ctlrpc.Request // what the node must have received; nil: nothing
}

func (c ctlCase) check(t *testing.T, node *fakeNode) {
	t.Helper()
	if node != nil {
		node.set(c.running, c.stopped, c.reason, c.ignored)
	}
	out, errOut, code := run(c.args...)
	if out != c.out || errOut != c.err || code != c.code {
		t.Errorf("emqx_ctl %q:\nexit %d, want %d\nstdout %q\nwant   %q\nstderr %q\nwant   %q", c.args, code, c.code, out, c.out, errOut, c.err)
	}
	if node == nil {
		return
	}
	var want []ctlrpc.Request
	if c.req != nil {
		want = []ctlrpc.Request{*c.req}
	}
	if got := node.requests(); !reflect.DeepEqual(got, want) {
		t.Errorf("emqx_ctl %q: node received %+v, want %+v", c.args, got, want)
	}
}

func args(s string) []string { return strings.Fields(s) }

func TestCtlCommands(t *testing.T) {
	_, data := release(t)
	node := &fakeNode{}
	serve(t, data, node)

	alone := []string{self}
	two := []string{self, other}
	req := func(op, node string) *ctlrpc.Request { return &ctlrpc.Request{Op: op, Node: node} }
	usageErr := func(msg string) string { return msg + "\n" + usage }
	joinFailed := func(reason string) string { return "Failed to join the cluster: " + reason + "\n" }

	for _, c := range []ctlCase{
		// Usage and help: stdout, exit 0; the running node's usage (every
		// command it answers), a subcommand's help the static usage.
		{args: nil, out: nodeUsage, req: &ctlrpc.Request{Op: ctlrpc.OpCommand, Args: []string{"$usage"}}},
		{args: args("--help"), out: nodeUsage, req: &ctlrpc.Request{Op: ctlrpc.OpCommand, Args: []string{"$usage"}}},
		{args: args("help"), out: nodeUsage, req: &ctlrpc.Request{Op: ctlrpc.OpCommand, Args: []string{"$usage"}}},
		{args: args("cluster --help"), out: usage},
		// Usage errors: stderr, exit 1.
		// Commands emqx_ctl does not know go to the node, which knows these not either.
		{args: args("nosuch"), err: usageErr("Unknown command: nosuch"), code: 1, req: &ctlrpc.Request{Op: ctlrpc.OpCommand, Args: args("nosuch")}},
		{args: args("nosuch a b"), err: usageErr("Unknown command: nosuch a b"), code: 1, req: &ctlrpc.Request{Op: ctlrpc.OpCommand, Args: args("nosuch a b")}},
		{args: args("plugins list"), out: "Plugin(emqx_auth_http, description=d, active=false)\n", req: &ctlrpc.Request{Op: ctlrpc.OpCommand, Args: args("plugins list")}},
		{args: args("cluster"), err: usage, code: 1},
		{args: args("cluster nosuch"), err: usageErr("Unknown command: cluster nosuch"), code: 1},
		{args: args("cluster discovery"), err: usage, code: 1},
		{args: args("cluster discovery nosuch"), err: usageErr("Unknown command: cluster discovery nosuch"), code: 1},
		{args: args("status now"), err: usageErr("Unknown command: status now"), code: 1},
		{args: args("cluster status --bad"), err: usageErr("unknown flag: --bad"), code: 1},
		{args: args("cluster status x"), err: usageErr("Unknown command: cluster status x"), code: 1},
		{args: args("cluster join"), err: usageErr("accepts 1 arg(s), received 0"), code: 1},
		{args: args("cluster join a b"), err: usageErr("accepts 1 arg(s), received 2"), code: 1},
		{args: args("join"), err: usageErr("accepts 1 arg(s), received 0"), code: 1},
		{args: args("cluster force-leave"), err: usageErr("accepts 1 arg(s), received 0"), code: 1},
		{args: args("force-leave a b"), err: usageErr("accepts 1 arg(s), received 2"), code: 1},
		{args: args("cluster leave now"), err: usageErr("accepts 0 arg(s), received 1"), code: 1},
		{args: args("leave now"), err: usageErr("accepts 0 arg(s), received 1"), code: 1},
		{args: args("cluster discovery enable now"), err: usageErr("accepts 0 arg(s), received 1"), code: 1},

		// status
		{args: args("status"), out: "Node 'emqx@127.0.0.1' 9.9.9-test is started\n", req: req(ctlrpc.OpStatus, "")},

		// cluster status
		{args: args("cluster status"), running: alone, out: aloneLine, req: req(ctlrpc.OpClusterStatus, "")},
		{args: args("cluster status"), running: []string{other, self}, out: twoLine, req: req(ctlrpc.OpClusterStatus, "")},
		{args: args("cluster status"), running: alone, stopped: []string{other}, out: stoppedLine, req: req(ctlrpc.OpClusterStatus, "")},
		{args: args("cluster status --json"), running: alone,
			out: `{"running_nodes":["emqx@127.0.0.1"],"stopped_nodes":[]}` + "\n", req: req(ctlrpc.OpClusterStatus, "")},
		{args: args("cluster status --json"), running: []string{self, other},
			out: `{"running_nodes":["emqx2@127.0.0.1","emqx@127.0.0.1"],"stopped_nodes":[]}` + "\n", req: req(ctlrpc.OpClusterStatus, "")},
		{args: args("cluster status --json"), running: alone, stopped: []string{other},
			out: `{"running_nodes":["emqx@127.0.0.1"],"stopped_nodes":["emqx2@127.0.0.1"]}` + "\n", req: req(ctlrpc.OpClusterStatus, "")},

		// join, with and without the word "cluster"
		{args: args("cluster join emqx2@127.0.0.1"), running: two,
			out: "Join the cluster successfully.\n" + twoLine, req: req(ctlrpc.OpJoin, other)},
		{args: args("join emqx2@127.0.0.1"), running: two,
			out: "Join the cluster successfully.\n" + twoLine, req: req(ctlrpc.OpJoin, other)},
		{args: args("cluster join emqx@127.0.0.1"), running: alone, ignored: true, out: "Ignore.\n", req: req(ctlrpc.OpJoin, self)},
		{args: args("join emqx"), running: alone, ignored: true, out: "Ignore.\n", req: req(ctlrpc.OpJoin, "emqx")},
		{args: args("cluster join emqx2@127.0.0.1"), running: two, reason: "{already_in_cluster,'emqx2@127.0.0.1'}",
			err: joinFailed("{already_in_cluster,'emqx2@127.0.0.1'}"), code: 1, req: req(ctlrpc.OpJoin, other)},
		{args: args("cluster join emqx2@127.0.0.1"), running: alone, reason: "{node_down,'emqx2@127.0.0.1'}",
			err: joinFailed("{node_down,'emqx2@127.0.0.1'}"), code: 1, req: req(ctlrpc.OpJoin, other)},
		{args: args("join emqx2"), running: alone, reason: "{node_down,'emqx2@127.0.0.1'}",
			err: joinFailed("{node_down,'emqx2@127.0.0.1'}"), code: 1, req: req(ctlrpc.OpJoin, "emqx2")},
		{args: args("cluster join emqx2@127.0.0.1"), running: alone, reason: "{bad_cookie,'emqx2@127.0.0.1'}",
			err: joinFailed("{bad_cookie,'emqx2@127.0.0.1'}"), code: 1, req: req(ctlrpc.OpJoin, other)},
		{args: args("cluster join emqx2@127.0.0.1"), running: alone, reason: "{cluster_name_mismatch,'emqx2@127.0.0.1'}",
			err: joinFailed("{cluster_name_mismatch,'emqx2@127.0.0.1'}"), code: 1, req: req(ctlrpc.OpJoin, other)},
		{args: args("cluster join emqx2@127.0.0.1"), running: alone, reason: "{node_name_mismatch,'emqx2@127.0.0.1'}",
			err: joinFailed("{node_name_mismatch,'emqx2@127.0.0.1'}"), code: 1, req: req(ctlrpc.OpJoin, other)},
		{args: args("cluster join emqx2@127.0.0.1"), running: alone, reason: "{protocol_error,'emqx2@127.0.0.1'}",
			err: joinFailed("{protocol_error,'emqx2@127.0.0.1'}"), code: 1, req: req(ctlrpc.OpJoin, other)},
		{args: []string{"cluster", "join", "bad name"}, running: alone, reason: "{invalid_node_name,'bad name@127.0.0.1'}",
			err: joinFailed("{invalid_node_name,'bad name@127.0.0.1'}"), code: 1, req: req(ctlrpc.OpJoin, "bad name")},

		// leave
		{args: args("cluster leave"), running: alone, out: "Leave the cluster successfully.\n" + aloneLine, req: req(ctlrpc.OpLeave, "")},
		{args: args("leave"), running: alone, out: "Leave the cluster successfully.\n" + aloneLine, req: req(ctlrpc.OpLeave, "")},
		{args: args("cluster leave"), running: alone, reason: "node_not_in_cluster",
			err: "Failed to leave the cluster: node_not_in_cluster\n", code: 1, req: req(ctlrpc.OpLeave, "")},
		{args: args("leave"), running: alone, reason: "node_not_in_cluster",
			err: "Failed to leave the cluster: node_not_in_cluster\n", code: 1, req: req(ctlrpc.OpLeave, "")},

		// force-leave
		{args: args("cluster force-leave emqx2@127.0.0.1"), running: alone,
			out: "Remove the node from cluster successfully.\n" + aloneLine, req: req(ctlrpc.OpForceLeave, other)},
		{args: args("force-leave emqx2@127.0.0.1"), running: alone,
			out: "Remove the node from cluster successfully.\n" + aloneLine, req: req(ctlrpc.OpForceLeave, other)},
		{args: args("cluster force-leave emqx@127.0.0.1"), running: two, ignored: true, out: "Ignore.\n", req: req(ctlrpc.OpForceLeave, self)},
		{args: args("cluster force-leave emqx2@127.0.0.1"), running: alone, reason: "node_not_in_cluster",
			err: "Failed to remove the node from cluster: node_not_in_cluster\n", code: 1, req: req(ctlrpc.OpForceLeave, other)},
		{args: args("force-leave emqx2@127.0.0.1"), running: two, reason: "{node_down,'emqx2@127.0.0.1'}",
			err: "Failed to remove the node from cluster: {node_down,'emqx2@127.0.0.1'}\n", code: 1, req: req(ctlrpc.OpForceLeave, other)},

		// cluster discovery enable
		{args: args("cluster discovery enable"), out: "Automatic cluster discovery enabled.\n", req: req(ctlrpc.OpDiscoveryEnable, "")},
		{args: args("cluster discovery enable"), reason: "cluster.discovery = manual runs no automatic discovery",
			err: "Failed to enable cluster discovery: cluster.discovery = manual runs no automatic discovery\n", code: 1,
			req: req(ctlrpc.OpDiscoveryEnable, "")},
	} {
		c.check(t, node)
	}
}

// Every command that needs the node says so when nothing answers on the
// socket: no socket file, or a stale one left by a node that died.
func TestCtlNodeNotRunning(t *testing.T) {
	_, data := release(t)
	down := "Node 'emqx@127.0.0.1' not responding to pings.\n"
	cmds := []string{"status", "cluster status", "cluster status --json", "cluster join emqx2@127.0.0.1", "join emqx2",
		"cluster leave", "leave", "cluster force-leave emqx2@127.0.0.1", "force-leave emqx2", "cluster discovery enable"}
	for _, cmd := range cmds {
		ctlCase{args: args(cmd), err: down, code: 1}.check(t, nil)
	}
	// A stale socket file.
	if err := os.WriteFile(ctlrpc.SocketPath(data), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range cmds {
		ctlCase{args: args(cmd), err: down, code: 1}.check(t, nil)
	}
	// The name is the configured one.
	t.Setenv("EMQX_NODE__NAME", "emqx7@10.0.0.7")
	ctlCase{args: args("status"), err: "Node 'emqx7@10.0.0.7' not responding to pings.\n", code: 1}.check(t, nil)
	// Usage does not need the node.
	ctlCase{args: nil, out: usage}.check(t, nil)
	ctlCase{args: args("cluster join"), err: "accepts 1 arg(s), received 0\n" + usage, code: 1}.check(t, nil)
}

func TestCtlInvalidConfiguration(t *testing.T) {
	home, data := release(t)
	node := &fakeNode{}
	serve(t, data, node)
	conf := filepath.Join(home, "etc", "emqx.conf")
	if err := os.WriteFile(conf, []byte("node.nosuch = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := "Invalid configuration:\n" + conf + `:1: node.nosuch = "1": unknown key` + "\n"
	for _, cmd := range []string{"status", "cluster status", "cluster join emqx2@127.0.0.1", "leave", "force-leave emqx2", "cluster discovery enable"} {
		ctlCase{args: args(cmd), err: bad, code: 1}.check(t, node)
	}
	// Every problem is listed, the environment's too.
	t.Setenv("EMQX_NODE__COOKIEE", "x")
	ctlCase{args: args("status"), err: bad +
		`env EMQX_NODE__COOKIEE: node.cookiee = "******": unknown key; did you mean node.cookie (EMQX_NODE__COOKIE)?` + "\n", code: 1}.check(t, node)
	// Usage does not read the configuration; a command only the node knows
	// does (the node answers it).
	ctlCase{args: nil, out: usage}.check(t, node)
	ctlCase{args: args("plugins list"), err: bad + `env EMQX_NODE__COOKIEE: node.cookiee = "******": unknown key; did you mean node.cookie (EMQX_NODE__COOKIE)?` + "\n", code: 1}.check(t, node)
}

// A node that answers something else than the protocol: the CLI says so, exit 1.
func TestCtlBadAnswers(t *testing.T) {
	_, data := release(t)
	ln, err := net.Listen("unix", ctlrpc.SocketPath(data))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 1024)
			_, _ = c.Read(buf)
			_, _ = c.Write([]byte("garbage\n"))
			c.Close()
		}
	}()
	ctlCase{args: args("status"), err: "bad answer from node: invalid character 'g' looking for beginning of value\n", code: 1}.check(t, nil)
	ln.Close()
	wg.Wait()

	// cluster status without the cluster in the answer.
	_, data = release(t)
	serve(t, data, handlerFunc(func(ctlrpc.Request) ctlrpc.Response { return ctlrpc.Response{Node: self} }))
	ctlCase{args: args("cluster status"), err: "node answered without a cluster status\n", code: 1}.check(t, nil)
}

// A node that has no usage to give (an older node: unknown_command)
// leaves emqx_ctl's static usage.
func TestCtlUsageFromOlderNode(t *testing.T) {
	_, data := release(t)
	serve(t, data, handlerFunc(func(ctlrpc.Request) ctlrpc.Response {
		return ctlrpc.Response{Node: self, Error: "unknown_command"}
	}))
	ctlCase{args: nil, out: usage}.check(t, nil)
	ctlCase{args: args("help"), out: usage}.check(t, nil)
}
