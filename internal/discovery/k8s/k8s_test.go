package k8s

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	svc       = "emqx-headless"
	slicePath = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
	epPath    = "/api/v1/namespaces/default/endpoints/" + svc
	wantQuery = "labelSelector=kubernetes.io%2Fservice-name%3Demqx-headless"
)

// Two slices as the EndpointSlice controller writes them for a StatefulSet
// behind a headless service: ready, not ready, ready absent (nil = ready),
// an endpoint without hostname and an IPv6 slice.
const sliceListJSON = `{
  "kind": "EndpointSliceList",
  "apiVersion": "discovery.k8s.io/v1",
  "metadata": {"resourceVersion": "123456"},
  "items": [
    {
      "metadata": {
        "name": "emqx-headless-abcde",
        "namespace": "default",
        "labels": {"kubernetes.io/service-name": "emqx-headless", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}
      },
      "addressType": "IPv4",
      "endpoints": [
        {"addresses": ["10.0.0.1"], "conditions": {"ready": true, "serving": true, "terminating": false},
         "hostname": "emqx-0", "targetRef": {"kind": "Pod", "namespace": "default", "name": "emqx-0", "uid": "u0"}, "nodeName": "node-a"},
        {"addresses": ["10.0.0.2"], "conditions": {"ready": false, "serving": false, "terminating": false},
         "hostname": "emqx-1", "targetRef": {"kind": "Pod", "namespace": "default", "name": "emqx-1", "uid": "u1"}, "nodeName": "node-b"},
        {"addresses": ["10.0.0.3"], "conditions": {},
         "hostname": "emqx-2", "targetRef": {"kind": "Pod", "namespace": "default", "name": "emqx-2", "uid": "u2"}, "nodeName": "node-c"},
        {"addresses": ["10.0.0.1"], "conditions": {"ready": true},
         "hostname": "emqx-0", "targetRef": {"kind": "Pod", "namespace": "default", "name": "emqx-0", "uid": "u0"}}
      ],
      "ports": [{"name": "mqtt", "protocol": "TCP", "port": 1883}]
    },
    {
      "metadata": {
        "name": "emqx-headless-fghij",
        "namespace": "default",
        "labels": {"kubernetes.io/service-name": "emqx-headless"}
      },
      "addressType": "IPv6",
      "endpoints": [
        {"addresses": ["fd00::4"], "conditions": {"ready": true},
         "hostname": "emqx-3", "targetRef": {"kind": "Pod", "namespace": "default", "name": "emqx-3", "uid": "u3"}},
        {"addresses": ["fd00::5"],
         "targetRef": {"kind": "Pod", "namespace": "default", "name": "other-pod", "uid": "u5"}}
      ],
      "ports": [{"name": "mqtt", "protocol": "TCP", "port": 1883}]
    }
  ]
}`

// An Endpoints object with ready and not-ready addresses, with and without
// hostnames, in two subsets.
const endpointsJSON = `{
  "kind": "Endpoints",
  "apiVersion": "v1",
  "metadata": {"name": "emqx-headless", "namespace": "default", "resourceVersion": "654321"},
  "subsets": [
    {
      "addresses": [
        {"ip": "10.1.0.1", "hostname": "emqx-0", "nodeName": "node-a", "targetRef": {"kind": "Pod", "namespace": "default", "name": "emqx-0", "uid": "u0"}},
        {"ip": "10.1.0.2", "hostname": "emqx-1", "nodeName": "node-b", "targetRef": {"kind": "Pod", "namespace": "default", "name": "emqx-1", "uid": "u1"}},
        {"ip": "10.1.0.3", "nodeName": "node-c", "targetRef": {"kind": "Pod", "namespace": "default", "name": "other-pod", "uid": "u9"}}
      ],
      "notReadyAddresses": [
        {"ip": "10.1.0.9", "hostname": "emqx-9", "nodeName": "node-d", "targetRef": {"kind": "Pod", "namespace": "default", "name": "emqx-9", "uid": "u8"}}
      ],
      "ports": [{"name": "mqtt", "port": 1883, "protocol": "TCP"}]
    },
    {
      "addresses": [{"ip": "fd00::7", "hostname": "emqx-7"}],
      "ports": [{"name": "ekka", "port": 4370, "protocol": "TCP"}]
    }
  ]
}`

func status(code int, reason, msg string) string {
	return fmt.Sprintf(`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":%q,"reason":%q,"code":%d}`, msg, reason, code)
}

// fakeAPI is a minimal Kubernetes API server.
type fakeAPI struct {
	srv *httptest.Server

	mu              sync.Mutex
	token           string // accepted bearer token
	slices          bool   // EndpointSlices served (else 404)
	slicesForbidden bool   // RBAC grants endpoints only
	forceCode       int    // answer every request with this (and a plain body)
	forceBody       string
	hits            map[string]int // path -> count
	auths           []string       // Authorization headers seen
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{token: "tok-1", slices: true, hits: map[string]int{}}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // TLS handshake failures of TestTLSVerified
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) set(fn func(*fakeAPI)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeAPI) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[path]
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.hits[r.URL.Path]++
	f.auths = append(f.auths, r.Header.Get("Authorization"))
	token, slicesOn, slicesForbidden, forceCode, forceBody := f.token, f.slices, f.slicesForbidden, f.forceCode, f.forceBody
	f.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	reply := func(code int, body string) {
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
	if forceCode != 0 {
		w.Header().Set("Content-Type", "text/plain")
		reply(forceCode, forceBody)
		return
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		reply(http.StatusUnauthorized, status(401, "Unauthorized", "Unauthorized"))
		return
	}
	if auth != "Bearer "+token {
		reply(http.StatusForbidden, status(403, "Forbidden",
			`endpoints "emqx-headless" is forbidden: User "system:anonymous" cannot get resource "endpoints" in API group "" in the namespace "default"`))
		return
	}
	switch r.URL.Path {
	case slicePath:
		if r.URL.RawQuery != wantQuery {
			reply(http.StatusBadRequest, status(400, "BadRequest", "unexpected query "+r.URL.RawQuery))
			return
		}
		switch {
		case !slicesOn:
			reply(http.StatusNotFound, status(404, "NotFound", "the server could not find the requested resource"))
		case slicesForbidden:
			reply(http.StatusForbidden, status(403, "Forbidden",
				`endpointslices.discovery.k8s.io is forbidden: User "system:serviceaccount:default:emqx" cannot list resource "endpointslices"`))
		default:
			reply(http.StatusOK, sliceListJSON)
		}
	case epPath:
		reply(http.StatusOK, endpointsJSON)
	default:
		reply(http.StatusNotFound, status(404, "NotFound", "not found"))
	}
}

// env is a fake API server plus service-account files trusting its CA.
type env struct {
	api       *fakeAPI
	dir       string
	tokenFile string
	caFile    string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{api: newFakeAPI(t), dir: t.TempDir()}
	e.tokenFile = filepath.Join(e.dir, "token")
	e.caFile = filepath.Join(e.dir, "ca.crt")
	e.writeToken(t, "tok-1\n")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.api.srv.Certificate().Raw})
	if err := os.WriteFile(e.caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) writeToken(t *testing.T, tok string) {
	t.Helper()
	if err := os.WriteFile(e.tokenFile, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
}

// config is the valid Config of the fake API server: the defaults plus
// the required keys.
func config(apiServer string) Config {
	c := Defaults()
	c.APIServer, c.ServiceName, c.AppName = apiServer, svc, "emqx"
	return c
}

func (e *env) options() Options {
	return Options{TokenFile: e.tokenFile, CAFile: e.caFile}
}

// problems collects what Validate reports, as "key: problem".
func problems(c Config) []string {
	var out []string
	c.Validate(func(key, problem string) { out = append(out, key+": "+problem) })
	return out
}

// strategy validates the Config (as package config does) and builds the
// strategy.
func (e *env) strategy(t *testing.T, mut func(*Config, *Options)) *Strategy {
	t.Helper()
	c, o := config(e.api.srv.URL), e.options()
	if mut != nil {
		mut(&c, &o)
	}
	if p := problems(c); p != nil {
		t.Fatalf("invalid config: %q", p)
	}
	s, err := New(c, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func discover(t *testing.T, s *Strategy) []string {
	t.Helper()
	got, err := s.Discover(context.Background())
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	return got
}

func TestName(t *testing.T) {
	s, err := New(config("https://kubernetes.default.svc:443"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Name() != "k8s" {
		t.Fatalf("Name = %q", s.Name())
	}
}

func TestAddressTypes(t *testing.T) {
	const sfx = ".emqx-headless.default.pod.cluster.local"
	cases := []struct {
		name      string
		addrType  string
		slicesOff bool
		suffix    string
		want      []string
	}{
		{name: "slices/ip", addrType: "ip",
			want: []string{"emqx@10.0.0.1", "emqx@10.0.0.3", "emqx@fd00::4", "emqx@fd00::5"}},
		{name: "slices/default is ip", addrType: "", // Defaults()
			want: []string{"emqx@10.0.0.1", "emqx@10.0.0.3", "emqx@fd00::4", "emqx@fd00::5"}},
		{name: "slices/dns", addrType: "dns",
			want: []string{
				"emqx@10-0-0-1.default.pod.cluster.local", "emqx@10-0-0-3.default.pod.cluster.local",
				"emqx@fd00--4.default.pod.cluster.local", "emqx@fd00--5.default.pod.cluster.local"}},
		{name: "slices/dns custom suffix", addrType: "dns", suffix: "pod.local.",
			want: []string{
				"emqx@10-0-0-1.default.pod.local", "emqx@10-0-0-3.default.pod.local",
				"emqx@fd00--4.default.pod.local", "emqx@fd00--5.default.pod.local"}},
		{name: "slices/hostname", addrType: "hostname",
			want: []string{"emqx@emqx-0" + sfx, "emqx@emqx-2" + sfx, "emqx@emqx-3" + sfx}},
		{name: "endpoints/ip", addrType: "ip", slicesOff: true,
			want: []string{"emqx@10.1.0.1", "emqx@10.1.0.2", "emqx@10.1.0.3", "emqx@fd00::7"}},
		{name: "endpoints/dns", addrType: "dns", slicesOff: true,
			want: []string{
				"emqx@10-1-0-1.default.pod.cluster.local", "emqx@10-1-0-2.default.pod.cluster.local",
				"emqx@10-1-0-3.default.pod.cluster.local", "emqx@fd00--7.default.pod.cluster.local"}},
		{name: "endpoints/hostname", addrType: "hostname", slicesOff: true,
			want: []string{"emqx@emqx-0" + sfx, "emqx@emqx-1" + sfx, "emqx@emqx-7" + sfx}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.api.set(func(f *fakeAPI) { f.slices = !tc.slicesOff })
			s := e.strategy(t, func(c *Config, _ *Options) {
				if tc.addrType != "" {
					c.AddressType = tc.addrType
				}
				if tc.suffix != "" {
					c.Suffix = tc.suffix
				}
			})
			got := discover(t, s)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// Not-ready endpoints (ready: false in a slice, notReadyAddresses in
// Endpoints) never show up; a slice endpoint without ready is ready.
func TestNotReadyIgnored(t *testing.T) {
	for _, slicesOn := range []bool{true, false} {
		e := newEnv(t)
		e.api.set(func(f *fakeAPI) { f.slices = slicesOn })
		got := discover(t, e.strategy(t, nil))
		for _, bad := range []string{"emqx@10.0.0.2", "emqx@10.1.0.9"} {
			if slices.Contains(got, bad) {
				t.Fatalf("slices=%v: not-ready %s in %q", slicesOn, bad, got)
			}
		}
		if slicesOn && !slices.Contains(got, "emqx@10.0.0.3") {
			t.Fatalf("endpoint without ready condition missing: %q", got)
		}
	}
}

func TestSlicesPreferred(t *testing.T) {
	e := newEnv(t)
	s := e.strategy(t, nil)
	for range 2 {
		got := discover(t, s)
		if !slices.Contains(got, "emqx@10.0.0.1") || slices.Contains(got, "emqx@10.1.0.1") {
			t.Fatalf("not from EndpointSlices: %q", got)
		}
	}
	if n := e.api.count(slicePath); n != 2 {
		t.Fatalf("EndpointSlice calls = %d, want 2", n)
	}
	if n := e.api.count(epPath); n != 0 {
		t.Fatalf("Endpoints calls = %d, want 0", n)
	}
}

func TestFallbackOn404Remembered(t *testing.T) {
	e := newEnv(t)
	e.api.set(func(f *fakeAPI) { f.slices = false })
	s := e.strategy(t, nil)
	want := []string{"emqx@10.1.0.1", "emqx@10.1.0.2", "emqx@10.1.0.3", "emqx@fd00::7"}
	if got := discover(t, s); !slices.Equal(got, want) {
		t.Fatalf("first call: %q", got)
	}
	if a, b := e.api.count(slicePath), e.api.count(epPath); a != 1 || b != 1 {
		t.Fatalf("after first call: slices %d endpoints %d, want 1 1", a, b)
	}
	// Even if the server grew EndpointSlices, the strategy stays on Endpoints.
	e.api.set(func(f *fakeAPI) { f.slices = true })
	if got := discover(t, s); !slices.Equal(got, want) {
		t.Fatalf("second call: %q", got)
	}
	if a, b := e.api.count(slicePath), e.api.count(epPath); a != 1 || b != 2 {
		t.Fatalf("after second call: slices %d endpoints %d, want 1 2", a, b)
	}
}

// RBAC granting endpoints only (as EMQX's documented Role does) still works.
func TestSlicesForbiddenFallsBack(t *testing.T) {
	e := newEnv(t)
	e.api.set(func(f *fakeAPI) { f.slicesForbidden = true })
	s := e.strategy(t, nil)
	for i := 1; i <= 2; i++ {
		got := discover(t, s)
		if !slices.Contains(got, "emqx@10.1.0.1") {
			t.Fatalf("not from Endpoints: %q", got)
		}
		// 403 is not remembered: RBAC may be fixed later.
		if a, b := e.api.count(slicePath), e.api.count(epPath); a != i || b != i {
			t.Fatalf("call %d: slices %d endpoints %d", i, a, b)
		}
	}
}

func TestAuthErrors(t *testing.T) {
	const hint = "the service account needs get and list on endpoints and endpointslices in namespace default (RBAC)"
	cases := []struct {
		name      string
		token     string // "" = no token file
		slicesOff bool
		wantCode  string
	}{
		{name: "401 no token", wantCode: "401 Unauthorized"},
		{name: "403 wrong token", token: "stolen", wantCode: "403 Forbidden"},
		{name: "403 wrong token endpoints", token: "stolen", slicesOff: true, wantCode: "403 Forbidden"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.token == "" {
				if err := os.Remove(e.tokenFile); err != nil {
					t.Fatal(err)
				}
			} else {
				e.writeToken(t, tc.token)
			}
			core, logs := observer.New(zapcore.DebugLevel)
			s := e.strategy(t, func(_ *Config, o *Options) { o.Log = zap.New(core) })
			if tc.slicesOff {
				// Learn the 404 first, with the right token.
				e.writeToken(t, "tok-1")
				e.api.set(func(f *fakeAPI) { f.slices = false })
				discover(t, s)
				e.writeToken(t, tc.token)
			}
			for range 3 {
				_, err := s.Discover(context.Background())
				if err == nil {
					t.Fatal("no error")
				}
				for _, want := range []string{tc.wantCode, hint} {
					if !strings.Contains(err.Error(), want) {
						t.Fatalf("error %q lacks %q", err, want)
					}
				}
			}
			if n := logs.FilterLevelExact(zapcore.WarnLevel).Len(); n != 1 {
				t.Fatalf("%d warnings over 3 failing rounds, want 1: %v", n, logs.All())
			}
			// A success re-arms the warning.
			e.writeToken(t, "tok-1")
			discover(t, s)
			e.writeToken(t, "stolen")
			if _, err := s.Discover(context.Background()); err == nil {
				t.Fatal("no error")
			}
			if n := logs.FilterLevelExact(zapcore.WarnLevel).Len(); n != 2 {
				t.Fatalf("%d warnings after a success and a new failure, want 2", n)
			}
		})
	}
}

func TestTokenRotation(t *testing.T) {
	e := newEnv(t)
	s := e.strategy(t, nil)
	discover(t, s)
	e.api.set(func(f *fakeAPI) { f.token = "tok-2" })
	if _, err := s.Discover(context.Background()); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("stale token: err = %v, want 403", err)
	}
	e.writeToken(t, "  tok-2\n")
	discover(t, s)
	e.api.mu.Lock()
	last := e.api.auths[len(e.api.auths)-1]
	e.api.mu.Unlock()
	if last != "Bearer tok-2" {
		t.Fatalf("last Authorization = %q", last)
	}
}

func TestTLSVerified(t *testing.T) {
	e := newEnv(t)
	// No CA file: the system roots don't know the test server.
	s := e.strategy(t, func(_ *Config, o *Options) { o.CAFile = filepath.Join(e.dir, "absent.crt") })
	_, err := s.Discover(context.Background())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v, want a certificate error", err)
	}
	if n := e.api.count(slicePath) + e.api.count(epPath); n != 0 {
		t.Fatalf("%d requests reached the handler", n)
	}
}

func TestOtherStatus(t *testing.T) {
	e := newEnv(t)
	e.api.set(func(f *fakeAPI) {
		f.forceCode = http.StatusInternalServerError
		f.forceBody = "etcdserver: request timed out\n" + strings.Repeat("x", 1000)
	})
	s := e.strategy(t, nil)
	_, err := s.Discover(context.Background())
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if !strings.Contains(msg, "500 Internal Server Error") || !strings.Contains(msg, "etcdserver: request timed out") {
		t.Fatalf("error = %q", msg)
	}
	if len(msg) > 400 || strings.Contains(msg, "RBAC") {
		t.Fatalf("error not a short excerpt: %q", msg)
	}
	// A 5xx on EndpointSlices is not a reason to fall back.
	if n := e.api.count(epPath); n != 0 {
		t.Fatalf("Endpoints calls = %d", n)
	}
}

func TestBodyBounded(t *testing.T) {
	big := `{"kind":"EndpointSliceList","items":[],"pad":"` + strings.Repeat("x", maxBody) + `"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(big))
	}))
	defer srv.Close()
	tr := &http.Transport{}
	s, err := New(config(srv.URL+"/"), Options{TokenFile: filepath.Join(t.TempDir(), "none"), HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer tr.CloseIdleConnections()
	_, err = s.Discover(context.Background())
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v", err)
	}
	srv.CloseClientConnections()
}

func TestContextBoundsCall(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	s, err := New(config(srv.URL), Options{TokenFile: filepath.Join(t.TempDir(), "none")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := s.Discover(ctx); err == nil {
		t.Fatal("no error")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestConfigValidation(t *testing.T) {
	ok := config("https://kubernetes.default.svc:443")
	if p := problems(ok); p != nil {
		t.Fatalf("valid config: %q", p)
	}
	const required = "cluster.discovery"
	cases := []struct {
		name    string
		mut     func(*Config)
		wantKey string
		wantMsg string
	}{
		{"apiserver missing", func(c *Config) { c.APIServer = "" }, required, "cluster.k8s.apiserver is required when cluster.discovery = k8s"},
		{"apiserver scheme", func(c *Config) { c.APIServer = "ftp://k8s:21" }, "cluster.k8s.apiserver", "must be an http:// or https:// URL"},
		{"apiserver no scheme", func(c *Config) { c.APIServer = "kubernetes.default.svc" }, "cluster.k8s.apiserver", "must be an http:// or https:// URL"},
		{"apiserver no host", func(c *Config) { c.APIServer = "https://" }, "cluster.k8s.apiserver", "must be an http:// or https:// URL"},
		{"apiserver query", func(c *Config) { c.APIServer = "https://k8s/?a=b" }, "cluster.k8s.apiserver", "without query"},
		{"apiserver empty query", func(c *Config) { c.APIServer = "https://k8s/?" }, "cluster.k8s.apiserver", "without query"},
		{"apiserver user", func(c *Config) { c.APIServer = "https://u:p@k8s/" }, "cluster.k8s.apiserver", "user info"},
		{"apiserver port", func(c *Config) { c.APIServer = "https://k8s:65536" }, "cluster.k8s.apiserver", "from 1 to 65535"},
		{"service missing", func(c *Config) { c.ServiceName = "" }, required, "cluster.k8s.service_name is required when cluster.discovery = k8s"},
		{"service upper", func(c *Config) { c.ServiceName = "EMQX" }, "cluster.k8s.service_name", "must be a DNS label"},
		{"service dot", func(c *Config) { c.ServiceName = "emqx.headless" }, "cluster.k8s.service_name", "must be a DNS label"},
		{"service digit", func(c *Config) { c.ServiceName = "1emqx" }, "cluster.k8s.service_name", "starting with a letter"},
		{"service too long", func(c *Config) { c.ServiceName = strings.Repeat("a", 64) }, "cluster.k8s.service_name", "at most 63"},
		{"namespace bad", func(c *Config) { c.Namespace = "kube_system" }, "cluster.k8s.namespace", "must be a DNS label"},
		{"namespace dash", func(c *Config) { c.Namespace = "-ns" }, "cluster.k8s.namespace", "must be a DNS label"},
		{"namespace upper", func(c *Config) { c.Namespace = "Prod" }, "cluster.k8s.namespace", "lower-case"},
		{"namespace empty", func(c *Config) { c.Namespace = "" }, "cluster.k8s.namespace", "must be a DNS label"},
		{"address type", func(c *Config) { c.AddressType = "fqdn" }, "cluster.k8s.address_type", "must be one of ip, dns, hostname"},
		{"app missing", func(c *Config) { c.AppName = "" }, "cluster.k8s.app_name", "must match"},
		{"app bad", func(c *Config) { c.AppName = "em qx" }, "cluster.k8s.app_name", "must match"},
		{"app at", func(c *Config) { c.AppName = "emqx@x" }, "cluster.k8s.app_name", "must match"},
		{"suffix bad", func(c *Config) { c.Suffix = "pod..local" }, "cluster.k8s.suffix", "must be a DNS name"},
		{"suffix leading dot", func(c *Config) { c.Suffix = ".pod.local" }, "cluster.k8s.suffix", "must be a DNS name"},
		{"suffix upper", func(c *Config) { c.Suffix = "Pod.Local" }, "cluster.k8s.suffix", "must be a DNS name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mut(&c)
			p := problems(c)
			if len(p) != 1 || !strings.HasPrefix(p[0], tc.wantKey+": ") || !strings.Contains(p[0], tc.wantMsg) {
				t.Fatalf("problems %q, want one at %s saying %q", p, tc.wantKey, tc.wantMsg)
			}
		})
	}
	// Valid variations.
	for _, mut := range []func(*Config){
		func(c *Config) { c.APIServer = "http://127.0.0.1:8001/" },
		func(c *Config) { c.APIServer = "https://[::1]:6443/prefix" },
		func(c *Config) {
			c.AddressType = "hostname"
			c.Namespace = "emqx-system"
			c.Suffix = "svc.cluster.local."
		},
		func(c *Config) { c.AppName = "emqx_node-1" },
	} {
		c := ok
		mut(&c)
		if p := problems(c); p != nil {
			t.Fatalf("%+v: %q", c, p)
		}
		s, err := New(c, Options{})
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		s.Close()
	}
}

// TestBadCAFile: a CA file that exists but holds no certificate stops New
// (a missing one does not: TestTLSVerified).
func TestBadCAFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(p, []byte("not a cert"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(config("https://kubernetes.default.svc:443"), Options{CAFile: p})
	if err == nil {
		s.Close()
		t.Fatal("no error")
	}
	if !strings.Contains(err.Error(), "CA file") || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("error %q", err)
	}
}
