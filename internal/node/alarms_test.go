package node_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/testutil"
	"emqxgo/internal/testutil/testnode"
)

// apiAlarm is one alarm as the API shows it.
type apiAlarm struct {
	Name         string          `json:"name"`
	Message      string          `json:"message"`
	Details      map[string]any  `json:"details"`
	ActivateAt   int64           `json:"activate_at"`
	DeactivateAt json.RawMessage `json:"deactivate_at"`
	Activated    bool            `json:"activated"`
	Duration     *int64          `json:"duration"`
}

type apiNodeAlarms struct {
	Node   string     `json:"node"`
	Alarms []apiAlarm `json:"alarms"`
}

// alarmsOf lists GET path's alarms by node.
func alarmsOf(n *testnode.Node, path string) map[string][]apiAlarm {
	var l []apiNodeAlarms
	n.Data("GET", path, nil, &l)
	out := map[string][]apiAlarm{}
	for _, x := range l {
		out[x.Node] = x.Alarms
	}
	return out
}

func findAlarm(l []apiAlarm, name string) (apiAlarm, bool) {
	i := slices.IndexFunc(l, func(a apiAlarm) bool { return a.Name == name })
	if i < 0 {
		return apiAlarm{}, false
	}
	return l[i], true
}

// TestPeerLinkDownAlarm: a stopped member raises peer_link_down/<it> on
// the other nodes (GET /alarms/activated, cluster-wide, EMQX's format;
// $SYS/brokers/<node>/alarms/activate); its return clears it into the
// history (alarms/deactivate); the history can be read per node and
// deleted; deactivating an alarm that is not active answers EMQX's
// not_found.
func TestPeerLinkDownAlarm(t *testing.T) {
	ns := cluster3(t)
	name := "peer_link_down/" + ns[2].Name

	sys := testutil.DialV5(t, ns[0].Addr, "alarm-watcher")
	sys.Sub(t, "$SYS/brokers/"+ns[0].Name+"/alarms/#", 0)

	if a := alarmsOf(ns[0], "/alarms/activated"); len(a) != 3 || len(a[ns[0].Name])+len(a[ns[1].Name])+len(a[ns[2].Name]) != 0 {
		t.Fatalf("alarms before: %+v", a)
	}

	ns[2].Halt()
	var act map[string][]apiAlarm
	testutil.Eventually(t, 30*time.Second, "peer_link_down on both other nodes", func() bool {
		act = alarmsOf(ns[0], "/alarms/activated")
		_, ok0 := findAlarm(act[ns[0].Name], name)
		_, ok1 := findAlarm(act[ns[1].Name], name)
		return len(act) == 2 && ok0 && ok1
	})
	a, _ := findAlarm(act[ns[1].Name], name)
	if !a.Activated || string(a.DeactivateAt) != `"infinity"` || a.Details["peer"] != ns[2].Name || a.Message == "" ||
		a.ActivateAt == 0 || a.Duration == nil || *a.Duration < 0 {
		t.Fatalf("alarm: %+v", a)
	}
	var one []apiAlarm
	ns[0].Data("GET", "/nodes/"+ns[1].Name+"/alarms", nil, &one)
	if _, ok := findAlarm(one, name); !ok {
		t.Fatalf("GET /nodes/%s/alarms: %+v", ns[1].Name, one)
	}
	m := next(t, sys)
	var pl map[string]any
	if m.Topic != "$SYS/brokers/"+ns[0].Name+"/alarms/activate" || m.Properties == nil || m.Properties.ContentType != "application/json" ||
		json.Unmarshal(m.Payload, &pl) != nil || pl["name"] != name || pl["activated"] != true || pl["deactivate_at"] != "infinity" {
		t.Fatalf("activate message: %s %+v %s", m.Topic, m.Properties, m.Payload)
	}

	// deactivating one that is not active: EMQX's {"message":"not_found"}
	st, body := ns[0].Call("POST", "/alarms/deactivated", map[string]string{"node": ns[0].Name, "name": "nope"})
	if st != http.StatusOK || string(body) != `{"message":"not_found"}` {
		t.Fatalf("POST /alarms/deactivated unknown: HTTP %d %s", st, body)
	}
	if st, body := ns[0].Call("POST", "/alarms/deactivated", map[string]string{"name": "nope"}); st != http.StatusOK ||
		string(body) != `{"code":107,"message":"node and name are required"}` {
		t.Fatalf("POST /alarms/deactivated without node: HTTP %d %s, want code 107 (EMQX crashes: 500)", st, body)
	}

	ns[2].Run()
	testnode.WaitRunning(t, 30*time.Second, ns...)
	testutil.Eventually(t, 15*time.Second, "peer_link_down cleared", func() bool {
		act = alarmsOf(ns[0], "/alarms/activated")
		_, ok0 := findAlarm(act[ns[0].Name], name)
		_, ok1 := findAlarm(act[ns[1].Name], name)
		return len(act) == 3 && !ok0 && !ok1
	})
	de := alarmsOf(ns[1], "/alarms/deactivated")
	h, ok := findAlarm(de[ns[0].Name], name)
	var at int64
	if !ok || h.Activated || json.Unmarshal(h.DeactivateAt, &at) != nil || at < h.ActivateAt || *h.Duration != at-h.ActivateAt {
		t.Fatalf("history of %s: %+v", ns[0].Name, de[ns[0].Name])
	}
	if all := alarmsOf(ns[1], "/alarms"); len(all[ns[0].Name]) == 0 {
		t.Fatalf("GET /alarms: %+v", all)
	}
	m = next(t, sys)
	if m.Topic != "$SYS/brokers/"+ns[0].Name+"/alarms/deactivate" {
		t.Fatalf("message on %s, want alarms/deactivate", m.Topic)
	}
	if err := json.Unmarshal(m.Payload, &pl); err != nil || pl["name"] != name || pl["details"] != "no_details" || pl["activated"] != false {
		t.Fatalf("deactivate message: %s", m.Payload)
	}

	ns[0].Data("DELETE", "/nodes/"+ns[1].Name+"/alarms/deactivated", nil, nil)
	if de := alarmsOf(ns[0], "/alarms/deactivated"); len(de[ns[1].Name]) != 0 || len(de[ns[0].Name]) == 0 {
		t.Fatalf("after deleting %s's history: %+v", ns[1].Name, de)
	}
	ns[0].Data("DELETE", "/alarms/deactivated", nil, nil)
	if de := alarmsOf(ns[2], "/alarms/deactivated"); len(de) != 3 || len(de[ns[0].Name])+len(de[ns[1].Name])+len(de[ns[2].Name]) != 0 {
		t.Fatalf("after deleting all history: %+v", de)
	}
}

// next is the next message v receives.
func next(t *testing.T, v *testutil.V5) *paho.Publish {
	t.Helper()
	select {
	case m := <-v.Msgs:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10s")
	}
	return nil
}

// TestTooManyConnectionsAlarm: a listener with max_connections 5 raises
// too_many_connections/mqtt:tcp:external at 5 open connections (90%),
// raises it again after an operator deactivates it while it holds, and
// clears it at 3 (under 80%).
func TestTooManyConnectionsAlarm(t *testing.T) {
	n := testnode.Start(t, fmt.Sprintf("emqx1@127.0.%d.1", testutil.Subnet(t)), "EMQX_LISTENER__TCP__EXTERNAL__MAX_CONNECTIONS=5")
	name := "too_many_connections/mqtt:tcp:external"
	active := func() (apiAlarm, bool) {
		var l []apiAlarm
		n.Data("GET", "/nodes/"+n.Name+"/alarms/activated", nil, &l)
		return findAlarm(l, name)
	}
	var cs []*testutil.V5
	for i := range 4 {
		cs = append(cs, testutil.DialV5(t, n.Addr, fmt.Sprint("c", i)))
	}
	// 4 of 5 is 80%: no alarm yet (activate_at shows it came after the 5th)
	fifth := time.Now().UnixMicro()
	cs = append(cs, testutil.DialV5(t, n.Addr, "c4"))
	var a apiAlarm
	testutil.Eventually(t, 10*time.Second, name+" active", func() (on bool) { a, on = active(); return on })
	if a.ActivateAt < fifth {
		t.Fatalf("alarm raised at 4 of 5 connections: %+v", a)
	}
	if a.Details["listener"] != "mqtt:tcp:external" || a.Details["max_connections"] != float64(5) || a.Details["connections"] != float64(5) {
		t.Fatalf("alarm: %+v", a)
	}

	n.Data("POST", "/alarms/deactivated", map[string]string{"node": n.Name, "name": name}, nil)
	testutil.Eventually(t, 10*time.Second, name+" raised again while it holds", func() bool {
		b, on := active()
		return on && b.ActivateAt > a.ActivateAt
	})

	for _, c := range cs[3:] {
		_ = c.Disconnect(&paho.Disconnect{})
	}
	testutil.Eventually(t, 10*time.Second, name+" cleared under 80%", func() bool { _, on := active(); return !on })
	var h []apiAlarm
	n.Data("GET", "/nodes/"+n.Name+"/alarms/deactivated", nil, &h)
	if len(h) != 2 || h[0].Name != name || h[1].Name != name {
		t.Fatalf("history: %+v", h)
	}
}
