package config

import (
	"sort"
	"strings"
	"testing"
)

func TestDump(t *testing.T) {
	r := newRelease(t, "node.cookie = topsecret\nlog.level = info\nlistener.ws.external = 8083\n",
		"cluster.static.seeds = a@h, b@h\ncluster.name = \"x\"\n")
	c := r.mustLoad(t)
	d := c.Dump()
	if strings.Contains(d, "topsecret") {
		t.Errorf("cookie not masked:\n%s", d)
	}
	lines := strings.Split(strings.TrimSuffix(d, "\n"), "\n")
	if len(lines) < len(schema) {
		t.Errorf("%d lines for %d keys", len(lines), len(schema))
	}
	if !sort.StringsAreSorted(lines) {
		t.Errorf("not sorted:\n%s", d)
	}
	for _, want := range []string{
		"node.cookie = ******", "log.level = info", "listener.ws.external = 0.0.0.0:8083",
		"listener.ssl.external = off", "cluster.static.seeds = a@h,b@h", `cluster.dns.server = ""`,
		"node.data_dir = " + r.home + "/data", "cluster.autoclean = 24h", "mqtt.max_packet_size = 1MB",
	} {
		if !contains(lines, want) {
			t.Errorf("dump lacks %q:\n%s", want, d)
		}
	}
}

// TestDumpRoundTrip: Dump output is valid emqx.conf text that loads back to
// the same configuration (cookie aside).
func TestDumpRoundTrip(t *testing.T) {
	r := newRelease(t, "node.cookie = \"a # b\"\nzone.external.idle_timeout = 1h30m\ncluster.autoclean = off\n",
		"cluster.discovery = mcast\ncluster.mcast.ports = 4369 4370\n")
	c1 := r.mustLoad(t)
	dump := strings.ReplaceAll(c1.Dump(), "node.cookie = "+Masked, `node.cookie = "a # b"`)
	r2 := newRelease(t, dump, "")
	c2 := r2.mustLoad(t)
	c1.Home, c1.EtcDir, c2.Home, c2.EtcDir = "", "", "", ""
	c2.Log.ToIsSet = c1.Log.ToIsSet
	if c1.Dump() != c2.Dump() {
		t.Errorf("round trip differs:\n%s\n---\n%s", c1.Dump(), c2.Dump())
	}
}

func TestQuoteValue(t *testing.T) {
	for in, want := range map[string]string{
		"abc": "abc", "": `""`, "a # b": `"a # b"`, "a#b": "a#b", ` x`: `" x"`, `say "hi" #`: `'say "hi" #'`,
		"#x": `"#x"`, `"q`: `'"q'`,
	} {
		if got := quoteValue(in); got != want {
			t.Errorf("quoteValue(%q) = %s, want %s", in, got, want)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
