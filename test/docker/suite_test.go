package docker

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"emqxgo/internal/testutil"
)

// TestSeedExampleManualJoin runs the guide's example literally.
func TestSeedExampleManualJoin(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	s1 := l.node(1, "s1.emqx.io", nil)
	s2 := l.node(2, "s2.emqx.io", nil)
	s3 := l.node(3, "s3.emqx.io", nil)
	want := "Join the cluster successfully.\nCluster status: [{running_nodes,['emqx@s1.emqx.io','emqx@s2.emqx.io']}]"
	if got := s2.mustCtl("cluster", "join", "emqx@s1.emqx.io"); got != want {
		t.Fatalf("join output:\n%s\nwant\n%s", got, want)
	}
	s3.mustCtl("cluster", "join", "emqx@s1.emqx.io")
	start := time.Now()
	for _, n := range []*cnode{s1, s2, s3} {
		n.waitStatus(statusLine(names(s1, s2, s3)), 10*time.Second)
	}
	record("manual join with FQDN names (3 nodes)", "10s", time.Since(start).Round(time.Millisecond).String(), 0, 0)
	// Cross-node MQTT through the client network.
	sub := testutil.DialV5(t, s3.addr, "fqdn-sub")
	sub.Sub(t, "fqdn/#", 1)
	pub := testutil.DialV5(t, s1.addr, "fqdn-pub")
	testutil.Eventually(t, 5*time.Second, "route to s3", func() bool {
		pub.Pub(t, "fqdn/probe", 0, []byte("p"))
		select {
		case <-sub.Msgs:
			return true
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
}

func TestStaticSeedsAndDNS(t *testing.T) {
	t.Parallel()
	t.Run("static seeds of FQDNs", func(t *testing.T) {
		t.Parallel()
		l := newLab(t)
		env := []string{"EMQX_CLUSTER__DISCOVERY=static", "EMQX_CLUSTER__STATIC__SEEDS=emqx@s1.emqx.io,emqx@s2.emqx.io,emqx@s3.emqx.io"}
		start := time.Now()
		ns := []*cnode{l.node(1, "s1.emqx.io", nil, env...), l.node(2, "s2.emqx.io", nil, env...), l.node(3, "s3.emqx.io", nil, env...)}
		for _, n := range ns {
			n.waitStatus(statusLine(names(ns...)), 30*time.Second)
		}
		record("static seeds (FQDN) form a cluster", "30s", time.Since(start).Round(time.Millisecond).String(), 0, 0)
	})
	t.Run("dns A records of a shared alias", func(t *testing.T) {
		t.Parallel()
		l := newLab(t)
		env := []string{"EMQX_CLUSTER__DISCOVERY=dns", "EMQX_CLUSTER__DNS__NAME=cluster.emqx.io", "EMQX_CLUSTER__DNS__APP=emqx"}
		alias := []string{"cluster.emqx.io"}
		start := time.Now()
		ns := []*cnode{l.node(1, "IP", alias, env...), l.node(2, "IP", alias, env...), l.node(3, "IP", alias, env...)}
		for _, n := range ns {
			n.waitStatus(statusLine(names(ns...)), 30*time.Second)
		}
		record("dns discovery via Docker DNS", "30s", time.Since(start).Round(time.Millisecond).String(), 0, 0)
	})
}

func trio(t *testing.T, env ...string) (*lab, []*cnode) {
	l := newLab(t)
	ns := []*cnode{l.node(1, "s1.emqx.io", nil, env...), l.node(2, "s2.emqx.io", nil, env...), l.node(3, "s3.emqx.io", nil, env...)}
	ns[1].mustCtl("cluster", "join", ns[0].name)
	ns[2].mustCtl("cluster", "join", ns[0].name)
	for _, n := range ns {
		n.waitStatus(statusLine(names(ns...)), 15*time.Second)
	}
	return l, ns
}

func TestKillAndRestart(t *testing.T) {
	t.Parallel()
	_, ns := trio(t)
	s1, s2, s3 := ns[0], ns[1], ns[2]
	sub := testutil.DialV5(t, s2.addr, "kr-sub")
	sub.Sub(t, "kr/#", 1)
	pub := testutil.DialV5(t, s1.addr, "kr-pub")
	s3.kill()
	took := s1.waitStatus(statusLine(names(s1, s2), s3.name), 15*time.Second)
	s2.waitStatus(statusLine(names(s1, s2), s3.name), 15*time.Second)
	record("docker kill: shown as stopped", "15s", took.Round(time.Millisecond).String(), 0, 0)
	for i := 0; i < 10; i++ { // the others are not affected
		pub.Pub(t, "kr/x", 1, []byte(fmt.Sprint(i)))
		sub.Expect(t, "kr/x", []byte(fmt.Sprint(i)))
	}
	start := time.Now()
	s3.start()
	s1.waitStatus(statusLine(names(s1, s2, s3)), 20*time.Second)
	record("restart after kill: rejoined with no command", "20s", time.Since(start).Round(time.Millisecond).String(), 0, 0)
	// Its routes come back with it.
	sub3 := testutil.DialV5(t, s3.addr, "kr-sub3")
	sub3.Sub(t, "kr/#", 1)
	testutil.Eventually(t, 10*time.Second, "route of the restarted node", func() bool {
		pub.Pub(t, "kr/y", 0, []byte("y"))
		select {
		case <-sub3.Msgs:
			return true
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
}

func TestWrongCookieCannotJoinOrDisturb(t *testing.T) {
	t.Parallel()
	l, ns := trio(t)
	bad := l.node(4, "s4.emqx.io", nil, "EMQX_NODE_COOKIE=not-the-cookie")
	out, err := bad.ctl("cluster", "join", ns[0].name)
	if err == nil || !strings.Contains(out, "Failed to join the cluster: {bad_cookie,'emqx@s1.emqx.io'}") {
		t.Fatalf("join with a wrong cookie: %v\n%s", err, out)
	}
	out, err = ns[0].ctl("cluster", "join", bad.name)
	if err == nil || !strings.Contains(out, "{bad_cookie,'emqx@s4.emqx.io'}") {
		t.Fatalf("join towards a wrong cookie: %v\n%s", err, out)
	}
	for _, n := range ns {
		n.waitStatus(statusLine(names(ns...)), 5*time.Second)
	}
	bad.waitStatus(statusLine(names(bad)), 5*time.Second)
	record("wrong cookie refused both ways", "-", "refused", 0, 0)
}

func TestForceLeaveIsSticky(t *testing.T) {
	t.Parallel()
	_, ns := trio(t)
	s1, s2, s3 := ns[0], ns[1], ns[2]
	// Running node: told to leave.
	s1.mustCtl("cluster", "force-leave", s3.name)
	s3.waitStatus(statusLine(names(s3)), 15*time.Second)
	s2.waitStatus(statusLine(names(s1, s2)), 15*time.Second)
	s3.mustCtl("cluster", "join", s1.name)
	s1.waitStatus(statusLine(names(s1, s2, s3)), 15*time.Second)
	// Stopped node: dropped; restarted, it does not sneak back.
	docker(t, "stop", s3.container)
	s1.waitStatus(statusLine(names(s1, s2), s3.name), 15*time.Second)
	s1.mustCtl("cluster", "force-leave", s3.name)
	s2.waitStatus(statusLine(names(s1, s2)), 15*time.Second)
	s3.start()
	s3.waitStatus(statusLine(names(s3)), 15*time.Second)
	deadline := time.Now().Add(8 * time.Second) // several rejoin rounds must pass without a comeback
	for time.Now().Before(deadline) {
		if got, _ := s1.ctl("cluster", "status"); got != statusLine(names(s1, s2)) {
			t.Fatalf("removed node came back: %s", got)
		}
		time.Sleep(250 * time.Millisecond)
	}
	record("force-leave (running and stopped) is sticky", "8s watch", "no comeback", 0, 0)
}
