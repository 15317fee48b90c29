package dashboard

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"emqxgo/internal/admins"
	"emqxgo/internal/mgmt"
	"emqxgo/internal/testutil"
)

// clock is a time the tests move.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{time.Unix(1_700_000_000, 0)} }

// TestSessions: a session ends after idle unused (use keeps it), the
// table holds at most max (the least recently used goes), dropUser ends a
// user's sessions but the one kept.
func TestSessions(t *testing.T) {
	c := newClock()
	s := newSessions(time.Hour, 3)
	s.now = c.now
	t1 := s.create("a")
	if len(t1) != 43 {
		t.Fatalf("token %q", t1)
	}
	c.add(50 * time.Minute)
	if u, ok := s.get(t1); !ok || u != "a" {
		t.Fatal("used within idle")
	}
	c.add(50 * time.Minute)
	if _, ok := s.get(t1); !ok {
		t.Fatal("idle counts from the last use")
	}
	c.add(61 * time.Minute)
	if _, ok := s.get(t1); ok {
		t.Fatal("expired session still good")
	}
	t2 := s.create("b")
	c.add(time.Second)
	t3 := s.create("b")
	c.add(time.Second)
	t4 := s.create("c")
	c.add(time.Minute)
	s.get(t2) // t3 is now the least recently used
	t5 := s.create("d")
	if _, ok := s.get(t3); ok || s.count() != 3 {
		t.Fatalf("LRU not dropped at max: %d sessions", s.count())
	}
	for _, tok := range []string{t2, t4, t5} {
		if _, ok := s.get(tok); !ok {
			t.Fatal("a recent session dropped")
		}
	}
	t6 := s.create("b")
	s.dropUser("b", t6)
	if _, ok := s.get(t6); !ok {
		t.Fatal("the kept session dropped")
	}
	if _, ok := s.get(t2); ok {
		t.Fatal("another session of b kept")
	}
	if _, ok := s.get(strings.Repeat("x", 1000)); ok {
		t.Fatal("a long token")
	}
}

// TestLimiter: limit failures, then refused until a failure's worth is
// refilled; with the table full the new addresses share one allowance,
// and addresses whose allowance is whole again are forgotten.
func TestLimiter(t *testing.T) {
	c := newClock()
	l := newLimiter(10, time.Minute, 3)
	l.now = c.now
	for i := range 10 {
		if l.wait("a") != 0 {
			t.Fatalf("refused after %d failures", i)
		}
		l.fail("a")
	}
	if w := l.wait("a"); w != 6*time.Second {
		t.Fatalf("wait %s, want 6s", w)
	}
	if l.wait("b") != 0 {
		t.Fatal("another address refused")
	}
	c.add(6 * time.Second)
	if l.wait("a") != 0 {
		t.Fatal("still refused after a failure's worth")
	}
	l.fail("a")
	if l.wait("a") == 0 {
		t.Fatal("not refused again")
	}
	l.fail("b")
	l.fail("c")
	for range 10 { // no room for d, e: they share the overflow's allowance
		l.fail("d")
	}
	if l.wait("d") == 0 || l.wait("e") == 0 || len(l.m) != 4 {
		t.Fatalf("overflow: d %s e %s, %d tracked", l.wait("d"), l.wait("e"), len(l.m))
	}
	c.add(2 * time.Minute)
	l.fail("f") // the full ones are forgotten first
	if len(l.m) != 1 || l.wait("d") != 0 {
		t.Fatalf("after refill: %d tracked", len(l.m))
	}
}

func TestClientKey(t *testing.T) {
	for addr, want := range map[string]string{
		"10.1.2.3:5000":                  "10.1.2.3",
		"[2001:db8:1:2:3:4:5:6]:443":     "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:1":       "2001:db8:1:2::/64",
		"[::ffff:192.168.0.9]:80":        "192.168.0.9",
		"@unix":                          "@unix",
		"[fe80::1%eth0]:80":              "fe80::/64",
		"127.0.0.1:1":                    "127.0.0.1",
		"[2001:db8:1:3:3:4:5:6]:443":     "2001:db8:1:3::/64",
		"[2001:db8:1:2:3:4:5:6]:unknown": "2001:db8:1:2::/64",
	} {
		if got := clientKey(&http.Request{RemoteAddr: addr}); got != want {
			t.Errorf("%s: %q, want %q", addr, got, want)
		}
	}
}

// server is a dashboard on a real listener with a users' table in memory.
func server(t *testing.T) (string, *admins.Store) {
	t.Helper()
	users := admins.Open(testutil.NewMemTable(), "admin", "public")
	d := New(users, zap.NewNop())
	s := mgmt.New(mgmt.Config{Name: "dashboard", HTTP: "127.0.0.1:0", Authorize: d.Authorize}, zap.NewNop())
	s.Handle("GET /ping", func(*mgmt.Request) (any, error) { return "pong", nil })
	s.Handle("POST /ping", func(*mgmt.Request) (any, error) { return "posted", nil })
	d.Mount(s)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return "http://" + s.Addrs()["http"], users
}

func request(t *testing.T, method, url string, hdr map[string]string, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestAssets: index.html at / and every file under /static/, as they are
// built in, with their types, an entity tag (304 when the client has
// it), gzip when asked (not with q=0), HEAD without a body, and headers
// that keep the page from being framed; what is not there is 404.
func TestAssets(t *testing.T) {
	base, _ := server(t)
	files, err := loadAssets()
	if err != nil || files["index.html"] == nil {
		t.Fatalf("assets: %v %v", files, err)
	}
	for name, a := range files {
		path := "/static/" + name
		if name == "index.html" {
			path = "/"
		}
		resp, body := request(t, "GET", base+path, nil, "")
		if resp.StatusCode != 200 || !bytes.Equal(body, a.body) || resp.Header.Get("Content-Type") != a.ctype ||
			resp.Header.Get("ETag") != a.etag || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Fatalf("GET %s: HTTP %d %v", path, resp.StatusCode, resp.Header)
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Fatalf("GET %s: headers %v", path, resp.Header)
		}
		if resp, body := request(t, "GET", base+path, map[string]string{"If-None-Match": a.etag}, ""); resp.StatusCode != 304 || len(body) != 0 {
			t.Fatalf("GET %s If-None-Match: HTTP %d", path, resp.StatusCode)
		}
		resp, body = request(t, "GET", base+path, map[string]string{"Accept-Encoding": "br, gzip;q=0.8"}, "")
		if a.gz != nil {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			plain, _ := io.ReadAll(zr)
			if resp.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(plain, a.body) || resp.Header.Get("ETag") == a.etag {
				t.Fatalf("GET %s gzip: %v", path, resp.Header)
			}
		}
		if resp, _ := request(t, "GET", base+path, map[string]string{"Accept-Encoding": "gzip;q=0"}, ""); resp.Header.Get("Content-Encoding") != "" {
			t.Fatalf("GET %s gzip;q=0: gzipped", path)
		}
		if resp, body := request(t, "HEAD", base+path, nil, ""); resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len(a.body)) {
			t.Fatalf("HEAD %s: HTTP %d %d", path, resp.StatusCode, len(body))
		}
	}
	for _, p := range []string{"/static/nope.js", "/index.html", "/static/../index.html", "/nope"} {
		if resp, _ := request(t, "GET", base+p, nil, ""); resp.StatusCode != 404 {
			t.Errorf("GET %s: HTTP %d", p, resp.StatusCode)
		}
	}
	if resp, _ := request(t, "POST", base+"/", nil, ""); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: HTTP %d", resp.StatusCode)
	}
}

// TestLoginFlow: the cookie of a login authorizes until logout; a change
// with it needs X-Requested-With; a user deleted loses its sessions;
// bodies not JSON and too large are refused.
func TestLoginFlow(t *testing.T) {
	base, users := server(t)
	resp, body := request(t, "POST", base+"/api/v4/auth/login", nil, `{"username":"admin","password":"public"}`)
	if string(body) != `{"code":0,"data":{"username":"admin","default_password":true}}` {
		t.Fatalf("login: %s", body)
	}
	cookie := resp.Cookies()[0]
	ck := map[string]string{"Cookie": cookie.Name + "=" + cookie.Value}
	if _, body := request(t, "GET", base+"/api/v4/ping", ck, ""); string(body) != `{"code":0,"data":"pong"}` {
		t.Fatalf("GET with the cookie: %s", body)
	}
	if resp, _ := request(t, "POST", base+"/api/v4/ping", ck, ""); resp.StatusCode != 403 {
		t.Fatalf("POST with the cookie only: HTTP %d", resp.StatusCode)
	}
	ck["X-Requested-With"] = "XMLHttpRequest"
	if _, body := request(t, "POST", base+"/api/v4/ping", ck, ""); string(body) != `{"code":0,"data":"posted"}` {
		t.Fatalf("POST with X-Requested-With: %s", body)
	}
	// a second login from the same browser replaces its session
	resp, _ = request(t, "POST", base+"/api/v4/auth/login", map[string]string{"Cookie": ck["Cookie"]}, `{"username":"admin","password":"public"}`)
	if resp, _ := request(t, "GET", base+"/api/v4/ping", ck, ""); resp.StatusCode != 401 {
		t.Fatalf("the replaced session: HTTP %d", resp.StatusCode)
	}
	cookie = resp.Cookies()[0]
	ck["Cookie"] = cookie.Name + "=" + cookie.Value
	if _, body := request(t, "POST", base+"/api/v4/auth/login", nil, `{"username":`); string(body) != `{"code":109,"message":"Request parameter is not a json"}` {
		t.Fatalf("not JSON: %s", body)
	}
	big := fmt.Sprintf(`{"username":"admin","password":"%s"}`, strings.Repeat("x", maxLoginBody))
	if resp, _ := request(t, "POST", base+"/api/v4/auth/login", nil, big); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("large body: HTTP %d", resp.StatusCode)
	}
	if _, body := request(t, "POST", base+"/api/v4/auth/login", nil, `{"username":"admin"}`); string(body) != `{"code":103,"message":"Username or password error"}` {
		t.Fatalf("no password: %s", body)
	}
	if _, body := request(t, "POST", base+"/api/v4/auth", nil, `{"password":"x"}`); string(body) != `{"message":"Username undefined"}` {
		t.Fatalf("POST /auth without username: %s", body)
	}

	// a user deleted
	if err := users.Add("temp", "Temp-pass1", ""); err != nil {
		t.Fatal(err)
	}
	resp, _ = request(t, "POST", base+"/api/v4/auth/login", nil, `{"username":"temp","password":"Temp-pass1"}`)
	tck := map[string]string{"Cookie": resp.Cookies()[0].Name + "=" + resp.Cookies()[0].Value}
	if _, body := request(t, "GET", base+"/api/v4/auth/me", tck, ""); string(body) != `{"code":0,"data":{"username":"temp","default_password":false}}` {
		t.Fatalf("me: %s", body)
	}
	if err := users.Delete("temp"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := request(t, "GET", base+"/api/v4/auth/me", tck, ""); resp.StatusCode != 401 {
		t.Fatalf("me of a deleted user: HTTP %d", resp.StatusCode)
	}

	resp, _ = request(t, "POST", base+"/api/v4/auth/logout", ck, "")
	if resp.StatusCode != 200 || resp.Cookies()[0].MaxAge >= 0 {
		t.Fatalf("logout: HTTP %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ := request(t, "GET", base+"/api/v4/ping", ck, ""); resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != "" {
		t.Fatalf("after logout: HTTP %d", resp.StatusCode)
	}
	// logout without a session is harmless
	if resp, body := request(t, "POST", base+"/api/v4/auth/logout", nil, ""); resp.StatusCode != 200 || string(body) != `{"code":0}` {
		t.Fatalf("logout without a session: HTTP %d %s", resp.StatusCode, body)
	}
}
