package guard

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	pahov3 "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"emqxgo/internal/access"
	"emqxgo/internal/access/acl"
	"emqxgo/internal/access/authhttp"
	"emqxgo/internal/broker"
	"emqxgo/internal/config"
	"emqxgo/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rules is the acl.conf of these tests.
const rules = `
{allow, {user, "admin"}, pubsub, ["#"]}.
{deny, all, subscribe, ["secret/#", {eq, "#"}]}.
{deny, all, publish, ["ro/#"]}.
{allow, all, pubsub, ["users/%u/#", "clients/%c/#"]}.
{deny, all, pubsub, ["users/#", "clients/#"]}.
{allow, all}.
`

type node struct {
	b    *broker.Broker
	g    *Guard
	addr string
	logs *observer.ObservedLogs
	tls  testutil.Certs
}

func defaults() Settings {
	return Settings{AllowAnonymous: "true", ACLNomatch: access.Allow, ACLCache: true, ACLCacheMaxSize: 32, ACLCacheTTL: time.Minute}
}

// start runs a broker with the guard (acl.conf = rules) and, when set, a
// TLS listener asking for client certificates.
func start(t *testing.T, set Settings, withTLS bool) *node {
	t.Helper()
	lines := []string{"listener.tcp.external = 127.0.0.1:0", "mqtt.max_topic_alias = 10"}
	n := &node{}
	if withTLS {
		n.tls = testutil.WriteCerts(t, t.TempDir())
		lines = append(lines, "listener.ssl.external = 127.0.0.1:0", "listener.ssl.external.certfile = "+n.tls.CertFile,
			"listener.ssl.external.keyfile = "+n.tls.KeyFile, "listener.ssl.external.cacertfile = "+n.tls.CAFile,
			"listener.ssl.external.verify = verify_peer", "listener.ssl.external.fail_if_no_peer_cert = true")
	}
	return n.run(t, set, false, lines)
}

// startZoned runs a broker with the guard following each client's zone
// (as the node sets it up), configured by the emqx.conf lines.
func startZoned(t *testing.T, set Settings, lines ...string) *node {
	t.Helper()
	return (&node{}).run(t, set, true, lines)
}

func (n *node) run(t *testing.T, set Settings, zoned bool, lines []string) *node {
	t.Helper()
	cfg := config.MustFromLines(os.TempDir(), lines...)
	core, logs := observer.New(zap.InfoLevel)
	n.logs = logs
	b, err := broker.New(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if zoned {
		set.ZoneOf = ZoneLookup(cfg.Zones, b.Zone)
		set.ReservedIDPrefix = broker.ReservedClientIDPrefix
		set.Unmount = b.Unmount
	}
	path := filepath.Join(t.TempDir(), "acl.conf")
	if err := os.WriteFile(path, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &acl.File{}
	if err := f.Load(path); err != nil {
		t.Fatal(err)
	}
	n.g = New(b.Server(), set, f, zap.New(core))
	if err := b.Server().AddHook(n.g, nil); err != nil {
		t.Fatal(err)
	}
	b.SetSubscribeCheck(n.g.CheckSubscribe)
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.Stop(ctx)
	})
	n.b, n.addr = b, b.Addrs()["tcp"]
	return n
}

func connect5(addr, id, user, pass string) (*testutil.V5, error) {
	cp := &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}
	if user != "" {
		cp.Username, cp.UsernameFlag = user, true
	}
	if pass != "" {
		cp.Password, cp.PasswordFlag = []byte(pass), true
	}
	return testutil.TryConnectV5(addr, cp)
}

func dial5(t *testing.T, addr, id, user string) *testutil.V5 {
	t.Helper()
	v, err := connect5(addr, id, user, "")
	if err != nil {
		t.Fatalf("connect %s: %v", id, err)
	}
	t.Cleanup(func() { _ = v.Disconnect(&paho.Disconnect{}) })
	return v
}

// connack3 is the CONNACK return code an MQTT 3.1.1 client gets.
func connack3(t *testing.T, addr, id, user, pass string) byte {
	t.Helper()
	opts := pahov3.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetUsername(user).SetPassword(pass).
		SetAutoReconnect(false).SetConnectRetry(false).SetProtocolVersion(4)
	c := pahov3.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatal("3.1.1 connect timed out")
	}
	defer c.Disconnect(0)
	if ct, ok := tok.(*pahov3.ConnectToken); ok {
		return ct.ReturnCode()
	}
	return 0xff
}

func TestAnonymous(t *testing.T) {
	for _, c := range []struct {
		anon     string
		user     string
		ok       bool
		code5    byte
		code3    byte
		whatever string
	}{
		{"true", "", true, 0, 0, "anonymous allowed"},
		{"false", "", false, 0x87, 5, "no backend, anonymous refused: not authorized"},
		{"false", "bob", false, 0x87, 5, "no backend says yes"},
		{"false_quick_deny", "", false, 0x87, 5, "no user name: refused at once"},
		{"false_quick_deny", "bob", false, 0x87, 5, "a user name still needs a backend"},
	} {
		t.Run(c.whatever, func(t *testing.T) {
			set := defaults()
			set.AllowAnonymous = c.anon
			n := start(t, set, false)
			v, err := connect5(n.addr, "a5", c.user, "")
			if c.ok {
				if err != nil {
					t.Fatal(err)
				}
				_ = v.Disconnect(&paho.Disconnect{})
			} else if err == nil || v == nil || v.Connack == nil || v.Connack.ReasonCode != c.code5 {
				t.Fatalf("MQTT 5: want CONNACK %#x, got %v", c.code5, err)
			}
			if got := connack3(t, n.addr, "a3", c.user, ""); got != c.code3 {
				t.Fatalf("MQTT 3.1.1: return code %d, want %d", got, c.code3)
			}
			if !c.ok {
				if n.g.AuthFailure.Load() != 2 {
					t.Fatalf("failures counted: %d", n.g.AuthFailure.Load())
				}
				if e := n.logs.FilterMessage("client authentication failed").All(); len(e) != 1 {
					t.Fatalf("one log line for two failures within the window, got %d", len(e))
				}
			}
		})
	}
}

// A real emqx_auth_http plugin answers through the gate: its status
// decides, and its reason gives the CONNACK code.
func TestHTTPBackendCodes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		switch r.PostForm.Get("username") {
		case "good":
			w.WriteHeader(200)
		case "ignored":
			_, _ = w.Write([]byte("ignore"))
		case "forbidden":
			w.WriteHeader(403)
		default:
			w.WriteHeader(401)
		}
	}))
	defer srv.Close()
	set := defaults()
	set.AllowAnonymous = "false"
	n := start(t, set, false)
	hc := authhttp.Defaults()
	hc.AuthReq = authhttp.Request{URL: srv.URL, Method: "post", Headers: map[string]string{"content-type": authhttp.FormContentType},
		Params: "clientid=%c,username=%u,password=%P"}
	p, err := authhttp.New(hc, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	n.g.SetPlugins([]access.Authenticator{p}, nil)
	for _, c := range []struct {
		user         string
		code5, code3 byte
	}{
		{"good", 0, 0}, {"bad", 0x86, 4}, {"forbidden", 0x87, 5}, {"ignored", 0x87, 5}, // ignored: allow_anonymous false decides
	} {
		v, err := connect5(n.addr, "h-"+c.user, c.user, "pw")
		switch {
		case c.code5 == 0 && err != nil:
			t.Fatalf("%s: %v", c.user, err)
		case c.code5 == 0:
			_ = v.Disconnect(&paho.Disconnect{})
		case err == nil || v.Connack == nil || v.Connack.ReasonCode != c.code5:
			t.Fatalf("%s: want CONNACK %#x, got %v", c.user, c.code5, err)
		}
		if got := connack3(t, n.addr, "h3-"+c.user, c.user, "pw"); got != c.code3 {
			t.Fatalf("%s: 3.1.1 return code %d, want %d", c.user, got, c.code3)
		}
	}
}

func TestSubscribeACL(t *testing.T) {
	n := start(t, defaults(), false)
	v := dial5(t, n.addr, "s1", "bob")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sa, err := v.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: "secret/x", QoS: 1}, {Topic: "#", QoS: 1}, {Topic: "a/#", QoS: 1}, {Topic: "$share/g/secret/y", QoS: 1},
		{Topic: "users/bob/in", QoS: 1}, {Topic: "users/eve/in", QoS: 1}, {Topic: "clients/s1/+", QoS: 0},
	}})
	if err != nil && sa == nil {
		t.Fatal(err)
	}
	want := []byte{0x87, 0x87, 1, 0x87, 1, 0x87, 0}
	if string(sa.Reasons) != string(want) {
		t.Fatalf("SUBACK %x, want %x", sa.Reasons, want)
	}
	// MQTT 3.1.1: 0x80 for a denied filter.
	opts := pahov3.NewClientOptions().AddBroker("tcp://" + n.addr).SetClientID("s3").SetAutoReconnect(false)
	c3 := pahov3.NewClient(opts)
	if tok := c3.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal("3.1.1 connect")
	}
	defer c3.Disconnect(0)
	tok := c3.SubscribeMultiple(map[string]byte{"secret/x": 1}, nil)
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatal("subscribe timed out")
	}
	if r := tok.(*pahov3.SubscribeToken).Result()["secret/x"]; r != 0x80 {
		t.Fatalf("3.1.1 SUBACK %#x, want 0x80", r)
	}
	// The admin may.
	a := dial5(t, n.addr, "adm", "admin")
	a.Sub(t, "secret/#", 1)
	if n.g.ACLDeny.Load() < 5 {
		t.Fatalf("denials counted: %d", n.g.ACLDeny.Load())
	}
}

func TestPublishACL(t *testing.T) {
	n := start(t, defaults(), false)
	sub := dial5(t, n.addr, "watch", "admin")
	sub.Sub(t, "#", 2)
	pub := dial5(t, n.addr, "p5", "bob")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for qos := byte(0); qos <= 2; qos++ {
		r, err := pub.Publish(ctx, &paho.Publish{Topic: "ro/x", QoS: qos, Payload: []byte{qos}})
		if qos > 0 && (r == nil || r.ReasonCode != 0x87) {
			t.Fatalf("QoS %d denied: want 0x87, got %+v %v", qos, r, err)
		}
	}
	pub.Pub(t, "users/bob/x", 1, []byte("mine"))
	sub.Expect(t, "users/bob/x", []byte("mine")) // nothing denied came before it
	// A topic alias is checked on the topic it stands for.
	if _, err := pub.Publish(ctx, &paho.Publish{Topic: "ok/t", QoS: 1, Payload: []byte("a"), Properties: &paho.PublishProperties{TopicAlias: ptr(uint16(1))}}); err != nil {
		t.Fatal(err)
	}
	sub.Expect(t, "ok/t", []byte("a"))

	// MQTT 3.1.1: a denied QoS 1 is acknowledged and dropped.
	opts := pahov3.NewClientOptions().AddBroker("tcp://" + n.addr).SetClientID("p3").SetUsername("bob").SetAutoReconnect(false)
	c3 := pahov3.NewClient(opts)
	if tok := c3.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal("3.1.1 connect")
	}
	defer c3.Disconnect(0)
	for _, topic := range []string{"ro/y", "users/eve/y", "users/bob/y"} {
		if tok := c3.Publish(topic, 1, false, topic); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("3.1.1 publish %s not acknowledged", topic)
		}
	}
	sub.Expect(t, "users/bob/y", []byte("users/bob/y"))
	if !c3.IsConnected() {
		t.Fatal("3.1.1 client disconnected for a denied publish")
	}
}

func ptr[T any](v T) *T { return &v }

func TestDenyActionDisconnect(t *testing.T) {
	set := defaults()
	set.ACLDisconnect = true
	n := start(t, set, false)
	v := dial5(t, n.addr, "d5", "bob")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = v.Publish(ctx, &paho.Publish{Topic: "ro/x", QoS: 1, Payload: []byte("x")})
	select {
	case d := <-v.Disconnects:
		if d.ReasonCode != 0x87 {
			t.Fatalf("DISCONNECT %#x, want 0x87", d.ReasonCode)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("not disconnected")
	}
	w := dial5(t, n.addr, "d6", "bob")
	_, _ = w.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "secret/a", QoS: 0}}})
	select {
	case <-w.Disconnects:
	case <-time.After(10 * time.Second):
		t.Fatal("not disconnected for a denied subscribe")
	}
}

// The cache fronts slow sources; a reload of acl.conf reaches cached
// answers; a superuser skips the ACL.
func TestCacheReloadSuperuser(t *testing.T) {
	n := start(t, defaults(), false)
	slow := &countingACL{}
	n.g.SetPlugins(nil, []access.ACLChecker{slow})
	v := dial5(t, n.addr, "c1", "bob")
	v.Pub(t, "a/b", 0, nil)
	v.Pub(t, "a/b", 1, nil)
	if slow.n.Load() != 1 || n.g.ACLCacheHit.Load() != 1 {
		t.Fatalf("asked %d times, %d cache hits", slow.n.Load(), n.g.ACLCacheHit.Load())
	}
	path := n.g.file.Path()
	if err := os.WriteFile(path, []byte(`{deny, all, publish, ["a/#"]}.`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := n.g.file.Reload(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r, _ := v.Publish(ctx, &paho.Publish{Topic: "a/b", QoS: 1}); r == nil || r.ReasonCode != 0x87 {
		t.Fatalf("after reload the cached allow is gone: %+v", r)
	}
	if err := os.WriteFile(path, []byte("{oops"), 0o644); err == nil {
		if err := n.g.file.Reload(); err == nil {
			t.Fatal("a bad file reloaded")
		}
	}
	if r, _ := v.Publish(ctx, &paho.Publish{Topic: "a/b", QoS: 1}); r == nil || r.ReasonCode != 0x87 {
		t.Fatal("a bad reload kept the old rules")
	}
	n.g.SetPlugins([]access.Authenticator{superAuth{}}, nil)
	s := dial5(t, n.addr, "root", "root")
	if r, err := s.Publish(ctx, &paho.Publish{Topic: "a/b", QoS: 1}); err != nil || r.ReasonCode != 0 {
		t.Fatalf("superuser: %+v %v", r, err)
	}
}

type countingACL struct{ n atomic.Int64 }

func (c *countingACL) Name() string { return "emqx_auth_http" }
func (c *countingACL) CheckACL(context.Context, *access.Client, access.Action, string) (access.Result, error) {
	c.n.Add(1)
	return access.Ignore, nil
}

type superAuth struct{}

func (superAuth) Name() string { return "emqx_auth_mnesia" }
func (superAuth) Authenticate(_ context.Context, c *access.Client) (access.Result, error) {
	if c.Username != "root" {
		return access.Ignore, nil
	}
	c.Superuser = true
	return access.Allow, nil
}

// peer_cert_as_username and _clientid take the client certificate's
// fields; the ACL then sees them.
func TestPeerCertAs(t *testing.T) {
	set := defaults()
	set.CertAs = map[string]CertAs{"ssl:external": {Username: "cn", ClientID: "md5"}}
	set.AllowAnonymous = "false"
	n := start(t, set, true)
	seen := make(chan access.Client, 1)
	n.g.SetPlugins([]access.Authenticator{recorder(seen)}, nil)
	cert, err := tls.LoadX509KeyPair(n.tls.CertFile, n.tls.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", n.b.Addrs()["ssl"], &tls.Config{RootCAs: n.tls.Pool, Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	pc := paho.NewClient(paho.ClientConfig{Conn: conn})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := pc.Connect(ctx, &paho.Connect{ClientID: "given", CleanStart: true, Username: "given", UsernameFlag: true}); err != nil {
		t.Fatal(err)
	}
	defer pc.Disconnect(&paho.Disconnect{})
	c := <-seen
	if c.Username != "localhost" || c.CertCN != "localhost" || len(c.ClientID) != 32 || c.ClientID == "given" || c.Listener != "mqtt:ssl:external" {
		t.Fatalf("client seen by the backend: %+v", c)
	}
	if _, ok := n.b.Server().Clients.Get(c.ClientID); !ok {
		t.Fatal("the session is not under the certificate's client id")
	}
}

type recorder chan access.Client

func (r recorder) Name() string { return "emqx_auth_http" }
func (r recorder) Authenticate(_ context.Context, c *access.Client) (access.Result, error) {
	r <- *c
	return access.Allow, nil
}

// TestMountpointACL: with zone.<name>.mountpoint, the ACL checks topics
// and filters as the client gave them, before the mountpoint (as EMQX).
func TestMountpointACL(t *testing.T) {
	n := startZoned(t, defaults(), "listener.tcp.external = 127.0.0.1:0", "zone.external.mountpoint = m/")
	sub := dial5(t, n.addr, "watch", "admin")
	sub.Sub(t, "#", 1) // m/#
	pub := dial5(t, n.addr, "p5", "bob")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r, err := pub.Publish(ctx, &paho.Publish{Topic: "ro/x", QoS: 1, Payload: []byte("no")}); r == nil || r.ReasonCode != 0x87 {
		t.Fatalf("ro/x (m/ro/x once mounted): want 0x87, got %+v %v", r, err)
	}
	pub.Pub(t, "users/bob/x", 1, []byte("mine"))
	sub.Expect(t, "users/bob/x", []byte("mine"))
	sa, err := pub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "secret/x", QoS: 1}, {Topic: "$share/g/secret/y", QoS: 1}, {Topic: "a", QoS: 1}}})
	if err != nil && sa == nil {
		t.Fatal(err)
	}
	if want := []byte{0x87, 0x87, 1}; string(sa.Reasons) != string(want) {
		t.Fatalf("SUBACK %x, want %x", sa.Reasons, want)
	}
}
