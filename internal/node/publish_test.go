package node_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"emqxgo/internal/testutil"
	"emqxgo/internal/testutil/testnode"
)

// cluster3 starts three nodes on the test's subnet and joins them.
// apiReply is an API answer's body.
type apiReply struct {
	Code    *int            `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
	Meta    json.RawMessage `json:"meta"`
}

// call makes a request and decodes its JSON answer; status must be 200.
func call(t *testing.T, n *testnode.Node, method, path string, body any) apiReply {
	t.Helper()
	st, b := n.Call(method, path, body)
	var r apiReply
	if st != http.StatusOK || json.Unmarshal(b, &r) != nil {
		t.Fatalf("%s %s: HTTP %d %s", method, path, st, b)
	}
	return r
}

// wantCode checks an answer's code and message.
func wantCode(t *testing.T, r apiReply, code int, msg string) {
	t.Helper()
	if r.Code == nil || *r.Code != code || r.Message != msg {
		c := -1
		if r.Code != nil {
			c = *r.Code
		}
		t.Fatalf("answer code %d message %q, want %d %q", c, r.Message, code, msg)
	}
}

func metric(t *testing.T, n *testnode.Node, name string) uint64 {
	t.Helper()
	var m map[string]uint64
	n.Data("GET", "/nodes/"+n.Name+"/metrics", nil, &m)
	return m[name]
}

// TestAPIPublish: POST /mqtt/publish on one node reaches a subscriber on
// another at the QoS asked, with its payload (plain, base64, JSON) and
// properties; a retained one is kept cluster-wide for a later subscriber
// on a third node; topics publishes to each valid name and return gives
// the ids; EMQX's codes for a bad topic, a bad client id and bad fields,
// 116 for a bad QoS (EMQX crashes: HTTP 500) and 400 for a body that is no JSON; the batch
// answers per item; the publishes count in the node's metrics.
func TestAPIPublish(t *testing.T) {
	ns := cluster3(t)
	a, b, c := ns[0], ns[1], ns[2]
	sub := testutil.DialV5(t, c.Addr, "sub-c")
	sub.Sub(t, "api/#", 2)
	waitRoute(t, a, c)
	q1Before := metric(t, a, "messages.qos1.received")

	r := call(t, a, "POST", "/mqtt/publish", map[string]any{"topic": "api/1", "payload": "hello", "qos": 1, "clientid": "api-pub"})
	wantCode(t, r, 0, "")
	if r.Data != nil {
		t.Fatalf("data without return: %s", r.Data)
	}
	m := sub.Expect(t, "api/1", []byte("hello"))
	if m.QoS != 1 {
		t.Fatalf("delivered at QoS %d, want 1", m.QoS)
	}

	// base64, a JSON payload, properties in EMQX's order
	wantCode(t, call(t, a, "POST", "/mqtt/publish", map[string]any{"topic": "api/2", "payload": "aGk=", "encoding": "base64"}), 0, "")
	sub.Expect(t, "api/2", []byte("hi"))
	raw := `{"topic":"api/3","qos":2,"payload":{"b":1,"a":[true,null]},"user_properties":{"k2":"v2","k1":10010,"f":0.1,"yes":false},` +
		`"properties":{"message_expiry_interval":1000,"content_type":"text/json","user_properties":{"n":"nested"}}}`
	r = callRaw(t, a, "/mqtt/publish", raw)
	wantCode(t, r, 0, "")
	m = sub.Expect(t, "api/3", []byte(`{"b":1,"a":[true,null]}`))
	var up []string
	for _, u := range m.Properties.User {
		up = append(up, u.Key+"="+u.Value)
	}
	if fmt.Sprint(up) != "[k2=v2 k1=10010 f=0.10000000000000001 yes=false n=nested]" || m.QoS != 2 ||
		m.Properties.ContentType != "text/json" || m.Properties.MessageExpiry == nil || *m.Properties.MessageExpiry > 1000 {
		t.Fatalf("properties %v, qos %d, %+v", up, m.QoS, m.Properties)
	}

	// retained: a later subscriber on another node gets it
	wantCode(t, call(t, a, "POST", "/mqtt/publish", map[string]any{"topic": "api/kept", "payload": "kept", "qos": 1, "retain": true}), 0, "")
	sub.Expect(t, "api/kept", []byte("kept"))
	late := testutil.DialV5(t, b.Addr, "late-b")
	testutil.Eventually(t, 10*time.Second, "the retained message on "+b.Name, func() bool {
		late.Sub(t, "api/kept", 1)
		select {
		case m := <-late.Msgs:
			return string(m.Payload) == "kept" && m.Retain
		case <-time.After(200 * time.Millisecond):
			return false
		}
	})

	// topics and return: ids of the valid names
	r = call(t, a, "POST", "/mqtt/publish", map[string]any{"topics": "api/t1,api/#,api/t2", "payload": "x", "return": true})
	var ids struct {
		MsgIDs []string `json:"msgids"`
	}
	_ = json.Unmarshal(r.Data, &ids)
	hex32 := regexp.MustCompile(`^[0-9A-F]{32}$`)
	if len(ids.MsgIDs) != 2 || !hex32.MatchString(ids.MsgIDs[0]) || ids.MsgIDs[0] == ids.MsgIDs[1] {
		t.Fatalf("msgids: %s", r.Data)
	}
	sub.Expect(t, "api/t1", []byte("x"))
	sub.Expect(t, "api/t2", []byte("x"))
	r = call(t, a, "POST", "/mqtt/publish", map[string]any{"topic": "api/one", "payload": "y", "return": "yes"})
	var one struct {
		MsgID string `json:"msgid"`
	}
	if json.Unmarshal(r.Data, &one) != nil || !hex32.MatchString(one.MsgID) {
		t.Fatalf("msgid: %s", r.Data)
	}
	sub.Expect(t, "api/one", []byte("y"))

	// EMQX's failures
	wantCode(t, call(t, a, "POST", "/mqtt/publish", map[string]any{"topic": "api/#", "payload": "no"}), 115, "bad_topic")
	wantCode(t, call(t, a, "POST", "/mqtt/publish", map[string]any{"topics": "", "payload": "no"}), 115, "bad_topic")
	wantCode(t, call(t, a, "POST", "/mqtt/publish", map[string]any{"payload": "no"}), 115, "bad_topic")
	wantCode(t, call(t, a, "POST", "/mqtt/publish", map[string]any{"topic": "api/x", "clientid": 1}), 108, "bad clientid: must be string")
	wantCode(t, call(t, a, "POST", "/mqtt/publish", map[string]any{"topic": "api/x", "user_properties": map[string]any{"l": []int{1}}}), 108, "bad_params")
	wantCode(t, call(t, a, "POST", "/mqtt/publish", map[string]any{"topic": "api/x", "properties": map[string]any{"nope": 1}}), 108, "bad_params")
	wantCode(t, call(t, a, "POST", "/mqtt/publish", map[string]any{"topic": 5}), 108, "bad_params")
	wantCode(t, call(t, a, "POST", "/mqtt/publish", map[string]any{"topic": "api/x", "qos": 3}), 116, "bad_qos") // EMQX: HTTP 500
	if st, body := callRawStatus(t, a, "/mqtt/publish", "{not json"); st != http.StatusBadRequest || body != "Bad Request" {
		t.Fatalf("not JSON: HTTP %d %q", st, body)
	}

	// the batch: a result per item
	r = call(t, a, "POST", "/mqtt/publish_batch", []any{
		map[string]any{"topic": "api/b1", "payload": "b1", "qos": 1},
		map[string]any{"topic": "api/+", "payload": "b2"},
		map[string]any{"topics": "api/b3", "payload": "b3", "clientid": false},
		map[string]any{"topic": "api/b4", "payload": "!!", "encoding": "base64"},
		"not an object",
	})
	wantCode(t, r, 0, "")
	if string(r.Data) != `[{"code":0,"topic":"api/b1"},{"code":115,"topic":"api/+"},{"code":108,"topic":"api/b3"},`+
		`{"code":108,"message":"bad_params"},{"code":108,"message":"bad_params"}]` {
		t.Fatalf("batch: %s", r.Data)
	}
	sub.Expect(t, "api/b1", []byte("b1"))
	select {
	case m := <-sub.Msgs:
		t.Fatalf("unexpected message %s %q", m.Topic, m.Payload)
	case <-time.After(300 * time.Millisecond):
	}

	// messages.qos1.received: api/1, api/kept and api/b1
	if d := metric(t, a, "messages.qos1.received") - q1Before; d != 3 {
		t.Fatalf("messages.qos1.received went up by %d, want 3", d)
	}
}

// waitRoute waits until a publish through from's API reaches a
// subscriber on to (the subscriptions made on to before are known on
// from then: routes from one node come in order).
func waitRoute(t *testing.T, from, to *testnode.Node) {
	t.Helper()
	probe := testutil.DialV5(t, to.Addr, "probe-"+to.Name)
	probe.Sub(t, "probe", 0)
	testutil.Eventually(t, 10*time.Second, "a publish through "+from.Name+" reaching "+to.Name, func() bool {
		call(t, from, "POST", "/mqtt/publish", map[string]any{"topic": "probe", "payload": "p"})
		select {
		case <-probe.Msgs:
			return true
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
}

// callRaw posts a body given as text.
func callRaw(t *testing.T, n *testnode.Node, path, body string) apiReply {
	t.Helper()
	st, b := callRawStatus(t, n, path, body)
	var r apiReply
	if st != http.StatusOK || json.Unmarshal([]byte(b), &r) != nil {
		t.Fatalf("POST %s: HTTP %d %s", path, st, b)
	}
	return r
}

func callRawStatus(t *testing.T, n *testnode.Node, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", "http://"+n.API+"/api/v4"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", "public")
	resp, err := testnode.APIClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
