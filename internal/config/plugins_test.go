package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"emqxgo/internal/access/authhttp"
	"emqxgo/internal/access/authjwt"
	"emqxgo/internal/access/passwd"
)

func pluginFile(name string) string { return filepath.Join("etc", PluginsDir, name) }

// TestPluginDefaults: without plugin files the plugins' own defaults.
func TestPluginDefaults(t *testing.T) {
	c := newRelease(t, "", "").mustLoad(t)
	if !reflect.DeepEqual(c.Plugins.HTTP, authhttp.Defaults()) {
		t.Errorf("http %+v\nwant %+v", c.Plugins.HTTP, authhttp.Defaults())
	}
	if !reflect.DeepEqual(c.Plugins.JWT, authjwt.Defaults()) {
		t.Errorf("jwt %+v\nwant %+v", c.Plugins.JWT, authjwt.Defaults())
	}
	if !reflect.DeepEqual(c.Plugins.Mnesia, Mnesia{PasswordHash: passwd.MnesiaDefault}) {
		t.Errorf("mnesia %+v", c.Plugins.Mnesia)
	}
	if c.LoadedPlugins != nil {
		t.Errorf("loaded plugins %q", c.LoadedPlugins)
	}
}

func TestLoadedPlugins(t *testing.T) {
	r := newRelease(t, "", "")
	for v, want := range map[string][]string{
		"emqx_auth_http,emqx_auth_jwt":           {"emqx_auth_http", "emqx_auth_jwt"},
		"emqx_auth_mnesia emqx_management":       {"emqx_auth_mnesia", "emqx_management"},
		" emqx_auth_http | emqx_auth_mnesia ,\t": {"emqx_auth_http", "emqx_auth_mnesia"},
		`"emqx_recon,emqx_retainer"`:             {"emqx_recon", "emqx_retainer"},
		"":                                       nil,
		" , ":                                    nil,
	} {
		c := r.mustLoad(t, "EMQX_LOADED_PLUGINS="+v)
		if !reflect.DeepEqual(c.LoadedPlugins, want) {
			t.Errorf("%q: got %q, want %q", v, c.LoadedPlugins, want)
		}
	}
	if c := r.mustLoad(t, "emqx_loaded_plugins=emqx_auth_jwt"); !reflect.DeepEqual(c.LoadedPlugins, []string{"emqx_auth_jwt"}) {
		t.Errorf("lower case: %q", c.LoadedPlugins)
	}
	wantOneError(t, r.mustFail(t, "EMQX_LOADED_PLUGINS=emqx_auth_jwt", "emqx_loaded_plugins=emqx_auth_http"), "conflicts with")
	// Not a key of the files.
	wantOneError(t, newRelease(t, "loaded_plugins = emqx_auth_http\n", "").mustFail(t), "loaded_plugins", "unknown key")
}

// TestPluginFiles: each plugin file is read after cluster.conf (and beats
// it), any plugin's keys are accepted in any file, wildcard keys keep
// their free segment as written.
func TestPluginFiles(t *testing.T) {
	r := newRelease(t, "auth.http.pool_size = 4\nauth.jwt.from = username\n", "auth.http.pool_size = 5\n")
	r.write(t, pluginFile("emqx_auth_http.conf"), `
auth.http.pool_size = 16
auth.http.auth_req.url = http://auth:8080/auth
auth.http.auth_req.method = get
auth.http.auth_req.headers.Accept = */*
auth.http.auth_req.headers.x_token = "a b # c"
auth.http.acl_req.headers.content-type = application/json
auth.http.timeout = 2500
auth.mnesia.password_hash = md5
`)
	r.write(t, pluginFile("emqx_auth_jwt.conf"), `
auth.jwt.verify_claims = on
auth.jwt.verify_claims.sub = %u
auth.jwt.verify_claims.clientId = %c
auth.jwt.jwks = https://keys.example/jwks
auth.jwt.jwks.refresh_interval = 10m
`)
	r.write(t, pluginFile("emqx_auth_mnesia.conf"), `
auth.user.10.username = ten
auth.user.10.password = p10
auth.user.2.username = two
auth.user.2.password = "p 2"
auth.user.admin.username = admin
auth.user.admin.password = public
auth.user.7.password = lonely
auth.client.1.clientid = dev:1
auth.client.1.password = secret1
`)
	c := r.mustLoad(t)
	h := c.Plugins.HTTP
	if h.PoolSize != 16 || h.AuthReq.URL != "http://auth:8080/auth" || h.AuthReq.Method != "get" || h.Timeout != 2500*time.Millisecond {
		t.Errorf("http %+v", h)
	}
	if want := map[string]string{"Accept": "*/*", "x_token": "a b # c"}; !reflect.DeepEqual(h.AuthReq.Headers, want) {
		t.Errorf("auth_req headers %q", h.AuthReq.Headers)
	}
	if want := map[string]string{"content-type": "application/json"}; !reflect.DeepEqual(h.ACLReq.Headers, want) || h.SuperReq.Headers != nil {
		t.Errorf("acl_req headers %q super_req %q", h.ACLReq.Headers, h.SuperReq.Headers)
	}
	j := c.Plugins.JWT
	if !j.VerifyClaims || j.From != "username" || j.JWKS != "https://keys.example/jwks" || j.RefreshInterval != 10*time.Minute ||
		!reflect.DeepEqual(j.Claims, map[string]string{"sub": "%u", "clientId": "%c"}) {
		t.Errorf("jwt %+v", j)
	}
	m := c.Plugins.Mnesia
	want := Mnesia{PasswordHash: passwd.MD5,
		Users:     []Credential{{"two", "p 2"}, {"ten", "p10"}, {"admin", "public"}},
		ClientIDs: []Credential{{"dev:1", "secret1"}}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("mnesia %+v\nwant   %+v", m, want)
	}

	// Dump: the concrete keys, users numbered in order, passwords masked.
	d := c.Dump()
	for _, line := range []string{
		"auth.http.auth_req.headers.Accept = */*", `auth.http.auth_req.headers.x_token = "a b # c"`,
		"auth.http.acl_req.headers.content-type = application/json",
		"auth.jwt.verify_claims.clientId = %c", "auth.jwt.verify_claims.sub = %u",
		"auth.user.1.username = two", "auth.user.1.password = " + Masked, "auth.user.2.username = ten",
		"auth.user.3.username = admin", "auth.client.1.clientid = dev:1", "auth.client.1.password = " + Masked,
		"auth.http.timeout = 2s500ms", "auth.jwt.secret = \"\"",
	} {
		if !strings.Contains(d, "\n"+line+"\n") {
			t.Errorf("dump lacks %q", line)
		}
	}
	if strings.Contains(d, "p10") || strings.Contains(d, "lonely") || strings.Contains(d, "auth.user.4") {
		t.Errorf("dump shows a password or an ignored one:\n%s", d)
	}
}

// TestPluginDumpRoundTrip: Dump of wildcard keys loads back to the same.
func TestPluginDumpRoundTrip(t *testing.T) {
	r := newRelease(t, "auth.http.super_req.headers.X-Key = k\nauth.jwt.verify_claims.iss = me\n"+
		"auth.client.b.clientid = c2\nauth.client.b.password = pw2\nauth.client.a.clientid = c1\nauth.client.a.password = pw1\n", "")
	c1 := r.mustLoad(t)
	dump := strings.ReplaceAll(c1.Dump(), "node.cookie = "+Masked, "node.cookie = "+DefaultCookie)
	dump = strings.Replace(dump, "auth.client.1.password = "+Masked, "auth.client.1.password = pw1", 1)
	dump = strings.Replace(dump, "auth.client.2.password = "+Masked, "auth.client.2.password = pw2", 1)
	c2 := newRelease(t, dump, "").mustLoad(t)
	if !reflect.DeepEqual(c1.Plugins, c2.Plugins) {
		t.Errorf("round trip:\n%+v\n%+v", c1.Plugins, c2.Plugins)
	}
}

// TestPluginFileErrors: a plugin file's problems are reported at its path
// and line, like those of emqx.conf.
func TestPluginFileErrors(t *testing.T) {
	r := newRelease(t, "", "")
	p := r.write(t, pluginFile("emqx_auth_http.conf"), "# http\nauth.http.auth_req.urll = http://h/auth\n\nauth.http.pool_size = none\n")
	errs := r.mustFail(t)
	if len(errs) != 2 {
		t.Fatalf("got:\n%s", errsText(errs))
	}
	if want := p + `:2: auth.http.auth_req.urll = "http://h/auth": unknown key; did you mean auth.http.auth_req.url?`; errs[0].Error() != want {
		t.Errorf("got  %s\nwant %s", errs[0].Error(), want)
	}
	if want := p + `:4: auth.http.pool_size = "none": must be an integer`; errs[1].Error() != want {
		t.Errorf("got  %s\nwant %s", errs[1].Error(), want)
	}

	// Errors sort by file in load order: emqx.conf, cluster.conf, plugins, env.
	r = newRelease(t, "auth.jwt.from = x\n", "cluster.name = \"a b\"\n")
	jwt := r.write(t, pluginFile("emqx_auth_jwt.conf"), "auth.jwt.signature_format = pem\n")
	mn := r.write(t, pluginFile("emqx_auth_mnesia.conf"), "auth.mnesia.password_hash = bcrypt\n")
	errs = r.mustFail(t, "EMQX_AUTH__HTTP__METHOD=post")
	var got []string
	for _, e := range errs {
		got = append(got, e.Source)
	}
	if want := []string{r.emqxConf(), r.clusterConf(), jwt, mn, "env EMQX_AUTH__HTTP__METHOD"}; !reflect.DeepEqual(got, want) {
		t.Errorf("sources %q\nwant    %q\n%s", got, want, errsText(errs))
	}

	// A plugin file that exists but cannot be read is an error; a folder too.
	r = newRelease(t, "", "")
	r.write(t, pluginFile("emqx_auth_mnesia.conf")+"/x", "")
	wantOneError(t, r.mustFail(t), "emqx_auth_mnesia.conf", "cannot read config file")
}

// TestWildcardKeysFromEnv: EMQX_ + the key with "__" for dots, the free
// segment in lower case; an empty value removes the key.
func TestWildcardKeysFromEnv(t *testing.T) {
	r := newRelease(t, "", "")
	r.write(t, pluginFile("emqx_auth_http.conf"), "auth.http.auth_req.headers.accept = */*\nauth.http.auth_req.headers.x_a = 1\n")
	c := r.mustLoad(t,
		"EMQX_AUTH__HTTP__AUTH_REQ__URL=http://env:80/auth",
		"EMQX_AUTH__HTTP__AUTH_REQ__HEADERS__CONTENT_TYPE=application/json",
		"EMQX_AUTH__HTTP__AUTH_REQ__HEADERS__ACCEPT=",
		"EMQX_AUTH__HTTP__AUTH_REQ__HEADERS__X_A=2",
		"EMQX_AUTH__JWT__VERIFY_CLAIMS__SUB=%u",
		"EMQX_AUTH__USER__1__USERNAME=admin",
		"EMQX_AUTH__USER__1__PASSWORD=public",
		"emqx_auth__client__x__clientid=dev",
		"EMQX_AUTH__CLIENT__X__PASSWORD=pw",
		"EMQX_AUTH__MNESIA__PASSWORD_HASH=sha",
	)
	h := c.Plugins.HTTP.AuthReq
	if h.URL != "http://env:80/auth" || !reflect.DeepEqual(h.Headers, map[string]string{"content_type": "application/json", "x_a": "2"}) {
		t.Errorf("auth_req %+v", h)
	}
	if !reflect.DeepEqual(c.Plugins.JWT.Claims, map[string]string{"sub": "%u"}) {
		t.Errorf("claims %q", c.Plugins.JWT.Claims)
	}
	m := c.Plugins.Mnesia
	if m.PasswordHash != passwd.SHA || !reflect.DeepEqual(m.Users, []Credential{{"admin", "public"}}) ||
		!reflect.DeepEqual(m.ClientIDs, []Credential{{"dev", "pw"}}) {
		t.Errorf("mnesia %+v", m)
	}

	e := wantOneError(t, r.mustFail(t, "EMQX_AUTH__HTTP__AUTH_REQ__HEADERS__X_A=a\x01b"),
		`env EMQX_AUTH__HTTP__AUTH_REQ__HEADERS__X_A: auth.http.auth_req.headers.x_a = "a\x01b": must be a header value`)
	if e.Line != 0 {
		t.Errorf("line %d", e.Line)
	}
	wantOneError(t, r.mustFail(t, "EMQX_AUTH__USER__1__USERNAME=admin"),
		"env EMQX_AUTH__USER__1__USERNAME: auth.user.1.username = \"admin\": auth.user.1.password is required when auth.user.1.username is set")
}

// TestWildcardNearMisses: a key close to a wildcard key is unknown, with
// a suggestion that keeps the written name.
func TestWildcardNearMisses(t *testing.T) {
	for key, want := range map[string]string{
		"auth.http.auth_req.header.content_type": "did you mean auth.http.auth_req.headers.content_type?",
		"auth.http.acl_req_headers.accept":       "did you mean auth.http.acl_req.headers.accept?",
		"auth.http.auth_req.Headers.Accept":      "did you mean auth.http.auth_req.headers.Accept?",
		"auth.jwt.verify_claim.sub":              "did you mean auth.jwt.verify_claims.sub?",
		"auth.user.1.usernme":                    "did you mean auth.user.1.username?",
		"auth.users.admin.username":              "did you mean auth.user.admin.username?",
		"auth.client.7.client_id":                "did you mean auth.client.7.clientid?",
		"auth.http.auth_req.headers.":            "unknown key",
		"auth.http.auth_req.headers.a.b":         "did you mean auth.http.auth_req.headers.a?",
	} {
		r := newRelease(t, "", "")
		p := r.write(t, pluginFile("emqx_auth_http.conf"), "\n"+key+" = v\n")
		e := wantOneError(t, r.mustFail(t), want)
		if e.Source != p || e.Line != 2 {
			t.Errorf("%s: at %s:%d", key, e.Source, e.Line)
		}
		if want == "unknown key" && strings.Contains(e.Msg, "did you mean") {
			t.Errorf("%s: %s", key, e.Msg)
		}
	}
	r := newRelease(t, "", "")
	wantOneError(t, r.mustFail(t, "EMQX_AUTH__HTTP__ACL_REQ__HEADER__ACCEPT=x"),
		"did you mean auth.http.acl_req.headers.accept (EMQX_AUTH__HTTP__ACL_REQ__HEADERS__ACCEPT)?")
	// A typo of a password key does not show the password.
	errs := r.mustFail(t, "EMQX_AUTH__USER__1__PASWORD=hunter2", "EMQX_AUTH__JWT__SECRETT=hunter3")
	if txt := errsText(errs); len(errs) != 2 || strings.Contains(txt, "hunter") || !strings.Contains(txt, "did you mean auth.user.1.password") {
		t.Errorf("errors:\n%s", txt)
	}
}

// TestMnesiaCredentials: a user name or client id needs its password; a
// password alone is ignored (as in EMQX).
func TestMnesiaCredentials(t *testing.T) {
	r := newRelease(t, "", "")
	p := r.write(t, pluginFile("emqx_auth_mnesia.conf"), "auth.user.1.username = a\nauth.client.c.clientid = x\nauth.client.d.password = y\n")
	errs := r.mustFail(t)
	if len(errs) != 2 {
		t.Fatalf("got:\n%s", errsText(errs))
	}
	for i, want := range []string{
		p + `:1: auth.user.1.username = "a": auth.user.1.password is required when auth.user.1.username is set`,
		p + `:2: auth.client.c.clientid = "x": auth.client.c.password is required when auth.client.c.clientid is set`,
	} {
		if errs[i].Error() != want {
			t.Errorf("got  %s\nwant %s", errs[i].Error(), want)
		}
	}
}

// TestPluginFilesChecked: files named by plugin keys must be readable.
func TestPluginFilesChecked(t *testing.T) {
	r := newRelease(t, "", "")
	r.write(t, "etc/certs/jwt.pem", "-----BEGIN PUBLIC KEY-----\n")
	r.write(t, pluginFile("emqx_auth_jwt.conf"), "auth.jwt.pubkey = etc/certs/jwt.pem\n")
	if c := r.mustLoad(t); c.Plugins.JWT.Pubkey != filepath.Join(r.home, "etc/certs/jwt.pem") {
		t.Errorf("pubkey %q", c.Plugins.JWT.Pubkey)
	}
	p := r.write(t, pluginFile("emqx_auth_jwt.conf"), "\nauth.jwt.pubkey = etc/certs/nope.pem\n")
	e := wantOneError(t, r.mustFail(t), `auth.jwt.pubkey = "etc/certs/nope.pem": cannot read file `+filepath.Join(r.home, "etc/certs/nope.pem"))
	if e.Source != p || e.Line != 2 {
		t.Errorf("at %s:%d", e.Source, e.Line)
	}
	r.write(t, pluginFile("emqx_auth_jwt.conf"), "")
	for _, k := range []string{"cacertfile", "certfile", "keyfile"} {
		wantOneError(t, r.mustFail(t, "EMQX_AUTH__HTTP__SSL__"+strings.ToUpper(k)+"=/nope/x.pem"),
			"env EMQX_AUTH__HTTP__SSL__"+strings.ToUpper(k)+": auth.http.ssl."+k+` = "/nope/x.pem": cannot read file /nope/x.pem`)
	}
}

func TestLessFree(t *testing.T) {
	ids := []string{"b", "10", "a", "2", "02", "1"}
	vals := make([]wildVal, len(ids))
	for i, id := range ids {
		vals[i] = wildVal{free: id}
	}
	sortWild(vals)
	var got []string
	for _, v := range vals {
		got = append(got, v.free)
	}
	if want := []string{"1", "02", "2", "10", "a", "b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
