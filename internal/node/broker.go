package node

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"emqxgo/internal/broker"
	"emqxgo/internal/metrics"
	"emqxgo/internal/sys"
	"emqxgo/internal/version"
)

// statsInterval is how often the stats are read for their maxima
// (emqx_stats' tick).
const statsInterval = time.Second

// setupObservability makes the stats read the broker's and the fabric's
// counts and the metrics the gate's counters; the node's start time is
// its uptime's origin.
func (n *Node) setupObservability() {
	n.started = time.Now()
	b, f := n.broker, n.fabric
	st := &n.stats
	// One pass over the clients serves the stats of one read (they are
	// read one after the other within microseconds).
	var (
		countsMu sync.Mutex
		countsAt time.Time
		counts   broker.ClientCounts
	)
	get := func() broker.ClientCounts {
		countsMu.Lock()
		defer countsMu.Unlock()
		if time.Since(countsAt) > 100*time.Millisecond {
			counts, countsAt = b.Counts(), time.Now()
		}
		return counts
	}
	conns := func() int { return get().Connected }
	st.SetSource("connections", conns)
	st.SetSource("live_connections", conns)
	sessions := func() int { return get().Sessions }
	st.SetSource("channels", sessions)
	st.SetSource("sessions", sessions)
	subs := func() int { return get().Subscriptions }
	st.SetSource("subscriptions", subs)
	st.SetSource("suboptions", subs)
	st.SetSource("subscribers", subs)
	st.SetSource("subscriptions.shared", func() int { return get().Shared })
	st.SetSource("routes", f.RouteCount)
	st.SetSource("topics", f.RouteCount)
	st.SetSource("retained", f.RetainedCount)

	// $SYS/brokers/<node>/stats/... and /metrics/... at broker.sys_interval.
	n.sys.SetStats(n.statsMap)
	n.sys.SetMetrics(n.metricsMap)

	if g := n.access.guard; g != nil {
		m := b.Metrics()
		for id, c := range map[metrics.ID]func() int64{
			metrics.ClientAuthSuccess:          g.AuthSuccess.Load,
			metrics.ClientAuthSuccessAnonymous: g.AuthAnonymous.Load,
			metrics.ClientAuthFailure:          g.AuthFailure.Load,
			metrics.ClientACLAllow:             g.ACLAllow.Load,
			metrics.ClientACLDeny:              g.ACLDeny.Load,
			metrics.ClientACLCacheHit:          g.ACLCacheHit.Load,
			metrics.ClientAuthenticate: func() int64 {
				return g.AuthSuccess.Load() + g.AuthAnonymous.Load() + g.AuthFailure.Load()
			},
			metrics.ClientCheckACL: func() int64 { return g.ACLAllow.Load() + g.ACLDeny.Load() },
		} {
			m.SetSource(id, func() uint64 { return uint64(max(c(), 0)) })
		}
	}
}

// brokerCmd is emqx_mgmt_cli's broker command: the node's description,
// version, uptime and local time; its stats; its metrics.
func (n *Node) brokerCmd(c *call) string {
	args := c.args
	var b strings.Builder
	switch {
	case len(args) == 0:
		info := n.brokerInfo()
		return c.out(info, func() string {
			for _, kv := range [][2]string{{"sysdescr", info.Sysdescr}, {"version", info.Version},
				{"uptime", info.Uptime}, {"datetime", info.Datetime}} {
				fmt.Fprintf(&b, "%s: %s\n", pad(kv[0], 10), kv[1])
			}
			return b.String()
		})
	case len(args) == 1 && args[0] == "stats":
		all := n.stats.All()
		return c.out(n.statsMap(), func() string {
			for _, v := range all {
				fmt.Fprintf(&b, "%s: %d\n", pad(v.Name, 30), v.Value)
			}
			return b.String()
		})
	case len(args) == 1 && args[0] == "metrics":
		all := n.broker.Metrics().All()
		return c.out(n.metricsMap(), func() string {
			for _, v := range all {
				fmt.Fprintf(&b, "%s: %d\n", pad(v.Name, 30), v.Value)
			}
			return b.String()
		})
	}
	return usage(brokerUsage...)
}

var brokerUsage = []usageLine{{"broker", "Show broker version, uptime and description"},
	{"broker stats", "Show broker statistics of clients, topics, subscribers"},
	{"broker metrics", "Show broker metrics"}}

// BrokerInfo is emqx_sys:info() with the node (emqx_ctl broker, GET
// /api/v4/brokers).
type BrokerInfo struct {
	Node       string `json:"node"`
	NodeStatus string `json:"node_status"`
	Sysdescr   string `json:"sysdescr"`
	Version    string `json:"version"`
	Uptime     string `json:"uptime"`
	Datetime   string `json:"datetime"`
	OTPRelease string `json:"otp_release"`
}

func (n *Node) brokerInfo() BrokerInfo {
	return BrokerInfo{Node: n.name.String(), NodeStatus: "Running", Sysdescr: sys.Sysdescr(), Version: version.Version,
		Uptime: sys.Uptime(time.Since(n.started)), Datetime: time.Now().Format("2006-01-02 15:04:05"), OTPRelease: runtime.Version()}
}

// statsMap is the stats by name (JSON of emqx_ctl broker stats, the API).
func (n *Node) statsMap() map[string]int64 {
	all := n.stats.All()
	out := make(map[string]int64, len(all))
	for _, v := range all {
		out[v.Name] = int64(v.Value)
	}
	return out
}

// metricsMap is the metrics by name.
func (n *Node) metricsMap() map[string]uint64 {
	all := n.broker.Metrics().All()
	out := make(map[string]uint64, len(all))
	for _, v := range all {
		out[v.Name] = v.Value
	}
	return out
}

// pad is Erlang's "~-Ns": s left-aligned in n columns, cut to n if longer
// (EMQX prints messages.dropped.await_pubrel_timeout as
// "messages.dropped.await_pubrel_").
func pad(s string, n int) string {
	if len(s) >= n {
		return s[:n]
	}
	return s + strings.Repeat(" ", n-len(s))
}
