package mgmt

import (
	"io"
	"net/http"
	"testing"

	"go.uber.org/zap"
)

func get(t *testing.T, url string, user, pass string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// TestServer: routes need an application's credentials (401 with a
// basic challenge) unless NoAuth; Authorize, when set, decides instead
// and answers its refusals; Mount serves outside /api/v4; /status only
// with Status; Close twice.
func TestServer(t *testing.T) {
	apps := New(Config{HTTP: "127.0.0.1:0", Authorized: func(id, secret string) bool { return id == "app" && secret == "s" },
		Status: func() (string, bool) { return "up", true }}, zap.NewNop())
	apps.Handle("GET /x", func(*Request) (any, error) { return 1, nil })
	apps.Handle("GET /open", func(*Request) (any, error) { return nil, Errorf(CodeBadTopic, "bad_topic") }, NoAuth)
	if err := apps.Start(); err != nil {
		t.Fatal(err)
	}
	defer apps.Close()
	base := "http://" + apps.Addrs()["http"]
	if st, _, h := get(t, base+"/api/v4/x", "", ""); st != 401 || h.Get("WWW-Authenticate") == "" {
		t.Fatalf("no credentials: %d %v", st, h)
	}
	if st, body, _ := get(t, base+"/api/v4/x", "app", "s"); st != 200 || body != `{"code":0,"data":1}` {
		t.Fatalf("with credentials: %d %s", st, body)
	}
	if st, body, _ := get(t, base+"/api/v4/open", "", ""); st != 200 || body != `{"code":115,"message":"bad_topic"}` {
		t.Fatalf("NoAuth: %d %s", st, body)
	}
	if st, body, _ := get(t, base+"/status", "", ""); st != 200 || body != "up" {
		t.Fatalf("status: %d %s", st, body)
	}

	other := New(Config{Name: "dashboard", HTTP: "127.0.0.1:0", Authorize: func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("X-Let-In") == "" {
			w.WriteHeader(http.StatusTeapot)
			return false
		}
		return true
	}}, zap.NewNop())
	other.Handle("GET /x", func(*Request) (any, error) { return 2, nil })
	other.Mount("GET /{$}", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "page") }))
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	base = "http://" + other.Addrs()["http"]
	if st, _, _ := get(t, base+"/api/v4/x", "app", "s"); st != http.StatusTeapot {
		t.Fatalf("Authorize refusing: %d", st)
	}
	req, _ := http.NewRequest("GET", base+"/api/v4/x", nil)
	req.Header.Set("X-Let-In", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("Authorize letting in: %v %v", resp, err)
	}
	resp.Body.Close()
	if st, body, _ := get(t, base+"/", "", ""); st != 200 || body != "page" {
		t.Fatalf("mounted: %d %s", st, body)
	}
	if st, _, _ := get(t, base+"/status", "", ""); st != 404 {
		t.Fatalf("status without Status: %d", st)
	}
	other.Close()
	other.Close()

	tlsLess := New(Config{Name: "dashboard", HTTPS: "127.0.0.1:0"}, zap.NewNop())
	if err := tlsLess.Start(); err == nil || err.Error() != "dashboard.listener.https needs certfile and keyfile" {
		t.Fatalf("https without TLS: %v", err)
	}
	tlsLess.Close()
}
