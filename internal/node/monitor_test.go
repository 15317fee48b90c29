package node_test

import (
	"slices"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/node"
	"emqxgo/internal/testutil"
)

type monitorSample struct {
	T           int64   `json:"t"`
	Connections uint64  `json:"connections"`
	Received    float64 `json:"received"`
	Sent        float64 `json:"sent"`
	Memory      uint64  `json:"memory"`
}

// TestMonitorHistory: every node of three samples its connections,
// message rates and memory; GET /monitor/history on any node lists the
// three with their samples growing, the publishing node's received rate
// and the subscribing node's sent rate above 0; /monitor/current is each
// node's last sample.
func TestMonitorHistory(t *testing.T) {
	node.SetMonitorEvery(t, 100*time.Millisecond)
	ns := cluster3(t)
	a, b, c := ns[0], ns[1], ns[2]
	sub := testutil.DialV5(t, b.Addr, "mon-sub")
	sub.Sub(t, "mon/#", 0)
	waitRoute(t, a, b)
	pub := testutil.DialV5(t, a.Addr, "mon-pub")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // a steady trickle while the samples are taken
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_, _ = pub.Publish(t.Context(), &paho.Publish{Topic: "mon/x", Payload: []byte("m")})
			}
		}
	}()
	defer func() { close(stop); <-done }()

	type history struct {
		Node    string          `json:"node"`
		Samples []monitorSample `json:"samples"`
	}
	var hs []history
	rated := func(h history, f func(monitorSample) bool) bool { return slices.ContainsFunc(h.Samples, f) }
	testutil.Eventually(t, 20*time.Second, "history of three nodes with rates", func() bool {
		hs = nil
		c.Data("GET", "/monitor/history", nil, &hs)
		if len(hs) != 3 || hs[0].Node != a.Name || hs[1].Node != b.Name || hs[2].Node != c.Name {
			return false
		}
		for _, h := range hs {
			if len(h.Samples) < 5 {
				return false
			}
		}
		return rated(hs[0], func(s monitorSample) bool { return s.Received > 0 && s.Connections >= 1 }) &&
			rated(hs[1], func(s monitorSample) bool { return s.Sent > 0 && s.Connections >= 1 })
	})
	for _, h := range hs {
		for i, s := range h.Samples {
			if s.Memory == 0 || s.T == 0 || i > 0 && s.T <= h.Samples[i-1].T {
				t.Fatalf("%s sample %d: %+v", h.Node, i, s)
			}
		}
	}
	var first []history
	a.Data("GET", "/monitor/history", nil, &first)
	testutil.Eventually(t, 5*time.Second, "the history grows", func() bool {
		var now []history
		a.Data("GET", "/monitor/history", nil, &now)
		return len(now) == 3 && len(now[2].Samples) > len(first[2].Samples)
	})

	var cur []struct {
		Node string `json:"node"`
		monitorSample
	}
	b.Data("GET", "/monitor/current", nil, &cur)
	if len(cur) != 3 || cur[0].Node != a.Name || cur[2].Node != c.Name || cur[1].Memory == 0 || cur[1].T == 0 {
		t.Fatalf("current: %+v", cur)
	}
}
