// Package gctune keeps the garbage collector from running every few
// megabytes while the live heap is small and the node is busy.
//
// With GOGC=100 the next collection is due when the heap has grown by its
// live size, and never below 4 MB. A broker's live heap is small until
// many clients connect, while every message it routes leaves garbage
// behind (mochi allocates a few KB per publish): at tens of thousands of
// messages a second that is dozens of collections a second, each scanning
// the roots again. gctune gives the heap headroom in proportion to how fast
// it allocates: after each collection it sets the GC percentage so that
// the next one is due at max(2 x live, live + headroom), where headroom is
// what the node allocates in Interval at its recent rate, capped. A node
// at a moderate rate keeps a small heap (plain GOGC=100): fresh memory
// for every allocation would cost more in cache misses and page faults than
// the collections it saves (measured at 5000 msg/s: 1.9x the CPU of a
// small heap). A busy one gets up to the cap, and a large live heap (10k
// connections) keeps plain GOGC=100, so memory per connection does not
// change.
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
	"time"
)

// Headroom is the default cap of the garbage allowed between collections.
const Headroom = 32 << 20

// Interval is the time between collections the headroom aims at: a node
// allocating faster than 4 MB per Interval gets more room, up to the cap.
const Interval = 100 * time.Millisecond

var (
	mu      sync.Mutex
	running *tuner
)

type tuner struct {
	headroom uint64 // the cap
	stopped  atomic.Bool
	percent  int
	sample   []metrics.Sample
	// the allocation rate, bytes per second, smoothed over collections;
	// allocs and at: the cumulative allocation count at the last one
	rate   float64
	allocs uint64
	at     time.Time
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
		sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/heap/allocs:bytes"}}}
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
	if t.sample[0].Value.Kind() == metrics.KindUint64 && t.sample[1].Value.Kind() == metrics.KindUint64 {
		now, allocs := time.Now(), t.sample[1].Value.Uint64()
		if !t.at.IsZero() {
			if el := now.Sub(t.at).Seconds(); el > 0 {
				t.rate = Smooth(t.rate, float64(allocs-t.allocs)/el)
			}
		}
		t.at, t.allocs = now, allocs
		if p := Percent(t.sample[0].Value.Uint64(), Room(t.rate, t.headroom)); p != t.percent {
			debug.SetGCPercent(p)
			t.percent = p
		}
	}
	t.arm()
}

// Smooth folds a new rate into the one in use: a rise counts half (one
// busy cycle does not give the heap all the room), a fall counts whole (a
// node back at a moderate rate gets its small heap at the next
// collection). The rate does not depend on the heap's size, so this does
// not oscillate.
func Smooth(old, now float64) float64 {
	if old == 0 || now <= old {
		return now
	}
	return (old + now) / 2
}

// Room is the headroom for an allocation rate (bytes per second): what is
// allocated in Interval, at most limit.
func Room(rate float64, limit uint64) uint64 {
	r := rate * Interval.Seconds()
	if r >= float64(limit) {
		return limit
	}
	return uint64(r)
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
