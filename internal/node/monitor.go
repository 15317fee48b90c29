package node

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"emqxgo/internal/metrics"
	"emqxgo/internal/mgmt"
)

// The dashboard's charts: every node samples its connections, the
// messages it received and sent a second (from its metrics) and the
// memory it uses, every monitorEvery, into a ring of the last
// monitorPoints samples (10 minutes). GET /api/v4/monitor/history is
// every running node's ring, /monitor/current every node's last sample.

// monitorPoints is how many samples a node keeps.
const monitorPoints = 120

// monitorEvery is the sampling period (5 s; tests shorten it before
// their nodes start).
var monitorEvery atomic.Int64

func init() { monitorEvery.Store(int64(5 * time.Second)) }

// MonitorSample is one sample: when (unix ms), the connections, messages
// received and sent a second since the sample before, and the memory in
// use (bytes; memory_used of GET /nodes).
type MonitorSample struct {
	T           int64   `json:"t"`
	Connections uint64  `json:"connections"`
	Received    float64 `json:"received"`
	Sent        float64 `json:"sent"`
	Memory      uint64  `json:"memory"`
}

type monitor struct {
	stop chan struct{}
	done chan struct{} // closed when the sampler ended (or never ran)
	life sync.Mutex
	ran  bool // started
	shut bool // stopped: it does not start after

	mu    sync.Mutex
	ring  [monitorPoints]MonitorSample
	next  int // where the next sample goes
	count int // samples in the ring

	// what the last sample read (the sampler's own)
	recv, sent uint64
	at         time.Time
}

func newMonitor() *monitor {
	return &monitor{stop: make(chan struct{}), done: make(chan struct{})}
}

// startMonitor starts sampling (stopMonitor ends it).
func (n *Node) startMonitor() {
	m := n.mon
	m.life.Lock()
	defer m.life.Unlock()
	if m.ran || m.shut {
		return
	}
	m.ran = true
	snap := n.broker.Metrics().Snapshot()
	m.recv, m.sent, m.at = snap[metrics.MessagesReceived], snap[metrics.MessagesSent], time.Now()
	every := time.Duration(monitorEvery.Load())
	go func() {
		defer close(m.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.add(n.sample(m))
			}
		}
	}()
}

// stopMonitor ends the sampling and waits for it; safe twice, and on a
// node that never started it (it cannot start after).
func (n *Node) stopMonitor() {
	m := n.mon
	m.life.Lock()
	if !m.shut {
		m.shut = true
		close(m.stop)
		if !m.ran {
			close(m.done)
		}
	}
	m.life.Unlock()
	<-m.done
}

// sample reads the node now; the rates are since the sampler's last read.
func (n *Node) sample(m *monitor) MonitorSample {
	snap := n.broker.Metrics().Snapshot()
	recv, sent, now := snap[metrics.MessagesReceived], snap[metrics.MessagesSent], time.Now()
	secs := now.Sub(m.at).Seconds()
	rate := func(cur, prev uint64) float64 {
		if secs <= 0 || cur < prev {
			return 0
		}
		return math.Round(float64(cur-prev)/secs*100) / 100
	}
	s := MonitorSample{T: now.UnixMilli(), Received: rate(recv, m.recv), Sent: rate(sent, m.sent), Memory: memoryUsed()}
	s.Connections, _ = n.stats.Get("connections.count")
	m.recv, m.sent, m.at = recv, sent, now
	return s
}

func memoryUsed() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

func (m *monitor) add(s MonitorSample) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ring[m.next] = s
	m.next = (m.next + 1) % monitorPoints
	m.count = min(m.count+1, monitorPoints)
}

// history is the samples, oldest first.
func (m *monitor) history() []MonitorSample {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]MonitorSample, 0, m.count)
	for i := range m.count {
		out = append(out, m.ring[(m.next-m.count+i+monitorPoints)%monitorPoints])
	}
	return out
}

// current is the last sample; before the first, the node now with no
// rates.
func (n *Node) currentSample() MonitorSample {
	m := n.mon
	m.mu.Lock()
	c, last := m.count, m.ring[(m.next+monitorPoints-1)%monitorPoints]
	m.mu.Unlock()
	if c > 0 {
		return last
	}
	s := MonitorSample{T: time.Now().UnixMilli(), Memory: memoryUsed()}
	s.Connections, _ = n.stats.Get("connections.count")
	return s
}

// monitorCurrent is one node's row of GET /monitor/current.
type monitorCurrent struct {
	Node string `json:"node"`
	MonitorSample
}

func init() {
	registerOp("monitor.history", func(n *Node, _ []byte) (any, error) { return n.mon.history(), nil })
	registerOp("monitor.current", func(n *Node, _ []byte) (any, error) { return n.currentSample(), nil })

	registerAPI("GET /monitor/history", func(n *Node, _ *mgmt.Request) (any, error) {
		return perNode(n, "monitor.history", func(node string, v []MonitorSample) any {
			if v == nil {
				v = []MonitorSample{}
			}
			return map[string]any{"node": node, "samples": v}
		}), nil
	})
	registerAPI("GET /monitor/current", func(n *Node, _ *mgmt.Request) (any, error) {
		return perNode(n, "monitor.current", func(node string, v MonitorSample) any {
			return monitorCurrent{Node: node, MonitorSample: v}
		}), nil
	})
}
