package cluster

import (
	"bytes"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// logFilter turns serf/memberlist's log.Logger lines into zap records and
// logs a repeated warning or error once per window: a peer with a wrong
// cookie makes memberlist complain about every packet, we say it once.
type logFilter struct {
	log    *zap.Logger
	window time.Duration

	mu   sync.Mutex
	seen map[string]time.Time
}

func newLogFilter(log *zap.Logger) *logFilter {
	return &logFilter{log: log, window: 10 * time.Minute, seen: map[string]time.Time{}}
}

func (f *logFilter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		f.line(string(line))
	}
	return len(p), nil
}

func (f *logFilter) line(s string) {
	level := "INFO"
	if i := strings.Index(s, "["); i >= 0 {
		if j := strings.Index(s[i:], "]"); j > 0 {
			level = s[i+1 : i+j]
			s = strings.TrimSpace(s[i+j+1:])
		}
	}
	switch level {
	case "DEBUG", "TRACE":
		f.log.Debug(s)
	case "INFO":
		f.log.Info(s)
	default:
		if !f.first(s) {
			return
		}
		if level == "WARN" {
			f.log.Warn(s)
		} else {
			f.log.Error(s)
		}
	}
}

// first reports whether key was not seen within the window.
func (f *logFilter) first(key string) bool {
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if t, ok := f.seen[key]; ok && now.Sub(t) < f.window {
		return false
	}
	if len(f.seen) > 4096 {
		f.seen = map[string]time.Time{}
	}
	f.seen[key] = now
	return true
}
