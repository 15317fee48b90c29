package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"emqxgo/internal/ctlrpc"
	"emqxgo/internal/testutil"
)

func (n *node) notResponding() string { return "Node '" + n.name + "' not responding to pings.\n" }

func TestLifecycleAndCtl(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	// Node down: every command says so on stderr, exit 1.
	for _, c := range [][]string{{"emqx", "ping"}, {"emqx", "stop"}, {"emqx", "pid"}, {"emqx_ctl", "status"}, {"emqx_ctl", "cluster", "status"}} {
		if e := n.must(1, "", c[0], c[1:]...); e != n.notResponding() {
			t.Fatalf("%v while down: stderr %q", c, e)
		}
	}
	_, e, code := n.emqx("start")
	if code != 0 || !strings.Contains(e, "WARNING: Default (insecure) Erlang cookie is in use.") ||
		!strings.Contains(e, "Please set node.cookie in "+filepath.Join(n.home, "etc")+"/emqx.conf or override from environment variable EMQX_NODE_COOKIE") {
		t.Fatalf("start: exit %d, stderr %q", code, e)
	}
	if e := n.must(1, "", "emqx", "start"); !strings.Contains(e, "Node is already running!") {
		t.Fatalf("second start: %q", e)
	}
	n.must(0, "pong\n", "emqx", "ping")
	info := n.info()
	n.must(0, fmt.Sprintf("%d\n", info.Pid), "emqx", "pid")
	status := "Node '" + n.name + "' " + testVersion + " is started\n"
	n.must(0, status, "emqx_ctl", "status")
	n.must(0, status, "emqx", "ctl", "status")
	line := "Cluster status: [{running_nodes,['" + n.name + "']}]\n"
	n.must(0, line, "emqx_ctl", "cluster", "status")
	n.must(0, `{"running_nodes":["`+n.name+`"],"stopped_nodes":[]}`+"\n", "emqx_ctl", "cluster", "status", "--json")
	n.must(0, "Ignore.\n", "emqx_ctl", "cluster", "join", n.name)
	n.must(0, "Ignore.\n", "emqx_ctl", "join", "emqx") // seed alias; no @ means own host
	n.must(0, "Ignore.\n", "emqx_ctl", "cluster", "force-leave", n.name)
	host := n.name[len("emqx@"):]
	for _, c := range []struct {
		args []string
		err  string
	}{
		{[]string{"cluster", "leave"}, "Failed to leave the cluster: node_not_in_cluster\n"},
		{[]string{"leave"}, "Failed to leave the cluster: node_not_in_cluster\n"},
		{[]string{"cluster", "force-leave", "emqx2@" + host}, "Failed to remove the node from cluster: node_not_in_cluster\n"},
		{[]string{"cluster", "join", "emqx2"}, "Failed to join the cluster: {node_down,'emqx2@" + host + "'}\n"},
		{[]string{"cluster", "join", "bad name"}, "Failed to join the cluster: {invalid_node_name,'bad name@" + host + "'}\n"},
		{[]string{"cluster", "discovery", "enable"}, "Failed to enable cluster discovery: cluster.discovery = manual runs no automatic discovery\n"},
	} {
		if e := n.must(1, "", "emqx_ctl", c.args...); e != c.err {
			t.Fatalf("emqx_ctl %v: stderr %q, want %q", c.args, e, c.err)
		}
	}
	if e := n.must(1, "", "emqx_ctl", "nosuch"); !strings.Contains(e, "Unknown command: nosuch") || !strings.Contains(e, "cluster join <Node>") {
		t.Fatalf("unknown command: %q", e)
	}
	if e := n.must(1, "", "emqx_ctl", "cluster", "join"); !strings.Contains(e, "accepts 1 arg") {
		t.Fatalf("join without node: %q", e)
	}
	n.must(0, "ok\n", "emqx", "stop")
	if alive(info.Pid) {
		t.Fatalf("process %d still running after stop", info.Pid)
	}
	if e := n.must(1, "", "emqx", "ping"); e != n.notResponding() {
		t.Fatalf("ping after stop: %q", e)
	}
	if _, err := os.Stat(filepath.Join(n.home, "data", "emqx_ctl.sock")); !os.IsNotExist(err) {
		t.Fatalf("ctl socket left behind: %v", err)
	}
	// restart from stopped, then restart while running.
	n.must(0, "EMQX "+testVersion+" is started successfully!\n", "emqx", "restart")
	first := n.info().Pid
	n.must(0, "EMQX "+testVersion+" is started successfully!\n", "emqx", "restart")
	if second := n.info().Pid; second == first || alive(first) {
		t.Fatalf("restart kept the old process %d (new %d)", first, second)
	}
	n.must(0, "ok\n", "emqx", "stop")
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(b), ") Z ")
}

func TestStartFailsWithReason(t *testing.T) {
	t.Parallel()
	t.Run("bad config", func(t *testing.T) {
		n := newNode(t, "cluster.static.seed = emqx1@127.0.0.1", "log.level = loud")
		e := n.must(1, "", "emqx", "start")
		conf := filepath.Join(n.home, "etc", "emqx.conf")
		for _, want := range []string{conf + ":", "cluster.static.seed", "did you mean cluster.static.seeds", "log.level", "loud"} {
			if !strings.Contains(e, want) {
				t.Fatalf("stderr lacks %q:\n%s", want, e)
			}
		}
		n.must(1, "", "emqx", "check_config")
	})
	t.Run("bad acl.conf", func(t *testing.T) {
		n := newNode(t)
		acl := filepath.Join(n.home, "etc", "acl.conf")
		if err := os.WriteFile(acl, []byte("{allow, all}.\n{allow, {user, \"x\"}, pub, [\"#\"]}.\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, cmd := range []string{"start", "check_config"} {
			e := n.must(1, "", "emqx", cmd)
			for _, want := range []string{acl + ":2:", "publish|subscribe|pubsub", "pub"} {
				if !strings.Contains(e, want) {
					t.Fatalf("%s: stderr lacks %q:\n%s", cmd, want, e)
				}
			}
		}
	})
	t.Run("bad node name", func(t *testing.T) {
		n := newNode(t)
		n.env = append(n.env, "EMQX_NODE_NAME=emqx@bad_host!")
		e := n.must(1, "", "emqx", "start")
		if !strings.Contains(e, `"emqx@bad_host!"`) || !strings.Contains(e, "name@host") {
			t.Fatalf("stderr: %s", e)
		}
	})
	t.Run("port in use", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		n := newNode(t, "listener.tcp.external = "+ln.Addr().String())
		e := n.must(1, "", "emqx", "start")
		for _, want := range []string{"listener.tcp.external = " + ln.Addr().String(), "port already in use", n.logFile()} {
			if !strings.Contains(e, want) {
				t.Fatalf("stderr lacks %q:\n%s", want, e)
			}
		}
		n.must(1, "", "emqx", "ping")
	})
}

func TestCheckConfig(t *testing.T) {
	t.Parallel()
	n := newNode(t, "node.cookie = s3cret-cookie")
	o, _, code := n.emqx("check_config")
	if code != 0 || !strings.Contains(o, "node.name = "+n.name) || strings.Contains(o, "s3cret-cookie") ||
		!strings.Contains(o, "listener.tcp.external = "+n.name[len("emqx@"):]+":0") {
		t.Fatalf("check_config exit %d:\n%s", code, o)
	}
	if _, e, _ := n.emqx("check_config"); strings.Contains(e, "Default (insecure)") {
		t.Fatal("cookie warning printed with a non-default cookie")
	}
	n.must(0, testVersion+"\n", "emqx", "version")
}

func TestForegroundSIGTERM(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	cmd := exec.Command(filepath.Join(binDir, "emqx"), "foreground")
	cmd.Env = append(filteredEnv(), n.env...)
	out, err := os.Create(filepath.Join(t.TempDir(), "console"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	testutil.Eventually(t, 30*time.Second, "foreground node answers ping", func() bool {
		_, _, code := n.emqx("ping")
		return code == 0
	})
	v := testutil.DialV5(t, n.info().Listeners["tcp"], "fg")
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("foreground exit: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("foreground did not exit within 20s of SIGTERM")
	}
	select {
	case d := <-v.Disconnects:
		if d.ReasonCode != 0x8B {
			t.Fatalf("reason %#x", d.ReasonCode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no DISCONNECT 0x8B on SIGTERM")
	}
	b, _ := os.ReadFile(out.Name())
	if !strings.Contains(string(b), "EMQX node started") || !strings.Contains(string(b), "stopping on signal") {
		t.Fatalf("console output lacks the node's log:\n%s", b)
	}
}

func TestRenamedNodeIsLogged(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	n.start()
	n.must(0, "ok\n", "emqx", "stop")
	old := n.name
	n.name = strings.Replace(old, "emqx@", "emqx9@", 1)
	n.env = append(n.env, "EMQX_NODE_NAME="+n.name)
	n.start()
	n.must(0, "Node '"+n.name+"' "+testVersion+" is started\n", "emqx_ctl", "status")
	n.must(0, "ok\n", "emqx", "stop")
	b, _ := os.ReadFile(n.logFile())
	if !strings.Contains(string(b), "node name changed") || !strings.Contains(string(b), `"old_node": "`+old+`"`) {
		t.Fatalf("log lacks the rename warning:\n%s", b)
	}
}

// TestStopWithIdleCtlConnection: a client connected to the ctl socket that
// sends nothing does not hold `emqx stop` up (it made stop wait 30 s, then
// kill the node, which never logged that it stopped).
func TestStopWithIdleCtlConnection(t *testing.T) {
	t.Parallel()
	n := newNode(t, "log.level = info")
	n.start()
	pid := n.info().Pid
	idle, err := net.Dial("unix", filepath.Join(n.home, "data", ctlrpc.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	n.must(0, "ok\n", "emqx", "stop")
	if alive(pid) {
		t.Fatalf("process %d still running after stop", pid)
	}
	b, err := os.ReadFile(n.logFile())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "node stopped") || strings.Contains(string(b), "uncleanly") {
		t.Fatalf("the log does not say the node stopped cleanly:\n%s", b)
	}
}
