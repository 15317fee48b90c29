package alarm_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"emqxgo/internal/alarm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type change struct {
	activated bool
	a         alarm.Alarm
}

type recorder struct {
	mu sync.Mutex
	cs []change
}

func (r *recorder) changed(activated bool, a alarm.Alarm) {
	r.mu.Lock()
	r.cs = append(r.cs, change{activated, a})
	r.mu.Unlock()
}

func (r *recorder) all() []change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]change(nil), r.cs...)
}

// TestActivateDeactivate: an alarm is active once; deactivating it moves
// it to the history with both times; each change is reported in order,
// the deactivation with EMQX's no_details.
func TestActivateDeactivate(t *testing.T) {
	var rec recorder
	a := alarm.New(alarm.Config{Changed: rec.changed})
	a.Start()
	defer a.Stop()

	if err := a.Activate("high_cpu_usage", map[string]any{"usage": "91%"}, "91% cpu usage"); err != nil {
		t.Fatal(err)
	}
	if err := a.Activate("high_cpu_usage", nil, "again"); !errors.Is(err, alarm.ErrAlreadyExists) {
		t.Fatalf("second activate: %v, want already_existed", err)
	}
	if !a.IsActive("high_cpu_usage") || len(a.Activated()) != 1 || len(a.Deactivated()) != 0 {
		t.Fatalf("activated %v, deactivated %v", a.Activated(), a.Deactivated())
	}
	if err := a.Deactivate("nope"); !errors.Is(err, alarm.ErrNotFound) {
		t.Fatalf("deactivate unknown: %v, want not_found", err)
	}
	if err := a.Deactivate("high_cpu_usage"); err != nil {
		t.Fatal(err)
	}
	if a.IsActive("high_cpu_usage") || len(a.Activated()) != 0 {
		t.Fatalf("still active: %v", a.Activated())
	}
	d := a.Deactivated()
	if len(d) != 1 || d[0].Activated || d[0].DeactivateAt == alarm.Infinity || int64(d[0].DeactivateAt) < d[0].ActivateAt ||
		d[0].Message != "91% cpu usage" {
		t.Fatalf("history: %+v", d)
	}
	cs := rec.all()
	if len(cs) != 2 || !cs[0].activated || cs[0].a.Name != "high_cpu_usage" || cs[1].activated ||
		cs[1].a.Details != "no_details" || cs[1].a.Message != "high_cpu_usage" {
		t.Fatalf("changes: %+v", cs)
	}
	// activated again: a new activation, the old one stays in the history
	if err := a.Activate("high_cpu_usage", nil, "again"); err != nil {
		t.Fatal(err)
	}
	if all := a.All(); len(all) != 2 || !all[0].Activated || all[1].Activated {
		t.Fatalf("all: %+v", all)
	}
	a.DeleteDeactivated()
	if len(a.Deactivated()) != 0 || len(a.Activated()) != 1 {
		t.Fatalf("after delete: %v %v", a.Activated(), a.Deactivated())
	}
}

// TestJSON: EMQX's fields and order; an active alarm's deactivate_at is
// "infinity"; duration only where asked for.
func TestJSON(t *testing.T) {
	a := alarm.New(alarm.Config{})
	if err := a.Activate("peer_link_down/emqx2@127.0.0.1", map[string]any{"peer": "emqx2@127.0.0.1"}, "down"); err != nil {
		t.Fatal(err)
	}
	al := a.Activated()[0]
	b, _ := json.Marshal(al)
	want := fmt.Sprintf(`{"activate_at":%d,"activated":true,"deactivate_at":"infinity","details":{"peer":"emqx2@127.0.0.1"},"message":"down","name":"peer_link_down/emqx2@127.0.0.1"}`, al.ActivateAt)
	if string(b) != want {
		t.Fatalf("json\n got %s\nwant %s", b, want)
	}
	var back alarm.Alarm
	if err := json.Unmarshal(b, &back); err != nil || back.DeactivateAt != alarm.Infinity || !back.Activated {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	now := time.UnixMicro(al.ActivateAt + 1500)
	if d := al.WithDuration(now); d.Duration == nil || *d.Duration != 1500 {
		t.Fatalf("duration: %+v", d)
	}
	_ = a.Deactivate(al.Name)
	h := a.Deactivated()[0].WithDuration(time.Now().Add(time.Hour))
	if *h.Duration != int64(h.DeactivateAt)-h.ActivateAt {
		t.Fatalf("history duration: %+v", h)
	}
	b, _ = json.Marshal(h)
	if !strings.Contains(string(b), fmt.Sprintf(`"deactivate_at":%d,`, h.DeactivateAt)) || !strings.Contains(string(b), `"duration":`) {
		t.Fatalf("history json: %s", b)
	}
}

// TestSizeLimit: the history keeps the newest size_limit activations.
func TestSizeLimit(t *testing.T) {
	a := alarm.New(alarm.Config{SizeLimit: 3})
	for i := range 5 {
		name := fmt.Sprint("a", i)
		if err := a.Activate(name, nil, name); err != nil {
			t.Fatal(err)
		}
		if err := a.Deactivate(name); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for _, al := range a.Deactivated() {
		names = append(names, al.Name)
	}
	if strings.Join(names, ",") != "a2,a3,a4" {
		t.Fatalf("history %v, want a2,a3,a4", names)
	}
}

// TestValidityPeriod: deactivated alarms activated a validity period ago
// go; newer ones and active ones stay.
func TestValidityPeriod(t *testing.T) {
	a := alarm.New(alarm.Config{ValidityPeriod: time.Hour})
	for _, name := range []string{"old", "new", "up"} {
		if err := a.Activate(name, nil, name); err != nil {
			t.Fatal(err)
		}
	}
	_ = a.Deactivate("old")
	_ = a.Deactivate("new")
	d := a.Deactivated()
	// as seen an hour after "old" was activated, but not "new"
	a.DeleteExpired(time.UnixMicro(d[0].ActivateAt).Add(time.Hour))
	if d := a.Deactivated(); len(d) != 1 || d[0].Name != "new" {
		t.Fatalf("history: %+v", d)
	}
	a.DeleteExpired(time.Now().Add(2 * time.Hour))
	if len(a.Deactivated()) != 0 || !a.IsActive("up") {
		t.Fatalf("after expiry: %v %v", a.Activated(), a.Deactivated())
	}
}

// TestRestart: the history survives a restart, and alarms active when the
// node stopped are deactivated at start (emqx_alarm's init).
func TestRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "alarms", "emqx@127.0.0.1.json")
	a := alarm.New(alarm.Config{File: file})
	a.Start()
	_ = a.Activate("gone", map[string]any{"x": 1}, "gone")
	_ = a.Deactivate("gone")
	_ = a.Activate("still", map[string]any{"y": 2}, "still")
	a.Stop()
	a.Stop()

	b := alarm.New(alarm.Config{File: file})
	b.Start()
	defer b.Stop()
	if len(b.Activated()) != 0 {
		t.Fatalf("active after restart: %v", b.Activated())
	}
	d := b.Deactivated()
	if len(d) != 2 || d[0].Name != "gone" || d[1].Name != "still" || d[1].Message != "still" || d[1].DeactivateAt == alarm.Infinity {
		t.Fatalf("history after restart: %+v", d)
	}
	if err := b.Activate("still", nil, "again"); err != nil {
		t.Fatal(err)
	}
}

// TestStopWithoutStart: Stop is safe without Start and twice; Start after
// Stop does nothing.
func TestStopWithoutStart(t *testing.T) {
	a := alarm.New(alarm.Config{})
	a.Stop()
	a.Stop()
	a.Start()
	a.Stop()
}
