// Package ratelog decides whether a repeated log line is due: a peer that
// repeats a mistake (a wrong cookie on every packet, a scanner on the
// cluster port) is logged once per window, and the memory of what was
// logged stays bounded whatever the peer sends.
package ratelog

import (
	"sync"
	"time"
)

// maxKeys bounds the keys remembered; past it the memory starts afresh
// (a flood of distinct keys costs a few repeated lines, never memory).
const maxKeys = 4096

// Limiter remembers when each key was last let through. Safe for
// concurrent use; the zero value is not usable, use New.
type Limiter struct {
	window time.Duration

	mu   sync.Mutex
	seen map[string]time.Time
}

// New returns a Limiter that lets each key through once per window.
func New(window time.Duration) *Limiter {
	return &Limiter{window: window, seen: map[string]time.Time{}}
}

// First reports whether key was not let through within the window, and
// notes it now if so.
func (l *Limiter) First(key string) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.seen[key]; ok && now.Sub(t) < l.window {
		return false
	}
	if len(l.seen) >= maxKeys {
		l.seen = map[string]time.Time{}
	}
	l.seen[key] = now
	return true
}
