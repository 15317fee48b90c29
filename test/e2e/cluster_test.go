package e2e

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"emqxgo/internal/ctlrpc"
	"emqxgo/internal/testutil"
)

type member struct{ *node }

// trio makes three node homes emqx1..3@127.0.N.1..3, each with extra config.
func trio(t *testing.T, extra ...func(i int) []string) []*member {
	t.Helper()
	net := testutil.Subnet(t)
	var ms []*member
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("emqx%d@127.0.%d.%d", i, net, i)
		lines := []string{"node.name = " + name}
		for _, e := range extra {
			lines = append(lines, e(i)...)
		}
		ms = append(ms, &member{node: newNode(t, lines...)})
	}
	return ms
}

func statusLine(running []string, stopped ...string) string {
	return ctlrpc.ClusterStatus{Running: running, Stopped: stopped}.Line() + "\n"
}

func (m *member) clusterStatus() string {
	o, _, _ := m.ctl("cluster", "status")
	return o
}

// waitStatus waits until `emqx_ctl cluster status` prints want.
func (m *member) waitStatus(want string, within time.Duration) time.Duration {
	m.t.Helper()
	start := time.Now()
	for deadline := time.Now().Add(within); ; time.Sleep(20 * time.Millisecond) {
		got := m.clusterStatus()
		if got == want {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("after %s, cluster status on %s is\n%s want\n%s", within, m.name, got, want)
		}
	}
}

func names(ms ...*member) []string {
	var s []string
	for _, m := range ms {
		s = append(s, m.name)
	}
	slices.Sort(s)
	return s
}

func (m *member) mustFail(want string, args ...string) {
	m.t.Helper()
	if e := m.must(1, "", "emqx_ctl", args...); e != want+"\n" {
		m.t.Fatalf("emqx_ctl %v on %s: stderr %q, want %q", args, m.name, e, want)
	}
}

func TestClusterCommands(t *testing.T) {
	t.Parallel()
	ms := trio(t)
	n1, n2, n3 := ms[0], ms[1], ms[2]
	for _, m := range ms {
		m.start()
	}
	// An MQTT client on n3 stays connected through join, leave and join again.
	client := testutil.DialV5(t, n3.info().Listeners["tcp"], "stays")
	client.Sub(t, "keep/alive", 1)

	n2.must(0, "Join the cluster successfully.\n"+statusLine(names(n1, n2)), "emqx_ctl", "cluster", "join", n1.name)
	n2.must(0, "Ignore.\n", "emqx_ctl", "cluster", "join", n2.name)
	n2.mustFail("Failed to join the cluster: {already_in_cluster,'"+n1.name+"'}", "cluster", "join", n1.name)
	n3.must(0, "Join the cluster successfully.\n"+statusLine(names(ms...)), "emqx_ctl", "join", n2.name) // seed alias
	for _, m := range ms {
		m.waitStatus(statusLine(names(ms...)), 10*time.Second)
	}
	n1.must(0, fmt.Sprintf(`{"running_nodes":["%s","%s","%s"],"stopped_nodes":[]}`+"\n", n1.name, n2.name, n3.name),
		"emqx_ctl", "cluster", "status", "--json")
	dead := strings.Replace(n1.name, "emqx1@", "emqx9@", 1)
	n1.mustFail("Failed to join the cluster: {node_down,'"+dead+"'}", "cluster", "join", dead)

	// leave, leave again, join again in the same process.
	n3.must(0, "Leave the cluster successfully.\n"+statusLine(names(n3)), "emqx_ctl", "cluster", "leave")
	n1.waitStatus(statusLine(names(n1, n2)), 10*time.Second)
	n3.mustFail("Failed to leave the cluster: node_not_in_cluster", "cluster", "leave")
	n3.must(0, "Join the cluster successfully.\n"+statusLine(names(ms...)), "emqx_ctl", "cluster", "join", n1.name)
	n2.waitStatus(statusLine(names(ms...)), 10*time.Second)

	// force-leave of a running node; self; unknown.
	n1.must(0, "Remove the node from cluster successfully.\n"+statusLine(names(n1, n2)), "emqx_ctl", "cluster", "force-leave", n3.name)
	n3.waitStatus(statusLine(names(n3)), 10*time.Second)
	n2.waitStatus(statusLine(names(n1, n2)), 10*time.Second)
	n1.must(0, "Ignore.\n", "emqx_ctl", "cluster", "force-leave", n1.name)
	n1.mustFail("Failed to remove the node from cluster: node_not_in_cluster", "cluster", "force-leave", n3.name)

	select {
	case d := <-client.Disconnects:
		t.Fatalf("client on n3 was disconnected (%#x) by cluster commands", d.ReasonCode)
	default:
	}
	client.Pub(t, "keep/alive", 1, []byte("yes"))
	client.Expect(t, "keep/alive", []byte("yes"))
}

func TestClusterKill9AndStop(t *testing.T) {
	t.Parallel()
	ms := trio(t)
	n1, n2, n3 := ms[0], ms[1], ms[2]
	for _, m := range ms {
		m.start()
	}
	n2.must(0, "", "emqx_ctl", "cluster", "join", n1.name)
	n3.must(0, "", "emqx_ctl", "cluster", "join", n1.name)
	n1.waitStatus(statusLine(names(ms...)), 10*time.Second)

	// kill -9: stopped on the others, then back with no command after a restart.
	pid := n3.info().Pid
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	took := n1.waitStatus(statusLine(names(n1, n2), n3.name), 10*time.Second)
	n2.waitStatus(statusLine(names(n1, n2), n3.name), 10*time.Second)
	t.Logf("kill -9: shown as stopped after %s (bound 10s)", took)
	n3.start()
	took = n1.waitStatus(statusLine(names(ms...)), 15*time.Second)
	n3.waitStatus(statusLine(names(ms...)), 5*time.Second)
	t.Logf("restart after kill -9: running again after %s with no command (bound 15s)", took)

	// Graceful stop is not leave: listed as stopped, and rejoins when started.
	n3.must(0, "ok\n", "emqx", "stop")
	took = n1.waitStatus(statusLine(names(n1, n2), n3.name), 10*time.Second)
	t.Logf("graceful stop: shown as stopped after %s", took)
	n2.must(0, "ok\n", "emqx", "stop")
	n1.waitStatus(statusLine(names(n1), n2.name, n3.name), 10*time.Second)
	n2.start()
	n3.start()
	for _, m := range ms {
		m.waitStatus(statusLine(names(ms...)), 15*time.Second)
	}

	// force-leave of a stopped node is sticky: it restarts standalone.
	n3.must(0, "ok\n", "emqx", "stop")
	n1.waitStatus(statusLine(names(n1, n2), n3.name), 10*time.Second)
	n1.must(0, "Remove the node from cluster successfully.\n"+statusLine(names(n1, n2)), "emqx_ctl", "cluster", "force-leave", n3.name)
	n2.waitStatus(statusLine(names(n1, n2)), 10*time.Second)
	n3.start()
	n3.waitStatus(statusLine(names(n3)), 15*time.Second)
	testutil.Eventually(t, 15*time.Second, "n3 logs why it runs standalone", func() bool {
		b, _ := os.ReadFile(n3.logFile())
		return strings.Contains(string(b), "removed from its cluster while it was stopped")
	})
	n1.waitStatus(statusLine(names(n1, n2)), time.Second)
}

func TestClusterRefusals(t *testing.T) {
	t.Parallel()
	ms := trio(t, func(i int) []string {
		switch i {
		case 2:
			return []string{"node.cookie = another-cookie"}
		case 3:
			return []string{"cluster.name = othercl"}
		}
		return nil
	})
	n1, n2, n3 := ms[0], ms[1], ms[2]
	for _, m := range ms {
		m.start()
	}
	n1.mustFail("Failed to join the cluster: {bad_cookie,'"+n2.name+"'}", "cluster", "join", n2.name)
	n2.mustFail("Failed to join the cluster: {bad_cookie,'"+n1.name+"'}", "cluster", "join", n1.name)
	n1.mustFail("Failed to join the cluster: {cluster_name_mismatch,'"+n3.name+"'}", "cluster", "join", n3.name)
	n3.mustFail("Failed to join the cluster: {cluster_name_mismatch,'"+n1.name+"'}", "cluster", "join", n1.name)
	for _, m := range ms {
		m.waitStatus(statusLine(names(m)), time.Second)
	}
	for _, m := range []*member{n1, n2} {
		testutil.Eventually(t, 5*time.Second, m.name+" logs the cookie mismatch", func() bool {
			b, _ := os.ReadFile(m.logFile())
			return strings.Contains(string(b), "different cookie") // not the short-cookie warning at boot
		})
	}
}

func TestClusterAutoclean(t *testing.T) {
	t.Parallel()
	ms := trio(t, func(int) []string { return []string{"cluster.autoclean = 3s"} })
	n1, n2 := ms[0], ms[1]
	n1.start()
	n2.start()
	n2.must(0, "", "emqx_ctl", "cluster", "join", n1.name)
	n1.waitStatus(statusLine(names(n1, n2)), 10*time.Second)
	n2.must(0, "ok\n", "emqx", "stop")
	n1.waitStatus(statusLine(names(n1), n2.name), 10*time.Second)
	took := n1.waitStatus(statusLine(names(n1)), 20*time.Second)
	t.Logf("stopped node removed by autoclean (3s) after a further %s", took)
}

// TestStatusWhileJoinHangs: a join to a peer that accepts but never answers
// does not block `cluster status`.
func TestStatusWhileJoinHangs(t *testing.T) {
	t.Parallel()
	ms := trio(t)
	n1, n2 := ms[0], ms[1]
	n1.start()
	// A silent listener where n2's RPC port would be.
	host := strings.SplitN(n2.name, "@", 2)[1]
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "5372"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
			accepted <- struct{}{}
		}
	}()
	done := make(chan string, 1)
	go func() {
		_, e, _ := n1.ctl("cluster", "join", n2.name)
		done <- e
	}()
	select { // the join is now waiting in its handshake
	case <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("join never dialed the peer")
	}
	start := time.Now()
	n1.must(0, statusLine(names(n1)), "emqx_ctl", "cluster", "status")
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("cluster status took %s while a join hung", took)
	}
	select {
	case e := <-done:
		if e != "Failed to join the cluster: {node_down,'"+n2.name+"'}\n" {
			t.Fatalf("hung join ended with %q", e)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("join did not give up on a silent peer")
	}
}

// TestDiscoveryEnableCommand: under autocluster, leave keeps the node out
// until `emqx_ctl cluster discovery enable`.
func TestDiscoveryEnableCommand(t *testing.T) {
	t.Parallel()
	var seeds []string
	ms := trio(t)
	for _, m := range ms[:2] {
		seeds = append(seeds, m.name)
	}
	for _, m := range ms[:2] {
		m.env = append(m.env, "EMQX_CLUSTER__DISCOVERY=static", "EMQX_CLUSTER__STATIC__SEEDS="+strings.Join(seeds, ","))
		m.start()
	}
	n1, n2 := ms[0], ms[1]
	n1.waitStatus(statusLine(names(n1, n2)), 20*time.Second)
	n2.must(0, "Leave the cluster successfully.\n"+statusLine(names(n2)), "emqx_ctl", "cluster", "leave")
	n1.waitStatus(statusLine(names(n1)), 10*time.Second)
	n2.must(0, "Automatic cluster discovery enabled.\n", "emqx_ctl", "cluster", "discovery", "enable")
	n1.waitStatus(statusLine(names(n1, n2)), 20*time.Second)
}
