package gctune

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live, headroom uint64
		want           int
	}{
		{3 << 20, 32 << 20, 1070}, // small heap: next GC at live + 32 MB
		{32 << 20, 32 << 20, 100}, // from here on, plain GOGC=100
		{300 << 20, 32 << 20, 100},
		{0, 32 << 20, 1 << 20}, // capped
	} {
		if got := Percent(c.live, c.headroom); got != c.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", c.live, c.headroom, got, c.want)
		}
	}
}

// TestTunesAfterEachCollection: with a small live heap the percentage is
// raised after a collection, and stop puts GOGC=100 back.
func TestTunesAfterEachCollection(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	stop := Start(64 << 20)
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		runtime.Gosched()
		if p := debug.SetGCPercent(-1); p > 100 { // read it (and put it back)
			debug.SetGCPercent(p)
			break
		} else {
			debug.SetGCPercent(p)
		}
		if time.Now().After(deadline) {
			t.Fatal("the GC percentage was never raised for a small live heap")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if p := debug.SetGCPercent(100); p != 100 {
		t.Fatalf("after stop the GC percentage is %d, want 100", p)
	}
	if again := Start(64 << 20); again == nil {
		t.Fatal("Start after stop returned nil")
	} else {
		again()
	}
}

func TestEnvironmentWins(t *testing.T) {
	t.Setenv("GOGC", "50")
	stop := Start(64 << 20)
	defer stop()
	mu.Lock()
	r := running
	mu.Unlock()
	if r != nil {
		t.Fatal("a tuner runs although GOGC is set")
	}
}
