package etcd

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// problems collects what Validate reports, as "key: problem".
func problems(c Config) []string {
	var out []string
	c.Validate(func(key, problem string) { out = append(out, key+": "+problem) })
	return out
}

func TestValidate(t *testing.T) {
	ok := Defaults()
	ok.Servers = []string{"http://127.0.0.1:2379", "https://e2:2379"}
	if p := problems(ok); p != nil {
		t.Fatalf("valid config: %q", p)
	}
	for _, tc := range []struct {
		name string
		mut  func(*Config)
		want string // "key: problem" prefix
	}{
		{"no server", func(c *Config) { c.Servers = nil }, "cluster.discovery: cluster.etcd.server is required when cluster.discovery = etcd"},
		{"no scheme", func(c *Config) { c.Servers = []string{"127.0.0.1:2379"} }, `cluster.etcd.server: "127.0.0.1:2379" must be an http:// or https:// URL`},
		{"one bad", func(c *Config) { c.Servers = []string{"http://a:2379", "ftp://b"} }, `cluster.etcd.server: "ftp://b" must be an http:// or https:// URL`},
		{"bad port", func(c *Config) { c.Servers = []string{"http://a:99999"} }, `cluster.etcd.server: "http://a:99999": port "99999" must be an integer from 1 to 65535`},
		{"empty prefix", func(c *Config) { c.Prefix = "" }, "cluster.etcd.prefix: must be a non-empty key prefix without spaces"},
		{"spaced prefix", func(c *Config) { c.Prefix = "a b" }, "cluster.etcd.prefix: must be a non-empty key prefix without spaces"},
		{"short ttl", func(c *Config) { c.NodeTTL = 500 * time.Millisecond }, "cluster.etcd.node_ttl: must be at least 1s"},
		{"cert alone", func(c *Config) { c.CertFile = "/c.pem" }, "cluster.etcd.ssl.certfile: cluster.etcd.ssl.keyfile is required when cluster.etcd.ssl.certfile is set"},
		{"key alone", func(c *Config) { c.KeyFile = "/k.pem" }, "cluster.etcd.ssl.keyfile: cluster.etcd.ssl.certfile is required when cluster.etcd.ssl.keyfile is set"},
	} {
		c := ok
		tc.mut(&c)
		if p := problems(c); len(p) != 1 || !strings.HasPrefix(p[0], tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, p, tc.want)
		}
	}
	// CheckKeys leaves out what only matters when etcd is in use.
	var n int
	Config{Prefix: "p", NodeTTL: time.Second, CertFile: "/c.pem"}.CheckKeys(func(string, string) { n++ })
	if n != 0 {
		t.Errorf("CheckKeys reported %d problems of an unused strategy", n)
	}
}

func TestLayout(t *testing.T) {
	c := Defaults()
	c.Servers = []string{"http://127.0.0.1:2379", "https://[::1]:2379/"}
	if eps := c.Endpoints(); !slices.Equal(eps, []string{"127.0.0.1:2379", "[::1]:2379"}) {
		t.Errorf("endpoints %q", eps)
	}
	if c.UsesTLS() {
		t.Error("TLS with a plain first server and no files")
	}
	c.CACertFile = "/ca.pem"
	if !c.UsesTLS() {
		t.Error("no TLS with a CA file")
	}
	c = Config{Servers: []string{"https://e:2379"}, Prefix: "emqxcl"}
	if !c.UsesTLS() {
		t.Error("no TLS with an https server")
	}
	if k := c.NodeKey("cl", "emqx@h"); k != "emqxcl/cl/nodes/emqx@h" || !strings.HasPrefix(k, c.NodesDir("cl")) {
		t.Errorf("node key %q", k)
	}
	if k := c.LockKey("cl"); k != "emqxcl/cl/lock" {
		t.Errorf("lock key %q", k)
	}
}
