package dashboard

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// limiter counts the failed logins of each remote address (an IPv6
// address by its /64, which one host usually has whole): limit failures
// per window, refilled evenly; beyond that the address is refused until
// a failure's worth has been refilled, whatever it sends. It tracks at
// most max addresses; when the table is full of addresses still counting,
// the others share one allowance (an attacker with many addresses cannot
// push its own out to start again, nor grow the table).
type limiter struct {
	limit  float64
	window time.Duration
	max    int
	now    func() time.Time

	mu sync.Mutex
	m  map[string]*bucket
}

type bucket struct {
	left float64 // failures still allowed
	at   time.Time
}

// overflow is the shared key of the addresses the table has no room for.
const overflow = "*"

func newLimiter(limit int, window time.Duration, max int) *limiter {
	return &limiter{limit: float64(limit), window: window, max: max, now: time.Now, m: map[string]*bucket{}}
}

// refill brings b up to now.
func (l *limiter) refill(b *bucket, now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.left = min(l.limit, b.left+l.limit*float64(d)/float64(l.window))
		b.at = now
	}
}

// wait is how long key is refused (0: not refused).
func (l *limiter) wait(key string) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.m[key]
	if !ok {
		if len(l.m) < l.max {
			return 0
		}
		if b, ok = l.m[overflow]; !ok {
			return 0
		}
	}
	l.refill(b, now)
	if b.left >= 1 {
		return 0
	}
	return time.Duration((1 - b.left) / l.limit * float64(l.window))
}

// fail counts one failed login of key.
func (l *limiter) fail(key string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.m[key]
	if !ok {
		if len(l.m) >= l.max {
			l.purgeLocked(now)
		}
		if len(l.m) >= l.max {
			key = overflow
			b = l.m[key]
		}
		if b == nil {
			b = &bucket{left: l.limit, at: now}
			l.m[key] = b
		}
	}
	l.refill(b, now)
	b.left = max(b.left-1, 0)
}

// purgeLocked forgets the addresses whose allowance is whole again.
func (l *limiter) purgeLocked(now time.Time) {
	for k, b := range l.m {
		l.refill(b, now)
		if b.left >= l.limit {
			delete(l.m, k)
		}
	}
}

// clientKey is the remote address of r as the limiter counts it.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
