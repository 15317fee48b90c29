package logging

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// EMQX 4.4 logs through OTP's logger: a primary level every record passes
// first, then one handler per destination with a level of its own
// (console: id console; log.to file: id file, its destination the file).
// emqx_ctl log changes them while the node runs (emqx_logger). Control is
// that here: the primary level and the handlers of the node's logger, each
// handler one zap core whose level is read on every record, so a change
// takes effect at once.

// Handler ids, as EMQX's (emqx.schema's kernel.logger translation).
const (
	HandlerConsole = "console"
	HandlerFile    = "file"
)

// levelNames are EMQX's (OTP logger's) levels, most verbose first.
var levelNames = []string{"all", "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency", "none"}

// offLevel is above every zap level: nothing passes it (EMQX's none).
const offLevel = zapcore.FatalLevel + 1

// zapLevel maps an EMQX level to the least severe zap level it lets
// through: notice is logged as info; critical, alert and emergency keep
// zap's DPanic, Panic and Fatal records; all is debug and none nothing.
func zapLevel(name string) (zapcore.Level, bool) {
	switch name {
	case "all", "debug":
		return zapcore.DebugLevel, true
	case "info", "notice":
		return zapcore.InfoLevel, true
	case "warning":
		return zapcore.WarnLevel, true
	case "error":
		return zapcore.ErrorLevel, true
	case "critical":
		return zapcore.DPanicLevel, true
	case "alert":
		return zapcore.PanicLevel, true
	case "emergency":
		return zapcore.FatalLevel, true
	case "none":
		return offLevel, true
	}
	return 0, false
}

// ValidLevel tells whether name is one of EMQX's log levels (with all and
// none).
func ValidLevel(name string) bool { return slices.Contains(levelNames, name) }

// levelVar is a level as EMQX names it and the zap level it lets through.
type levelVar struct {
	name atomic.Pointer[string]
	min  atomic.Int32
}

func (v *levelVar) set(name string) bool {
	l, ok := zapLevel(name)
	if !ok {
		return false
	}
	v.name.Store(&name)
	v.min.Store(int32(l))
	return true
}

func (v *levelVar) get() string { return *v.name.Load() }

func (v *levelVar) enabled(l zapcore.Level) bool { return int32(l) >= v.min.Load() }

// handler is one destination of the logger.
type handler struct {
	id, dst string
	level   levelVar
	started atomic.Bool
}

// Control is the run-time state of a logger's levels. Its methods are
// safe for concurrent use.
type Control struct {
	mu       sync.Mutex // serializes changes (reads are atomic)
	primary  levelVar
	handlers []*handler // in the order they were made
}

// NewControl makes a Control with primary level level (EMQX's level name;
// an unknown one is warning) and no handlers: a logger's Control when the
// logger was not built by New.
func NewControl(level string) *Control {
	c := &Control{}
	if !c.primary.set(level) {
		c.primary.set("warning")
	}
	return c
}

// addHandler adds a started handler and returns the enabler its core uses.
func (c *Control) addHandler(id, dst, level string) zapcore.LevelEnabler {
	h := &handler{id: id, dst: dst}
	if !h.level.set(level) {
		h.level.set("warning")
	}
	h.started.Store(true)
	c.handlers = append(c.handlers, h)
	return enabler{c, h}
}

// enabler lets a record through to a handler: the handler is started and
// the record passes the primary level and the handler's.
type enabler struct {
	c *Control
	h *handler
}

func (e enabler) Enabled(l zapcore.Level) bool {
	return e.h.started.Load() && e.c.primary.enabled(l) && e.h.level.enabled(l)
}

// HandlerInfo is one handler as emqx_logger:get_log_handlers/0 lists it.
type HandlerInfo struct {
	ID     string `json:"id"`
	Level  string `json:"level"`
	Dst    string `json:"destination"`
	Status string `json:"status"` // started or stopped
}

// Error is a failure in EMQX's terms: Reason and the handler id or level
// it concerns, printed as the Erlang tuple {Reason,Arg}.
type Error struct{ Reason, Arg string }

func (e *Error) Error() string { return fmt.Sprintf("{%s,%s}", e.Reason, e.Arg) }

// Primary is the primary level.
func (c *Control) Primary() string { return c.primary.get() }

// SetPrimary sets the primary level ({invalid_level,L} for an unknown one).
func (c *Control) SetPrimary(level string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.primary.set(level) {
		return &Error{"invalid_level", level}
	}
	return nil
}

// SetLevel sets the primary level and every handler's (emqx_logger:
// set_log_level/1: log set-level).
func (c *Control) SetLevel(level string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := zapLevel(level); !ok {
		return &Error{"invalid_level", level}
	}
	c.primary.set(level)
	for _, h := range c.handlers {
		h.level.set(level)
	}
	return nil
}

// Handlers lists the handlers: the started ones, then the stopped ones,
// as EMQX.
func (c *Control) Handlers() []HandlerInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	var started, stopped []HandlerInfo
	for _, h := range c.handlers {
		i := HandlerInfo{ID: h.id, Level: h.level.get(), Dst: h.dst}
		if h.started.Load() {
			i.Status = "started"
			started = append(started, i)
		} else {
			i.Status = "stopped"
			stopped = append(stopped, i)
		}
	}
	return append(started, stopped...)
}

// Handler is one handler's information ({not_found,Id} when there is none).
func (c *Control) Handler(id string) (HandlerInfo, error) {
	for _, i := range c.Handlers() {
		if i.ID == id {
			return i, nil
		}
	}
	return HandlerInfo{}, &Error{"not_found", id}
}

func (c *Control) find(id string) *handler {
	for _, h := range c.handlers {
		if h.id == id {
			return h
		}
	}
	return nil
}

// StartHandler starts a stopped handler (a started one stays started;
// {not_found,Id} when there is none).
func (c *Control) StartHandler(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.find(id)
	if h == nil {
		return &Error{"not_found", id}
	}
	h.started.Store(true)
	return nil
}

// StopHandler stops a handler: it writes nothing until started again
// ({not_started,Id} when it is not started or there is none).
func (c *Control) StopHandler(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.find(id)
	if h == nil || !h.started.Load() {
		return &Error{"not_started", id}
	}
	h.started.Store(false)
	return nil
}

// SetHandlerLevel sets a handler's level. As emqx_logger, a level the
// started handler refuses is reported as {not_found,Id}.
func (c *Control) SetHandlerLevel(id, level string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.find(id)
	if h == nil || !h.level.set(level) {
		return &Error{"not_found", id}
	}
	return nil
}

// controlled is what a core built by New carries: its Control.
type controlled interface{ logControl() *Control }

// ControlOf is the Control of a logger built by New (and of the loggers
// derived from it with With or Named); ok false for any other logger.
func ControlOf(z *zap.Logger) (c *Control, ok bool) {
	if cc, is := z.Core().(controlled); is && cc.logControl() != nil {
		return cc.logControl(), true
	}
	return nil, false
}

// gatedCore is a handler's core: it writes only what its levels let
// through now. (A tee writes every record it is handed to all its cores;
// the levels decide per handler here.)
type gatedCore struct{ zapcore.Core }

func (g gatedCore) With(fields []zapcore.Field) zapcore.Core { return gatedCore{g.Core.With(fields)} }

func (g gatedCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	if !g.Enabled(e.Level) {
		return nil
	}
	return g.Core.Write(e, fields)
}
