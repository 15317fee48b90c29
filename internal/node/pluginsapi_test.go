package node_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"emqxgo/internal/node"
	"emqxgo/internal/testutil"
	"emqxgo/internal/testutil/testnode"
)

// mnesiaLine is emqx_auth_mnesia's line of `emqx_ctl plugins list`.
func mnesiaLine(t *testing.T, n *testnode.Node) string {
	t.Helper()
	for _, l := range strings.Split(ctl(t, n, "plugins list"), "\n") {
		if strings.HasPrefix(l, "Plugin(emqx_auth_mnesia,") {
			return l
		}
	}
	t.Fatalf("%s lists no emqx_auth_mnesia", n.Name)
	return ""
}

const (
	mnesiaOn  = "Plugin(emqx_auth_mnesia, description=EMQX Authentication with Mnesia, active=true)"
	mnesiaOff = "Plugin(emqx_auth_mnesia, description=EMQX Authentication with Mnesia, active=false)"
)

// TestAPIPlugins: the plugins of every node; load, unload and reload on a
// node through another node's API, seen by `emqx_ctl plugins list` there;
// unload and reload on every node, the last failure answering; EMQX's
// {"message":...} for what fails.
func TestAPIPlugins(t *testing.T) {
	sn := testutil.Subnet(t)
	a := testnode.Start(t, fmt.Sprintf("emqx1@127.0.%d.1", sn))
	b := testnode.Start(t, fmt.Sprintf("emqx2@127.0.%d.2", sn))
	testnode.Join(t, b, a)
	testnode.WaitRunning(t, 30*time.Second, a, b)

	var all []struct {
		Node    string           `json:"node"`
		Plugins []node.PluginRow `json:"plugins"`
	}
	a.Data("GET", "/plugins", nil, &all)
	if len(all) != 2 || all[0].Node != a.Name || all[1].Node != b.Name || len(all[1].Plugins) != 3 {
		t.Fatalf("GET /plugins: %+v", all)
	}
	if p := all[1].Plugins[2]; p != (node.PluginRow{Name: "emqx_auth_mnesia", Description: "EMQX Authentication with Mnesia", Type: "auth"}) {
		t.Fatalf("plugin row: %+v", p)
	}

	wantCode(t, call(t, a, "PUT", "/nodes/"+b.Name+"/plugins/emqx_auth_mnesia/load", nil), 0, "")
	if got := mnesiaLine(t, b); got != mnesiaOn {
		t.Fatalf("%s after load: %s", b.Name, got)
	}
	if got := mnesiaLine(t, a); got != mnesiaOff {
		t.Fatalf("%s after load on %s: %s", a.Name, b.Name, got)
	}
	var rows []node.PluginRow
	a.Data("GET", "/nodes/"+b.Name+"/plugins", nil, &rows)
	if len(rows) != 3 || !rows[2].Active {
		t.Fatalf("GET /nodes/%s/plugins: %+v", b.Name, rows)
	}

	for _, c := range []struct{ method, path, message string }{
		{"PUT", "/nodes/" + b.Name + "/plugins/emqx_auth_mnesia/load", "already_started"},
		{"PUT", "/nodes/" + a.Name + "/plugins/emqx_auth_mnesia/unload", "not_started"},
		{"PUT", "/nodes/" + a.Name + "/plugins/emqx_nope/load", "not_found"},
		{"PUT", "/nodes/" + a.Name + "/plugins/emqx_nope/reload", "not_found"},
		{"PUT", "/nodes/nonode@127.0.0.1/plugins/emqx_auth_mnesia/load", "nodedown"},
		// every node: a's is not started, the last failure
		{"PUT", "/plugins/emqx_auth_mnesia/unload", "not_started"},
	} {
		r := call(t, b, c.method, c.path, nil)
		if r.Code != nil || r.Message != c.message {
			t.Errorf("%s %s: %+v, want message %q", c.method, c.path, r, c.message)
		}
	}
	if got := mnesiaLine(t, b); got != mnesiaOff {
		t.Fatalf("%s after the cluster's unload: %s", b.Name, got)
	}

	// reload loads where it did not run, on every node
	wantCode(t, call(t, b, "PUT", "/plugins/emqx_auth_mnesia/reload", nil), 0, "")
	for _, n := range []*testnode.Node{a, b} {
		if got := mnesiaLine(t, n); got != mnesiaOn {
			t.Fatalf("%s after the cluster's reload: %s", n.Name, got)
		}
	}
	wantCode(t, call(t, a, "PUT", "/nodes/"+a.Name+"/plugins/emqx_auth_mnesia/reload", nil), 0, "")
	wantCode(t, call(t, a, "PUT", "/plugins/emqx_auth_mnesia/unload", nil), 0, "")
	for _, n := range []*testnode.Node{a, b} {
		if got := mnesiaLine(t, n); got != mnesiaOff {
			t.Fatalf("%s after unload everywhere: %s", n.Name, got)
		}
	}
	// no cluster-wide load in EMQX 4.4
	if st, body := a.Call("PUT", "/plugins/emqx_auth_mnesia/load", nil); st == 200 {
		t.Fatalf("PUT /plugins/{plugin}/load answered: %s", body)
	}
}
