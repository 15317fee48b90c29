package dashboard

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// sessions are one node's logins: a random token (the cookie's value)
// names a user until it has not been used for idle. The table holds at
// most max: a login beyond that drops the least recently used one.
// Tokens are kept by their SHA-256, so the table never compares a
// secret.
type sessions struct {
	idle time.Duration
	max  int
	now  func() time.Time

	mu sync.Mutex
	m  map[[sha256.Size]byte]*session
}

type session struct {
	user string
	used time.Time
}

func newSessions(idle time.Duration, max int) *sessions {
	return &sessions{idle: idle, max: max, now: time.Now, m: map[[sha256.Size]byte]*session{}}
}

// tokenBytes is the randomness of a token.
const tokenBytes = 32

// create starts a session for user and returns its token.
func (s *sessions) create(user string) string {
	b := make([]byte, tokenBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather)
	tok := base64.RawURLEncoding.EncodeToString(b)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= s.max {
		s.purgeLocked(now)
	}
	for len(s.m) >= s.max {
		var oldest [sha256.Size]byte
		var at time.Time
		first := true
		for k, v := range s.m {
			if first || v.used.Before(at) {
				oldest, at, first = k, v.used, false
			}
		}
		delete(s.m, oldest)
	}
	s.m[sha256.Sum256([]byte(tok))] = &session{user: user, used: now}
	return tok
}

// get is the user of token, and marks the session used; false: no such
// session, or it expired.
func (s *sessions) get(tok string) (string, bool) {
	if len(tok) > 2*tokenBytes {
		return "", false
	}
	k := sha256.Sum256([]byte(tok))
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	if !ok {
		return "", false
	}
	if now.Sub(v.used) > s.idle {
		delete(s.m, k)
		return "", false
	}
	v.used = now
	return v.user, true
}

// drop ends the session of token.
func (s *sessions) drop(tok string) {
	k := sha256.Sum256([]byte(tok))
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
}

// dropUser ends every session of user but the one of token keep.
func (s *sessions) dropUser(user, keep string) {
	kk := sha256.Sum256([]byte(keep))
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m {
		if v.user == user && (keep == "" || k != kk) {
			delete(s.m, k)
		}
	}
}

// count is how many sessions the table holds (expired ones included
// until they are purged).
func (s *sessions) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func (s *sessions) purgeLocked(now time.Time) {
	for k, v := range s.m {
		if now.Sub(v.used) > s.idle {
			delete(s.m, k)
		}
	}
}
