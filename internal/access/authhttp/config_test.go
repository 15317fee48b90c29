package authhttp

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"emqxgo/internal/access"
)

func problems(c Config, validate bool) map[string]string {
	got := map[string]string{}
	f := c.CheckKeys
	if validate {
		f = c.Validate
	}
	f(func(k, p string) { got[k] = p })
	return got
}

func TestDefaults(t *testing.T) {
	d := Defaults()
	if d.AuthReq.URL != "" || d.ACLReq.URL != "" || d.SuperReq.URL != "" || d.AuthReq.Method != "post" ||
		d.Timeout != 5*time.Second || d.ConnectTimeout != 5*time.Second || d.PoolSize != 8 ||
		d.EnablePipelining != 100 || d.Verify || d.CACertFile != "" || d.ServerNameIndication != "" {
		t.Errorf("Defaults = %+v", d)
	}
	if p := problems(d, true); len(p) > 0 {
		t.Errorf("defaults have problems: %v", p)
	}
	p, err := New(d, nil)
	if err != nil || p.Authenticates() || p.ChecksACL() {
		t.Fatalf("New(Defaults) = %v, %v", p, err)
	}
	if r, _ := p.Authenticate(context.Background(), testClient()); r != access.Ignore {
		t.Errorf("unconfigured plugin answered %v", r)
	}
}

// The settings of the shipped emqx_auth_http.conf pass.
func TestShippedFile(t *testing.T) {
	c := Defaults()
	c.AuthReq = Request{URL: "http://127.0.0.1:80/mqtt/auth", Method: "post",
		Headers: map[string]string{"content_type": FormContentType}, Params: "clientid=%c,username=%u,password=%P"}
	c.ACLReq = Request{URL: "http://127.0.0.1:80/mqtt/acl", Method: "post",
		Headers: map[string]string{"content-type": FormContentType}, Params: "access=%A,username=%u,clientid=%c,ipaddr=%a,topic=%t,mountpoint=%m"}
	c.PoolSize, c.EnablePipelining = 32, ParsePipelining("100")
	if p := problems(c, true); len(p) > 0 {
		t.Errorf("shipped settings have problems: %v", p)
	}
}

func TestKeys(t *testing.T) {
	if len(Keys) != 21 || !slices.Contains(Keys, "auth.http.acl_req.headers.<name>") || !slices.Contains(Keys, "auth.http.ssl.server_name_indication") {
		t.Errorf("Keys = %v", Keys)
	}
	for _, k := range Keys {
		if !strings.HasPrefix(k, "auth.http.") {
			t.Errorf("key %s", k)
		}
	}
}

func TestCheckKeys(t *testing.T) {
	c := Defaults()
	c.AuthReq = Request{URL: "ftp://h/x", Method: "put", Headers: map[string]string{"bad name": "v", "ok": "a\nb"}, Params: "a=%u,b"}
	c.SuperReq = Request{URL: "http://h:99999/", Method: "get", Params: "a=b=c"}
	c.ACLReq = Request{URL: "http://", Method: "get"}
	c.Timeout, c.ConnectTimeout, c.PoolSize, c.EnablePipelining = 0, -1, 0, 0
	got := problems(c, false)
	for _, k := range []string{
		"auth.http.auth_req.url", "auth.http.auth_req.method", "auth.http.auth_req.headers.bad name",
		"auth.http.auth_req.headers.ok", "auth.http.auth_req.params", "auth.http.super_req.url",
		"auth.http.super_req.params", "auth.http.acl_req.url", "auth.http.timeout",
		"auth.http.connect_timeout", "auth.http.pool_size", "auth.http.enable_pipelining",
	} {
		if got[k] == "" {
			t.Errorf("no problem reported at %s", k)
		}
		delete(got, k)
	}
	if len(got) > 0 {
		t.Errorf("unexpected problems: %v", got)
	}
	// Forms EMQX takes.
	c = Defaults()
	c.AuthReq = Request{URL: "127.0.0.1:8080/auth", Method: "get", Params: ",a==b,,=c=d,"}
	c.ACLReq = Request{URL: "https://[::1]/acl?x=1", Method: "get"}
	if p := problems(c, true); len(p) > 0 {
		t.Errorf("problems: %v", p)
	}
	ps, _ := parseParams(",a==b,,=c=d,")
	if !slices.Equal(ps, []param{{"a", "b"}, {"c", "d"}}) {
		t.Errorf("params %v", ps)
	}
	if u, _ := parseURL("127.0.0.1:8080/auth"); u.String() != "http://127.0.0.1:8080/auth" {
		t.Errorf("url without scheme: %v", u)
	}
}

func TestValidate(t *testing.T) {
	c := Defaults()
	c.AuthReq = Request{URL: "http://h/a", Method: "post", Headers: map[string]string{"content_type": "application/json; charset=utf-8"}}
	c.ACLReq = Request{URL: "http://h/a", Method: "post"}
	c.SuperReq = Request{URL: "http://h/a", Method: "get"} // GET needs none
	c.CertFile = "/c.pem"
	got := problems(c, true)
	for _, k := range []string{"auth.http.auth_req.headers.content_type", "auth.http.acl_req.headers.content_type", "auth.http.ssl.certfile"} {
		if got[k] == "" {
			t.Errorf("no problem at %s", k)
		}
		delete(got, k)
	}
	if len(got) > 0 {
		t.Errorf("unexpected problems: %v", got)
	}
	c = Defaults()
	c.KeyFile = "/k.pem"
	if got := problems(c, true); got["auth.http.ssl.keyfile"] == "" {
		t.Errorf("key without certificate: %v", got)
	}
}

func TestParsePipelining(t *testing.T) {
	for in, want := range map[string]int{"100": 100, "1": 1, "7": 7, "true": 100, "false": 1, "on": 100, "": 100} {
		if got := ParsePipelining(in); got != want {
			t.Errorf("ParsePipelining(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestVars(t *testing.T) {
	c := testClient()
	c.CertCN = "" // a certificate without a common name
	v := authVars(c)
	if v["%C"] != "undefined" || v["%d"] != "CN=cn1,O=org" {
		t.Errorf("cert vars %q %q", v["%C"], v["%d"])
	}
	c.Peer = netip.AddrPort{}
	c.Password = []byte{}
	v = authVars(c)
	if v["%a"] != "undefined" || v["%P"] != "" {
		t.Errorf("%%a %q %%P %q", v["%a"], v["%P"])
	}
}

func TestFailuresLoggedOnce(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	c := authConfig(closedURL(t))
	p, err := New(c, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for range 3 {
		mustAuth(t, p, testClient(), access.Deny)
	}
	if n := logs.Len(); n != 1 {
		t.Errorf("%d warnings for 3 failures, want 1", n)
	}
	e := logs.All()[0]
	if e.ContextMap()["plugin"] != Name || !strings.Contains(e.ContextMap()["url"].(string), "/auth") {
		t.Errorf("log fields %v", e.ContextMap())
	}
}
