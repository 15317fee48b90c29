package dns

import (
	"strings"
	"testing"
)

// problems collects what Validate reports, as "key: problem".
func problems(c Config) []string {
	var out []string
	c.Validate(func(key, problem string) { out = append(out, key+": "+problem) })
	return out
}

func TestValidate(t *testing.T) {
	ok := Defaults()
	ok.Name, ok.App = "emqx.example.com", "emqx"
	if p := problems(ok); p != nil {
		t.Fatalf("valid config: %q", p)
	}
	for _, tc := range []struct {
		name string
		mut  func(*Config)
		want string // "key: problem" prefix
	}{
		{"no name", func(c *Config) { c.Name = "" }, "cluster.discovery: cluster.dns.name is required when cluster.discovery = dns"},
		{"bad name", func(c *Config) { c.Name = "bad_name.com" }, "cluster.dns.name: must be a DNS name"},
		{"long name", func(c *Config) { c.Name = strings.Repeat("a.", 127) + "aa" }, "cluster.dns.name: must be a DNS name"},
		{"no app", func(c *Config) { c.App = "" }, "cluster.dns.app: must match ^[0-9A-Za-z_-]+$"},
		{"bad app", func(c *Config) { c.App = "my.app" }, "cluster.dns.app: must match ^[0-9A-Za-z_-]+$"},
		{"bad type", func(c *Config) { c.Type = "cname" }, "cluster.dns.type: must be one of a, aaaa, srv"},
		{"upper type", func(c *Config) { c.Type = "A" }, "cluster.dns.type: must be one of a, aaaa, srv"},
		{"server name", func(c *Config) { c.Server = "dns.google" }, "cluster.dns.server: must be an IP address"},
		{"server port", func(c *Config) { c.Server = "1.1.1.1:99999" }, `cluster.dns.server: port "99999" must be an integer from 1 to 65535`},
	} {
		c := ok
		tc.mut(&c)
		if p := problems(c); len(p) != 1 || !strings.HasPrefix(p[0], tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, p, tc.want)
		}
	}
	for _, c := range []Config{{Name: "emqx.local.", App: "my_app-1", Type: "srv", Server: "[::1]:5353"}, {Name: "x", App: "a", Type: "aaaa", Server: "10.0.0.1:53"}} {
		if p := problems(c); p != nil {
			t.Errorf("%+v: %q", c, p)
		}
	}
}

func TestParseServer(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1": "127.0.0.1:53", "127.0.0.1:5353": "127.0.0.1:5353", "[::1]:5353": "[::1]:5353", "::1": "[::1]:53", "[::1]": "[::1]:53",
	} {
		if got, err := ParseServer(in); err != nil || got != want {
			t.Errorf("ParseServer(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "dns.google", "1.1.1.1:0", "1.1.1.1:+53", "1.1.1.1:", "dns.google:53"} {
		if got, err := ParseServer(in); err == nil {
			t.Errorf("ParseServer(%q) = %q, want an error", in, got)
		}
	}
}

func TestSelfNameHint(t *testing.T) {
	c := Config{App: "emqx", Type: "a"}
	if h := SelfNameHint(c, "emqx@s1.emqx.io"); !strings.Contains(h, "emqx@<its IP>") {
		t.Errorf("host name under type a: %q", h)
	}
	c.Type = "srv"
	if h := SelfNameHint(c, "emqx@s1.emqx.io"); h != "" {
		t.Errorf("srv: %q", h)
	}
}
