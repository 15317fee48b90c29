package node_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"emqxgo/internal/ctlrpc"
	"emqxgo/internal/testutil"
	"emqxgo/internal/testutil/testnode"
)

// dash makes requests to a node's dashboard listener as a browser (a
// session cookie, X-Requested-With) or a script (basic credentials) does.
type dash struct {
	t      *testing.T
	addr   string
	client *http.Client
	cookie *http.Cookie
	user   string // basic credentials when set
	pass   string
	xhr    bool // send X-Requested-With: XMLHttpRequest
	header http.Header
}

func newDash(t *testing.T, n *testnode.Node) *dash {
	if n.Dashboard == "" {
		t.Fatalf("%s has no dashboard listener", n.Name)
	}
	return &dash{t: t, addr: n.Dashboard, client: &http.Client{Timeout: 30 * time.Second}, xhr: true}
}

// from makes the requests leave from source address src.
func (d *dash) from(src string) *dash {
	c := *d
	dl := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dl.DialContext}}
	return &c
}

// do makes one request (path under /api/v4 unless it is "/" or starts
// with "/static/"); body, when not nil, is sent as JSON.
func (d *dash) do(method, path string, body any) (*http.Response, []byte) {
	d.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			d.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	url := "http://" + d.addr + path
	if path != "/" && !strings.HasPrefix(path, "/static/") {
		url = "http://" + d.addr + "/api/v4" + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		d.t.Fatal(err)
	}
	if d.cookie != nil {
		req.AddCookie(d.cookie)
	}
	if d.user != "" {
		req.SetBasicAuth(d.user, d.pass)
	}
	if d.xhr {
		req.Header.Set("X-Requested-With", "XMLHttpRequest")
	}
	for k, vs := range d.header {
		req.Header[k] = vs
	}
	resp, err := d.client.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatal(err)
	}
	return resp, b
}

// reply is an API answer: EMQX's code (absent: -1), message, data, meta.
type reply struct {
	Status  int
	Code    int
	Message string
	Data    json.RawMessage
	Meta    map[string]any
	Raw     string
}

func (d *dash) call(method, path string, body any) reply {
	d.t.Helper()
	resp, b := d.do(method, path, body)
	r := reply{Status: resp.StatusCode, Code: -1, Raw: string(b)}
	var v struct {
		Code    *int            `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
		Meta    map[string]any  `json:"meta"`
	}
	if json.Unmarshal(b, &v) == nil {
		if v.Code != nil {
			r.Code = *v.Code
		}
		r.Message, r.Data, r.Meta = v.Message, v.Data, v.Meta
	}
	return r
}

// ok is a call that must answer {"code":0}; its data decoded into v.
func (d *dash) ok(method, path string, body, v any) reply {
	d.t.Helper()
	r := d.call(method, path, body)
	if r.Status != http.StatusOK || r.Code != 0 {
		d.t.Fatalf("%s %s: HTTP %d %s", method, path, r.Status, r.Raw)
	}
	if v != nil {
		if err := json.Unmarshal(r.Data, v); err != nil {
			d.t.Fatalf("%s %s: data %s: %v", method, path, r.Data, err)
		}
	}
	return r
}

type me struct {
	Username        string `json:"username"`
	DefaultPassword bool   `json:"default_password"`
}

// login logs in and keeps the session cookie.
func (d *dash) login(user, pass string) me {
	d.t.Helper()
	resp, b := d.do("POST", "/auth/login", map[string]string{"username": user, "password": pass})
	var r struct {
		Code int `json:"code"`
		Data me  `json:"data"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &r) != nil || r.Code != 0 {
		d.t.Fatalf("login %s: HTTP %d %s", user, resp.StatusCode, b)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "emqx_dashboard_session" {
			d.cookie = c
		}
	}
	if d.cookie == nil {
		d.t.Fatalf("login %s: no session cookie in %v", user, resp.Header["Set-Cookie"])
	}
	return r.Data
}

// TestDashboardSessions: on a 3-node cluster, each node serves the
// dashboard's page and files; a dashboard user logs in on a node (a
// session cookie with HttpOnly and SameSite=Strict), and the cookie is
// good for that node's API only; a change needs X-Requested-With with
// the cookie; a dashboard user's basic credentials work too (and not on
// the management API); wrong ones are refused without a browser prompt;
// changing the password clears the default-password warning and ends the
// user's other sessions; logout ends the session.
func TestDashboardSessions(t *testing.T) {
	ns := cluster3(t)
	a, b := ns[0], ns[1]
	da, db := newDash(t, a), newDash(t, b)

	// the front end: index at /, the rest under /static/
	resp, page := da.do("GET", "/", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!bytes.Contains(bytes.ToLower(page), []byte("<html")) {
		t.Fatalf("GET /: HTTP %d %s %.80s", resp.StatusCode, resp.Header.Get("Content-Type"), page)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") == "" {
		t.Fatalf("GET /: no ETag or Cache-Control: %v", resp.Header)
	}
	cond := *da
	cond.header = http.Header{"If-None-Match": {etag}}
	if resp, body := cond.do("GET", "/", nil); resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Fatalf("GET / If-None-Match: HTTP %d", resp.StatusCode)
	}
	gz := *da
	gz.header = http.Header{"Accept-Encoding": {"gzip"}}
	if resp, body := gz.do("GET", "/static/app.js", nil); resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "gzip" ||
		!strings.Contains(resp.Header.Get("Content-Type"), "javascript") || len(body) < 2 || body[0] != 0x1f || body[1] != 0x8b {
		t.Fatalf("GET /static/app.js gzip: HTTP %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ := da.do("GET", "/static/no-such.js", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("missing file: HTTP %d", resp.StatusCode)
	}
	// no credentials: 401, and no prompt for basic ones
	if resp, _ := da.do("GET", "/nodes", nil); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != "" {
		t.Fatalf("no credentials: HTTP %d %v", resp.StatusCode, resp.Header)
	}

	// login
	if r := da.call("POST", "/auth/login", map[string]string{"username": "admin", "password": "wrong"}); r.Status != 200 ||
		r.Code != 103 || r.Message != "Username or password error" {
		t.Fatalf("wrong password: %+v", r)
	}
	resp, body := da.do("POST", "/auth/login", map[string]string{"username": "admin", "password": "public"})
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "emqx_dashboard_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || len(cookie.Value) < 43 {
		t.Fatalf("session cookie %+v (%v)", cookie, resp.Header["Set-Cookie"])
	}
	if !strings.Contains(string(body), `"code":0`) || !strings.Contains(string(body), `"default_password":true`) {
		t.Fatalf("login: %s", body)
	}
	da.cookie = cookie
	var m me
	da.ok("GET", "/auth/me", nil, &m)
	if m != (me{"admin", true}) {
		t.Fatalf("me: %+v", m)
	}
	var nodes []struct {
		Node string `json:"node"`
	}
	da.ok("GET", "/nodes", nil, &nodes)
	if len(nodes) != 3 {
		t.Fatalf("nodes through the dashboard: %+v", nodes)
	}
	// sessions are per node
	db.cookie = cookie
	if r := db.call("GET", "/nodes", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("A's cookie on B: %+v", r)
	}
	// a change with the cookie needs X-Requested-With
	noXHR := *da
	noXHR.xhr = false
	if r := noXHR.call("DELETE", "/clients/nobody", nil); r.Status != http.StatusForbidden {
		t.Fatalf("DELETE with the cookie, without X-Requested-With: %+v", r)
	}
	if r := noXHR.call("GET", "/clients", nil); r.Status != http.StatusOK || r.Code != 0 {
		t.Fatalf("GET with the cookie, without X-Requested-With: %+v", r)
	}
	if r := da.call("DELETE", "/clients/nobody", nil); r.Status != http.StatusOK || r.Code != 0 {
		t.Fatalf("DELETE with the cookie and X-Requested-With: %+v", r)
	}

	// basic credentials of a dashboard user (added on B: the users are the cluster's)
	if got := ctl(t, b, "admins add ops Ops-pass1 viewer"); got != "ok\n" {
		t.Fatalf("admins add: %q", got)
	}
	ops := newDash(t, a)
	ops.user, ops.pass, ops.xhr = "ops", "Ops-pass1", false
	testutil.Eventually(t, 5*time.Second, "ops authorized on A's dashboard", func() bool {
		return ops.call("GET", "/nodes", nil).Code == 0
	})
	if r := ops.call("DELETE", "/clients/nobody", nil); r.Code != 0 {
		t.Fatalf("DELETE with basic credentials: %+v", r)
	}
	ops.ok("GET", "/auth/me", nil, &m)
	if m != (me{"ops", false}) {
		t.Fatalf("me with basic credentials: %+v", m)
	}
	if st, _ := a.CallAs("ops", "Ops-pass1", "GET", "/nodes", nil); st != http.StatusUnauthorized {
		t.Fatalf("a dashboard user on the management API: HTTP %d", st)
	}
	bad := *ops
	bad.pass = "wrong"
	if resp, _ := bad.do("GET", "/nodes", nil); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != "" {
		t.Fatalf("wrong basic credentials: HTTP %d %v", resp.StatusCode, resp.Header)
	}
	// EMQX 4.4's own routes of the dashboard: POST /auth, /users
	if r := da.call("POST", "/auth", map[string]string{"username": "ops", "password": "Ops-pass1"}); r.Code != 0 {
		t.Fatalf("POST /auth: %+v", r)
	}
	if r := da.call("POST", "/auth", map[string]string{"username": "ops", "password": "nope"}); r.Code != -1 || r.Message != "Username/Password error" {
		t.Fatalf("POST /auth wrong: %+v", r)
	}
	var users []struct{ Username, Tags string }
	da.ok("GET", "/users", nil, &users)
	if len(users) != 2 || users[0].Username != "admin" || users[1] != (struct{ Username, Tags string }{"ops", "viewer"}) {
		t.Fatalf("users: %+v", users)
	}
	if st, _ := a.Call("GET", "/users", nil); st != http.StatusNotFound {
		t.Fatalf("/users on the management API: HTTP %d", st)
	}

	// a second session of admin; the password changed in the first
	second := newDash(t, a)
	second.login("admin", "public")
	if r := da.call("PUT", "/change_pwd/admin", map[string]string{"old_pwd": "wrong", "new_pwd": "Adm1n-pass"}); r.Message != "Username/Password error" {
		t.Fatalf("change_pwd with a wrong old password: %+v", r)
	}
	da.ok("PUT", "/change_pwd/admin", map[string]string{"old_pwd": "public", "new_pwd": "Adm1n-pass"}, nil)
	da.ok("GET", "/auth/me", nil, &m)
	if m != (me{"admin", false}) {
		t.Fatalf("me after the change: %+v", m)
	}
	if r := second.call("GET", "/auth/me", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("the other session after the change: %+v", r)
	}
	onB := newDash(t, b)
	testutil.Eventually(t, 5*time.Second, "the new password logs in on B", func() bool {
		r := onB.call("POST", "/auth/login", map[string]string{"username": "admin", "password": "Adm1n-pass"})
		return r.Code == 0
	})
	if st, _ := a.Call("GET", "/nodes", nil); st != http.StatusOK {
		t.Fatalf("the management API's application admin/public after the change: HTTP %d", st)
	}

	// logout
	if r := noXHR.call("POST", "/auth/logout", nil); r.Status != http.StatusForbidden {
		t.Fatalf("logout without X-Requested-With: %+v", r)
	}
	resp, _ = da.do("POST", "/auth/logout", nil)
	if resp.StatusCode != http.StatusOK || !slices.ContainsFunc(resp.Cookies(), func(c *http.Cookie) bool {
		return c.Name == "emqx_dashboard_session" && c.MaxAge < 0
	}) {
		t.Fatalf("logout: HTTP %d %v", resp.StatusCode, resp.Header["Set-Cookie"])
	}
	if r := da.call("GET", "/auth/me", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("me after logout: %+v", r)
	}
}

// TestDashboardLoginLimit: after 10 failed logins from one address the
// address is refused (429, Retry-After) even with the right password, for
// basic credentials too; another address still logs in.
func TestDashboardLoginLimit(t *testing.T) {
	sn := testutil.Subnet(t)
	n := testnode.Start(t, fmt.Sprintf("emqx1@127.0.%d.1", sn))
	d := newDash(t, n).from(fmt.Sprintf("127.0.%d.7", sn))
	for i := range 10 {
		if r := d.call("POST", "/auth/login", map[string]string{"username": "admin", "password": "guess-" + strconv.Itoa(i)}); r.Code != 103 {
			t.Fatalf("failure %d: %+v", i, r)
		}
	}
	resp, b := d.do("POST", "/auth/login", map[string]string{"username": "admin", "password": "public"})
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), `"code":103`) {
		t.Fatalf("11th login: HTTP %d %v %s", resp.StatusCode, resp.Header, b)
	}
	basic := *d
	basic.user, basic.pass = "admin", "public"
	if r := basic.call("GET", "/nodes", nil); r.Status != http.StatusTooManyRequests {
		t.Fatalf("basic credentials from the refused address: %+v", r)
	}
	other := newDash(t, n).from(fmt.Sprintf("127.0.%d.8", sn))
	if got := other.login("admin", "public"); got != (me{"admin", true}) {
		t.Fatalf("login from another address: %+v", got)
	}
	// failed basic credentials count too
	other.cookie = nil
	other.user = "admin"
	for i := range 10 {
		other.pass = "guess-" + strconv.Itoa(i)
		if r := other.call("GET", "/nodes", nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("basic failure %d: %+v", i, r)
		}
	}
	other.pass = "public"
	if r := other.call("GET", "/nodes", nil); r.Status != http.StatusTooManyRequests {
		t.Fatalf("after 10 failed basic authentications: %+v", r)
	}
}

// TestDashboardListener: dashboard.listener.http = off binds nothing; a
// port held by another process is an error logged and the node runs on
// (its MQTT listener and management API answer).
func TestDashboardListener(t *testing.T) {
	sn := testutil.Subnet(t)
	off := testnode.Start(t, fmt.Sprintf("emqx1@127.0.%d.1", sn), "EMQX_DASHBOARD__LISTENER__HTTP=off")
	if len(off.N.DashboardAddrs()) != 0 {
		t.Fatalf("off: %v", off.N.DashboardAddrs())
	}
	held, err := net.Listen("tcp", fmt.Sprintf("127.0.%d.2:0", sn))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	busy := testnode.Start(t, fmt.Sprintf("emqx2@127.0.%d.2", sn), "EMQX_DASHBOARD__LISTENER__HTTP="+held.Addr().String())
	if len(busy.N.DashboardAddrs()) != 0 || busy.Logs.FilterMessage("dashboard not started").Len() != 1 {
		t.Fatalf("busy port: %v, logs %v", busy.N.DashboardAddrs(), busy.Logs.All())
	}
	_ = testutil.DialV5(t, busy.Addr, "still-serves")
	if st, _ := busy.Call("GET", "/nodes", nil); st != http.StatusOK {
		t.Fatalf("management API with the dashboard's port busy: HTTP %d", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := busy.N.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := busy.N.Stop(ctx); err != nil { // twice
		t.Fatal(err)
	}
}

// TestDashboardHTTPS: dashboard.listener.https with verify_peer and
// fail_if_no_peer_cert serves a client with a certificate of the CA (its
// session cookie Secure) and refuses one without; https without its
// certfile and keyfile stops the node from starting.
func TestDashboardHTTPS(t *testing.T) {
	sn := testutil.Subnet(t)
	host := fmt.Sprintf("127.0.%d.1", sn)
	certs := testutil.WriteCerts(t, t.TempDir(), host)
	n := testnode.Start(t, "emqx1@"+host, "EMQX_DASHBOARD__LISTENER__HTTPS="+host+":0",
		"EMQX_DASHBOARD__LISTENER__HTTPS__CERTFILE="+certs.CertFile, "EMQX_DASHBOARD__LISTENER__HTTPS__KEYFILE="+certs.KeyFile,
		"EMQX_DASHBOARD__LISTENER__HTTPS__CACERTFILE="+certs.CAFile, "EMQX_DASHBOARD__LISTENER__HTTPS__VERIFY=verify_peer",
		"EMQX_DASHBOARD__LISTENER__HTTPS__FAIL_IF_NO_PEER_CERT=true")
	addr := n.N.DashboardAddrs()["https"]
	if addr == "" || n.N.DashboardAddrs()["http"] == "" {
		t.Fatalf("listeners: %v", n.N.DashboardAddrs())
	}
	if got := n.N.Handle(ctlrpc.Request{Op: ctlrpc.OpStatus}).Listeners; got["https:dashboard"] != addr || got["http:dashboard"] != n.Dashboard {
		t.Fatalf("status listeners: %v", got)
	}
	cert, err := tls.LoadX509KeyPair(certs.CertFile, certs.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	client := func(withCert bool) *http.Client {
		tc := &tls.Config{RootCAs: certs.Pool}
		if withCert {
			tc.Certificates = []tls.Certificate{cert}
		}
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
	}
	body := strings.NewReader(`{"username":"admin","password":"public"}`)
	resp, err := client(true).Post("https://"+addr+"/api/v4/auth/login", "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(resp.Cookies()) != 1 || !resp.Cookies()[0].Secure {
		t.Fatalf("login over https: HTTP %d %v", resp.StatusCode, resp.Header["Set-Cookie"])
	}
	if _, err := client(false).Get("https://" + addr + "/"); err == nil {
		t.Fatal("a client without a certificate was served")
	}

	bad := testnode.Prepare(t, fmt.Sprintf("emqx2@127.0.%d.2", sn), fmt.Sprintf("EMQX_DASHBOARD__LISTENER__HTTPS=127.0.%d.2:0", sn))
	if err := bad.RunErr(); err == nil || !strings.Contains(err.Error(), "dashboard.listener.https needs dashboard.listener.https.certfile and .keyfile") {
		t.Fatalf("https without certfile: %v", err)
	}
}
