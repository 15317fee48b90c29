package logging

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"emqxgo/internal/config"
)

// TestFloodSummarised: 100000 identical warnings (from zap and from the
// MQTT engine's slog bridge) write one line each, and the count of the
// others is written at Sync; other messages are not held back.
func TestFloodSummarised(t *testing.T) {
	dir := t.TempDir()
	l, err := New(config.Log{Level: "warning", Dir: dir, File: "emqx.log", RotationSize: 10 << 20, RotationCount: 2}, "file")
	if err != nil {
		t.Fatal(err)
	}
	mochi := Slog(l.Logger)
	for i := 0; i < 100000; i++ {
		l.Warn("subscriber is slow; message dropped", zap.Int("i", i))
		mochi.Warn("client store quota reached", "client", "c1")
	}
	l.Error("something else")
	l.Close()
	b, err := os.ReadFile(filepath.Join(dir, "emqx.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 5 (two kinds, each once and then its count, and the other error):\n%s", len(lines), b)
	}
	for _, want := range []string{`"repeated": 99999`, "something else"} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("log lacks %s:\n%s", want, b)
		}
	}
}

// TestRepeatWindows: within a window only the first line of a kind is
// written; the next one after the window carries the count; a kind whose
// window ended with a count pending is flushed on its own.
func TestRepeatWindows(t *testing.T) {
	r := &repeats{window: 10 * time.Second, keys: map[string]*repeat{}}
	t0 := time.Unix(1000, 0)
	e := zapcore.Entry{Level: zapcore.WarnLevel, Message: "m"}
	if w, n := r.admit(e, nil, nil, t0); !w || n != 0 {
		t.Fatalf("first: %v %d", w, n)
	}
	for i := 1; i <= 3; i++ {
		if w, _ := r.admit(e, nil, nil, t0.Add(time.Duration(i)*time.Second)); w {
			t.Fatalf("repeat %d written", i)
		}
	}
	if w, n := r.admit(e, nil, nil, t0.Add(11*time.Second)); !w || n != 3 {
		t.Fatalf("after the window: %v %d, want true 3", w, n)
	}
	r.admit(e, nil, nil, t0.Add(12*time.Second)) // suppressed
	if due := r.due(t0.Add(15 * time.Second)); len(due) != 0 {
		t.Fatalf("flushed inside the window: %+v", due)
	}
	due := r.due(t0.Add(22 * time.Second))
	if len(due) != 1 || due[0].n != 1 {
		t.Fatalf("due after the window: %+v", due)
	}
	if due := r.due(t0.Add(40 * time.Second)); len(due) != 0 || len(r.keys) != 0 {
		t.Fatalf("a quiet kind is forgotten: %+v %d", due, len(r.keys))
	}
	for i := 0; i < 3*maxRepeatKeys; i++ {
		r.admit(zapcore.Entry{Message: strings.Repeat("k", i%50) + string(rune(i))}, nil, nil, t0)
		if len(r.keys) > maxRepeatKeys {
			t.Fatalf("%d kinds remembered", len(r.keys))
		}
	}
}

type hugeStringer struct{}

func (hugeStringer) String() string { return strings.Repeat("s", 1<<20) }

// TestValuesCut: a value of any kind is cut to maxValue bytes and says how
// much was left out; short values are written as they are.
func TestValuesCut(t *testing.T) {
	dir := t.TempDir()
	l, err := New(config.Log{Level: "debug", Dir: dir, File: "emqx.log", RotationSize: 10 << 20, RotationCount: 2}, "file")
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("n", 15<<20) // a peer's 15 MB node name
	l.With(zap.String("peer", huge)).Info(huge, zap.String("a", huge), zap.ByteString("b", []byte(huge)),
		zap.Error(errors.New(huge)), zap.Stringer("c", hugeStringer{}), zap.Any("d", map[string]string{"k": huge}),
		zap.String("short", "kept"), zap.Any("small", map[string]int{"x": 1}))
	Slog(l.Logger).Warn("from the engine", "client", huge)
	l.Close()
	b, err := os.ReadFile(filepath.Join(dir, "emqx.log"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 16<<10 {
		t.Fatalf("%d bytes logged for two lines", len(b))
	}
	for _, want := range []string{"more bytes)", `"short": "kept"`, `"small": {"x":1}`} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("log lacks %s:\n%s", want, b)
		}
	}
}
