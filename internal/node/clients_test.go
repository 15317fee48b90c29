package node_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/node"
	"emqxgo/internal/testutil"
	"emqxgo/internal/testutil/testnode"
)

// cluster3 starts three nodes joined in one cluster.
func cluster3(t *testing.T, env ...string) []*testnode.Node {
	t.Helper()
	sn := testutil.Subnet(t)
	var ns []*testnode.Node
	for i := 1; i <= 3; i++ {
		ns = append(ns, testnode.Start(t, fmt.Sprintf("emqx%d@127.0.%d.%d", i, sn, i), env...))
	}
	testnode.Join(t, ns[1], ns[0])
	testnode.Join(t, ns[2], ns[0])
	testnode.WaitRunning(t, 30*time.Second, ns...)
	return ns
}

// clientLineRE is emqx_mgmt_cli's client line, field by field.
var clientLineRE = regexp.MustCompile(`^Client\((?P<clientid>[^,]+), username=(?P<username>[^,]+), peername=(?P<peername>[0-9.]+:\d+), ` +
	`clean_start=(?P<clean_start>true|false), keepalive=(?P<keepalive>\d+), session_expiry_interval=(?P<expiry>\d+), ` +
	`subscriptions=(?P<subscriptions>\d+), inflight=(?P<inflight>\d+), awaiting_rel=(?P<awaiting_rel>\d+), ` +
	`delivered_msgs=(?P<delivered>\d+), enqueued_msgs=(?P<enqueued>\d+), dropped_msgs=(?P<dropped>\d+), ` +
	`connected=(?P<connected>true|false), created_at=(?P<created_at>\d+), connected_at=(?P<connected_at>\d+)` +
	`(?:, disconnected_at=(?P<disconnected_at>\d+))?(?:, node=(?P<node>[^)]+))?\)$`)

// clientLines parses the lines of clients list/show into their fields by
// client id.
func clientLines(t *testing.T, out string) map[string]map[string]string {
	t.Helper()
	m := map[string]map[string]string{}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		g := clientLineRE.FindStringSubmatch(l)
		if g == nil {
			t.Fatalf("line %q is not emqx_mgmt_cli's Client(...)", l)
		}
		f := map[string]string{}
		for i, name := range clientLineRE.SubexpNames() {
			if name != "" && g[i] != "" {
				f[name] = g[i]
			}
		}
		m[f["clientid"]] = f
	}
	return m
}

// TestClientsAcrossCluster: clients on three nodes. emqx_ctl clients list
// prints each of the node's own in emqx_mgmt_cli's line (checked field
// by field), --cluster every node's with its node; show finds a client
// on another node; a session kept after its client went shows
// connected=false with disconnected_at; kick on one node disconnects a
// client of another (the client sees DISCONNECT 0x98) and ends its
// session; the HTTP API looks clients up and kicks them anywhere.
func TestClientsAcrossCluster(t *testing.T) {
	ns := cluster3(t)
	a, b, c := ns[0], ns[1], ns[2]

	before := time.Now().UnixMilli()
	ca := testutil.DialV5(t, a.Addr, "on-a")
	cb := testutil.DialV5(t, b.Addr, "on-b")
	cc := testutil.DialV5(t, c.Addr, "on-c")
	ca.Sub(t, "x/1", 1)
	ca.Sub(t, "x/2", 0)
	_ = cb
	cp := &paho.Connect{ClientID: "user-c", CleanStart: true, KeepAlive: 42, Username: "alice", UsernameFlag: true}
	cu, err := testutil.TryConnectV5(c.Addr, cp)
	if err != nil {
		t.Fatal(err)
	}
	defer cu.Disconnect(&paho.Disconnect{})
	// A persistent session whose client went.
	pers, err := testutil.TryDialV5(b.Addr, "gone-b", false)
	if err != nil {
		t.Fatal(err)
	}
	pers.Sub(t, "p/#", 1)
	_ = pers.Disconnect(&paho.Disconnect{})
	testutil.Eventually(t, 5*time.Second, "gone-b's connection closed on b", func() bool {
		return strings.Contains(ctl(t, b, "clients show gone-b"), "connected=false")
	})
	after := time.Now().UnixMilli()

	local := clientLines(t, ctl(t, a, "clients list"))
	if len(local) != 1 || local["on-a"] == nil {
		t.Fatalf("clients list on a: %v", local)
	}
	f := local["on-a"]
	created, _ := strconv.ParseInt(f["created_at"], 10, 64)
	connected, _ := strconv.ParseInt(f["connected_at"], 10, 64)
	for k, want := range map[string]string{"username": "undefined", "clean_start": "true", "keepalive": "30",
		"expiry": "0", "subscriptions": "2", "inflight": "0", "awaiting_rel": "0", "delivered": "0",
		"enqueued": "0", "dropped": "0", "connected": "true"} {
		if f[k] != want {
			t.Errorf("on-a %s = %q, want %q", k, f[k], want)
		}
	}
	if f["disconnected_at"] != "" || f["node"] != "" {
		t.Errorf("on-a: disconnected_at %q node %q", f["disconnected_at"], f["node"])
	}
	if created < before || created > after || connected < created || connected > after {
		t.Errorf("on-a created_at %d connected_at %d, want ms within [%d, %d]", created, connected, before, after)
	}
	if host, _, _ := strings.Cut(f["peername"], ":"); host != strings.Split(a.Addr, ":")[0] && host != "127.0.0.1" {
		t.Errorf("on-a peername %s", f["peername"])
	}

	all := clientLines(t, ctl(t, b, "clients list --cluster"))
	wantNodes := map[string]string{"on-a": a.Name, "on-b": b.Name, "on-c": c.Name, "user-c": c.Name, "gone-b": b.Name}
	if len(all) != len(wantNodes) {
		t.Fatalf("clients list --cluster: %v", all)
	}
	for id, nd := range wantNodes {
		if all[id]["node"] != nd {
			t.Errorf("%s listed on %q, want %s", id, all[id]["node"], nd)
		}
	}
	if u := all["user-c"]; u["username"] != "alice" || u["keepalive"] != "42" {
		t.Errorf("user-c: %v", u)
	}
	g := all["gone-b"]
	if g["connected"] != "false" || g["disconnected_at"] == "" || g["clean_start"] != "false" || g["expiry"] != "300" || g["subscriptions"] != "1" {
		t.Errorf("the persistent session: %v", g)
	}

	var listed []node.APIClient
	if err := json.Unmarshal([]byte(ctl(t, c, "clients list --json")), &listed); err != nil || len(listed) != 2 ||
		listed[0].ClientID != "on-c" || listed[1].ClientID != "user-c" || listed[1].Node != c.Name {
		t.Errorf("clients list --json on c: %+v %v", listed, err)
	}

	show := ctl(t, a, "clients show user-c")
	if m := clientLines(t, show); m["user-c"] == nil || m["user-c"]["node"] != "" {
		t.Errorf("clients show on another node: %q", show)
	}
	if got := ctl(t, a, "clients show nobody"); got != "Not Found.\n" {
		t.Errorf("show nobody: %q", got)
	}
	var js []node.APIClient
	if err := json.Unmarshal([]byte(ctl(t, a, "clients show user-c --json")), &js); err != nil || len(js) != 1 || js[0].Node != c.Name || js[0].Username != "alice" {
		t.Errorf("show --json: %+v %v", js, err)
	}

	// Kick from a a client of c: it gets DISCONNECT 0x98, and is gone.
	if got := ctl(t, a, "clients kick on-c"); got != "ok\n" {
		t.Fatalf("kick: %q", got)
	}
	select {
	case d := <-cc.Disconnects:
		if d.ReasonCode != 0x98 {
			t.Errorf("kicked with reason %#x, want 0x98", d.ReasonCode)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the kicked client saw no DISCONNECT")
	}
	testutil.Eventually(t, 5*time.Second, "on-c gone", func() bool { return ctl(t, b, "clients show on-c") == "Not Found.\n" })
	if got := ctl(t, a, "clients kick nobody"); got != "ok\n" {
		t.Errorf("kick nobody: %q (EMQX answers ok)", got)
	}
	// A kicked persistent session goes with it (EMQX's kick ends the session).
	ctl(t, c, "clients kick gone-b")
	testutil.Eventually(t, 5*time.Second, "gone-b discarded", func() bool { return ctl(t, a, "clients show gone-b") == "Not Found.\n" })
	if got := ctl(t, b, "routes show p/#"); got != "" {
		t.Errorf("the kicked session's route stays: %q", got)
	}

	// So does a connected one's: its client is disconnected and the
	// session discarded, not kept for its expiry.
	kept, err := testutil.TryDialV5(c.Addr, "kept-c", false)
	if err != nil {
		t.Fatal(err)
	}
	kept.Sub(t, "k/1", 1)
	ctl(t, a, "clients kick kept-c")
	select {
	case d := <-kept.Disconnects:
		if d.ReasonCode != 0x98 {
			t.Errorf("kicked with reason %#x, want 0x98", d.ReasonCode)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the kicked persistent client saw no DISCONNECT")
	}
	testutil.Eventually(t, 5*time.Second, "kept-c discarded", func() bool { return ctl(t, b, "clients show kept-c") == "Not Found.\n" })
	testutil.Eventually(t, 5*time.Second, "kept-c's route gone", func() bool { return ctl(t, a, "routes show k/1") == "" })

	// The HTTP API.
	var one []node.APIClient
	a.Data("GET", "/clients/user-c", nil, &one)
	if len(one) != 1 {
		t.Fatalf("GET /clients/user-c: %+v", one)
	}
	u := one[0]
	if u.Node != c.Name || u.ClientID != "user-c" || u.Username != "alice" || u.ProtoName != "MQTT" || u.ProtoVer != 5 ||
		u.Port == 0 || u.IPAddress == "" || u.Zone != "external" || !u.Connected || !u.CleanStart || u.Keepalive != 42 ||
		u.Mountpoint != "undefined" || u.MaxInflight != 32 || u.MaxMqueue != 1000 || u.DisconnectedAt != "" {
		t.Errorf("GET /clients/user-c: %+v", u)
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`).MatchString(u.CreatedAt) || u.ConnectedAt < u.CreatedAt {
		t.Errorf("created_at %q connected_at %q", u.CreatedAt, u.ConnectedAt)
	}
	// every field of format_channel_info is there
	_, body := a.Call("GET", "/clients/user-c", nil)
	var raw struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &raw); err != nil || len(raw.Data) != 1 {
		t.Fatalf("%s: %v", body, err)
	}
	for _, k := range []string{"node", "clientid", "username", "proto_name", "proto_ver", "ip_address", "port", "is_bridge", "zone",
		"connected", "clean_start", "keepalive", "expiry_interval", "created_at", "connected_at", "mountpoint", "subscriptions_cnt",
		"max_subscriptions", "inflight", "max_inflight", "awaiting_rel", "max_awaiting_rel", "mqueue_len", "max_mqueue",
		"mqueue_dropped", "heap_size", "reductions", "mailbox_len", "recv_cnt", "recv_msg", "recv_msg.qos0", "recv_oct",
		"recv_pkt", "send_cnt", "send_msg", "send_msg.qos2", "send_msg.dropped.queue_full", "send_oct", "send_pkt"} {
		if _, ok := raw.Data[0][k]; !ok {
			t.Errorf("GET /clients/{clientid} has no %s", k)
		}
	}
	a.Data("GET", "/clients/username/alice", nil, &one)
	if len(one) != 1 || one[0].ClientID != "user-c" {
		t.Errorf("GET /clients/username/alice: %+v", one)
	}
	a.Data("GET", "/nodes/"+b.Name+"/clients/user-c", nil, &one)
	if len(one) != 0 {
		t.Errorf("user-c on b: %+v", one)
	}
	a.Data("GET", "/nodes/"+c.Name+"/clients/user-c", nil, &one)
	if len(one) != 1 {
		t.Errorf("user-c on c: %+v", one)
	}
	b.Data("DELETE", "/clients/user-c", nil, nil)
	select {
	case d := <-cu.Disconnects:
		if d.ReasonCode != 0x98 {
			t.Errorf("kicked over HTTP with reason %#x", d.ReasonCode)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client kicked over HTTP saw no DISCONNECT")
	}
	testutil.Eventually(t, 5*time.Second, "user-c gone", func() bool {
		a.Data("GET", "/clients/user-c", nil, &one)
		return len(one) == 0
	})
	if st, body := a.Call("DELETE", "/clients/nobody", nil); st != http.StatusOK || string(body) != `{"code":0}` {
		t.Errorf("DELETE /clients/nobody: %d %s (EMQX 4.4.19 answers code 0)", st, body)
	}
}

// pageBody is a paged answer.
type pageBody[T any] struct {
	Code int `json:"code"`
	Data []T `json:"data"`
	Meta struct {
		Page    int  `json:"page"`
		Limit   int  `json:"limit"`
		Count   int  `json:"count"`
		HasNext bool `json:"hasnext"`
	} `json:"meta"`
	Message string `json:"message"`
}

func getPage[T any](t *testing.T, n *testnode.Node, path string) pageBody[T] {
	t.Helper()
	st, body := n.Call("GET", path, nil)
	var p pageBody[T]
	if st != http.StatusOK || json.Unmarshal(body, &p) != nil {
		t.Fatalf("GET %s: %d %s", path, st, body)
	}
	return p
}

// TestClientsPaging: 25 clients over three nodes; GET /clients pages
// through them ten at a time (count 25, hasnext on pages 1 and 2), each
// client once; the filters narrow them (count -1, as EMQX); a bad filter
// value is code 108.
func TestClientsPaging(t *testing.T) {
	ns := cluster3(t)
	for i := range 25 {
		id := fmt.Sprintf("dev-%02d", i)
		n := ns[i%3]
		if i < 5 {
			cp := &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30, Username: "bob", UsernameFlag: true}
			c, err := testutil.TryConnectV5(n.Addr, cp)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
		} else {
			testutil.DialV5(t, n.Addr, id)
		}
	}
	seen := map[string]string{}
	for page := 1; page <= 3; page++ {
		p := getPage[node.APIClient](t, ns[1], fmt.Sprintf("/clients?_page=%d&_limit=10", page))
		if p.Meta.Page != page || p.Meta.Limit != 10 || p.Meta.Count != 25 || p.Meta.HasNext != (page < 3) {
			t.Errorf("page %d meta %+v", page, p.Meta)
		}
		if n := min(10, 25-(page-1)*10); len(p.Data) != n {
			t.Errorf("page %d: %d rows, want %d", page, len(p.Data), n)
		}
		for _, c := range p.Data {
			if _, dup := seen[c.ClientID]; dup {
				t.Errorf("%s on two pages", c.ClientID)
			}
			seen[c.ClientID] = c.Node
		}
	}
	if len(seen) != 25 {
		t.Errorf("paged through %d clients, want 25", len(seen))
	}
	for id, nd := range seen {
		var i int
		fmt.Sscanf(id, "dev-%d", &i)
		if nd != ns[i%3].Name {
			t.Errorf("%s on %s, want %s", id, nd, ns[i%3].Name)
		}
	}
	if p := getPage[node.APIClient](t, ns[0], "/clients?_page=4&_limit=10"); len(p.Data) != 0 || p.Meta.HasNext {
		t.Errorf("page 4: %+v", p)
	}

	p := getPage[node.APIClient](t, ns[0], "/clients?_like_clientid=dev-1&_limit=100")
	if len(p.Data) != 10 || p.Meta.Count != -1 || p.Meta.HasNext {
		t.Errorf("_like_clientid=dev-1: %d rows, meta %+v", len(p.Data), p.Meta)
	}
	p = getPage[node.APIClient](t, ns[0], "/clients?username=bob")
	if len(p.Data) != 5 {
		t.Errorf("username=bob: %d rows", len(p.Data))
	}
	p = getPage[node.APIClient](t, ns[0], "/clients?username=bob&_like_clientid=3")
	if len(p.Data) != 1 || p.Data[0].ClientID != "dev-03" {
		t.Errorf("username=bob&_like_clientid=3: %+v", p.Data)
	}
	p = getPage[node.APIClient](t, ns[0], "/clients?conn_state=connected&_limit=7&_page=2")
	if len(p.Data) != 7 || p.Meta.Count != -1 || !p.Meta.HasNext {
		t.Errorf("conn_state=connected page 2 of 7: %d rows, meta %+v", len(p.Data), p.Meta)
	}
	if p = getPage[node.APIClient](t, ns[0], "/clients?conn_state=disconnected"); len(p.Data) != 0 {
		t.Errorf("conn_state=disconnected: %+v", p.Data)
	}
	if p = getPage[node.APIClient](t, ns[0], "/clients?proto_ver=5&clean_start=true&zone=external&_gte_mqueue_len=0&_limit=100"); len(p.Data) != 25 {
		t.Errorf("proto_ver=5&clean_start=true&zone=external: %d rows", len(p.Data))
	}
	now := time.Now().Unix()
	if p = getPage[node.APIClient](t, ns[0], fmt.Sprintf("/clients?_gte_created_at=%d&_lte_connected_at=%d&_limit=100", now-600, now+5)); len(p.Data) != 25 {
		t.Errorf("created in the last 10 minutes: %d rows", len(p.Data))
	}
	if p = getPage[node.APIClient](t, ns[0], fmt.Sprintf("/clients?_gte_created_at=%d", now+600)); len(p.Data) != 0 {
		t.Errorf("created in the future: %d rows", len(p.Data))
	}
	if p = getPage[node.APIClient](t, ns[0], "/clients?ip_address=10.1.2.3"); len(p.Data) != 0 {
		t.Errorf("ip_address=10.1.2.3: %d rows", len(p.Data))
	}
	p = getPage[node.APIClient](t, ns[0], "/nodes/"+ns[2].Name+"/clients?_limit=3")
	if len(p.Data) != 3 || p.Meta.Count != 8 || !p.Meta.HasNext || p.Data[0].Node != ns[2].Name {
		t.Errorf("/nodes/%s/clients: %d rows, meta %+v", ns[2].Name, len(p.Data), p.Meta)
	}
	for q, msg := range map[string]string{
		"proto_ver=five":        `Can't convert <<"five">> to integer type`,
		"_gte_created_at=now":   `Can't convert <<"now">> to timestamp type`,
		"ip_address=localhost":  `Can't convert <<"localhost">> to ip type`,
		"_lte_mqueue_len=1.5":   `Can't convert <<"1.5">> to integer type`,
		"_gte_mqueue_dropped=x": `Can't convert <<"x">> to integer type`,
	} {
		p := getPage[node.APIClient](t, ns[0], "/clients?"+q)
		if p.Code != 108 || p.Message != msg {
			t.Errorf("%s: code %d %q, want 108 %q", q, p.Code, p.Message, msg)
		}
	}
	if p := getPage[node.APIClient](t, ns[0], "/clients?clientid="+url.QueryEscape("dev-07")); len(p.Data) != 1 || p.Data[0].ClientID != "dev-07" {
		t.Errorf("clientid=dev-07: %+v", p.Data)
	}
}
