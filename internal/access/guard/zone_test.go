package guard

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/access"
	"emqxgo/internal/testutil"
)

// listenerAddr is the bound address of the listener with id (tcp:internal).
func (n *node) listenerAddr(t *testing.T, id string) string {
	t.Helper()
	l, ok := n.b.Server().Listeners.Get(id)
	if !ok {
		t.Fatalf("no listener %s", id)
	}
	return l.Address()
}

// writeRules makes rules the node's acl.conf.
func writeRules(t *testing.T, n *node, rules string) {
	t.Helper()
	if err := os.WriteFile(n.g.file.Path(), []byte(rules+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := n.g.file.Reload(); err != nil {
		t.Fatal(err)
	}
}

// bobOnly allows the user bob and denies everyone else, counting whom it
// was asked about.
type bobOnly struct{ asked atomic.Int64 }

func (b *bobOnly) Name() string { return "emqx_auth_mnesia" }
func (b *bobOnly) Authenticate(_ context.Context, c *access.Client) (access.Result, error) {
	b.asked.Add(1)
	if c.Username == "bob" {
		return access.Allow, nil
	}
	c.Reason = access.BadUsernameOrPassword
	return access.Deny, nil
}

// zoneLines are two listeners: external, where anonymous clients are
// refused, and internal, with the stock internal zone (allow_anonymous
// true, enable_acl off, bypass_auth_plugins true).
var zoneLines = []string{
	"listener.tcp.external = 127.0.0.1:0", "listener.tcp.internal = 127.0.0.1:0",
	"allow_anonymous = true", "zone.external.allow_anonymous = false",
}

// TestZoneAllowAnonymous: zone.<name>.allow_anonymous per listener.
func TestZoneAllowAnonymous(t *testing.T) {
	n := startZoned(t, defaults(), zoneLines...)
	ext, in := n.listenerAddr(t, "tcp:external"), n.listenerAddr(t, "tcp:internal")
	if v, err := connect5(ext, "anon-ext", "", ""); err == nil || v == nil || v.Connack == nil || v.Connack.ReasonCode != 0x87 {
		t.Fatalf("external, anonymous MQTT 5: want CONNACK 0x87, got %v", err)
	}
	if got := connack3(t, ext, "anon-ext3", "", ""); got != 5 {
		t.Fatalf("external, anonymous MQTT 3.1.1: return code %d, want 5", got)
	}
	dial5(t, in, "anon-in", "")
	if got := connack3(t, in, "anon-in3", "", ""); got != 0 {
		t.Fatalf("internal, anonymous MQTT 3.1.1: return code %d, want 0", got)
	}
	if n.g.AuthFailure.Load() != 2 || n.g.AuthAnonymous.Load() != 2 {
		t.Fatalf("failures %d, anonymous %d; want 2 and 2", n.g.AuthFailure.Load(), n.g.AuthAnonymous.Load())
	}
	// The backends see the client's zone.
	seen := make(chan access.Client, 2)
	n.g.SetPlugins([]access.Authenticator{recorder(seen)}, nil)
	dial5(t, ext, "r-ext", "carol")
	if c := <-seen; c.Zone != "external" || c.Listener != "mqtt:tcp:external" {
		t.Fatalf("external client seen as zone %q, listener %q", c.Zone, c.Listener)
	}
}

// TestZoneEnableACLAndBypass: zone internal's enable_acl off allows what
// acl.conf denies without asking any ACL source; its bypass_auth_plugins
// lets allow_anonymous decide without asking a backend that would deny.
func TestZoneEnableACLAndBypass(t *testing.T) {
	n := startZoned(t, defaults(), zoneLines...)
	ext, in := n.listenerAddr(t, "tcp:external"), n.listenerAddr(t, "tcp:internal")
	auth, slow := &bobOnly{}, &countingACL{}
	n.g.SetPlugins([]access.Authenticator{auth}, []access.ACLChecker{slow})

	// Internal: eve, whom the backend would refuse, is let in unasked.
	w := dial5(t, in, "watch-in", "eve")
	if auth.asked.Load() != 0 {
		t.Fatalf("bypass_auth_plugins: the backend was asked %d times", auth.asked.Load())
	}
	w.Sub(t, "#", 1)        // acl.conf: {deny, all, subscribe, [{eq, "#"}]}
	w.Sub(t, "secret/x", 1) // acl.conf: deny
	p := dial5(t, in, "pub-in", "")
	p.Pub(t, "ro/x", 1, []byte("in")) // acl.conf: {deny, all, publish, ["ro/#"]}
	w.Expect(t, "ro/x", []byte("in"))
	if slow.n.Load() != 0 || n.g.ACLDeny.Load() != 0 || n.g.ACLAllow.Load() != 0 {
		t.Fatalf("enable_acl off: ACL source asked %d times, %d denials, %d allows counted",
			slow.n.Load(), n.g.ACLDeny.Load(), n.g.ACLAllow.Load())
	}

	// External: the backend is asked (eve refused, bob let in) and
	// acl.conf holds.
	if v, err := connect5(ext, "eve-ext", "eve", "pw"); err == nil || v == nil || v.Connack == nil || v.Connack.ReasonCode != 0x86 {
		t.Fatalf("external eve: want CONNACK 0x86, got %v", err)
	}
	if auth.asked.Load() != 1 {
		t.Fatalf("external: the backend was asked %d times, want 1", auth.asked.Load())
	}
	b := dial5(t, ext, "bob-ext", "bob")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sa, err := b.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "secret/x", QoS: 1}, {Topic: "#", QoS: 1}}})
	if sa == nil || string(sa.Reasons) != "\x87\x87" {
		t.Fatalf("external SUBACK %+v %v, want 87 87", sa, err)
	}
	if r, err := b.Publish(ctx, &paho.Publish{Topic: "ro/x", QoS: 1, Payload: []byte("ext")}); r == nil || r.ReasonCode != 0x87 {
		t.Fatalf("external publish to ro/x: want 0x87, got %+v %v", r, err)
	}
	b.Pub(t, "ok/x", 1, []byte("ext"))
	w.Expect(t, "ok/x", []byte("ext")) // the denied one never came
	if slow.n.Load() == 0 || n.g.ACLDeny.Load() != 3 {
		t.Fatalf("external: ACL source asked %d times, %d denials (want 3)", slow.n.Load(), n.g.ACLDeny.Load())
	}
}

// TestZoneACLSettings: zone.<name>.acl_nomatch and acl_deny_action, each
// zone with its own, the global keys where a zone sets none.
func TestZoneACLSettings(t *testing.T) {
	n := startZoned(t, defaults(), "listener.tcp.external = 127.0.0.1:0", "listener.tcp.internal = 127.0.0.1:0",
		"acl_nomatch = allow", "acl_deny_action = ignore",
		"zone.external.acl_deny_action = disconnect", "zone.internal.enable_acl = on", "zone.internal.acl_nomatch = deny")
	writeRules(t, n, `{deny, all, publish, ["ro/#"]}.`) // the rest: acl_nomatch
	ext, in := n.listenerAddr(t, "tcp:external"), n.listenerAddr(t, "tcp:internal")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Internal: acl_nomatch deny, acl_deny_action ignore (the global key).
	i := dial5(t, in, "i", "")
	sa, err := i.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "any/x", QoS: 1}}})
	if sa == nil || len(sa.Reasons) != 1 || sa.Reasons[0] != 0x87 {
		t.Fatalf("internal: acl_nomatch deny, SUBACK %+v %v", sa, err)
	}
	if r, _ := i.Publish(ctx, &paho.Publish{Topic: "ro/x", QoS: 1}); r == nil || r.ReasonCode != 0x87 {
		t.Fatalf("internal: denied publish %+v, want 0x87", r)
	}

	// External: acl_nomatch allow (the global key), acl_deny_action
	// disconnect.
	e := dial5(t, ext, "e", "")
	e.Sub(t, "any/x", 1)
	_, _ = e.Publish(ctx, &paho.Publish{Topic: "ro/x", QoS: 0})
	select {
	case d := <-e.Disconnects:
		if d.ReasonCode != 0x87 {
			t.Fatalf("DISCONNECT %#x, want 0x87", d.ReasonCode)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("external: acl_deny_action disconnect did not disconnect")
	}
	// The internal client, denied twice, is still connected.
	if r, err := i.Publish(ctx, &paho.Publish{Topic: "ro/y", QoS: 1}); r == nil || r.ReasonCode != 0x87 {
		t.Fatalf("internal: acl_deny_action ignore, yet %+v %v", r, err)
	}
}

// TestZoneUsernameAsClientID: with use_username_as_clientid a client with
// a user name is known by it: its session, the ACL's %c, takeover by the
// next connection with that user name.
func TestZoneUsernameAsClientID(t *testing.T) {
	n := startZoned(t, defaults(), "listener.tcp.external = 127.0.0.1:0", "listener.tcp.internal = 127.0.0.1:0",
		"zone.external.use_username_as_clientid = true")
	ext, in := n.listenerAddr(t, "tcp:external"), n.listenerAddr(t, "tcp:internal")
	expiry := uint32(300)
	first, err := testutil.TryConnectV5(ext, &paho.Connect{ClientID: "x", CleanStart: true, KeepAlive: 30,
		Username: "u1", UsernameFlag: true, Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Disconnect(&paho.Disconnect{})
	if _, ok := n.b.Server().Clients.Get("u1"); !ok {
		t.Fatal("no client u1")
	}
	if _, ok := n.b.Server().Clients.Get("x"); ok {
		t.Fatal("the client is still known as x")
	}
	// acl.conf: clients/%c/# is allowed, other clients/# denied.
	first.Sub(t, "clients/u1/#", 1)
	first.Sub(t, "in/#", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if sa, _ := first.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "clients/x/#", QoS: 1}}}); sa == nil || sa.Reasons[0] != 0x87 {
		t.Fatalf("clients/x/# (the given id): SUBACK %+v, want 0x87", sa)
	}
	pub := dial5(t, ext, "pub", "")
	pub.Pub(t, "in/a", 1, []byte("1"))
	first.Expect(t, "in/a", []byte("1"))

	// Another connection as u1 (another client id) takes the session over.
	second, err := testutil.TryConnectV5(ext, &paho.Connect{ClientID: "y", CleanStart: false, KeepAlive: 30,
		Username: "u1", UsernameFlag: true, Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Disconnect(&paho.Disconnect{})
	if !second.Connack.SessionPresent {
		t.Fatal("the second connection as u1 did not resume u1's session")
	}
	select {
	case d := <-first.Disconnects:
		if d.ReasonCode != 0x8E {
			t.Fatalf("first connection: DISCONNECT %#x, want 0x8E (session taken over)", d.ReasonCode)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first connection was not taken over")
	}
	pub.Pub(t, "in/a", 1, []byte("2"))
	second.ExpectAfterTakeover(t, "in/a", []byte("2"), []byte("1")) // the subscription came with the session

	// An empty client id is assigned the user name (MQTT 5).
	third, err := connect5(ext, "", "u2", "")
	if err != nil {
		t.Fatal(err)
	}
	defer third.Disconnect(&paho.Disconnect{})
	if p := third.Connack.Properties; p == nil || p.AssignedClientID != "u2" {
		t.Fatalf("CONNACK Assigned Client Identifier: %+v, want u2", p)
	}
	// A user name with the reserved prefix is no client id.
	if v, err := connect5(ext, "r", "$cluster:n1", ""); err == nil || v == nil || v.Connack == nil || v.Connack.ReasonCode != 0x85 {
		t.Fatalf("reserved prefix: want CONNACK 0x85, got %v", err)
	}
	// Zone internal does not set it: the client keeps its id.
	dial5(t, in, "z", "u3")
	if _, ok := n.b.Server().Clients.Get("z"); !ok {
		t.Fatal("internal: the client is not known by its own id")
	}
}
