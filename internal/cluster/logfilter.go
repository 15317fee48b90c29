package cluster

import (
	"bytes"
	"strings"
	"time"

	"go.uber.org/zap"

	"emqxgo/internal/ratelog"
)

// logFilter turns serf/memberlist's log.Logger lines into zap records and
// logs a repeated warning or error once per window: a peer with a wrong
// cookie makes memberlist complain about every packet, we say it once.
type logFilter struct {
	log  *zap.Logger
	once *ratelog.Limiter
}

func newLogFilter(log *zap.Logger) *logFilter {
	return &logFilter{log: log, once: ratelog.New(10 * time.Minute)}
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
		if !f.once.First(s) {
			return
		}
		if level == "WARN" {
			f.log.Warn(s)
		} else {
			f.log.Error(s)
		}
	}
}
