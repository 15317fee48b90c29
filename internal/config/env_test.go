package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEnvBeatsFiles(t *testing.T) {
	r := newRelease(t, "log.level = info\nlistener.tcp.external = 1883\n", "cluster.discovery = manual\n")
	c := r.mustLoad(t,
		"EMQX_LOG__LEVEL=debug",
		"EMQX_LISTENER__TCP__EXTERNAL=127.0.0.1:1884",
		"EMQX_CLUSTER__DISCOVERY=static",
		`EMQX_CLUSTER__STATIC__SEEDS="emqx1@h1,emqx2@h2"`,
		"PATH=/usr/bin", "HOME=/root", "NOT_EMQX_LOG__LEVEL=error", "EMQX_=x", "EMQX", "=C:=C:\\",
	)
	if c.Log.Level != "debug" || c.Listeners.Find("tcp", "external").Addr != "127.0.0.1:1884" || c.Cluster.Discovery != "static" ||
		strings.Join(c.Cluster.Static.Seeds, ",") != "emqx1@h1,emqx2@h2" {
		t.Errorf("got level %q tcp %q discovery %q seeds %q", c.Log.Level, c.Listeners.Find("tcp", "external").Addr, c.Cluster.Discovery, c.Cluster.Static.Seeds)
	}
}

func TestEnvCaseInsensitive(t *testing.T) {
	r := newRelease(t, "", "")
	c := r.mustLoad(t, "emqx_listener__tcp__external=1884", "Emqx_Cluster__Name=lower", "EMQX_ALLOW_ANONYMOUS=false",
		"emqx_node__data_dir=/d")
	if c.Listeners.Find("tcp", "external").Addr != "0.0.0.0:1884" || c.Cluster.Name != "lower" || c.Access.AllowAnonymous != "false" || c.Node.DataDir != "/d" {
		t.Errorf("got tcp %q name %q anon %v data %q", c.Listeners.Find("tcp", "external").Addr, c.Cluster.Name, c.Access.AllowAnonymous, c.Node.DataDir)
	}
}

// TestEnvOneWordKeys: keys without a dot are EMQX_ + the key upper-cased.
func TestEnvOneWordKeys(t *testing.T) {
	r := newRelease(t, "acl_nomatch = deny\nauth_order = http\n", "")
	c := r.mustLoad(t,
		"EMQX_ALLOW_ANONYMOUS=false_quick_deny",
		"EMQX_ACL_NOMATCH=Deny",
		"EMQX_ACL_FILE=/etc/emqx/acl.conf",
		"EMQX_ENABLE_ACL_CACHE=off",
		"EMQX_ACL_CACHE_MAX_SIZE=64",
		"EMQX_ACL_CACHE_TTL=30s",
		"EMQX_ACL_DENY_ACTION=disconnect",
		"EMQX_AUTH_ORDER=jwt,http",
		"emqx_acl_order=internal mnesia",
	)
	want := Access{AllowAnonymous: "false_quick_deny", ACLNomatch: "deny", ACLFile: "/etc/emqx/acl.conf",
		ACLCacheMaxSize: 64, ACLCacheTTL: 30 * time.Second, ACLDenyAction: "disconnect",
		AuthOrder: []string{"jwt", "http"}, ACLOrder: []string{"internal", "mnesia"}}
	if !reflect.DeepEqual(c.Access, want) {
		t.Errorf("got  %+v\nwant %+v", c.Access, want)
	}
	e := wantOneError(t, r.mustFail(t, "EMQX_ACL_CACHE_MAX_SIZE=0"),
		`env EMQX_ACL_CACHE_MAX_SIZE: acl_cache_max_size = "0": must be an integer of at least 1`)
	if e.Line != 0 {
		t.Errorf("line %d", e.Line)
	}
	// Empty: the default, over the file.
	if c := r.mustLoad(t, "EMQX_ACL_NOMATCH=", "EMQX_AUTH_ORDER="); c.Access.ACLNomatch != "allow" || c.Access.AuthOrder != nil {
		t.Errorf("reset: %+v", c.Access)
	}
}

func TestEnvShorthands(t *testing.T) {
	cases := []struct {
		name       string
		env        []string
		nodeName   string
		cookie     string
		cookieDflt bool
	}{
		{"shorthands", []string{"EMQX_NODE_NAME=emqx1@10.0.0.1", "EMQX_NODE_COOKIE=abc"}, "emqx1@10.0.0.1", "abc", false},
		{"lowercase shorthands", []string{"emqx_node_name=emqx2@h", "emqx_node_cookie=xyz"}, "emqx2@h", "xyz", false},
		{"__ form wins", []string{"EMQX_NODE_NAME=short@h", "EMQX_NODE__NAME=long@h",
			"EMQX_NODE__COOKIE=long", "EMQX_NODE_COOKIE=short"}, "long@h", "long", false},
		{"empty __ form loses to shorthand", []string{"EMQX_NODE__NAME=", "EMQX_NODE_NAME=short@h"}, "short@h", "filecookie", false},
		{"empty shorthand means default", []string{"EMQX_NODE_NAME=", "EMQX_NODE_COOKIE="}, "emqx@127.0.0.1", DefaultCookie, true},
		{"cookie set to the default", []string{"EMQX_NODE_COOKIE=" + DefaultCookie}, "file@h", DefaultCookie, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRelease(t, "node.name = file@h\nnode.cookie = filecookie\n", "")
			cfg := r.mustLoad(t, c.env...)
			if cfg.Node.Name != c.nodeName || cfg.Node.Cookie != c.cookie || cfg.Node.CookieIsDefault != c.cookieDflt {
				t.Errorf("got %q %q %v, want %q %q %v", cfg.Node.Name, cfg.Node.Cookie, cfg.Node.CookieIsDefault,
					c.nodeName, c.cookie, c.cookieDflt)
			}
		})
	}
}

func TestEnvShorthandError(t *testing.T) {
	r := newRelease(t, "", "")
	e := wantOneError(t, r.mustFail(t, "EMQX_NODE_NAME=emqx"), `env EMQX_NODE_NAME: node.name = "emqx": invalid node name "emqx"`)
	if e.Line != 0 {
		t.Errorf("line %d", e.Line)
	}
}

func TestEnvEmptyMeansDefault(t *testing.T) {
	r := newRelease(t, "log.level = debug\nlog.to = both\nlistener.tcp.external = 1884\n", "cluster.name = other\n")
	c := r.mustLoad(t, "EMQX_LOG__LEVEL=", "EMQX_LOG__TO=  ", `EMQX_LISTENER__TCP__EXTERNAL=""`, "EMQX_CLUSTER__NAME=",
		"EMQX_CLUSTER__DNS__APP=")
	if c.Log.Level != "warning" || c.Log.To != "file" || c.Log.ToIsSet || c.Listeners.Find("tcp", "external").Addr != "0.0.0.0:1883" ||
		c.Cluster.Name != "emqxcl" || c.Cluster.DNS.App != "emqx" {
		t.Errorf("got level %q to %q set %v tcp %q name %q app %q", c.Log.Level, c.Log.To, c.Log.ToIsSet,
			c.Listeners.Find("tcp", "external").Addr, c.Cluster.Name, c.Cluster.DNS.App)
	}
}

func TestEnvLogToIsSet(t *testing.T) {
	r := newRelease(t, "", "")
	if c := r.mustLoad(t, "EMQX_LOG__TO=console"); !c.Log.ToIsSet || c.Log.To != "console" {
		t.Errorf("env: %q %v", c.Log.To, c.Log.ToIsSet)
	}
	r = newRelease(t, "log.to = file\n", "")
	if c := r.mustLoad(t); !c.Log.ToIsSet {
		t.Errorf("file: not set")
	}
}

func TestEnvUnknownKey(t *testing.T) {
	r := newRelease(t, "", "")
	e := wantOneError(t, r.mustFail(t, "EMQX_CLUSTER__STATIC__SEED=a@b", "EMQX_HOME=/x", "EMQX_WAIT_FOR_START=10", "EMQX_WHATEVER=1"),
		`env EMQX_CLUSTER__STATIC__SEED: cluster.static.seed = "a@b": unknown key; did you mean cluster.static.seeds (EMQX_CLUSTER__STATIC__SEEDS)?`)
	if e.Source != "env EMQX_CLUSTER__STATIC__SEED" {
		t.Errorf("source %q", e.Source)
	}
	wantOneError(t, r.mustFail(t, "EMQX_FOO__BAR="), "env EMQX_FOO__BAR: foo.bar: unknown key")
}

func TestEnvBadValue(t *testing.T) {
	r := newRelease(t, "", "")
	e := wantOneError(t, r.mustFail(t, "EMQX_LOG__LEVEL=loud"),
		`env EMQX_LOG__LEVEL: log.level = "loud": must be one of debug, info, notice, warning, error, critical`)
	if e.Line != 0 || e.Key != "log.level" || e.Value != "loud" {
		t.Errorf("%+v", e)
	}
}

func TestEnvConflict(t *testing.T) {
	r := newRelease(t, "", "")
	wantOneError(t, r.mustFail(t, "EMQX_LOG__LEVEL=info", "emqx_log__level=debug"), "conflicts with", "EMQX_LOG__LEVEL")
	// Same value twice is fine.
	if c := r.mustLoad(t, "EMQX_LOG__LEVEL=info", "emqx_log__level=info"); c.Log.Level != "info" {
		t.Errorf("level %q", c.Log.Level)
	}
}

func TestEnvCrossKeyOrigin(t *testing.T) {
	r := newRelease(t, "", "")
	wantOneError(t, r.mustFail(t, "EMQX_CLUSTER__DISCOVERY=dns"),
		`env EMQX_CLUSTER__DISCOVERY: cluster.discovery = "dns": cluster.dns.name is required when cluster.discovery = dns`)
}

func TestNilEnv(t *testing.T) {
	r := newRelease(t, "", "")
	c, err := Load(Options{Home: r.home})
	if err != nil || c.Log.Level != "warning" {
		t.Fatalf("%v", err)
	}
}

func TestCookieNotShownInErrors(t *testing.T) {
	r := newRelease(t, "node.cooki = topsecret1\n", "")
	errs := r.mustFail(t, "EMQX_NODE__COOKIE=topsecret2", "emqx_node__cookie=topsecret3", "EMQX_NODE__COOKI=topsecret4")
	if len(errs) != 3 {
		t.Fatalf("got:\n%s", errsText(errs))
	}
	if txt := errsText(errs); strings.Contains(txt, "topsecret") || !strings.Contains(txt, "did you mean node.cookie") {
		t.Errorf("errors:\n%s", txt)
	}
}
