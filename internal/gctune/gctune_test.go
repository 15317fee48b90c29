package gctune

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"emqxgo/internal/testutil"
)

// TestRoom: a moderate allocation rate gets no more room than GOGC=100
// gives (the heap stays small and warm); a fast one gets up to the cap.
func TestRoom(t *testing.T) {
	for _, c := range []struct {
		rate float64
		want uint64
	}{
		{20 << 20, 2 << 20},   // 20 MB/s (5000 msg/s): 2 MB
		{200 << 20, 20 << 20}, // 200 MB/s: 20 MB
		{2 << 30, 32 << 20},   // capped
		{0, 0},
	} {
		if got := Room(c.rate, 32<<20); got != c.want {
			t.Errorf("Room(%v) = %d, want %d", c.rate, got, c.want)
		}
	}
	if got := Percent(3<<20, Room(20<<20, 32<<20)); got != 100 {
		t.Errorf("a moderate rate over a 3 MB live heap: GC percent %d, want 100", got)
	}
	if s := Smooth(0, 100); s != 100 {
		t.Errorf("first rate: %v", s)
	}
	if s := Smooth(100, 300); s != 200 {
		t.Errorf("a rise counts half: %v", s)
	}
	if s := Smooth(300, 100); s != 100 {
		t.Errorf("a fall counts whole: %v", s)
	}
}

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

// gogc reads the current GC percentage without changing it.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// TestTunesAfterEachCollection: with a small live heap and a fast
// allocation rate the percentage is raised after a collection, and stop
// puts GOGC=100 back.
func TestTunesAfterEachCollection(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	stop := Start(64 << 20)
	testutil.Eventually(t, 10*time.Second, "GC percentage raised for a small live heap", func() bool {
		for i := 0; i < 1000; i++ { // garbage at several hundred MB/s
			sink = make([]byte, 64<<10)
		}
		runtime.GC()
		return gogc() > 100
	})
	stop()
	if p := gogc(); p != 100 {
		t.Fatalf("after stop the GC percentage is %d, want 100", p)
	}
	again := Start(64 << 20) // a stopped tuner makes way for a new one
	defer again()
	mu.Lock()
	r := running
	mu.Unlock()
	if r == nil {
		t.Fatal("Start after stop started no tuner")
	}
}

var sink []byte

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
