package metrics

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// EMQX 4.4's stats (emqx_stats): each <name>.count gauge has a <name>.max,
// the highest count seen.
var statNames = []string{
	"connections", "live_connections", "channels", "sessions",
	"topics", "suboptions", "subscribers", "subscriptions", "subscriptions.shared",
	"routes", "retained",
}

// Stats reads the gauges from their sources when asked and keeps their
// maxima. The zero value is ready; sources not set read 0.
type Stats struct {
	mu      sync.Mutex
	sources map[string]func() int
	max     map[string]uint64
	stop    chan struct{}
	done    chan struct{}
	running atomic.Bool
}

// SetSource makes the stat name (without .count, as "connections") read f.
func (s *Stats) SetSource(name string, f func() int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sources == nil {
		s.sources = map[string]func() int{}
	}
	s.sources[name] = f
}

// All reads every stat, updates the maxima and returns them sorted by
// name, as `emqx_ctl broker stats` lists them.
func (s *Stats) All() []Value {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max == nil {
		s.max = map[string]uint64{}
	}
	out := make([]Value, 0, 2*len(statNames))
	for _, name := range statNames {
		var v uint64
		if f := s.sources[name]; f != nil {
			if n := f(); n > 0 {
				v = uint64(n)
			}
		}
		m := max(s.max[name], v)
		s.max[name] = m
		out = append(out, Value{name + ".count", v}, Value{name + ".max", m})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Get reads one stat by its full name ("connections.max"); false: no such
// stat.
func (s *Stats) Get(name string) (uint64, bool) {
	for _, v := range s.All() {
		if v.Name == name {
			return v.Value, true
		}
	}
	return 0, false
}

// Start reads the stats every interval, so that the maxima catch peaks
// between reads (emqx_stats' one second tick). Stop ends it.
func (s *Stats) Start(interval time.Duration) {
	if !s.running.CompareAndSwap(false, true) {
		return
	}
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.All()
			}
		}
	}()
}

// Stop ends what Start started and waits for it.
func (s *Stats) Stop() {
	if !s.running.CompareAndSwap(true, false) {
		return
	}
	close(s.stop)
	<-s.done
}
