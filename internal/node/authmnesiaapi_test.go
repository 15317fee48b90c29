package node_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/testutil"
	"emqxgo/internal/testutil/testnode"
)

// subscribeAs connects as user/pass and returns the SUBACK code of filter.
func subscribeAs(t *testing.T, n *testnode.Node, id, user, pass, filter string) byte {
	t.Helper()
	cp := &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30, Username: user, UsernameFlag: true, Password: []byte(pass), PasswordFlag: true}
	c, err := testutil.TryConnectV5(n.Addr, cp)
	if err != nil {
		t.Fatalf("connect %s: %v", user, err)
	}
	defer c.Disconnect(&paho.Disconnect{})
	sa, err := c.Subscribe(t.Context(), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter}}})
	if sa == nil {
		t.Fatal(err)
	}
	return sa.Reasons[0]
}

// TestAuthMnesiaAPI: the built-in database's routes answer 102 while
// emqx_auth_mnesia is not loaded; loaded, users and client ids added,
// listed, looked up, changed and deleted on one node log in (or no
// longer) on the other, one by one and in a batch; ACL rules added
// through the API (and the dashboard's session) apply to the MQTT
// clients of the other node and go again when deleted.
func TestAuthMnesiaAPI(t *testing.T) {
	sub := testutil.Subnet(t)
	a := testnode.Start(t, fmt.Sprintf("emqx1@127.0.%d.1", sub), "EMQX_ALLOW_ANONYMOUS=false")
	b := testnode.Start(t, fmt.Sprintf("emqx2@127.0.%d.2", sub), "EMQX_ALLOW_ANONYMOUS=false")
	testnode.Join(t, b, a)
	testnode.WaitRunning(t, 20*time.Second, a, b)

	st, body := a.Call("GET", "/auth_username", nil)
	if st != http.StatusNotFound || string(body) != `{"code":102,"message":"emqx_auth_mnesia is not loaded"}` {
		t.Fatalf("not loaded: HTTP %d %s", st, body)
	}
	for _, n := range []*testnode.Node{a, b} {
		if got := ctl(t, n, "plugins load emqx_auth_mnesia"); got != "Plugin emqx_auth_mnesia loaded successfully.\n" {
			t.Fatalf("plugins load: %q", got)
		}
	}

	// users
	a.Data("POST", "/auth_username", map[string]string{"username": "alice", "password": "pw1"}, nil)
	for body, want := range map[string]string{
		`{"username":"alice","password":"x"}`: `{"message":"existed"}`,
		`{"username":"carol"}`:                `{"message":"password"}`,
		`{"username":"","password":"x"}`:      `{"message":"login"}`,
	} {
		if r := callRaw(t, a, "/auth_username", body); r.Message != strings.TrimSuffix(strings.TrimPrefix(want, `{"message":"`), `"}`) || r.Code != nil {
			t.Errorf("POST %s: %+v, want %s", body, r, want)
		}
	}
	r := call(t, a, "POST", "/auth_username", []map[string]string{{"username": "bob", "password": "b"}, {"username": "alice", "password": "x"}})
	if string(r.Data) != `{"alice":"{error,existed}","bob":"ok"}` {
		t.Fatalf("batch: %s", r.Data)
	}
	type userRow struct {
		Username  string `json:"username"`
		CreatedAt int64  `json:"created_at"`
	}
	var users []userRow
	testutil.Eventually(t, 5*time.Second, "B lists both users", func() bool {
		users = nil
		meta := b.Data("GET", "/auth_username", nil, &users)
		return len(users) == 2 && meta["count"] == 2.0
	})
	if users[0].Username != "bob" || users[1].Username != "alice" || users[1].CreatedAt == 0 {
		t.Fatalf("users newest first: %+v", users)
	}
	meta := b.Data("GET", "/auth_username?_like_username=lic", nil, &users)
	if len(users) != 1 || users[0].Username != "alice" || meta["count"] != -1.0 {
		t.Fatalf("_like_username: %+v %v", users, meta)
	}
	var one userRow
	b.Data("GET", "/auth_username/alice", nil, &one)
	if one.Username != "alice" || one.CreatedAt != users[0].CreatedAt {
		t.Fatalf("lookup: %+v", one)
	}
	if r := call(t, b, "GET", "/auth_username/nobody", nil); string(r.Data) != "{}" {
		t.Fatalf("lookup of nobody: %s", r.Data)
	}
	if got := login(b, "c1", "alice", "pw1"); got != 0 {
		t.Fatalf("alice on B: CONNACK %#x", got)
	}
	if got := login(b, "c2", "alice", "wrong"); got != 0x86 {
		t.Fatalf("alice with a wrong password: CONNACK %#x", got)
	}
	b.Data("PUT", "/auth_username/alice", map[string]string{"password": "pw2"}, nil)
	testutil.Eventually(t, 5*time.Second, "the new password on A", func() bool { return login(a, "c3", "alice", "pw2") == 0 })
	if got := login(a, "c4", "alice", "pw1"); got != 0x86 {
		t.Fatalf("the old password: CONNACK %#x", got)
	}
	if r := call(t, a, "PUT", "/auth_username/nobody", map[string]string{"password": "x"}); r.Message != "noexisted" {
		t.Fatalf("update of nobody: %+v", r)
	}
	if r := call(t, a, "PUT", "/auth_username/alice", map[string]string{}); r.Message != "password" {
		t.Fatalf("update without a password: %+v", r)
	}

	// client ids
	a.Data("POST", "/auth_clientid", map[string]string{"clientid": "dev/1", "password": "d"}, nil)
	var ids []map[string]any
	a.Data("GET", "/auth_clientid", nil, &ids)
	if len(ids) != 1 || ids[0]["clientid"] != "dev/1" {
		t.Fatalf("client ids: %v", ids)
	}
	testutil.Eventually(t, 5*time.Second, "dev/1 logs in on B", func() bool {
		return testutil.ConnackCode(b.Addr, &paho.Connect{ClientID: "dev/1", CleanStart: true, Password: []byte("d"), PasswordFlag: true}) == 0
	})
	a.Data("DELETE", "/auth_clientid/"+url.PathEscape("dev/1"), nil, nil)
	if a.Data("GET", "/auth_clientid", nil, &ids); len(ids) != 0 {
		t.Fatalf("client ids after the delete: %v", ids)
	}

	// ACL, through the dashboard's session on A
	d := newDash(t, a)
	d.login("admin", "public")
	var added map[string]any
	d.ok("POST", "/acl", map[string]string{"username": "alice", "topic": "secret/#", "action": "sub", "access": "deny"}, &added)
	if fmt.Sprint(added) != "map[access:deny action:sub result:ok topic:secret/# username:alice]" {
		t.Fatalf("acl add: %v", added)
	}
	if r := d.call("POST", "/acl", map[string]string{"clientid": "c", "topic": "t", "action": "publish", "access": "allow"}); r.Code != -1 ||
		r.Message != `{add,#{access => <<"allow">>,action => <<"publish">>,clientid => <<"c">>,result => <<"{error,action}">>,topic => <<"t">>}}` {
		t.Fatalf("acl add with a bad action: %+v", r)
	}
	var batch []map[string]any
	d.ok("POST", "/acl", []map[string]string{{"topic": "open/#", "action": "pubsub", "access": "allow"},
		{"clientid": "c9", "topic": "", "action": "pub", "access": "allow"}}, &batch)
	if len(batch) != 2 || batch[0]["result"] != "{error,topic}" || batch[1]["result"] != "ok" || batch[1]["all"] != "$all" {
		t.Fatalf("acl batch: %v", batch)
	}
	type aclRow struct {
		Username, ClientID, All, Topic, Action, Access string
	}
	rows := func(n *testnode.Node, path string) []aclRow {
		var raw []map[string]string
		n.Data("GET", path, nil, &raw)
		var out []aclRow
		for _, m := range raw {
			out = append(out, aclRow{m["username"], m["clientid"], m["all"], m["topic"], m["action"], m["access"]})
		}
		return out
	}
	testutil.Eventually(t, 5*time.Second, "B lists the rules", func() bool {
		return len(rows(b, "/acl/$all")) == 2 && len(rows(b, "/acl/username")) == 1
	})
	if got := rows(b, "/acl/username/alice"); len(got) != 1 || got[0] != (aclRow{Username: "alice", Topic: "secret/#", Action: "sub", Access: "deny"}) {
		t.Fatalf("alice's rules: %+v", got)
	}
	if got := rows(b, "/acl/$all?action=pub"); len(got) != 1 || got[0] != (aclRow{All: "$all", Topic: "open/#", Action: "pub", Access: "allow"}) {
		t.Fatalf("$all pub rules: %+v", got)
	}
	if got := rows(b, "/acl/clientid"); len(got) != 0 {
		t.Fatalf("client id rules: %+v", got)
	}
	if got := rows(b, "/acl"); len(got) != 3 {
		t.Fatalf("every rule: %+v", got)
	}
	var page []map[string]any
	if meta := b.Data("GET", "/acl/$all?_limit=1&_page=2", nil, &page); len(page) != 1 || meta["count"] != 2.0 || meta["limit"] != 1.0 {
		t.Fatalf("a page of $all: %v %v", page, meta)
	}
	if got := subscribeAs(t, b, "s1", "alice", "pw2", "secret/x"); got != 0x87 {
		t.Fatalf("alice subscribing secret/x on B: %#x", got)
	}
	if got := subscribeAs(t, b, "s2", "bob", "b", "secret/x"); got != 0 {
		t.Fatalf("bob subscribing secret/x on B: %#x", got)
	}
	d.ok("DELETE", "/acl/username/alice/topic/"+url.PathEscape("secret/#"), nil, nil)
	testutil.Eventually(t, 5*time.Second, "alice may subscribe again on B", func() bool {
		return subscribeAs(t, b, "s3", "alice", "pw2", "secret/x") == 0
	})
	d.ok("DELETE", "/acl/$all/topic/"+url.PathEscape("open/#"), nil, nil)
	if got := rows(a, "/acl"); len(got) != 0 {
		t.Fatalf("rules after the deletes: %+v", got)
	}

	a.Data("DELETE", "/auth_username/alice", nil, nil)
	testutil.Eventually(t, 5*time.Second, "alice no longer logs in on B", func() bool { return login(b, "c5", "alice", "pw2") != 0 })
}
