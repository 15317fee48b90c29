package node_test

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"emqxgo/internal/node"
	"emqxgo/internal/testutil"
	"emqxgo/internal/testutil/testnode"
)

// dropped waits until the client's connection is closed by the node.
func dropped(t *testing.T, c *testutil.V5, what string) {
	t.Helper()
	_ = c.Conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	testutil.Eventually(t, 10*time.Second, what, func() bool {
		select {
		case <-c.Done():
			return true
		default:
			return false
		}
	})
}

// TestListenersStopRestart: emqx_ctl listeners stop and restart with
// EMQX's lines. A stopped listener closes its port and the connections it
// accepted (as esockd's), is no longer listed (ctl and API), and restarts
// (tcp and ws; EMQX 4.4 cannot restart a stopped tcp listener); restarting a running listener drops its clients
// and accepts again on the same address. The API lists each node's
// listeners and restarts one on a node or on every node, with EMQX's
// answers.
func TestListenersStopRestart(t *testing.T) {
	sn := testutil.Subnet(t)
	var ns []*testnode.Node
	for i := 1; i <= 2; i++ {
		host := fmt.Sprintf("127.0.%d.%d", sn, i)
		ns = append(ns, testnode.Start(t, "emqx"+fmt.Sprint(i)+"@"+host, "EMQX_LISTENER__WS__EXTERNAL="+host+":0"))
	}
	testnode.Join(t, ns[1], ns[0])
	testnode.WaitRunning(t, 30*time.Second, ns...)
	a, b := ns[0], ns[1]

	// the API's list
	var all []struct {
		Node      string             `json:"node"`
		Listeners []node.ListenerRow `json:"listeners"`
	}
	keep := testutil.DialV5(t, b.Addr, "on-b")
	a.Data("GET", "/listeners", nil, &all)
	if len(all) != 2 || all[0].Node != a.Name || all[1].Node != b.Name || len(all[1].Listeners) != 2 {
		t.Fatalf("GET /listeners: %+v", all)
	}
	tcpB, wsB := all[1].Listeners[0], all[1].Listeners[1]
	_, wsPort, _ := net.SplitHostPort(b.N.Broker().Addrs()["ws"])
	if tcpB.Protocol != "mqtt:tcp" || tcpB.Identifier != "mqtt:tcp:external" || tcpB.ListenOn != b.Addr || tcpB.CurrentConns != 1 ||
		tcpB.MaxConns != float64(1024000) || fmt.Sprint(tcpB.ShutdownCount) != "[]" || tcpB.Acceptors != 1 {
		t.Fatalf("tcp listener of %s: %+v", b.Name, tcpB)
	}
	if wsB.Protocol != "mqtt:ws:"+wsPort || wsB.Identifier != "" || wsB.CurrentConns != 0 {
		t.Fatalf("ws listener of %s: %+v", b.Name, wsB)
	}
	var rows []node.ListenerRow
	a.Data("GET", "/nodes/"+b.Name+"/listeners", nil, &rows)
	if len(rows) != 2 || rows[0].Identifier != "mqtt:tcp:external" {
		t.Fatalf("GET /nodes/%s/listeners: %+v", b.Name, rows)
	}

	// stop: the port closes with the connections it accepted
	onA := testutil.DialV5(t, a.Addr, "on-a")
	if got, want := ctl(t, a, "listeners stop mqtt:tcp:external"), "Stop mqtt:tcp:external listener on "+a.Addr+" successfully.\n"; got != want {
		t.Fatalf("stop: %q, want %q", got, want)
	}
	dropped(t, onA, "the client of the stopped listener dropped")
	testutil.ConnRefused(t, a.Addr)
	if got := ctl(t, a, "listeners"); strings.Contains(got, "mqtt:tcp:external") || !strings.HasPrefix(got, "mqtt:ws:external\n") {
		t.Fatalf("listeners after stop:\n%s", got)
	}
	a.Data("GET", "/nodes/"+a.Name+"/listeners", nil, &rows)
	if len(rows) != 1 || !strings.HasPrefix(rows[0].Protocol, "mqtt:ws:") {
		t.Fatalf("API list after stop: %+v", rows)
	}
	for words, want := range map[string]string{
		"listeners stop mqtt:tcp:external": "Failed to stop mqtt:tcp:external listener on " + a.Addr + ": not_found\n",
		"listeners stop mqtt:tcp:nope":     "No such listener \"mqtt:tcp:nope\"\n",
		"listeners stop tcp 1":             "No such listener 1\n",
		"listeners stop tcp 127.0.0.9:1":   "No such listener {\"127.0.0.9\",1}\n",
		"listeners restart bad:listener:identifier": "Failed to restart bad:listener:identifier listener:" +
			" {no_such_listener,\"bad:listener:identifier\"}\n",
		"listeners stop http:dashboard": "Failed to stop http:dashboard listener:" +
			" \"not supported here: the HTTP API's listeners stop and start with the node\"\n",
		"listeners restart http:dashboard": "Failed to restart http:dashboard listener:" +
			" \"not supported here: the HTTP API's listeners stop and start with the node\"\n",
		"listeners stop https:dashboard":    "Failed to stop https:dashboard listener: not_found\n",
		"listeners restart https:dashboard": "Listener emqx_dashboard not exists!\n",
		"listeners stop":                    usageOf(t, a, "listeners"),
	} {
		if got := ctl(t, a, words); got != want {
			t.Errorf("%s: %q, want %q", words, got, want)
		}
	}

	// the stopped tcp listener comes back on its address
	if got := ctl(t, a, "listeners restart mqtt:tcp:external"); got != "Restarted mqtt:tcp:external listener successfully.\n" {
		t.Fatalf("restart of the stopped tcp listener: %q", got)
	}
	_ = testutil.DialV5(t, a.Addr, "on-a-again")

	// a ws listener comes back after a stop; stopped by its address
	wsA := a.N.Broker().Addrs()["ws"]
	if got, want := ctl(t, a, "listeners stop ws "+wsA), "Stop mqtt:ws:external listener on "+wsA+" successfully.\n"; got != want {
		t.Fatalf("stop by address: %q, want %q", got, want)
	}
	testutil.ConnRefused(t, wsA)
	if got := ctl(t, a, "listeners restart mqtt:ws:external"); got != "Restarted mqtt:ws:external listener successfully.\n" {
		t.Fatalf("restart ws: %q", got)
	}
	if c, err := net.DialTimeout("tcp", wsA, 2*time.Second); err != nil {
		t.Fatalf("ws listener after restart: %v", err)
	} else {
		_ = c.Close()
	}

	// restart of a running listener: its clients go, new ones come
	if got := ctl(t, b, "listeners restart mqtt:tcp:external"); got != "Restarted mqtt:tcp:external listener successfully.\n" {
		t.Fatalf("restart on %s: %q", b.Name, got)
	}
	dropped(t, keep, "the client of the restarted listener dropped")
	keep = testutil.DialV5(t, b.Addr, "on-b-again")

	// the API's restarts
	r := call(t, a, "PUT", "/nodes/"+b.Name+"/listeners/mqtt:tcp:external/restart", nil)
	wantCode(t, r, 0, "")
	if string(r.Data) != `"Listener restarted."` {
		t.Fatalf("restart on a node: %s", r.Data)
	}
	dropped(t, keep, "the client dropped by the API's restart")
	r = call(t, a, "PUT", "/nodes/"+b.Name+"/listeners/mqtt:tcp:nope/restart", nil)
	if r.Code != nil || r.Message != `{no_such_listener,<<"mqtt:tcp:nope">>}` {
		t.Fatalf("restart of no listener: %+v", r)
	}
	// on every node; a failure names its node (a listener of one node only)
	r = call(t, b, "PUT", "/listeners/mqtt:tcp:external/restart", nil)
	wantCode(t, r, 0, "")
	r = call(t, b, "PUT", "/listeners/mqtt:tcp:nope/restart", nil)
	if r.Code != nil || !strings.HasPrefix(r.Message, "{restart,[{'"+a.Name+"',{error,") {
		t.Fatalf("cluster restart of no listener: %+v", r)
	}
	testutil.DialV5(t, b.Addr, "on-b-last")
	r = call(t, b, "PUT", "/listeners/mqtt:ws:external/restart", nil)
	wantCode(t, r, 0, "")
	if st, body := a.Call("PUT", "/listeners/http:management/restart", nil); st != http.StatusForbidden ||
		string(body) != `"http_listener_restart_unsupported"` {
		t.Fatalf("restart http:management: HTTP %d %s", st, body)
	}
}

// usageOf is the usage emqx_ctl prints for a command's unknown words.
func usageOf(t *testing.T, n *testnode.Node, cmd string) string {
	t.Helper()
	return ctl(t, n, cmd+" no-such-words")
}
