package node_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/golang-jwt/jwt/v5"

	"emqxgo/internal/ctlrpc"
	"emqxgo/internal/testutil"
	"emqxgo/internal/testutil/testnode"
)

// ctl runs an emqx_ctl text command on n and returns what it prints.
func ctl(t *testing.T, n *testnode.Node, words string) string {
	t.Helper()
	r := n.N.Handle(ctlrpc.Request{Op: ctlrpc.OpCommand, Args: strings.Fields(words)})
	if r.Error != "" {
		t.Fatalf("%s: emqx_ctl %s: %s", n.Name, words, r.Error)
	}
	return r.Output
}

// login tries user/password on n: the CONNACK reason code (0: accepted).
func login(n *testnode.Node, id, user, pass string) byte {
	cp := &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30, Username: user, UsernameFlag: true, Password: []byte(pass), PasswordFlag: true}
	return testutil.ConnackCode(n.Addr, cp)
}

// TestBuiltinDatabaseAcrossCluster: with emqx_auth_mnesia loaded and
// anonymous clients refused, a user added on one node logs in on every
// node within a second, ACL rules apply on every node, a node that joins
// late gets the whole database, and a delete reaches every node.
func TestBuiltinDatabaseAcrossCluster(t *testing.T) {
	sub := testutil.Subnet(t)
	env := []string{"EMQX_LOADED_PLUGINS=emqx_auth_mnesia", "EMQX_ALLOW_ANONYMOUS=false"}
	a := testnode.Start(t, fmt.Sprintf("emqx1@127.0.%d.1", sub), env...)
	b := testnode.Start(t, fmt.Sprintf("emqx2@127.0.%d.2", sub), env...)
	testnode.Join(t, b, a)
	testnode.WaitRunning(t, 20*time.Second, a, b)

	if got := ctl(t, a, "plugins list"); got != "Plugin(emqx_auth_http, description=EMQX Authentication/ACL with HTTP API, active=false)\n"+
		"Plugin(emqx_auth_jwt, description=EMQX Authentication with JWT, active=false)\n"+
		"Plugin(emqx_auth_mnesia, description=EMQX Authentication with Mnesia, active=true)\n" {
		t.Fatalf("plugins list:\n%s", got)
	}
	if got := login(b, "c0", "alice", "pw"); got != 0x87 {
		t.Fatalf("unknown user, anonymous refused: CONNACK %#x, want 0x87", got)
	}
	if got := ctl(t, a, "user add alice pw"); got != "ok\n" {
		t.Fatalf("user add: %q", got)
	}
	if got := ctl(t, a, "user add alice other"); got != "Error: existed\n" {
		t.Fatalf("second add: %q", got)
	}
	start := time.Now()
	testutil.Eventually(t, time.Second, "alice logs in on the other node", func() bool { return login(b, "c1", "alice", "pw") == 0 })
	t.Logf("a user added on one node logged in on another after %s", time.Since(start).Round(time.Millisecond))
	if got := login(b, "c2", "alice", "wrong"); got != 0x86 {
		t.Fatalf("wrong password: CONNACK %#x, want 0x86", got)
	}
	if got := ctl(t, b, "clientid add dev-1 devpw"); got != "ok\n" {
		t.Fatalf("clientid add: %q", got)
	}
	testutil.Eventually(t, time.Second, "a client id added on one node logs in on the other", func() bool { return login(a, "dev-1", "", "devpw") == 0 })
	if got := ctl(t, a, "clientid update nobody x"); got != "Error: noexisted\n" {
		t.Fatalf("clientid update of nobody: %q", got)
	}
	// Kept under data/: a restarted node still has them.
	b.Halt()
	b.Run()
	testnode.WaitRunning(t, 20*time.Second, a, b)
	if got := login(b, "c6", "alice", "pw"); got != 0 {
		t.Fatalf("after a restart: CONNACK %#x", got)
	}
	if got := ctl(t, b, "acl add username alice secret/# pubsub deny"); got != "ok\n" {
		t.Fatalf("acl add: %q", got)
	}
	testutil.Eventually(t, 5*time.Second, "the rule listed on the first node", func() bool {
		return strings.Contains(ctl(t, a, "acl list username"), `Acl(username = <<"alice">> topic = <<"secret/#">> action = sub access = deny)`)
	})
	cp := &paho.Connect{ClientID: "c3", CleanStart: true, KeepAlive: 30, Username: "alice", UsernameFlag: true, Password: []byte("pw"), PasswordFlag: true}
	v, err := testutil.TryConnectV5(a.Addr, cp)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Disconnect(&paho.Disconnect{})
	ctx := t.Context()
	sa, err := v.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "secret/x", QoS: 1}, {Topic: "open/x", QoS: 1}}})
	if sa == nil || string(sa.Reasons) != "\x87\x01" {
		t.Fatalf("SUBACK %v (%v), want 0x87 0x01", sa, err)
	}

	// A node that joins late gets everything.
	c := testnode.Start(t, fmt.Sprintf("emqx3@127.0.%d.3", sub), env...)
	testnode.Join(t, c, a)
	testnode.WaitRunning(t, 20*time.Second, a, b, c)
	testutil.Eventually(t, 5*time.Second, "alice logs in on the late node", func() bool { return login(c, "c4", "alice", "pw") == 0 })
	if got := ctl(t, c, "user list"); got != "alice\n" {
		t.Fatalf("user list on the late node: %q", got)
	}
	if got := ctl(t, c, "user delete alice"); got != "ok\n" {
		t.Fatalf("delete: %q", got)
	}
	testutil.Eventually(t, 2*time.Second, "the delete reaches the first node", func() bool { return login(a, "c5", "alice", "pw") == 0x87 })
}

// subscribeFrom connects from source address src (user name user, no
// password) and returns the SUBACK codes for filters.
func subscribeFrom(t *testing.T, n *testnode.Node, src, user string, filters ...string) []byte {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", n.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: conn})
	ctx := t.Context()
	cp := &paho.Connect{ClientID: "from-" + src + user, CleanStart: true, KeepAlive: 30}
	if user != "" {
		cp.Username, cp.UsernameFlag = user, true
	}
	if _, err := c.Connect(ctx, cp); err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(&paho.Disconnect{})
	var subs []paho.SubscribeOptions
	for _, f := range filters {
		subs = append(subs, paho.SubscribeOptions{Topic: f, QoS: 0})
	}
	sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs})
	if sa == nil {
		t.Fatal(err)
	}
	return sa.Reasons
}

// TestShippedACLProtectsSYS: with the shipped etc/acl.conf, a client from
// another address may not subscribe to $SYS/# or to # itself; 127.0.0.1 and
// the user dashboard may.
func TestShippedACLProtectsSYS(t *testing.T) {
	sub := testutil.Subnet(t)
	n := testnode.Start(t, fmt.Sprintf("emqx@127.0.%d.1", sub))
	other := fmt.Sprintf("127.0.%d.9", sub)
	if got := subscribeFrom(t, n, other, "", "$SYS/#", "#", "a/#", "$SYS/brokers"); string(got) != "\x87\x87\x00\x87" {
		t.Fatalf("from %s: SUBACK %x, want 87 87 00 87", other, got)
	}
	if got := subscribeFrom(t, n, other, "dashboard", "$SYS/#", "#"); string(got) != "\x00\x87" {
		t.Fatalf("dashboard from %s: SUBACK %x, want 00 87", other, got)
	}
	if got := subscribeFrom(t, n, "127.0.0.1", "", "$SYS/#", "#"); string(got) != "\x00\x00" {
		t.Fatalf("from 127.0.0.1: SUBACK %x, want 00 00", got)
	}
}

// TestPluginsLoadJWT: emqx_auth_jwt loaded with emqx_ctl takes its keys
// (here from the environment), a signed token logs in, a bad one is
// refused; unloaded, the node is back to allow_anonymous; the file
// remembers what is loaded across a restart.
func TestPluginsLoadJWT(t *testing.T) {
	sub := testutil.Subnet(t)
	n := testnode.Start(t, fmt.Sprintf("emqx@127.0.%d.1", sub), "EMQX_AUTH__JWT__SECRET=node-test-secret", "EMQX_ALLOW_ANONYMOUS=false")
	token := func(secret, user string) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"username": user, "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if got := login(n, "j0", "u", token("node-test-secret", "u")); got != 0x87 {
		t.Fatalf("no plugin, anonymous off: %#x", got)
	}
	if got := ctl(t, n, "plugins load emqx_auth_jwt"); got != "Plugin emqx_auth_jwt loaded successfully.\n" {
		t.Fatalf("load: %q", got)
	}
	if got := ctl(t, n, "plugins load emqx_auth_jwt"); got != "Load plugin emqx_auth_jwt error: already_started.\n" {
		t.Fatalf("load twice: %q", got)
	}
	if got := login(n, "j1", "u", token("node-test-secret", "u")); got != 0 {
		t.Fatalf("good token: %#x", got)
	}
	if got := login(n, "j2", "u", token("another-secret", "u")); got != 0x86 {
		t.Fatalf("bad signature: %#x, want 0x86", got)
	}
	n.Halt()
	n.Run()
	if got := login(n, "j3", "u", token("node-test-secret", "u")); got != 0 {
		t.Fatalf("after a restart the plugin is loaded again: %#x", got)
	}
	if got := ctl(t, n, "plugins unload emqx_auth_jwt"); got != "Plugin emqx_auth_jwt unloaded successfully.\n" {
		t.Fatalf("unload: %q", got)
	}
	if got := ctl(t, n, "plugins unload emqx_auth_jwt"); got != "Unload plugin emqx_auth_jwt error: not_started.\n" {
		t.Fatalf("unload twice: %q", got)
	}
	if got := ctl(t, n, "plugins load emqx_nosuch"); got != "Load plugin emqx_nosuch error: not_found.\n" {
		t.Fatalf("unknown: %q", got)
	}
	if got := login(n, "j4", "u", token("node-test-secret", "u")); got != 0x87 {
		t.Fatalf("unloaded: %#x", got)
	}
	if r := n.N.Handle(ctlrpc.Request{Op: ctlrpc.OpCommand, Args: []string{"user", "list"}}); r.Error != "unknown_command" {
		t.Fatalf("user without emqx_auth_mnesia is no command (as EMQX): %+v", r)
	}
}

// TestACLReloadCommands: modules reload emqx_mod_acl_internal and acl
// reload read acl_file again (EMQX's output); a bad file keeps the rules in
// force and says why; acl cache-clean all reaches every node.
func TestACLReloadCommands(t *testing.T) {
	sub := testutil.Subnet(t)
	a := testnode.Start(t, fmt.Sprintf("emqx1@127.0.%d.1", sub))
	b := testnode.Start(t, fmt.Sprintf("emqx2@127.0.%d.2", sub))
	testnode.Join(t, b, a)
	testnode.WaitRunning(t, 20*time.Second, a, b)
	aclFile := filepath.Join(a.Home, "etc", "acl.conf")
	if err := os.WriteFile(aclFile, []byte("{deny, all, subscribe, [\"blocked/#\"]}.\n{allow, all}.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := subscribeFrom(t, a, "127.0.0.1", "", "blocked/x"); string(got) != "\x00" {
		t.Fatalf("before the reload: %x", got)
	}
	if got := ctl(t, a, "modules reload emqx_mod_acl_internal"); got != "Module emqx_mod_acl_internal reloaded successfully.\n" {
		t.Fatalf("modules reload: %q", got)
	}
	if got := subscribeFrom(t, a, "127.0.0.1", "", "blocked/x", "open/x"); string(got) != "\x87\x00" {
		t.Fatalf("after the reload: %x", got)
	}
	if err := os.WriteFile(aclFile, []byte("{deny, all, subscribe, [\"open/#\"]}\n"), 0o644); err != nil { // no final '.'
		t.Fatal(err)
	}
	got := ctl(t, a, "acl reload")
	if !strings.HasPrefix(got, `Reload module emqx_mod_acl_internal error: "`) || !strings.Contains(got, aclFile+":") {
		t.Fatalf("bad file: %q", got)
	}
	if got := subscribeFrom(t, a, "127.0.0.1", "", "blocked/x", "open/x"); string(got) != "\x87\x00" {
		t.Fatalf("a bad file must keep the rules in force: %x", got)
	}
	if got := ctl(t, a, "modules reload emqx_mod_presence"); got != "Module: \"emqx_mod_presence\" does not need to be reloaded.\n" {
		t.Fatalf("other module: %q", got)
	}
	if got := ctl(t, a, "acl cache-clean all"); got != "ACL cache drain start OK\n" {
		t.Fatalf("cache-clean all: %q", got)
	}
	if got := ctl(t, a, "acl cache-clean node nosuch@host"); got != "ACL cache drain start FAILED\nunknown_node\n" {
		t.Fatalf("cache-clean unknown node: %q", got)
	}
}

// TestZonesAtTheNode: the gate follows each listener's zone: with
// zone.external.allow_anonymous = false an anonymous client is refused on
// the external listener and let in on listener tcp:internal (zone
// internal: allow_anonymous true, enable_acl off), where the shipped
// acl.conf does not apply.
func TestZonesAtTheNode(t *testing.T) {
	sub := testutil.Subnet(t)
	n := testnode.Start(t, fmt.Sprintf("emqx@127.0.%d.1", sub),
		fmt.Sprintf("EMQX_LISTENER__TCP__INTERNAL=127.0.%d.1:0", sub), "EMQX_ZONE__EXTERNAL__ALLOW_ANONYMOUS=false")
	addr := func(id string) string {
		l, ok := n.N.Broker().Server().Listeners.Get(id)
		if !ok {
			t.Fatalf("no listener %s", id)
		}
		return l.Address()
	}
	anonymous := func(addr string) byte {
		v, err := testutil.TryConnectV5(addr, &paho.Connect{ClientID: "anon", CleanStart: true, KeepAlive: 30})
		if err != nil {
			if v != nil && v.Connack != nil {
				return v.Connack.ReasonCode
			}
			t.Fatal(err)
		}
		_ = v.Disconnect(&paho.Disconnect{})
		return 0
	}
	if code := anonymous(addr("tcp:external")); code != 0x87 {
		t.Fatalf("external, anonymous: CONNACK %#x, want 0x87", code)
	}
	if code := anonymous(addr("tcp:internal")); code != 0 {
		t.Fatalf("internal, anonymous: CONNACK %#x, want 0", code)
	}
	n.Addr = addr("tcp:internal") // for subscribeFrom
	other := fmt.Sprintf("127.0.%d.9", sub)
	if got := subscribeFrom(t, n, other, "", "$SYS/#", "#"); string(got) != "\x00\x00" {
		t.Fatalf("internal, from %s: SUBACK %x, want 00 00 (enable_acl off)", other, got)
	}
}
