package node

import (
	"fmt"
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
	st.SetSource("routes", func() int { r, _ := f.RouteCounts(); return r })
	st.SetSource("topics", func() int { _, t := f.RouteCounts(); return t })
	st.SetSource("retained", f.RetainedCount)

	// $SYS/brokers/<node>/stats/... and /metrics/... at broker.sys_interval.
	n.sys.SetStats(func() map[string]int64 {
		all := st.All()
		out := make(map[string]int64, len(all))
		for _, v := range all {
			out[v.Name] = int64(v.Value)
		}
		return out
	})
	n.sys.SetMetrics(func() map[string]uint64 {
		all := b.Metrics().All()
		out := make(map[string]uint64, len(all))
		for _, v := range all {
			out[v.Name] = v.Value
		}
		return out
	})

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
func (n *Node) brokerCmd(args []string) string {
	var b strings.Builder
	switch {
	case len(args) == 0:
		for _, kv := range [][2]string{{"sysdescr", sys.Sysdescr()}, {"version", version.Version},
			{"uptime", sys.Uptime(time.Since(n.started))}, {"datetime", time.Now().Format("2006-01-02 15:04:05")}} {
			fmt.Fprintf(&b, "%s: %s\n", pad(kv[0], 10), kv[1])
		}
	case len(args) == 1 && args[0] == "stats":
		for _, v := range n.stats.All() {
			fmt.Fprintf(&b, "%s: %d\n", pad(v.Name, 30), v.Value)
		}
	case len(args) == 1 && args[0] == "metrics":
		for _, v := range n.broker.Metrics().All() {
			fmt.Fprintf(&b, "%s: %d\n", pad(v.Name, 30), v.Value)
		}
	default:
		return usage(usageLine{"broker", "Show broker version, uptime and description"},
			usageLine{"broker stats", "Show broker statistics of clients, topics, subscribers"},
			usageLine{"broker metrics", "Show broker metrics"})
	}
	return b.String()
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
