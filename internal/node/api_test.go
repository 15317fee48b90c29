package node_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"emqxgo/internal/node"
	"emqxgo/internal/testutil"
	"emqxgo/internal/testutil/testnode"
)

// TestAPINodes: on a 3-node cluster, GET /api/v4/nodes on any node lists
// the three Running with their versions and connections; one stopped shows
// as Stopped; /status answers without credentials; the API refuses a
// request without the application's secret; brokers, stats and metrics
// answer per node.
func TestAPINodes(t *testing.T) {
	ns := cluster3(t)
	c := testutil.DialV5(t, ns[2].Addr, "on-three")
	_ = c

	st, body := ns[0].CallAs("", "", "GET", "/status", nil)
	if st != http.StatusOK || string(body) != "Node "+ns[0].Name+" is started\nemqx is running" {
		t.Fatalf("/status: %d %q", st, body)
	}
	if st, _ := ns[0].CallAs("admin", "wrong", "GET", "/nodes", nil); st != http.StatusUnauthorized {
		t.Fatalf("wrong secret: HTTP %d, want 401", st)
	}
	if st, _ := ns[0].CallAs("", "", "GET", "/nodes", nil); st != http.StatusUnauthorized {
		t.Fatalf("no credentials: HTTP %d, want 401", st)
	}

	var nodes []node.NodeInfo
	ns[1].Data("GET", "/nodes", nil, &nodes)
	if len(nodes) != 3 {
		t.Fatalf("nodes: %+v", nodes)
	}
	for i, ni := range nodes {
		if ni.Node != ns[i].Name || ni.NodeStatus != "Running" || ni.Version == "" || ni.MemoryTotal == "" {
			t.Errorf("node %d: %+v", i, ni)
		}
	}
	if nodes[2].Connections != 1 {
		t.Errorf("%s connections %d, want 1", nodes[2].Node, nodes[2].Connections)
	}
	var one node.NodeInfo
	ns[0].Data("GET", "/nodes/"+ns[2].Name, nil, &one)
	if one.Node != ns[2].Name || one.Connections != 1 {
		t.Errorf("nodes/%s: %+v", ns[2].Name, one)
	}
	var brokers []node.BrokerInfo
	ns[0].Data("GET", "/brokers", nil, &brokers)
	if len(brokers) != 3 || brokers[1].Node != ns[1].Name || !strings.HasPrefix(brokers[1].Sysdescr, "EMQX") {
		t.Errorf("brokers: %+v", brokers)
	}
	var stats []struct {
		Node  string           `json:"node"`
		Stats map[string]int64 `json:"stats"`
	}
	ns[0].Data("GET", "/stats", nil, &stats)
	if len(stats) != 3 || stats[2].Stats["connections.count"] != 1 {
		t.Errorf("stats: %+v", stats)
	}
	var m map[string]uint64
	ns[0].Data("GET", "/nodes/"+ns[2].Name+"/metrics", nil, &m)
	if m["client.connected"] != 1 {
		t.Errorf("metrics of %s: client.connected %d", ns[2].Name, m["client.connected"])
	}

	ns[2].Halt()
	testutil.Eventually(t, 15*time.Second, "the stopped node listed as Stopped", func() bool {
		ns[0].Data("GET", "/nodes", nil, &nodes)
		i := slices.IndexFunc(nodes, func(ni node.NodeInfo) bool { return ni.Node == ns[2].Name })
		return len(nodes) == 3 && i >= 0 && nodes[i].NodeStatus == "Stopped"
	})
}

// TestAPIHTTPS: management.listener.https serves the same API over TLS
// with the configured certificate; with verify_peer and
// fail_if_no_peer_cert a client without a certificate signed by the CA
// is refused in the handshake.
func TestAPIHTTPS(t *testing.T) {
	sn := testutil.Subnet(t)
	host := fmt.Sprintf("127.0.%d.1", sn)
	certs := testutil.WriteCerts(t, t.TempDir(), host)
	n := testnode.Start(t, "emqx1@"+host, "EMQX_MANAGEMENT__LISTENER__HTTPS="+host+":0",
		"EMQX_MANAGEMENT__LISTENER__HTTPS__CERTFILE="+certs.CertFile, "EMQX_MANAGEMENT__LISTENER__HTTPS__KEYFILE="+certs.KeyFile,
		"EMQX_MANAGEMENT__LISTENER__HTTPS__CACERTFILE="+certs.CAFile, "EMQX_MANAGEMENT__LISTENER__HTTPS__VERIFY=verify_peer",
		"EMQX_MANAGEMENT__LISTENER__HTTPS__FAIL_IF_NO_PEER_CERT=true")
	addr := n.N.APIAddrs()["https"]
	if addr == "" {
		t.Fatalf("no https listener: %v", n.N.APIAddrs())
	}
	get := func(withCert bool) (*http.Response, error) {
		tc := &tls.Config{RootCAs: certs.Pool, MinVersion: tls.VersionTLS12}
		if withCert {
			c, err := tls.LoadX509KeyPair(certs.CertFile, certs.KeyFile)
			if err != nil {
				t.Fatal(err)
			}
			tc.Certificates = []tls.Certificate{c}
		}
		cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
		defer cl.CloseIdleConnections()
		req, _ := http.NewRequest("GET", "https://"+addr+"/api/v4/nodes/"+n.Name, nil)
		req.SetBasicAuth("admin", "public")
		return cl.Do(req)
	}
	resp, err := get(true)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"node_status":"Running"`) {
		t.Fatalf("https: %d %s", resp.StatusCode, body)
	}
	if resp, err := get(false); err == nil {
		resp.Body.Close()
		t.Fatalf("a client without a certificate got HTTP %d", resp.StatusCode)
	}
}
