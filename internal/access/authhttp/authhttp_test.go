package authhttp

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"emqxgo/internal/access"
	"emqxgo/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// seen is one request as the server received it.
type seen struct {
	method, uri, body string
	header            http.Header
	sni               string
}

// server is an httptest server that records requests and answers with
// reply (200 and an empty body when nil).
type server struct {
	*httptest.Server
	reqs  chan seen
	reply func(w http.ResponseWriter, r *http.Request)
	hits  atomic.Int32
}

func newServer(t *testing.T, reply func(w http.ResponseWriter, r *http.Request)) *server {
	s := &server{reqs: make(chan seen, 64), reply: reply}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.handle))
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point of some tests
	t.Cleanup(s.Close)
	return s
}

func (s *server) handle(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	b, _ := io.ReadAll(r.Body)
	sn := seen{method: r.Method, uri: r.RequestURI, body: string(b), header: r.Header.Clone()}
	if r.TLS != nil {
		sn.sni = r.TLS.ServerName
	}
	select {
	case s.reqs <- sn:
	default:
	}
	if s.reply != nil {
		s.reply(w, r)
	}
}

func (s *server) next(t *testing.T) seen {
	t.Helper()
	select {
	case r := <-s.reqs:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no request reached the server")
	}
	return seen{}
}

func started(t *testing.T, reply func(w http.ResponseWriter, r *http.Request)) *server {
	s := newServer(t, reply)
	s.Start()
	return s
}

func status(code int, body string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

func newPlugin(t *testing.T, c Config) *Plugin {
	t.Helper()
	var problems []string
	c.Validate(func(k, p string) { problems = append(problems, k+": "+p) })
	if len(problems) > 0 {
		t.Fatalf("config: %v", problems)
	}
	p, err := New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func testClient() *access.Client {
	return &access.Client{
		ClientID: "c1", Username: "u1", Password: []byte("p w&=é"),
		Peer: netip.MustParseAddrPort("10.1.2.3:5555"), ProtoVer: 4, Zone: "external",
		SockPort: 1883, CertCN: "cn1", CertDN: "CN=cn1,O=org", Mountpoint: "mp/c1/",
	}
}

const allParams = "u=%u,c=%c,a=%a,r=%r,P=%P,p=%p,C=%C,d=%d,m=%m,A=%A,t=%t,lit=x%u"

func form(ct string) map[string]string { return map[string]string{"content_type": ct} }

func authConfig(u string) Config {
	c := Defaults()
	c.AuthReq = Request{URL: u, Method: "post", Headers: form(FormContentType), Params: allParams}
	return c
}

func mustAuth(t *testing.T, p *Plugin, c *access.Client, want access.Result) {
	t.Helper()
	got, err := p.Authenticate(context.Background(), c)
	if err != nil || got != want {
		t.Fatalf("Authenticate = %v, %v; want %v", got, err, want)
	}
}

func TestAuthPostForm(t *testing.T) {
	s := started(t, nil)
	c := authConfig(s.URL + "/mqtt/auth")
	c.AuthReq.Headers["X_Api_Key"] = "k1"
	p := newPlugin(t, c)
	cl := testClient()
	mustAuth(t, p, cl, access.Allow)
	r := s.next(t)
	if r.method != "POST" || r.uri != "/mqtt/auth" {
		t.Errorf("%s %s", r.method, r.uri)
	}
	if ct := r.header.Get("Content-Type"); ct != FormContentType {
		t.Errorf("content type %q", ct)
	}
	if r.header.Get("X-Api-Key") != "k1" {
		t.Errorf("configured header x_api_key not sent as x-api-key: %v", r.header)
	}
	if _, ok := r.header["User-Agent"]; ok {
		t.Errorf("user agent %q sent (EMQX sends none)", r.header.Get("User-Agent"))
	}
	// In the params' order, encoded as a form.
	want := "u=u1&c=c1&a=10.1.2.3&r=mqtt&P=p+w%26%3D%C3%A9&p=1883&C=cn1&d=CN%3Dcn1%2CO%3Dorg&m=mp%2Fc1%2F&A=null&t=null&lit=x%25u"
	if r.body != want {
		t.Errorf("body\n got %s\nwant %s", r.body, want)
	}
	if cl.Superuser {
		t.Error("superuser without super_req")
	}
}

func TestAuthPostJSON(t *testing.T) {
	s := started(t, nil)
	c := authConfig(s.URL)
	c.AuthReq.Headers = map[string]string{"content-type": JSONContentType}
	p := newPlugin(t, c)
	// No user name, no password, no certificate, no mountpoint, IPv6 peer.
	cl := &access.Client{ClientID: "c<2>", Peer: netip.MustParseAddrPort("[::1]:1"), SockPort: 8883}
	mustAuth(t, p, cl, access.Allow)
	r := s.next(t)
	if r.uri != "/" || r.header.Get("Content-Type") != JSONContentType {
		t.Errorf("%s %v", r.uri, r.header)
	}
	want := `{"u":"undefined","c":"c<2>","a":"::1","r":"mqtt","P":"undefined","p":"8883","C":"null","d":"null","m":"undefined","A":"null","t":"null","lit":"x%u"}`
	if r.body != want {
		t.Errorf("body\n got %s\nwant %s", r.body, want)
	}
	// A password that is not UTF-8 cannot be put in JSON: EMQX's check
	// raises and the next backend decides.
	cl.Password = []byte{0xff, 0xfe}
	mustAuth(t, p, cl, access.Ignore)
}

func TestAuthGet(t *testing.T) {
	s := started(t, nil)
	c := authConfig(s.URL + "/auth")
	c.AuthReq.Method = "get"
	c.AuthReq.Params = "clientid=%c,username=%u,password=%P"
	p := newPlugin(t, c)
	mustAuth(t, p, testClient(), access.Allow)
	r := s.next(t)
	if r.method != "GET" || r.uri != "/auth?clientid=c1&username=u1&password=p+w%26%3D%C3%A9" || r.body != "" {
		t.Errorf("%s %s %q", r.method, r.uri, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "" {
		t.Errorf("GET with content type %q (EMQX drops it)", ct)
	}
	vals, _ := url.ParseQuery(strings.SplitN(r.uri, "?", 2)[1])
	if vals.Get("password") != "p w&=é" {
		t.Errorf("password read back as %q", vals.Get("password"))
	}

	// The URL's own query comes first, joined with "?" as EMQX joins it.
	c.AuthReq.URL = s.URL + "/auth?k=v"
	p = newPlugin(t, c)
	mustAuth(t, p, testClient(), access.Allow)
	if r := s.next(t); r.uri != "/auth?k=v?clientid=c1&username=u1&password=p+w%26%3D%C3%A9" {
		t.Errorf("uri %s", r.uri)
	}
	// No params: a bare "?".
	c.AuthReq.URL, c.AuthReq.Params = s.URL+"/auth", ""
	p = newPlugin(t, c)
	mustAuth(t, p, testClient(), access.Allow)
	if r := s.next(t); r.uri != "/auth?" {
		t.Errorf("uri %s", r.uri)
	}
}

func TestAuthAnswers(t *testing.T) {
	for _, c := range []struct {
		code   int
		body   string
		want   access.Result
		reason access.Reason // when denied, as EMQX maps the status
	}{
		{200, "", access.Allow, 0},
		{200, "ok", access.Allow, 0},
		{200, "ignore", access.Ignore, 0},
		{200, "ignore\n", access.Allow, 0}, // only the exact body ignores
		{204, "", access.Deny, access.ServerUnavailable},
		{201, "", access.Deny, access.ServerUnavailable},
		{302, "", access.Deny, access.ServerUnavailable}, // redirects are not followed
		{400, "", access.Deny, access.BadUsernameOrPassword},
		{401, "", access.Deny, access.BadUsernameOrPassword},
		{403, "ignore", access.Deny, access.NotAuthorized},
		{404, "", access.Deny, access.ServerUnavailable},
		{429, "", access.Deny, access.Banned},
		{500, "", access.Deny, access.ServerUnavailable},
		{503, "", access.Deny, access.ServerUnavailable},
		{504, "", access.Deny, access.ServerBusy},
	} {
		s := started(t, func(w http.ResponseWriter, _ *http.Request) {
			if c.code == 302 {
				w.Header().Set("Location", "/elsewhere")
			}
			w.WriteHeader(c.code)
			_, _ = io.WriteString(w, c.body)
		})
		p := newPlugin(t, authConfig(s.URL))
		cl := testClient()
		if got, _ := p.Authenticate(context.Background(), cl); got != c.want {
			t.Errorf("%d %q: %v, want %v", c.code, c.body, got, c.want)
		}
		if c.want == access.Deny && cl.Reason != c.reason {
			t.Errorf("%d: reason %v, want %v", c.code, cl.Reason, c.reason)
		}
		if n := s.hits.Load(); n != 1 {
			t.Errorf("%d: %d requests", c.code, n)
		}
	}
}

func TestAuthMountpoint(t *testing.T) {
	s := started(t, status(200, `{"mountpoint":"tenant1/"}`))
	p := newPlugin(t, authConfig(s.URL))
	cl := testClient()
	mustAuth(t, p, cl, access.Allow)
	if cl.Mountpoint != "tenant1/" {
		t.Errorf("mountpoint %q", cl.Mountpoint)
	}
	for _, body := range []string{`{"mountpoint":3}`, `["x"]`, `not json`, `{}`} {
		s := started(t, status(200, body))
		p := newPlugin(t, authConfig(s.URL))
		cl := testClient()
		mustAuth(t, p, cl, access.Allow)
		if cl.Mountpoint != "mp/c1/" {
			t.Errorf("%s: mountpoint %q, want the client's own", body, cl.Mountpoint)
		}
	}
}

func TestSuperuser(t *testing.T) {
	auth := started(t, nil)
	for _, c := range []struct {
		reply func(http.ResponseWriter, *http.Request)
		want  bool
	}{
		{status(200, ""), true},
		{status(200, "ignore"), true}, // any 200
		{status(403, ""), false},
		{status(500, ""), false},
	} {
		super := started(t, c.reply)
		conf := authConfig(auth.URL)
		conf.SuperReq = Request{URL: super.URL + "/super", Method: "get", Params: "clientid=%c,username=%u,password=%P"}
		p := newPlugin(t, conf)
		cl := testClient()
		mustAuth(t, p, cl, access.Allow)
		if cl.Superuser != c.want {
			t.Errorf("superuser %v, want %v", cl.Superuser, c.want)
		}
		r := super.next(t)
		if r.uri != "/super?clientid=c1&username=u1&password=p+w%26%3D%C3%A9" {
			t.Errorf("super request %s", r.uri)
		}
	}
	// Unreachable super_req: not a superuser, still allowed.
	conf := authConfig(auth.URL)
	conf.SuperReq = Request{URL: closedURL(t), Method: "get"}
	p := newPlugin(t, conf)
	cl := testClient()
	mustAuth(t, p, cl, access.Allow)
	if cl.Superuser {
		t.Error("superuser from an unreachable server")
	}
	// A POST super_req without Content-Type (the shipped file leaves it
	// commented out): EMQX's whole check raises, the next backend decides.
	conf.SuperReq = Request{URL: auth.URL, Method: "post", Params: "clientid=%c"}
	p, err := New(conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	mustAuth(t, p, testClient(), access.Ignore)
	var problems []string
	conf.Validate(func(k, _ string) { problems = append(problems, k) })
	if len(problems) != 1 || problems[0] != "auth.http.super_req.headers.content_type" {
		t.Errorf("Validate: %v", problems)
	}
}

// closedURL is an http URL on loopback where nothing listens.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/auth"
}

func TestUnreachable(t *testing.T) {
	c := authConfig(closedURL(t))
	c.ACLReq = Request{URL: c.AuthReq.URL, Method: "get", Params: "t=%t"}
	p := newPlugin(t, c)
	cl := testClient()
	mustAuth(t, p, cl, access.Deny)
	if cl.Reason != access.ServerUnavailable {
		t.Errorf("server down: reason %v, want server_unavailable", cl.Reason)
	}
	if got, err := p.CheckACL(context.Background(), testClient(), access.Publish, "t"); got != access.Ignore || err != nil {
		t.Errorf("ACL with the server down: %v, %v; want ignore", got, err)
	}
}

// A connection closed without an answer is sent again twice (ehttpc's
// retries), then denies.
func TestRetries(t *testing.T) {
	s := started(t, func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	p := newPlugin(t, authConfig(s.URL))
	mustAuth(t, p, testClient(), access.Deny)
	if n := s.hits.Load(); n != 1+retries {
		t.Errorf("%d attempts, want %d", n, 1+retries)
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	s := started(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	c := authConfig(s.URL)
	c.Timeout = 200 * time.Millisecond
	c.ACLReq = Request{URL: s.URL, Method: "get"}
	p := newPlugin(t, c)
	start := time.Now()
	mustAuth(t, p, testClient(), access.Deny)
	if d := time.Since(start); d < c.Timeout || d > c.Timeout+3*time.Second {
		t.Errorf("answered after %v with a timeout of %v", d, c.Timeout)
	}
	if n := s.hits.Load(); n != 1 {
		t.Errorf("a timed-out request was sent %d times (timeouts are not retried)", n)
	}
	if got, _ := p.CheckACL(context.Background(), testClient(), access.Subscribe, "t"); got != access.Ignore {
		t.Errorf("ACL timeout: %v", got)
	}
	// The caller's deadline bounds it too.
	c.Timeout = time.Minute
	p = newPlugin(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if got, _ := p.Authenticate(ctx, testClient()); got != access.Deny {
		t.Errorf("caller deadline: %v", got)
	}
}

func TestACL(t *testing.T) {
	var code atomic.Int32
	var body atomic.Value
	code.Store(200)
	body.Store("")
	s := started(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(int(code.Load()))
		_, _ = io.WriteString(w, body.Load().(string))
	})
	c := Defaults()
	c.ACLReq = Request{URL: s.URL + "/acl", Method: "post", Headers: map[string]string{"content-type": JSONContentType}, Params: allParams}
	p := newPlugin(t, c)
	if p.Authenticates() || !p.ChecksACL() {
		t.Fatal("only acl_req is set")
	}
	mustAuth(t, p, testClient(), access.Ignore) // no auth_req: not an authenticator
	check := func(a access.Action, topic string, want access.Result) {
		t.Helper()
		if got, err := p.CheckACL(context.Background(), testClient(), a, topic); got != want || err != nil {
			t.Errorf("CheckACL(%v, %s) = %v, %v; want %v", a, topic, got, err, want)
		}
	}
	check(access.Publish, "a/b", access.Allow)
	var m map[string]string
	if err := json.Unmarshal([]byte(s.next(t).body), &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"u": "u1", "c": "c1", "a": "10.1.2.3", "r": "mqtt", "P": "null", "p": "1883",
		"C": "cn1", "d": "CN=cn1,O=org", "m": "mp/c1/", "A": "2", "t": "a/b", "lit": "x%u"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	check(access.Subscribe, "a/+/#", access.Allow)
	if r := s.next(t); !strings.Contains(r.body, `"A":"1"`) || !strings.Contains(r.body, `"t":"a/+/#"`) {
		t.Errorf("subscribe body %s", r.body)
	}
	body.Store("ignore")
	check(access.Publish, "x", access.Ignore)
	for _, st := range []int{204, 401, 403, 404, 500} {
		code.Store(int32(st))
		body.Store("")
		check(access.Publish, "x", access.Deny)
	}
	// A user name starting with $ is never asked about.
	before := s.hits.Load()
	cl := testClient()
	cl.Username = "$admin"
	if got, _ := p.CheckACL(context.Background(), cl, access.Publish, "x"); got != access.Ignore || s.hits.Load() != before {
		t.Errorf("$ user: %v, %d requests", got, s.hits.Load()-before)
	}
}

// pool_size bounds the connections of a request kind.
func TestPoolSize(t *testing.T) {
	var inFlight, maxInFlight, conns atomic.Int32
	release := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		<-release
		inFlight.Add(-1)
	})
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	c := authConfig(s.URL)
	c.PoolSize = 2
	p := newPlugin(t, c)
	var wg sync.WaitGroup
	results := make(chan access.Result, 5)
	for range 5 {
		wg.Go(func() {
			r, _ := p.Authenticate(context.Background(), testClient())
			results <- r
		})
	}
	testutil.Eventually(t, 5*time.Second, "two requests in flight", func() bool { return inFlight.Load() == 2 })
	close(release)
	wg.Wait()
	close(results)
	for r := range results {
		if r != access.Allow {
			t.Errorf("result %v", r)
		}
	}
	if maxInFlight.Load() != 2 || conns.Load() > 2 {
		t.Errorf("%d in flight at most, %d connections; pool_size 2", maxInFlight.Load(), conns.Load())
	}
}

// Only MaxBody bytes of an answer are read: an endless body does not hold
// the check.
func TestBodyBounded(t *testing.T) {
	s := started(t, func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 4096))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	c := authConfig(s.URL)
	c.Timeout = time.Minute
	p := newPlugin(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if got, _ := p.Authenticate(ctx, testClient()); got != access.Allow || ctx.Err() != nil {
		t.Errorf("endless body: %v, %v", got, ctx.Err())
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certs := testutil.WriteCerts(t, dir)
	serverCert, err := tls.LoadX509KeyPair(certs.CertFile, certs.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	newTLS := func(clientAuth bool) *server {
		s := newServer(t, nil)
		s.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}}
		if clientAuth {
			s.TLS.ClientAuth, s.TLS.ClientCAs = tls.RequireAndVerifyClientCert, certs.Pool
		}
		s.StartTLS()
		return s
	}
	s := newTLS(false)
	port := s.Listener.Addr().(*net.TCPAddr).Port
	byIP := s.URL // https://127.0.0.1:port
	byName := "https://localhost:" + strconv.Itoa(port)
	other := testutil.WriteCerts(t, t.TempDir()) // a CA that did not sign the server

	for _, c := range []struct {
		name    string
		url     string
		ca      string
		verify  bool
		sni     string
		want    access.Result
		wantSNI string
	}{
		{"verify off accepts any certificate", byName, "", false, "", access.Allow, "localhost"},
		{"verify off, other CA", byName, other.CAFile, false, "", access.Allow, "localhost"},
		{"verify with the CA", byName, certs.CAFile, true, "", access.Allow, "localhost"},
		{"verify by IP", byIP, certs.CAFile, true, "", access.Allow, ""},
		{"verify against the system roots", byName, "", true, "", access.Deny, ""},
		{"verify with another CA", byName, other.CAFile, true, "", access.Deny, ""},
		{"server name not in the certificate", byName, certs.CAFile, true, "wrong.example", access.Deny, ""},
		{"server name disabled: chain checked, name not", byName, certs.CAFile, true, "disable", access.Allow, ""},
		{"server name disabled, other CA", byName, other.CAFile, true, "disable", access.Deny, ""},
		{"server name sent", byIP, certs.CAFile, true, "localhost", access.Allow, "localhost"},
		{"verify off, name disabled", byName, "", false, "disable", access.Allow, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			conf := authConfig(c.url)
			conf.CACertFile, conf.Verify, conf.ServerNameIndication = c.ca, c.verify, c.sni
			p := newPlugin(t, conf)
			mustAuth(t, p, testClient(), c.want)
			if c.want == access.Allow {
				if r := s.next(t); r.sni != c.wantSNI {
					t.Errorf("server name %q, want %q", r.sni, c.wantSNI)
				}
			}
		})
	}

	// A server that wants a client certificate.
	m := newTLS(true)
	conf := authConfig(m.URL)
	conf.CACertFile, conf.Verify = certs.CAFile, true
	mustAuth(t, newPlugin(t, conf), testClient(), access.Deny)
	conf.CertFile, conf.KeyFile = certs.CertFile, certs.KeyFile
	mustAuth(t, newPlugin(t, conf), testClient(), access.Allow)

	// Unusable files fail New.
	conf.KeyFile = certs.CAFile
	if _, err := New(conf, nil); err == nil || !strings.Contains(err.Error(), "auth.http.ssl.certfile") {
		t.Errorf("New with a bad key: %v", err)
	}
	conf = authConfig(m.URL)
	conf.CACertFile = dir + "/missing.pem"
	if _, err := New(conf, nil); err == nil || !strings.Contains(err.Error(), "auth.http.ssl.cacertfile") {
		t.Errorf("New with a missing CA: %v", err)
	}
}
