package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"emqxgo/internal/testutil"
)

// TestEMQX44StockConfig: a node starts on EMQX 4.4's stock etc/emqx.conf
// and plugin files (their keys and values, in
// internal/config/testdata/emqx44) with EMQX's release-test environment;
// only the listeners' addresses and the node name come from the
// environment, so that the test binds free loopback ports. It warns once
// about the keys it accepts without acting on them, serves MQTT on the
// external and internal listeners, and check_config says the same.
func TestEMQX44StockConfig(t *testing.T) {
	home := t.TempDir()
	src := filepath.Join(repoRoot, "internal", "config", "testdata", "emqx44")
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(home, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(home, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(home, "etc", "certs"), 0o755); err != nil {
		t.Fatal(err)
	}
	certs := testutil.WriteCerts(t, filepath.Join(home, "etc", "certs"))
	ca, err := os.ReadFile(certs.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "etc", "certs", "cacert.pem"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	host := fmt.Sprintf("127.0.%d.1", testutil.Subnet(t))
	n := &node{t: t, home: home, name: "emqx@" + host, env: []string{
		"EMQX_HOME=" + home, "EMQX_WAIT_FOR_START=60", "EMQX_NODE_NAME=emqx@" + host,
		"EMQX_LISTENER__TCP__EXTERNAL=" + host + ":0", "EMQX_LISTENER__TCP__INTERNAL=" + host + ":0", "EMQX_MANAGEMENT__LISTENER__HTTP=" + host + ":0",
		"EMQX_DASHBOARD__LISTENER__HTTP=" + host + ":0",
		"EMQX_LISTENER__SSL__EXTERNAL=" + host + ":0", "EMQX_LISTENER__WS__EXTERNAL=" + host + ":0",
		"EMQX_LISTENER__WSS__EXTERNAL=" + host + ":0",
		// EMQX's release tests run with these.
		"EMQX_ZONE__EXTERNAL__RETRY_INTERVAL=2s", "EMQX_MQTT__MAX_TOPIC_ALIAS=10",
	}}
	t.Cleanup(func() {
		if _, _, code := n.emqx("ping"); code == 0 {
			n.emqx("stop")
		}
	})
	_, stderr, code := n.emqx("check_config")
	if code != 0 || !strings.Contains(stderr, "accepted, not implemented: ") || !strings.Contains(stderr, "modules.loaded_file") ||
		!strings.Contains(stderr, "no effect here (Erlang VM settings): ") {
		t.Fatalf("check_config: exit %d\n%s", code, stderr)
	}
	n.start()
	log, err := os.ReadFile(n.logFile())
	if err != nil {
		t.Fatal(err)
	}
	if c := strings.Count(string(log), "accepted, not implemented: "); c != 1 ||
		!strings.Contains(string(log), "listener.tcp.external.acceptors") || !strings.Contains(string(log), "sysmon.long_schedule") {
		t.Fatalf("want one accepted-keys warning naming the keys, got %d in:\n%s", c, log)
	}
	addrs := n.info().Listeners
	for _, id := range []string{"tcp", "tcp:internal", "ssl", "ws", "wss"} {
		if addrs[id] == "" {
			t.Fatalf("listener %s not started: %v", id, addrs)
		}
	}
	for _, id := range []string{"tcp", "tcp:internal"} {
		sub := testutil.DialV5(t, addrs[id], "sub-"+id)
		sub.Sub(t, "stock/#", 1)
		pub := testutil.DialV5(t, addrs[id], "pub-"+id)
		pub.Pub(t, "stock/"+id, 1, []byte("hi"))
		sub.Expect(t, "stock/"+id, []byte("hi"))
		if p := pub.Connack.Properties; p == nil || p.TopicAliasMaximum == nil || *p.TopicAliasMaximum != 10 {
			t.Errorf("%s: CONNACK Topic Alias Maximum %+v, want 10 (EMQX_MQTT__MAX_TOPIC_ALIAS)", id, p)
		}
	}
	n.must(0, "ok\n", "emqx", "stop")
}
