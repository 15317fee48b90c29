package node_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"emqxgo/internal/testutil"
	"emqxgo/internal/testutil/testnode"
)

// scrape gets GET /api/v4/emqx_prometheus?type=prometheus without
// credentials and parses it with Prometheus' own text parser.
func scrape(t *testing.T, n *testnode.Node) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := testnode.APIClient.Get("http://" + n.API + "/api/v4/emqx_prometheus?type=prometheus")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: HTTP %d %s", n.Name, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("scrape %s: content type %q", n.Name, ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("scrape %s: %v\n%s", n.Name, err, body)
	}
	return mfs
}

// value is the family's one sample without labels, or its sample with
// label peer = peer.
func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string, typ dto.MetricType, peer string) (float64, bool) {
	t.Helper()
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
	if mf.GetType() != typ {
		t.Fatalf("%s is a %s, want %s", name, mf.GetType(), typ)
	}
	for _, m := range mf.GetMetric() {
		got := ""
		for _, l := range m.GetLabel() {
			if l.GetName() == "peer" {
				got = l.GetValue()
			}
		}
		if got != peer {
			continue
		}
		if typ == dto.MetricType_COUNTER {
			return m.GetCounter().GetValue(), true
		}
		return m.GetGauge().GetValue(), true
	}
	return 0, false
}

func mustValue(t *testing.T, mfs map[string]*dto.MetricFamily, name string, typ dto.MetricType, peer string) float64 {
	t.Helper()
	v, ok := value(t, mfs, name, typ, peer)
	if !ok {
		t.Fatalf("no %s{peer=%q} in the scrape", name, peer)
	}
	return v
}

// TestPrometheus: on a 3-node cluster, the node's figures in Prometheus'
// text format without credentials (other API paths still need them), with
// EMQX's names and types; the counters move with real MQTT traffic; the
// cluster's figures name each peer; Go's runtime and process collectors are
// there; the JSON form has EMQX's lists.
func TestPrometheus(t *testing.T) {
	ns := cluster3(t)

	if st, _ := ns[0].CallAs("", "", "GET", "/alarms", nil); st != http.StatusUnauthorized {
		t.Fatalf("GET /alarms without credentials: HTTP %d, want 401", st)
	}
	mfs := scrape(t, ns[0])
	gauge, counter := dto.MetricType_GAUGE, dto.MetricType_COUNTER
	for _, name := range []string{"emqx_connections_count", "emqx_connections_max", "emqx_sessions_count", "emqx_topics_count",
		"emqx_subscriptions_count", "emqx_routes_count", "emqx_retained_count", "emqx_vm_cpu_use", "emqx_vm_cpu_idle",
		"emqx_vm_run_queue", "emqx_vm_total_memory", "emqx_vm_used_memory", "emqx_vm_process_messages_in_queues"} {
		mustValue(t, mfs, name, gauge, "")
	}
	for _, name := range []string{"emqx_messages_received", "emqx_packets_connect", "emqx_bytes_received",
		"emqx_delivery_dropped", "emqx_delivery_dropped_queue_full", "emqx_client_connected", "emqx_session_created",
		"emqx_messages_dropped_expired", "emqx_client_auth_success_anonymous"} {
		mustValue(t, mfs, name, counter, "")
	}
	if v := mustValue(t, mfs, "emqx_vm_total_memory", gauge, ""); v <= 0 {
		t.Errorf("emqx_vm_total_memory %v", v)
	}
	if v := mustValue(t, mfs, "emqx_cluster_nodes_running", gauge, ""); v != 3 {
		t.Errorf("emqx_cluster_nodes_running %v, want 3", v)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_open_fds"} {
		if mfs[name] == nil {
			t.Errorf("no %s (Go runtime and process collectors)", name)
		}
	}
	for _, p := range ns[1:] {
		if v := mustValue(t, mfs, "emqx_cluster_peer_link_up", gauge, p.Name); v != 1 {
			t.Errorf("emqx_cluster_peer_link_up{peer=%s} %v", p.Name, v)
		}
		mustValue(t, mfs, "emqx_cluster_forward_queued", gauge, p.Name)
		mustValue(t, mfs, "emqx_cluster_forward_unacked", gauge, p.Name)
		mustValue(t, mfs, "emqx_cluster_messages_forwarded", counter, p.Name)
		mustValue(t, mfs, "emqx_cluster_messages_dropped", counter, p.Name)
		mustValue(t, mfs, "emqx_cluster_routes_count", gauge, p.Name)
	}
	if _, ok := value(t, mfs, "emqx_cluster_peer_link_up", gauge, ns[0].Name); ok {
		t.Errorf("the node lists itself as a peer")
	}
	received := mustValue(t, mfs, "emqx_messages_received", counter, "")
	connected := mustValue(t, mfs, "emqx_client_connected", counter, "")

	// real traffic: a subscriber on node 2, a publisher on node 1
	sub := testutil.DialV5(t, ns[1].Addr, "prom-sub")
	sub.Sub(t, "prom/#", 1)
	testutil.Eventually(t, 10*time.Second, "node 1 routes prom/x to node 2", func() bool {
		v, _ := value(t, scrape(t, ns[0]), "emqx_cluster_routes_count", gauge, ns[1].Name)
		return v == 1
	})
	pub := testutil.DialV5(t, ns[0].Addr, "prom-pub")
	const n = 10
	for i := range n {
		p := []byte(fmt.Sprint(i))
		pub.Pub(t, "prom/x", 1, p)
		sub.Expect(t, "prom/x", p)
	}
	testutil.Eventually(t, 10*time.Second, "the counters moved", func() bool {
		mfs = scrape(t, ns[0])
		return mustValue(t, mfs, "emqx_messages_received", counter, "") >= received+n &&
			mustValue(t, mfs, "emqx_client_connected", counter, "") >= connected+1 &&
			mustValue(t, mfs, "emqx_connections_count", gauge, "") == 1 &&
			mustValue(t, mfs, "emqx_cluster_messages_forwarded", counter, ns[1].Name) >= n &&
			mustValue(t, mfs, "emqx_cluster_forward_unacked", gauge, ns[1].Name) == 0
	})
	if v := mustValue(t, scrape(t, ns[1]), "emqx_subscriptions_count", gauge, ""); v != 1 {
		t.Errorf("node 2 emqx_subscriptions_count %v, want 1", v)
	}

	// the JSON form, without credentials too
	var js struct {
		Code int                           `json:"code"`
		Data map[string]map[string]float64 `json:"data"`
	}
	st, body := ns[0].CallAs("", "", "GET", "/emqx_prometheus", nil)
	if st != http.StatusOK || json.Unmarshal(body, &js) != nil || js.Code != 0 {
		t.Fatalf("JSON form: HTTP %d %s", st, body)
	}
	for list, key := range map[string]string{"stats": "emqx_connections_count", "metrics": "emqx_vm_cpu_use",
		"packets": "emqx_packets_connect", "messages": "emqx_messages_received", "delivery": "emqx_delivery_dropped",
		"client": "emqx_client_connected", "session": "emqx_session_created"} {
		if _, ok := js.Data[list][key]; !ok {
			t.Errorf("JSON form: no %s in %s: %s", key, list, body)
		}
	}
	if len(js.Data) != 7 || js.Data["messages"]["emqx_messages_received"] < received+n {
		t.Errorf("JSON form: %s", body)
	}
	if st, body := ns[0].CallAs("", "", "GET", "/emqx_prometheus?type=other", nil); st != http.StatusOK ||
		string(body) != `{"code":108,"message":"type must be prometheus or json"}` {
		t.Errorf("type=other: HTTP %d %s, want code 108 (EMQX crashes: 500)", st, body)
	}

	// a stopped peer's link shows down
	ns[2].Halt()
	testutil.Eventually(t, 15*time.Second, "the stopped node's link down", func() bool {
		v, ok := value(t, scrape(t, ns[0]), "emqx_cluster_peer_link_up", gauge, ns[2].Name)
		return ok && v == 0
	})
}
