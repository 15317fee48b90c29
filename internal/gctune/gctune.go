// Package gctune keeps the garbage collector from running every few
// megabytes while the live heap is small.
//
// With GOGC=100 the next collection is due when the heap has grown by its
// live size, and never below 4 MB. A broker's live heap is small until
// many clients connect, while every message it routes leaves garbage
// behind (mochi allocates a few KB per publish): at tens of thousands of
// messages a second that is dozens of collections a second, each scanning
// the roots again. gctune gives the heap a floor of headroom instead: after
// each collection it sets the GC percentage so that the next one is due at
// max(2 x live, live + headroom). A large live heap (10k connections) keeps
// plain GOGC=100, so memory per connection does not change; a small one
// trades up to headroom bytes of memory for far fewer collections.
//
// An operator's GOGC or GOMEMLIMIT in the environment wins: gctune then
// does nothing.
package gctune

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// Headroom is the default floor of garbage allowed between collections.
const Headroom = 32 << 20

var (
	mu      sync.Mutex
	running *tuner
)

type tuner struct {
	headroom uint64
	stopped  atomic.Bool
	percent  int
	sample   []metrics.Sample
}

// Start tunes the collector until stop is called; it returns a no-op stop
// if GOGC or GOMEMLIMIT is set in the environment or a tuner already runs.
func Start(headroom uint64) (stop func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	mu.Lock()
	defer mu.Unlock()
	if running != nil {
		return func() {}
	}
	t := &tuner{headroom: headroom, percent: 100,
		sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	running = t
	t.arm()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		if running == t {
			t.stopped.Store(true)
			running = nil
			debug.SetGCPercent(100)
		}
	}
}

// arm registers a callback for the end of the next collection: a cleanup
// of an object that only the collector can find unreachable.
func (t *tuner) arm() {
	sentinel := new([16]byte)
	runtime.AddCleanup(sentinel, func(t *tuner) { t.afterGC() }, t)
}

func (t *tuner) afterGC() {
	if t.stopped.Load() {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	if running != t {
		return
	}
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		if p := Percent(t.sample[0].Value.Uint64(), t.headroom); p != t.percent {
			debug.SetGCPercent(p)
			t.percent = p
		}
	}
	t.arm()
}

// Percent is the GC percentage that puts the next collection at
// max(2 x live, live + headroom), rounded up to a multiple of 10 so that
// small changes of the live heap do not reset the pacer every cycle.
func Percent(live, headroom uint64) int {
	if live == 0 {
		live = 1
	}
	p := 100
	if headroom > live {
		p = int((headroom*100 + live - 1) / live)
	}
	p = (p + 9) / 10 * 10
	return min(p, 1<<20)
}
