package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReleaseAndOneMoreNode builds `make release`, copies it with
// scripts/one_more_emqx.sh, and runs both nodes side by side.
func TestReleaseAndOneMoreNode(t *testing.T) {
	t.Parallel()
	top := t.TempDir()
	rel := filepath.Join(top, "emqx")
	mk := exec.Command("make", "release", "REL="+rel, "VERSION="+testVersion)
	mk.Dir = repoRoot
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make release: %v\n%s", err, out)
	}
	for _, f := range []string{"bin/emqx", "bin/emqx_ctl", "etc/emqx.conf", "etc/cluster.conf", "etc/acl.conf",
		"etc/plugins/emqx_auth_http.conf", "etc/plugins/emqx_auth_jwt.conf", "etc/plugins/emqx_auth_mnesia.conf",
		"scripts/one_more_emqx.sh"} {
		if _, err := os.Stat(filepath.Join(rel, f)); err != nil {
			t.Fatalf("release lacks %s", f)
		}
	}
	script := filepath.Join(rel, "scripts", "one_more_emqx.sh")
	run := func(env []string, args ...string) (string, int) {
		c := exec.Command(script, args...)
		c.Env = append(filteredEnv(), env...)
		out, _ := c.CombinedOutput()
		return string(out), c.ProcessState.ExitCode()
	}
	if out, code := run(nil); code == 0 || !strings.Contains(out, "usage") {
		t.Fatalf("no name: exit %d %q", code, out)
	}
	if out, code := run(nil, "emqx"); code == 0 || !strings.Contains(out, "must end in a number") {
		t.Fatalf("name without number: exit %d %q", code, out)
	}
	// An offset that lands the copy's MQTT port on a free port of this host.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	offset := port - 1883
	if offset <= 0 || port+7001 > 65535 || 18083+offset > 65535 {
		offset = 20000 // sample ports and the dashboard's must fit too; 21883 is unlikely to be taken
	}
	out, code := run([]string{fmt.Sprintf("OFFSET=%d", offset)}, "emqx2")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("shifted by %d", offset)) {
		t.Fatalf("one_more_emqx.sh emqx2: exit %d\n%s", code, out)
	}
	if out, code := run(nil, "emqx2"); code == 0 || !strings.Contains(out, "already exists") {
		t.Fatalf("existing folder: exit %d %q", code, out)
	}
	second := filepath.Join(top, "emqx2")
	conf, _ := os.ReadFile(filepath.Join(second, "etc", "emqx.conf"))
	for _, want := range []string{"\nnode.name = emqx2@127.0.0.1\n", fmt.Sprintf("\nlistener.tcp.external = 0.0.0.0:%d\n", 1883+offset),
		fmt.Sprintf("## listener.ssl.external = %d", 8883+offset)} {
		if !strings.Contains(string(conf), want) {
			t.Fatalf("copied emqx.conf lacks %q", want)
		}
	}
	mconf, _ := os.ReadFile(filepath.Join(second, "etc", "plugins", "emqx_management.conf"))
	if want := fmt.Sprintf("\nmanagement.listener.http = %d\n", 8081+offset); !strings.Contains(string(mconf), want) {
		t.Fatalf("copied emqx_management.conf lacks %q", want)
	}
	dconf, _ := os.ReadFile(filepath.Join(second, "etc", "plugins", "emqx_dashboard.conf"))
	if want := fmt.Sprintf("\ndashboard.listener.http = %d\n", 18083+offset); !strings.Contains(string(dconf), want) {
		t.Fatalf("copied emqx_dashboard.conf lacks %q", want)
	}
	// The original on a free loopback port, the copy on its shifted port.
	a := &node{t: t, home: rel, env: []string{"EMQX_LISTENER__TCP__EXTERNAL=127.0.0.1:0", "EMQX_MANAGEMENT__LISTENER__HTTP=127.0.0.1:0",
		"EMQX_DASHBOARD__LISTENER__HTTP=127.0.0.1:0"}}
	b := &node{t: t, home: second}
	a.env = append(a.env, "EMQX_HOME="+rel)
	b.env = append(b.env, "EMQX_HOME="+second)
	for _, n := range []*node{a, b} {
		n.start()
		t.Cleanup(func() { n.emqx("stop") })
	}
	a.must(0, "Node 'emqx@127.0.0.1' "+testVersion+" is started\n", "emqx_ctl", "status")
	b.must(0, "Node 'emqx2@127.0.0.1' "+testVersion+" is started\n", "emqx_ctl", "status")
	if got := b.info().Listeners["tcp"]; got != fmt.Sprintf("0.0.0.0:%d", 1883+offset) && got != fmt.Sprintf("[::]:%d", 1883+offset) {
		t.Fatalf("copy listens on %s", got)
	}
	if got := b.info().Listeners["http:management"]; !strings.HasSuffix(got, fmt.Sprintf(":%d", 8081+offset)) {
		t.Fatalf("copy's HTTP API listens on %q", got)
	}
	if got := b.info().Listeners["http:dashboard"]; !strings.HasSuffix(got, fmt.Sprintf(":%d", 18083+offset)) {
		t.Fatalf("copy's dashboard listens on %q", got)
	}
	a.must(0, "ok\n", "emqx", "stop")
	b.must(0, "ok\n", "emqx", "stop")
}
