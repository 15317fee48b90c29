package logging

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Bounds on what one log line may cost, whatever clients and peers send.
const (
	// maxValue bounds each string, error or formatted value in a line; a
	// client id or a peer's node name can be as long as a packet.
	maxValue = 512
	// maxMessage bounds a line's message.
	maxMessage = 1024
	// repeatWindow: a warning or error whose logger and message repeat
	// within it is written once; the rest are counted.
	repeatWindow = 10 * time.Second
	// maxRepeatKeys bounds the memory of repeats.
	maxRepeatKeys = 4096
)

// limitCore wraps the node's core: it cuts every value short (maxValue)
// and summarises repeated warnings and errors: the first of a kind in a
// window is written, the others are counted and the count is written with
// the next one after the window, or on its own once the window is over
// (checked on later writes and on Sync), as the field "repeated".
type limitCore struct {
	zapcore.Core
	rep *repeats
	ctl *Control // the levels of the cores within (ControlOf)
}

func newLimitCore(c zapcore.Core, ctl *Control) zapcore.Core {
	return &limitCore{Core: c, rep: &repeats{window: repeatWindow, keys: map[string]*repeat{}}, ctl: ctl}
}

func (c *limitCore) With(fields []zapcore.Field) zapcore.Core {
	return &limitCore{Core: c.Core.With(limitFields(fields)), rep: c.rep, ctl: c.ctl}
}

func (c *limitCore) logControl() *Control { return c.ctl }

func (c *limitCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *limitCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	e.Message = cut(e.Message, maxMessage)
	fields = limitFields(fields)
	now := time.Now()
	if e.Level < zapcore.WarnLevel {
		c.flushDue(now)
		return c.Core.Write(e, fields)
	}
	write, n := c.rep.admit(e, fields, c.Core, now)
	c.flushDue(now)
	if !write {
		return nil
	}
	if n > 0 {
		fields = append(fields[:len(fields):len(fields)], zap.Int("repeated", n))
	}
	return c.Core.Write(e, fields)
}

// Sync writes the counts still pending, then syncs.
func (c *limitCore) Sync() error {
	c.flush(c.rep.due(time.Time{}))
	return c.Core.Sync()
}

func (c *limitCore) flushDue(now time.Time) {
	if c.rep.sweepDue(now) {
		c.flush(c.rep.due(now))
	}
}

func (c *limitCore) flush(ps []pending) {
	for _, p := range ps {
		fields := append(p.fields[:len(p.fields):len(p.fields)], zap.Int("repeated", p.n))
		_ = p.core.Write(p.entry, fields)
	}
}

// repeats remembers, per logger and message, the window of the last line
// written and what was suppressed since.
type repeats struct {
	window time.Duration

	mu        sync.Mutex
	keys      map[string]*repeat
	lastSweep time.Time
}

type repeat struct {
	since time.Time // start of the window: when a line of this kind was last written
	n     int       // suppressed since
	// the last suppressed line, written with the count when nothing of
	// its kind follows
	entry  zapcore.Entry
	fields []zapcore.Field
	core   zapcore.Core
}

type pending struct {
	entry  zapcore.Entry
	fields []zapcore.Field
	core   zapcore.Core
	n      int
}

// admit decides whether a warning or error is written now; n is how many
// of its kind were suppressed before it.
func (r *repeats) admit(e zapcore.Entry, fields []zapcore.Field, core zapcore.Core, now time.Time) (write bool, n int) {
	key := e.LoggerName + "\x00" + e.Message
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.keys[key]
	if p == nil {
		if len(r.keys) >= maxRepeatKeys {
			r.keys = map[string]*repeat{} // a flood of distinct lines costs lines, never memory
		}
		r.keys[key] = &repeat{since: now}
		return true, 0
	}
	if now.Sub(p.since) >= r.window {
		n = p.n
		*p = repeat{since: now}
		return true, n
	}
	p.n++
	p.entry, p.fields, p.core = e, fields, core
	return false, 0
}

// sweepDue reports whether a second passed since the last sweep.
func (r *repeats) sweepDue(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.lastSweep) < time.Second {
		return false
	}
	r.lastSweep = now
	return true
}

// due takes the counts of the kinds whose window is over (all of them
// when now is zero) and forgets kinds with nothing pending.
func (r *repeats) due(now time.Time) []pending {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []pending
	for k, p := range r.keys {
		if !now.IsZero() && now.Sub(p.since) < r.window {
			continue
		}
		if p.n > 0 {
			out = append(out, pending{entry: p.entry, fields: p.fields, core: p.core, n: p.n})
			*p = repeat{since: now}
			continue
		}
		delete(r.keys, k)
	}
	return out
}

// limitFields cuts long values short; it copies fields only when it must.
func limitFields(fields []zapcore.Field) []zapcore.Field {
	out := fields
	copied := false
	for i, f := range fields {
		g, changed := limitField(f)
		if !changed {
			continue
		}
		if !copied {
			out = append([]zapcore.Field(nil), fields...)
			copied = true
		}
		out[i] = g
	}
	return out
}

func limitField(f zapcore.Field) (zapcore.Field, bool) {
	switch f.Type {
	case zapcore.StringType:
		if len(f.String) > maxValue {
			return zap.String(f.Key, cut(f.String, maxValue)), true
		}
	case zapcore.ByteStringType, zapcore.BinaryType:
		if b, ok := f.Interface.([]byte); ok && len(b) > maxValue {
			return zap.String(f.Key, cut(string(b), maxValue)), true
		}
	case zapcore.ErrorType:
		if err, ok := f.Interface.(error); ok && err != nil {
			if s := err.Error(); len(s) > maxValue {
				return zap.String(f.Key, cut(s, maxValue)), true
			}
		}
	case zapcore.StringerType:
		if st, ok := f.Interface.(fmt.Stringer); ok {
			if s := st.String(); len(s) > maxValue {
				return zap.String(f.Key, cut(s, maxValue)), true
			}
		}
	case zapcore.ReflectType:
		// Encoded here to bound it: a packet logged by the MQTT engine
		// carries its payload. Short values are left to the encoder.
		b, err := json.Marshal(f.Interface)
		if err == nil && len(b) > maxValue {
			return zap.String(f.Key, cut(string(b), maxValue)), true
		}
	}
	return f, false
}

// cut shortens s to at most max bytes (on a rune boundary) and says how
// much was left out.
func cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "...(" + strconv.Itoa(len(s)-i) + " more bytes)"
}
