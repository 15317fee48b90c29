package node_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/node"
	"emqxgo/internal/testutil"
)

// TestSubscriptionsAcrossCluster: emqx_ctl subscriptions add on one node
// subscribes a client of another, which then gets what is published to
// the topic anywhere; show finds it from any node; list is the node's
// own ("<clientid> -> <topic>", a shared one by its plain topic), with
// --cluster every node's; del ends it; the errors are EMQX's.
func TestSubscriptionsAcrossCluster(t *testing.T) {
	ns := cluster3(t)
	a, b, c := ns[0], ns[1], ns[2]
	sb := testutil.DialV5(t, b.Addr, "sb")
	pub := testutil.DialV5(t, c.Addr, "pub-c")
	sb.Sub(t, "$share/g/s/1", 1)

	if got := ctl(t, a, "subscriptions add sb t/add 1"); got != "ok\n" {
		t.Fatalf("subscriptions add: %q", got)
	}
	testutil.Eventually(t, 5*time.Second, "c knows b's route of t/add", func() bool {
		return ctl(t, c, "routes show t/add") == "t/add -> "+b.Name+"\n"
	})
	pub.Pub(t, "t/add", 1, []byte("hello"))
	if m := sb.Expect(t, "t/add", []byte("hello")); m.QoS != 1 {
		t.Errorf("delivered at QoS %d, want 1", m.QoS)
	}

	if got := ctl(t, c, "subscriptions show sb"); got != "sb -> s/1\nsb -> t/add\n" {
		t.Errorf("subscriptions show from another node: %q", got)
	}
	if got := ctl(t, a, "subscriptions show nobody"); got != "Not Found.\n" {
		t.Errorf("show nobody: %q", got)
	}
	if got := ctl(t, b, "subscriptions list"); got != "sb -> s/1\nsb -> t/add\n" {
		t.Errorf("subscriptions list on b: %q", got)
	}
	if got := ctl(t, a, "subscriptions list"); got != "" {
		t.Errorf("subscriptions list on a: %q", got)
	}
	if got := ctl(t, a, "subscriptions list --cluster"); got != "sb -> s/1, node="+b.Name+"\nsb -> t/add, node="+b.Name+"\n" {
		t.Errorf("subscriptions list --cluster: %q", got)
	}
	var js []node.APISubscription
	if err := json.Unmarshal([]byte(ctl(t, a, "subscriptions list --cluster --json")), &js); err != nil ||
		!slices.Equal(js, []node.APISubscription{{b.Name, "sb", "$share/g/s/1", 1}, {b.Name, "sb", "t/add", 1}}) {
		t.Errorf("subscriptions list --cluster --json: %+v %v", js, err)
	}

	for cmd, want := range map[string]string{
		"subscriptions add sb t 3":      "QoS should be 0, 1, 2\n",
		"subscriptions add sb t x":      "QoS should be 0, 1, 2\n",
		"subscriptions add nobody t 1":  "Error: Channel not found!",
		"subscriptions del nobody t":    "Error: Channel not found!",
		"subscriptions add sb":          "subscriptions list",
		"subscriptions what ever a b c": "subscriptions list",
	} {
		if got := ctl(t, a, cmd); !strings.HasPrefix(got, want) {
			t.Errorf("%s: %q, want %q", cmd, got, want)
		}
	}

	// del ends it: what c publishes to t/add next does not come; the
	// message to s/1 after it is the next sb gets.
	if got := ctl(t, c, "subscriptions del sb t/add"); got != "ok\n" {
		t.Fatalf("subscriptions del: %q", got)
	}
	testutil.Eventually(t, 5*time.Second, "t/add's route gone", func() bool { return ctl(t, c, "routes show t/add") == "" })
	pub.Pub(t, "t/add", 1, []byte("not for sb"))
	pub.Pub(t, "s/1", 1, []byte("shared"))
	sb.Expect(t, "s/1", []byte("shared"))
	if got := ctl(t, a, "subscriptions show sb"); got != "sb -> s/1\n" {
		t.Errorf("after del: %q", got)
	}
}

// TestPubSubAPI: POST /mqtt/subscribe on one node subscribes a client of
// another (its retained messages come, then what is published); the
// batch forms answer per entry; GET /subscriptions lists, filters and
// pages them; the errors are EMQX's codes.
func TestPubSubAPI(t *testing.T) {
	ns := cluster3(t)
	a, b, c := ns[0], ns[1], ns[2]
	sc := testutil.DialV5(t, c.Addr, "sc")
	pub := testutil.DialV5(t, b.Addr, "pub-b")
	if _, err := pub.Publish(t.Context(), &paho.Publish{Topic: "ret/1", QoS: 1, Retain: true, Payload: []byte("kept")}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the retained message on c", func() bool {
		return c.N.Broker().Server().Topics.Retained.Len() > 0
	})

	a.Data("POST", "/mqtt/subscribe", map[string]any{"clientid": "sc", "topic": "m/1,ret/#", "qos": 1}, nil)
	sc.Expect(t, "ret/1", []byte("kept"))
	testutil.Eventually(t, 5*time.Second, "b knows c's route of m/1", func() bool {
		return ctl(t, b, "routes show m/1") == "m/1 -> "+c.Name+"\n"
	})
	pub.Pub(t, "m/1", 1, []byte("via api"))
	sc.Expect(t, "m/1", []byte("via api"))

	for _, tc := range []struct {
		path string
		body any
		code int
		msg  string
	}{
		{"/mqtt/subscribe", map[string]any{"topic": "x"}, 108, "bad clientid: must be string"},
		{"/mqtt/subscribe", map[string]any{"clientid": 7, "topic": "x"}, 108, "bad clientid: must be string"},
		{"/mqtt/subscribe", map[string]any{"clientid": "sc", "topic": "a/#/b"}, 115, "bad_topic"},
		{"/mqtt/subscribe", map[string]any{"clientid": "sc"}, 115, "bad_topic"},
		{"/mqtt/subscribe", map[string]any{"clientid": "sc", "topic": "x", "qos": 3}, 116, "bad_qos"},
		{"/mqtt/subscribe", map[string]any{"clientid": "nobody", "topic": "x"}, 112, "channel_not_found"},
		{"/mqtt/unsubscribe", map[string]any{"clientid": "sc", "topic": "a/+b"}, 115, "bad_topic"},
		{"/mqtt/unsubscribe", map[string]any{"clientid": "nobody", "topic": "x"}, 112, "channel_not_found"},
	} {
		st, body := a.Call("POST", tc.path, tc.body)
		var r struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		if st != http.StatusOK || json.Unmarshal(body, &r) != nil || r.Code != tc.code || r.Message != tc.msg {
			t.Errorf("%s %v: %d %s, want code %d %q", tc.path, tc.body, st, body, tc.code, tc.msg)
		}
	}

	var results []map[string]any
	b.Data("POST", "/mqtt/subscribe_batch", []map[string]any{
		{"clientid": "sc", "topics": "b/1,b/2", "qos": 2},
		{"clientid": "nobody", "topic": "b/3"},
		{"clientid": "sc", "topic": "#/x"},
	}, &results)
	want := []map[string]any{{"clientid": "sc", "topic": "b/1,b/2", "code": 0.0}, {"clientid": "nobody", "topic": "b/3", "code": 112.0},
		{"clientid": "sc", "topic": "#/x", "code": 115.0}}
	if len(results) != 3 {
		t.Fatalf("subscribe_batch: %v", results)
	}
	for i := range want {
		for k, v := range want[i] {
			if results[i][k] != v {
				t.Errorf("subscribe_batch[%d].%s = %v, want %v", i, k, results[i][k], v)
			}
		}
	}
	if got := ctl(t, a, "subscriptions show sc"); got != "sc -> b/1\nsc -> b/2\nsc -> m/1\nsc -> ret/#\n" {
		t.Errorf("after subscribe_batch: %q", got)
	}

	// GET /subscriptions: every node's, paged; filtered.
	testutil.DialV5(t, a.Addr, "sa").Sub(t, "$share/grp/m/1", 0)
	p := getPage[node.APISubscription](t, b, "/subscriptions?_limit=3")
	if len(p.Data) != 3 || p.Meta.Count != 5 || !p.Meta.HasNext || p.Data[0] != (node.APISubscription{a.Name, "sa", "$share/grp/m/1", 0}) ||
		p.Data[1] != (node.APISubscription{c.Name, "sc", "b/1", 2}) {
		t.Errorf("GET /subscriptions: %+v", p)
	}
	p = getPage[node.APISubscription](t, b, "/subscriptions?_limit=3&_page=2")
	if len(p.Data) != 2 || p.Meta.HasNext || p.Data[1] != (node.APISubscription{c.Name, "sc", "ret/#", 1}) {
		t.Errorf("GET /subscriptions page 2: %+v", p)
	}
	for q, n := range map[string]int{"clientid=sc": 4, "share=grp": 1, "qos=1": 2, "qos=2": 2, "_match_topic=ret/%2B": 1, "_match_topic=%23": 5,
		"clientid=sc&qos=0": 0} {
		if p := getPage[node.APISubscription](t, a, "/subscriptions?"+q); len(p.Data) != n || p.Meta.Count != -1 {
			t.Errorf("GET /subscriptions?%s: %d rows (meta %+v), want %d", q, len(p.Data), p.Meta, n)
		}
	}
	// ?topic= matches the plain topic, shared ones too, with the count.
	p = getPage[node.APISubscription](t, a, "/subscriptions?topic=m%2F1")
	if len(p.Data) != 2 || p.Meta.Count != 2 || p.Data[0].ClientID != "sa" || p.Data[1].ClientID != "sc" {
		t.Errorf("GET /subscriptions?topic=m/1: %+v", p)
	}
	p = getPage[node.APISubscription](t, a, "/subscriptions?topic=m%2F1&share=gr")
	if len(p.Data) != 1 || p.Meta.Count != 1 || p.Data[0].ClientID != "sa" {
		t.Errorf("GET /subscriptions?topic=m/1&share=gr: %+v", p)
	}
	if p := getPage[node.APISubscription](t, a, "/subscriptions?qos=high"); p.Code != 108 || p.Message != `Can't convert <<"high">> to integer type` {
		t.Errorf("qos=high: %+v", p)
	}
	p = getPage[node.APISubscription](t, a, "/nodes/"+c.Name+"/subscriptions")
	if len(p.Data) != 4 || p.Meta.Count != 4 || p.Data[0].Node != c.Name {
		t.Errorf("GET /nodes/%s/subscriptions: %+v", c.Name, p)
	}
	var subs []node.APISubscription
	a.Data("GET", "/subscriptions/sc", nil, &subs)
	if len(subs) != 4 || subs[3] != (node.APISubscription{c.Name, "sc", "ret/#", 1}) {
		t.Errorf("GET /subscriptions/sc: %+v", subs)
	}
	a.Data("GET", "/nodes/"+b.Name+"/subscriptions/sc", nil, &subs)
	if len(subs) != 0 {
		t.Errorf("sc's subscriptions on b: %+v", subs)
	}

	// unsubscribe: m/1 no longer comes; what follows it does.
	a.Data("POST", "/mqtt/unsubscribe", map[string]any{"clientid": "sc", "topic": "m/1"}, nil)
	b.Data("POST", "/mqtt/unsubscribe_batch", []map[string]any{{"clientid": "sc", "topic": "b/2"}, {"clientid": "nobody", "topic": "b/1"}}, &results)
	if len(results) != 2 || results[0]["code"] != 0.0 || results[1]["code"] != 112.0 || results[1]["topic"] != "b/1" {
		t.Errorf("unsubscribe_batch: %v", results)
	}
	testutil.Eventually(t, 5*time.Second, "m/1's route of c gone from b", func() bool {
		return ctl(t, b, "routes show m/1") == "m/1 -> "+a.Name+"\n"
	})
	pub.Pub(t, "m/1", 1, []byte("not for sc"))
	pub.Pub(t, "b/1", 1, []byte("still"))
	sc.Expect(t, "b/1", []byte("still"))
	if got := ctl(t, b, "subscriptions show sc"); got != "sc -> b/1\nsc -> ret/#\n" {
		t.Errorf("after unsubscribe: %q", got)
	}
}
