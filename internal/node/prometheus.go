package node

import (
	"bufio"
	"bytes"
	"os"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
	"go.uber.org/zap"

	"emqxgo/internal/mgmt"
)

// GET /api/v4/emqx_prometheus is EMQX 4.4's emqx_prometheus: without
// credentials (emqx_mgmt_http lets that one path through), the node's
// stats, metrics and VM figures, as JSON (type=json, the default) or in
// Prometheus' text format (type=prometheus). Here it is always served;
// EMQX serves it while the emqx_prometheus plugin is loaded, and pushes
// to a gateway (prometheus.push.gateway.server), which this node does not.
//
// The text comes from a registry of the node's own (several nodes may
// share a process): a collector that reads the stats and metrics when
// scraped (nothing is counted per message for it), Go's runtime collector
// and the process collector. EMQX's names and types are kept (stats and VM
// figures gauges, metrics counters); the Erlang VM's figures are the
// closest Go ones:
//
//	emqx_vm_cpu_use, emqx_vm_cpu_idle  the host's CPU, % busy and idle
//	                                   since the last scrape (cpu_sup:util)
//	emqx_vm_run_queue                  runnable goroutines (the run queue)
//	emqx_vm_process_messages_in_queues 0, as EMQX 4.4 (no mailboxes here)
//	emqx_vm_total_memory, _used_memory the host's memory in bytes, total
//	                                   and total less free (memsup)
//
// The cluster's figures of this node, with a label peer per other member
// (new names, all emqx_cluster_ as EMQX's two):
//
//	emqx_cluster_peer_link_up{peer}        gauge: 1 a link is up, 0 not
//	emqx_cluster_forward_queued{peer}      gauge: messages waiting to go
//	emqx_cluster_forward_unacked{peer}     gauge: sent, not yet acknowledged
//	emqx_cluster_messages_forwarded{peer}  counter: sent on the link
//	emqx_cluster_messages_resent{peer}     counter: sent again after a break
//	emqx_cluster_messages_dropped{peer}    counter: refused, outbox full
//	emqx_cluster_routes_count{peer}        gauge: routes the peer advertised

// promFigure is one figure of emqx_prometheus: its name and the EMQX
// stat, metric or VM figure it reads.
type promFigure struct{ name, key string }

// promFigures names keys "emqx_" + the key with dots as underscores.
func promFigures(keys ...string) []promFigure {
	out := make([]promFigure, len(keys))
	for i, k := range keys {
		out[i] = promFigure{"emqx_" + strings.ReplaceAll(k, ".", "_"), k}
	}
	return out
}

// promGroup is one of emqx_prometheus' lists: its key in the JSON form,
// its figures, and whether they are counters.
type promGroup struct {
	json    string // "" not in the JSON form
	figures []promFigure
	counter bool
	source  int // promStats, promMetrics, promVM, promCluster
}

const (
	promStats = iota
	promMetrics
	promVM
	promCluster
)

// promGroups are emqx_prometheus' lists, in its order.
var promGroups = []promGroup{
	{json: "stats", source: promStats, figures: promFigures(
		"connections.count", "connections.max", "live_connections.count", "live_connections.max",
		"sessions.count", "sessions.max", "topics.count", "topics.max", "suboptions.count", "suboptions.max",
		"subscribers.count", "subscribers.max", "subscriptions.count", "subscriptions.max",
		"subscriptions.shared.count", "subscriptions.shared.max", "routes.count", "routes.max",
		"retained.count", "retained.max")},
	{json: "metrics", source: promVM, figures: []promFigure{
		{"emqx_vm_cpu_use", "cpu_use"}, {"emqx_vm_cpu_idle", "cpu_idle"}, {"emqx_vm_run_queue", "run_queue"},
		{"emqx_vm_process_messages_in_queues", "process_total_messages"},
		{"emqx_vm_total_memory", "total_memory"}, {"emqx_vm_used_memory", "used_memory"}}},
	{source: promCluster, figures: []promFigure{
		{"emqx_cluster_nodes_running", "nodes_running"}, {"emqx_cluster_nodes_stopped", "nodes_stopped"}}},
	{json: "packets", source: promMetrics, counter: true, figures: append(promFigures(
		"bytes.received", "bytes.sent", "packets.received", "packets.sent"),
		append([]promFigure{{"emqx_packets_connect", "packets.connect.received"}}, promFigures(
			"packets.connack.sent", "packets.connack.error", "packets.connack.auth_error",
			"packets.publish.received", "packets.publish.sent", "packets.publish.inuse", "packets.publish.error",
			"packets.publish.auth_error", "packets.publish.dropped",
			"packets.puback.received", "packets.puback.sent", "packets.puback.inuse", "packets.puback.missed",
			"packets.pubrec.received", "packets.pubrec.sent", "packets.pubrec.inuse", "packets.pubrec.missed",
			"packets.pubrel.received", "packets.pubrel.sent", "packets.pubrel.missed",
			"packets.pubcomp.received", "packets.pubcomp.sent", "packets.pubcomp.inuse", "packets.pubcomp.missed",
			"packets.subscribe.received", "packets.subscribe.error", "packets.subscribe.auth_error",
			"packets.suback.sent", "packets.unsubscribe.received", "packets.unsubscribe.error",
			"packets.unsuback.sent", "packets.pingreq.received", "packets.pingresp.sent",
			"packets.disconnect.received", "packets.disconnect.sent", "packets.auth.received",
			"packets.auth.sent")...)...)},
	// messages.dropped.expired is not an EMQX 4.4 metric: its figure is
	// always 0, as there.
	{json: "messages", source: promMetrics, counter: true, figures: promFigures(
		"messages.received", "messages.sent", "messages.qos0.received", "messages.qos0.sent",
		"messages.qos1.received", "messages.qos1.sent", "messages.qos2.received", "messages.qos2.sent",
		"messages.publish", "messages.dropped", "messages.dropped.expired", "messages.dropped.no_subscribers",
		"messages.forward", "messages.retained", "messages.delayed", "messages.delivered", "messages.acked")},
	{json: "delivery", source: promMetrics, counter: true, figures: promFigures(
		"delivery.dropped", "delivery.dropped.no_local", "delivery.dropped.too_large", "delivery.dropped.qos0_msg",
		"delivery.dropped.queue_full", "delivery.dropped.expired")},
	{json: "client", source: promMetrics, counter: true, figures: promFigures(
		"client.connected", "client.authenticate", "client.auth.success.anonymous", "client.check_acl",
		"client.subscribe", "client.unsubscribe", "client.disconnected")},
	{json: "session", source: promMetrics, counter: true, figures: promFigures(
		"session.created", "session.resumed", "session.takeovered", "session.discarded", "session.terminated")},
}

// The cluster's figures per peer.
var promPeerFigures = []struct {
	name, help string
	counter    bool
	value      func(peerFigures) float64
}{
	{"emqx_cluster_peer_link_up", "1 while a link to the peer is up", false, func(p peerFigures) float64 {
		if p.Linked {
			return 1
		}
		return 0
	}},
	{"emqx_cluster_forward_queued", "messages waiting to be sent to the peer", false, func(p peerFigures) float64 { return float64(p.Queued) }},
	{"emqx_cluster_forward_unacked", "messages sent to the peer, not yet acknowledged", false, func(p peerFigures) float64 { return float64(p.Unacked) }},
	{"emqx_cluster_messages_forwarded", "messages sent to the peer", true, func(p peerFigures) float64 { return float64(p.Forwarded) }},
	{"emqx_cluster_messages_resent", "messages sent to the peer again after a link broke", true, func(p peerFigures) float64 { return float64(p.Resent) }},
	{"emqx_cluster_messages_dropped", "messages for the peer dropped on a full outbox", true, func(p peerFigures) float64 { return float64(p.Dropped) }},
	{"emqx_cluster_routes_count", "routes the peer advertised", false, func(p peerFigures) float64 { return float64(p.Routes) }},
}

// promParts is the node's Prometheus registry and collector.
type promParts struct {
	reg *prometheus.Registry
	c   *promCollector
}

func (n *Node) newPrometheus() *promParts {
	c := &promCollector{n: n, descs: map[string]*prometheus.Desc{}}
	for _, g := range promGroups {
		for _, f := range g.figures {
			c.descs[f.name] = prometheus.NewDesc(f.name, f.key, nil, nil)
		}
	}
	for _, f := range promPeerFigures {
		c.descs[f.name] = prometheus.NewDesc(f.name, f.help, []string{"peer"}, nil)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &promParts{reg: reg, c: c}
}

// promCollector reads the node's figures when scraped.
type promCollector struct {
	n     *Node
	descs map[string]*prometheus.Desc
	cpu   cpuSampler
}

// Describe implements prometheus.Collector.
func (c *promCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *promCollector) Collect(ch chan<- prometheus.Metric) {
	src := c.sources()
	for _, g := range promGroups {
		t := prometheus.GaugeValue
		if g.counter {
			t = prometheus.CounterValue
		}
		for _, f := range g.figures {
			ch <- prometheus.MustNewConstMetric(c.descs[f.name], t, src[g.source](f.key))
		}
	}
	for _, p := range c.n.peerFigures() {
		for _, f := range promPeerFigures {
			t := prometheus.GaugeValue
			if f.counter {
				t = prometheus.CounterValue
			}
			ch <- prometheus.MustNewConstMetric(c.descs[f.name], t, f.value(p), p.Peer)
		}
	}
}

// sources reads the stats, metrics, VM and cluster figures once; each
// source answers a key (0 for one it does not have, as EMQX's ?C).
func (c *promCollector) sources() [4]func(string) float64 {
	stats, ms, vm := c.n.statsMap(), c.n.metricsMap(), c.vmData()
	st := c.n.cluster.Status()
	cl := map[string]float64{"nodes_running": float64(len(st.Running)), "nodes_stopped": float64(len(st.Stopped))}
	return [4]func(string) float64{
		promStats:   func(k string) float64 { return float64(stats[k]) },
		promMetrics: func(k string) float64 { return float64(ms[k]) },
		promVM:      func(k string) float64 { return vm[k] },
		promCluster: func(k string) float64 { return cl[k] },
	}
}

// peerFigures is the cluster's figures for one peer.
type peerFigures struct {
	Peer   string
	Linked bool
	// as fabric.PeerStats
	Queued, Unacked            int
	Forwarded, Resent, Dropped uint64
	Routes                     int
}

// peerFigures lists every other member of the cluster (running or
// stopped) and every peer the fabric has figures for, sorted.
func (n *Node) peerFigures() []peerFigures {
	var out []peerFigures
	for _, s := range n.fabric.PeerStats() {
		out = append(out, peerFigures{Peer: s.Peer, Linked: s.Linked, Queued: s.Queued, Unacked: s.Unacked,
			Forwarded: s.Forwarded, Resent: s.Resent, Dropped: s.Dropped, Routes: s.Routes})
	}
	st := n.cluster.Status()
	links := n.cluster.Links()
	for _, m := range append(st.Running, st.Stopped...) {
		if m == n.name.String() || slices.ContainsFunc(out, func(p peerFigures) bool { return p.Peer == m }) {
			continue
		}
		out = append(out, peerFigures{Peer: m, Linked: links.Has(m)})
	}
	slices.SortFunc(out, func(a, b peerFigures) int { return strings.Compare(a.Peer, b.Peer) })
	return out
}

// vmData is emqx_prometheus' emqx_vm_data with Go's figures.
func (c *promCollector) vmData() map[string]float64 {
	use, idle := c.cpu.sample()
	total, free := memInfo()
	s := []metrics.Sample{{Name: "/sched/goroutines/runnable:goroutines"}}
	metrics.Read(s)
	var runq float64
	if s[0].Value.Kind() == metrics.KindUint64 {
		runq = float64(s[0].Value.Uint64())
	}
	return map[string]float64{"cpu_use": use, "cpu_idle": idle, "run_queue": runq, "process_total_messages": 0,
		"total_memory": float64(total), "used_memory": float64(total - free)}
}

// cpuSampler computes the host's CPU use between two reads of /proc/stat
// (the first: since boot), as cpu_sup:util does between two calls; reads
// less than cpuMinInterval apart answer the last figures (a few clock
// ticks say nothing).
type cpuSampler struct {
	mu              sync.Mutex
	at              time.Time
	busy, total     uint64
	lastUse, lastID float64
}

const cpuMinInterval = time.Second

func (s *cpuSampler) sample() (use, idle float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.at.IsZero() && time.Since(s.at) < cpuMinInterval {
		return s.lastUse, s.lastID
	}
	busy, total, ok := cpuTimes()
	if !ok {
		return 0, 0
	}
	if total > s.total && busy >= s.busy {
		s.lastUse = float64(busy-s.busy) / float64(total-s.total) * 100
		s.lastID = 100 - s.lastUse
		s.busy, s.total, s.at = busy, total, time.Now()
	}
	return s.lastUse, s.lastID
}

// cpuTimes reads the host's CPU time from /proc/stat: busy (all but idle:
// cpu_sup counts I/O wait as not idle) and total, in clock ticks.
func cpuTimes() (busy, total uint64, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, false
	}
	var idle uint64
	for i, s := range f[1:] {
		if i >= 8 { // guest times are in user and nice already
			break
		}
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		total += v
		if i == 3 {
			idle = v
		}
	}
	return total - idle, total, true
}

// memInfo is the host's total and free memory in bytes (memsup's
// total_memory and free_memory), 0 where /proc/meminfo is not there.
func memInfo() (total, free uint64) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		n, err := strconv.ParseUint(fs[0], 10, 64)
		if err != nil {
			continue
		}
		if len(fs) > 1 && fs[1] == "kB" {
			n *= 1024
		}
		switch k {
		case "MemTotal":
			total = n
		case "MemFree":
			free = n
		}
	}
	return total, min(free, total)
}

// promJSON is emqx_prometheus' JSON form: each list (not the cluster's)
// as an object of figure names and values.
func (n *Node) promJSON() map[string]map[string]float64 {
	src := n.prom.c.sources()
	out := map[string]map[string]float64{}
	for _, g := range promGroups {
		if g.json == "" {
			continue
		}
		m := make(map[string]float64, len(g.figures))
		for _, f := range g.figures {
			m[f.name] = src[g.source](f.key)
		}
		out[g.json] = m
	}
	return out
}

// promText is the registry in Prometheus' text format (0.0.4).
func (n *Node) promText() (mgmt.Raw, error) {
	mfs, err := n.prom.reg.Gather()
	if err != nil {
		// Gather returns what it could: serve that, as promhttp's
		// ContinueOnError does.
		n.log.Warn("some Prometheus figures could not be gathered", zap.Error(err))
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.FmtText)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return mgmt.Raw{}, err
		}
	}
	return mgmt.Raw{ContentType: string(expfmt.FmtText), Body: buf.Bytes()}, nil
}

func init() {
	registerAPI("GET /emqx_prometheus", func(n *Node, r *mgmt.Request) (any, error) {
		t := "json"
		if r.Has("type") {
			t = r.Query("type")
		}
		switch t {
		case "json":
			return n.promJSON(), nil
		case "prometheus":
			return n.promText()
		}
		// EMQX has no clause for another type: its handler crashes (500)
		return nil, mgmt.Errorf(mgmt.CodeParamType, "type must be prometheus or json")
	}, mgmt.NoAuth)
}
