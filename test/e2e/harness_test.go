// Package e2e drives the built binaries the way an operator does: bin/emqx
// start|stop|ping|..., bin/emqx_ctl, real MQTT clients against the node.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"emqxgo/internal/ctlrpc"
	"emqxgo/internal/testutil"
)

// binDir holds emqx and emqx_ctl, built once for the package.
var binDir string

// repoRoot is the repository top (for etc/ and scripts/).
var repoRoot string

const testVersion = "9.9.9-e2e"

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	dir, err := os.MkdirTemp("", "emqx-e2e-bin")
	if err != nil {
		panic(err)
	}
	binDir = filepath.Join(dir, "bin")
	for _, c := range []string{"emqx", "emqx_ctl"} {
		cmd := exec.Command("go", "build", "-ldflags", "-X emqxgo/internal/version.Version="+testVersion,
			"-o", filepath.Join(binDir, c), "./cmd/"+c)
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", c, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// node is one release home: etc/ copied from the repo plus test overrides.
type node struct {
	t    *testing.T
	home string
	env  []string
	name string
}

// newNode makes a home for node emqx@127.0.N.1 (a fresh N) whose MQTT
// listener binds port 0, and appends extra config lines (a node.name line
// among them replaces the default).
func newNode(t *testing.T, extra ...string) *node {
	t.Helper()
	name := ""
	for _, l := range extra {
		if v, ok := strings.CutPrefix(l, "node.name = "); ok {
			name = v
		}
	}
	if name == "" { // cluster ports come from the name: a host of its own
		name = fmt.Sprintf("emqx@127.0.%d.1", testutil.Subnet(t))
	}
	host := name[strings.IndexByte(name, '@')+1:]
	extra = append([]string{"node.name = " + name, "listener.tcp.external = " + host + ":0", "management.listener.http = " + host + ":0",
		"dashboard.listener.http = " + host + ":0"}, extra...)
	home := t.TempDir()
	etc := filepath.Join(home, "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"emqx.conf", "cluster.conf"} {
		b, err := os.ReadFile(filepath.Join(repoRoot, "etc", f))
		if err != nil {
			t.Fatal(err)
		}
		// cluster.* and rpc.* lines go to cluster.conf, which is read last.
		var lines []string
		for _, l := range extra {
			if isCluster := strings.HasPrefix(l, "cluster.") || strings.HasPrefix(l, "rpc."); isCluster == (f == "cluster.conf") {
				lines = append(lines, l)
			}
		}
		b = append(b, []byte("\n"+strings.Join(lines, "\n")+"\n")...)
		if err := os.WriteFile(filepath.Join(etc, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n := &node{t: t, home: home, env: []string{"EMQX_HOME=" + home, "EMQX_WAIT_FOR_START=60"}, name: name}
	t.Cleanup(func() {
		// Leave no node behind, whatever the test did.
		if _, _, code := n.emqx("ping"); code == 0 {
			n.emqx("stop")
		}
	})
	return n
}

func (n *node) run(bin string, args ...string) (stdout, stderr string, code int) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, bin), args...)
	cmd.Env = append(filteredEnv(), n.env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		n.t.Fatalf("%s %v: %v", bin, args, err)
	}
	return o.String(), e.String(), code
}

func (n *node) emqx(args ...string) (string, string, int) { return n.run("emqx", args...) }
func (n *node) ctl(args ...string) (string, string, int)  { return n.run("emqx_ctl", args...) }

// must runs and checks exit code and exact stdout.
func (n *node) must(wantCode int, wantOut string, bin string, args ...string) string {
	n.t.Helper()
	o, e, code := n.run(bin, args...)
	if code != wantCode || (wantOut != "" && o != wantOut) {
		n.t.Fatalf("%s %s: exit %d stdout %q stderr %q; want exit %d stdout %q", bin, strings.Join(args, " "), code, o, e, wantCode, wantOut)
	}
	return e
}

func (n *node) start() {
	n.t.Helper()
	n.must(0, "EMQX "+testVersion+" is started successfully!\n", "emqx", "start")
}

// info asks the running node for its pid and listener addresses.
func (n *node) info() ctlrpc.Response {
	n.t.Helper()
	c := ctlrpc.Client{Path: filepath.Join(n.home, "data", ctlrpc.SocketName), Timeout: 10 * time.Second}
	r, err := c.Ping()
	if err != nil {
		n.t.Fatalf("ping over ctl socket: %v", err)
	}
	return r
}

func (n *node) logFile() string { return filepath.Join(n.home, "log", "emqx.log") }

// filteredEnv is the test's environment without EMQX_* variables that would leak into nodes.
func filteredEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(strings.ToUpper(kv), "EMQX_") {
			env = append(env, kv)
		}
	}
	return env
}
