// Package docker is the multi-host fault suite: nodes in containers built
// FROM scratch, with real host names (network aliases such as s1.emqx.io),
// killed, restarted and cut off with the docker CLI. Each node sits on two
// networks: the cluster network (what partitions cut) and a client network
// that the test's MQTT clients use, so both sides of a partition can be
// checked through MQTT.
package docker

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"emqxgo/internal/ctlrpc"
	"emqxgo/internal/testutil"
)

var (
	image    string
	netSeq   atomic.Int32
	summaryM sync.Mutex
	summary  []string
)

const cookie = "docker-suite-cookie"

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	ctxDir, err := os.MkdirTemp("", "emqx-image")
	if err != nil {
		panic(err)
	}
	image = fmt.Sprintf("emqx-go-test:%d", os.Getpid())
	if err := buildImage(root, ctxDir); err != nil {
		fmt.Fprintln(os.Stderr, "build image:", err)
		os.Exit(1)
	}
	netSeq.Store(int32(os.Getpid() % 200))
	code := m.Run()
	_ = exec.Command("docker", "rmi", "-f", image).Run()
	_ = os.RemoveAll(ctxDir)
	printSummary()
	os.Exit(code)
}

func buildImage(root, dir string) error {
	for _, c := range []string{"emqx", "emqx_ctl"} {
		cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "bin", c), "./cmd/"+c)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%v\n%s", err, out)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "etc", "plugins"), 0o755); err != nil {
		return err
	}
	for _, f := range []string{"Dockerfile", "etc/emqx.conf", "etc/cluster.conf", "etc/acl.conf",
		"etc/plugins/emqx_auth_http.conf", "etc/plugins/emqx_auth_jwt.conf", "etc/plugins/emqx_auth_mnesia.conf"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return err
		}
	}
	out, err := exec.Command("docker", "build", "-q", "-t", image, dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker build: %v\n%s", err, out)
	}
	return nil
}

// record adds a row to the summary table printed at the end.
func record(scenario, bound, measured string, lost, dup int) {
	summaryM.Lock()
	defer summaryM.Unlock()
	summary = append(summary, fmt.Sprintf("| %s | %s | %s | %d | %d |", scenario, bound, measured, lost, dup))
}

func printSummary() {
	summaryM.Lock()
	defer summaryM.Unlock()
	if len(summary) == 0 {
		return
	}
	sort.Strings(summary)
	table := "| scenario | bound | measured | lost | duplicated |\n|---|---|---|---|---|\n" + strings.Join(summary, "\n") + "\n"
	fmt.Print("\n" + table)
	// go test shows a passing package's output only with -v: keep the table
	// where `make test` prints it from.
	_ = os.WriteFile(filepath.Join(os.TempDir(), "emqx-go-fault-summary.md"), []byte(table), 0o644)
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := dockerErr(args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func dockerErr(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var o bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &o, &o
	err := cmd.Run()
	return strings.TrimSpace(o.String()), err
}

// lab is one test's networks: cluster (partitionable, fixed IPs) and client.
type lab struct {
	t       *testing.T
	id      string
	cluster string
	client  string
	subnet  string // 172.30.K
	nodes   []*cnode
}

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{t: t}
	for try := 0; ; try++ {
		k := 30 + netSeq.Add(1)%200
		l.id = fmt.Sprintf("emqxt%d-%d", os.Getpid(), k)
		l.subnet = fmt.Sprintf("172.30.%d", k)
		if _, err := dockerErr("network", "create", "--subnet", l.subnet+".0/24", l.id); err == nil {
			break
		} else if try > 20 {
			t.Fatalf("cannot create a docker network: %v", err)
		}
	}
	l.client = l.id + "-c"
	docker(t, "network", "create", l.client)
	t.Cleanup(func() {
		for _, n := range l.nodes {
			_, _ = dockerErr("rm", "-f", n.container)
		}
		_, _ = dockerErr("network", "rm", l.cluster, l.client)
	})
	l.cluster = l.id
	return l
}

// cnode is one node container.
type cnode struct {
	l         *lab
	host      string // s1.emqx.io
	name      string // emqx@s1.emqx.io
	ip        string // on the cluster network (fixed)
	container string
	addr      string // MQTT address on the client network
}

// node starts a container named emqx@<host> at cluster IP .<i>, with env.
func (l *lab) node(i int, host string, aliases []string, env ...string) *cnode {
	l.t.Helper()
	n := &cnode{l: l, host: host, name: "emqx@" + host, ip: fmt.Sprintf("%s.%d", l.subnet, 10+i), container: fmt.Sprintf("%s-%s", l.id, host)}
	if strings.HasPrefix(host, "IP") {
		n.host = n.ip
		n.name = "emqx@" + n.ip
		n.container = fmt.Sprintf("%s-n%d", l.id, i)
	}
	args := []string{"create", "--name", n.container, "--network", l.cluster, "--ip", n.ip, "--network-alias", n.host,
		"-e", "EMQX_NODE_NAME=" + n.name, "-e", "EMQX_NODE_COOKIE=" + cookie, "-e", "EMQX_RPC__PORT_DISCOVERY=manual"}
	for _, a := range aliases {
		args = append(args, "--network-alias", a)
	}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	docker(l.t, append(args, image)...)
	docker(l.t, "network", "connect", l.client, n.container)
	l.nodes = append(l.nodes, n)
	n.start()
	return n
}

func (n *cnode) start() {
	n.l.t.Helper()
	docker(n.l.t, "start", n.container)
	testutil.Eventually(n.l.t, 30*time.Second, n.name+" answers", func() bool {
		out, err := dockerErr("exec", n.container, "/opt/emqx/bin/emqx", "ping")
		return err == nil && out == "pong"
	})
	ip := docker(n.l.t, "inspect", "-f", fmt.Sprintf(`{{(index .NetworkSettings.Networks "%s").IPAddress}}`, n.l.client), n.container)
	n.addr = ip + ":1883"
}

func (n *cnode) ctl(args ...string) (string, error) {
	return dockerErr(append([]string{"exec", n.container, "/opt/emqx/bin/emqx_ctl"}, args...)...)
}

func (n *cnode) mustCtl(args ...string) string {
	n.l.t.Helper()
	out, err := n.ctl(args...)
	if err != nil {
		n.l.t.Fatalf("emqx_ctl %v on %s: %v\n%s", args, n.name, err, out)
	}
	return out
}

func statusLine(running []string, stopped ...string) string {
	return ctlrpc.ClusterStatus{Running: running, Stopped: stopped}.Line()
}

func names(ns ...*cnode) []string {
	var s []string
	for _, n := range ns {
		s = append(s, n.name)
	}
	sort.Strings(s)
	return s
}

// waitStatus waits for `cluster status` to print want and returns the time it took.
func (n *cnode) waitStatus(want string, within time.Duration) time.Duration {
	n.l.t.Helper()
	start := time.Now()
	var got string
	for deadline := start.Add(within); ; time.Sleep(100 * time.Millisecond) {
		got, _ = n.ctl("cluster", "status")
		if got == want {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			n.l.t.Fatalf("after %s, %s shows\n%s\nwant\n%s", within, n.name, got, want)
		}
	}
}

func (n *cnode) kill() { docker(n.l.t, "kill", n.container) }
func (n *cnode) cut()  { docker(n.l.t, "network", "disconnect", n.l.cluster, n.container) }
func (n *cnode) heal() {
	docker(n.l.t, "network", "connect", "--ip", n.ip, "--alias", n.host, n.l.cluster, n.container)
}
