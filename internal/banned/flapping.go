package banned

import (
	"sync"
	"time"

	"emqxgo/internal/config"
)

// maxTracked bounds the client ids a Detector counts for: past it, those
// whose window is over are forgotten (at most once a second), then any
// one. A flood of distinct client ids costs a missed detection, never
// memory.
const maxTracked = 65536

// count is a client id's connections since its window started.
type count struct {
	start time.Time
	n     int
}

// Detector counts each client id's connections on this node within
// flapping_detect_policy's window. Safe for concurrent use.
type Detector struct {
	policy config.FlappingPolicy
	max    int
	now    func() time.Time

	mu        sync.Mutex
	m         map[string]count
	lastSweep time.Time
}

// NewDetector returns a detector for the policy.
func NewDetector(p config.FlappingPolicy) *Detector {
	return &Detector{policy: p, max: maxTracked, now: time.Now, m: map[string]count{}}
}

// Connected notes a connection of clientID; it reports whether the client
// id is flapping: this is its policy.MaxCount-th connection within the
// window (n is the count). Its count then starts afresh.
func (d *Detector) Connected(clientID string) (n int, flapping bool) {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.m[clientID]
	if !ok || now.Sub(c.start) >= d.policy.Window {
		if !ok && len(d.m) >= d.max {
			d.makeRoom(now)
		}
		c = count{start: now}
	}
	c.n++
	if c.n >= d.policy.MaxCount {
		delete(d.m, clientID)
		return c.n, true
	}
	d.m[clientID] = c
	return c.n, false
}

// makeRoom forgets the counts whose window is over (if it did not in the
// last second), then any one if that freed nothing. d.mu held.
func (d *Detector) makeRoom(now time.Time) {
	if now.Sub(d.lastSweep) >= time.Second {
		d.lastSweep = now
		for id, c := range d.m {
			if now.Sub(c.start) >= d.policy.Window {
				delete(d.m, id)
			}
		}
	}
	for id := range d.m {
		if len(d.m) < d.max {
			break
		}
		delete(d.m, id)
	}
}

// tracked is how many client ids are counted (tests).
func (d *Detector) tracked() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.m)
}
