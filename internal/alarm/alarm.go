// Package alarm keeps a node's alarms as EMQX 4.4's emqx_alarm does: an
// alarm is activated by name with details and a message, at most once at a
// time; deactivating it moves it to a bounded history of deactivated
// alarms (alarm.size_limit entries, the oldest activation dropped first;
// entries older than alarm.validity_period deleted). Both lists belong to
// the node alone (EMQX's tables are local_content) and survive a restart
// (its tables are disc_copies): what was still active when the node
// stopped is moved to the history at the next start, as emqx_alarm's init
// does.
//
// Times are microseconds since the epoch, as in EMQX; an active alarm's
// deactivate_at is "infinity".
package alarm

import (
	"cmp"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"
)

// EMQX's defaults of alarm.size_limit and alarm.validity_period.
const (
	DefaultSizeLimit      = 1000
	DefaultValidityPeriod = 24 * time.Hour
)

// Errors, as emqx_alarm names them.
var (
	ErrAlreadyExists = errors.New("already_existed")
	ErrNotFound      = errors.New("not_found")
)

// Infinity is deactivate_at of an active alarm.
const Infinity Stamp = 0

// Stamp is deactivate_at: microseconds since the epoch, or Infinity
// (JSON "infinity").
type Stamp int64

// MarshalJSON writes Infinity as "infinity".
func (s Stamp) MarshalJSON() ([]byte, error) {
	if s == Infinity {
		return []byte(`"infinity"`), nil
	}
	return json.Marshal(int64(s))
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Stamp) UnmarshalJSON(b []byte) error {
	if string(b) == `"infinity"` {
		*s = Infinity
		return nil
	}
	var v int64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = Stamp(v)
	return nil
}

// Alarm is one alarm as emqx_alarm:normalize/1 shows it (the fields in the
// order EMQX's JSON has them). Duration is set only in the lists of the
// HTTP API (emqx_mgmt adds it): microseconds active, until now or until
// deactivated.
type Alarm struct {
	ActivateAt   int64  `json:"activate_at"`
	Activated    bool   `json:"activated"`
	DeactivateAt Stamp  `json:"deactivate_at"`
	Details      any    `json:"details"`
	Duration     *int64 `json:"duration,omitempty"`
	Message      string `json:"message"`
	Name         string `json:"name"`
}

// WithDuration is a with its duration as of now (emqx_mgmt's
// add_duration_field).
func (a Alarm) WithDuration(now time.Time) Alarm {
	d := now.UnixMicro() - a.ActivateAt
	if !a.Activated {
		d = int64(a.DeactivateAt) - a.ActivateAt
	}
	a.Duration = &d
	return a
}

// Config is what the alarms need.
type Config struct {
	// SizeLimit bounds the deactivated history (alarm.size_limit; 0: no
	// bound). ValidityPeriod is how long a deactivated alarm is kept
	// (alarm.validity_period; 0: DefaultValidityPeriod).
	SizeLimit      int
	ValidityPeriod time.Duration
	// File keeps both lists across restarts ("": in memory only).
	File string
	// Changed runs on every activation (activated true) and deactivation,
	// in order, with the lock held: it must not call back into Alarms.
	// A deactivation is passed as EMQX publishes it: details
	// "no_details" and the name as message.
	Changed func(activated bool, a Alarm)
	Log     *zap.Logger
}

// Alarms is one node's alarms. Its methods may be called concurrently.
type Alarms struct {
	cfg Config
	log *zap.Logger

	mu          sync.Mutex
	active      map[string]Alarm
	deactivated []Alarm // activate_at ascending
	saveFailed  bool    // a failed save was logged: the next is logged once it works again

	startOnce, stopOnce sync.Once
	stop                chan struct{}
	done                chan struct{}
}

// New makes the alarms; Start reads what File kept.
func New(cfg Config) *Alarms {
	if cfg.ValidityPeriod <= 0 {
		cfg.ValidityPeriod = DefaultValidityPeriod
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	return &Alarms{cfg: cfg, log: cfg.Log, active: map[string]Alarm{}, stop: make(chan struct{}), done: make(chan struct{})}
}

// Start reads the lists File kept (the alarms then active become
// deactivated, now) and starts deleting expired history. Once; not after
// Stop.
func (a *Alarms) Start() {
	a.startOnce.Do(func() {
		select {
		case <-a.stop:
			close(a.done)
			return
		default:
		}
		a.load()
		go a.expire()
	})
}

// Stop ends what Start started; safe to call twice, and without Start.
func (a *Alarms) Stop() {
	a.stopOnce.Do(func() { close(a.stop) })
	a.startOnce.Do(func() { close(a.done) }) // never started: nothing to wait for
	<-a.done
}

// expireEvery is how often expired history is looked for (EMQX: once per
// validity period; more often here, so nothing stays much past it).
func (a *Alarms) expireEvery() time.Duration { return min(a.cfg.ValidityPeriod, time.Minute) }

func (a *Alarms) expire() {
	defer close(a.done)
	t := time.NewTicker(a.expireEvery())
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case now := <-t.C:
			a.DeleteExpired(now)
		}
	}
}

// DeleteExpired deletes the deactivated alarms activated a validity period
// or more before now.
func (a *Alarms) DeleteExpired(now time.Time) {
	limit := now.Add(-a.cfg.ValidityPeriod).UnixMicro()
	a.mu.Lock()
	defer a.mu.Unlock()
	k := sort.Search(len(a.deactivated), func(i int) bool { return a.deactivated[i].ActivateAt > limit })
	if k == 0 {
		return
	}
	a.deactivated = slices.Delete(a.deactivated, 0, k)
	a.save()
}

// Activate raises the alarm name; ErrAlreadyExists if it is active.
func (a *Alarms) Activate(name string, details any, message string) error {
	if details == nil {
		details = map[string]any{}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.active[name]; ok {
		return ErrAlreadyExists
	}
	al := Alarm{Name: name, Details: details, Message: message, ActivateAt: a.now(), Activated: true}
	a.active[name] = al
	a.save()
	if a.cfg.Changed != nil {
		a.cfg.Changed(true, al)
	}
	return nil
}

// now is the time in microseconds, later than any activation kept: two
// activations in one microsecond would share EMQX's history key.
func (a *Alarms) now() int64 {
	t := time.Now().UnixMicro()
	if n := len(a.deactivated); n > 0 && a.deactivated[n-1].ActivateAt >= t {
		t = a.deactivated[n-1].ActivateAt + 1
	}
	for _, al := range a.active {
		if al.ActivateAt >= t {
			t = al.ActivateAt + 1
		}
	}
	return t
}

// Deactivate clears the alarm name into the history; ErrNotFound if it
// is not active.
func (a *Alarms) Deactivate(name string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	al, ok := a.active[name]
	if !ok {
		return ErrNotFound
	}
	delete(a.active, name)
	at := max(time.Now().UnixMicro(), al.ActivateAt)
	a.keep(al, at)
	a.save()
	if a.cfg.Changed != nil {
		a.cfg.Changed(false, Alarm{Name: name, Details: "no_details", Message: name, ActivateAt: al.ActivateAt,
			DeactivateAt: Stamp(at)})
	}
	return nil
}

// keep adds al, deactivated at at, to the history, dropping the oldest
// activation when the history is full (a.mu held).
func (a *Alarms) keep(al Alarm, at int64) {
	if l := a.cfg.SizeLimit; l > 0 && len(a.deactivated) >= l {
		a.deactivated = slices.Delete(a.deactivated, 0, len(a.deactivated)-l+1)
	}
	al.Activated, al.DeactivateAt = false, Stamp(at)
	i := sort.Search(len(a.deactivated), func(i int) bool { return a.deactivated[i].ActivateAt > al.ActivateAt })
	a.deactivated = slices.Insert(a.deactivated, i, al)
}

// IsActive reports whether the alarm name is active.
func (a *Alarms) IsActive(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.active[name]
	return ok
}

// Activated lists the active alarms, oldest activation first.
func (a *Alarms) Activated() []Alarm {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.activated()
}

func (a *Alarms) activated() []Alarm {
	out := make([]Alarm, 0, len(a.active))
	for _, al := range a.active {
		out = append(out, al)
	}
	slices.SortFunc(out, func(x, y Alarm) int { return cmp.Compare(x.ActivateAt, y.ActivateAt) })
	return out
}

// Deactivated lists the history, oldest activation first.
func (a *Alarms) Deactivated() []Alarm {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.deactivated)
}

// All lists the active alarms, then the history.
func (a *Alarms) All() []Alarm {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append(a.activated(), a.deactivated...)
}

// DeleteDeactivated empties the history.
func (a *Alarms) DeleteDeactivated() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.deactivated = nil
	a.save()
}

// saved is File's content.
type saved struct {
	Activated   []Alarm `json:"activated"`
	Deactivated []Alarm `json:"deactivated"`
}

// load reads File: the history as it was, the alarms then active
// deactivated now (emqx_alarm's deactivate_all_alarms at init).
func (a *Alarms) load() {
	if a.cfg.File == "" {
		return
	}
	b, err := os.ReadFile(a.cfg.File)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	var s saved
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err != nil {
		a.log.Warn("alarm history not read; starting with none", zap.String("file", a.cfg.File), zap.Error(err))
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, al := range s.Deactivated {
		a.keep(al, int64(al.DeactivateAt))
	}
	now := time.Now().UnixMicro()
	for _, al := range s.Activated {
		a.keep(al, max(now, al.ActivateAt))
	}
	a.save()
}

// save writes File, atomically (a.mu held). Alarms change seldom and the
// history is bounded, so every change is written at once.
func (a *Alarms) save() {
	if a.cfg.File == "" {
		return
	}
	b, err := json.Marshal(saved{Activated: a.activated(), Deactivated: a.deactivated})
	if err == nil {
		err = writeFile(a.cfg.File, b)
	}
	switch {
	case err != nil && !a.saveFailed:
		a.saveFailed = true
		a.log.Error("cannot save the alarms; they are kept in memory", zap.String("file", a.cfg.File), zap.Error(err))
	case err == nil && a.saveFailed:
		a.saveFailed = false
		a.log.Info("alarms saved again", zap.String("file", a.cfg.File))
	}
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
