package banned

import (
	"strconv"
	"testing"
	"time"

	"emqxgo/internal/config"
)

// TestDetectorCounts: the MaxCount-th connection within the window is
// flapping and starts the count afresh; a window that passed starts it
// afresh too.
func TestDetectorCounts(t *testing.T) {
	d := NewDetector(config.FlappingPolicy{MaxCount: 3, Window: 10 * time.Second, BanTime: time.Minute})
	now := time.Unix(1_700_000_000, 0)
	d.now = func() time.Time { return now }
	for i := 1; i <= 3; i++ {
		n, f := d.Connected("a")
		if n != i || f != (i == 3) {
			t.Fatalf("connect %d: count %d flapping %v", i, n, f)
		}
	}
	if n, f := d.Connected("a"); n != 1 || f {
		t.Fatalf("after a detection the count starts afresh: %d %v", n, f)
	}
	d.Connected("a")
	now = now.Add(10 * time.Second)
	if n, f := d.Connected("a"); n != 1 || f {
		t.Fatalf("a new window starts afresh: %d %v", n, f)
	}
	if n, _ := d.Connected("b"); n != 1 {
		t.Fatalf("client ids are counted apart: %d", n)
	}
}

// TestDetectorBounded: a flood of distinct client ids never grows the
// counts past the bound; counts whose window passed go first.
func TestDetectorBounded(t *testing.T) {
	d := NewDetector(config.FlappingPolicy{MaxCount: 3, Window: time.Minute, BanTime: time.Minute})
	d.max = 100
	now := time.Unix(1_700_000_000, 0)
	d.now = func() time.Time { return now }
	d.Connected("keep")
	for i := 0; i < 1000; i++ {
		d.Connected(strconv.Itoa(i))
		if d.tracked() > d.max {
			t.Fatalf("%d client ids counted, bound %d", d.tracked(), d.max)
		}
	}
	now = now.Add(2 * time.Minute)
	d.Connected("new")
	if d.tracked() != 1 {
		t.Fatalf("counts past their window kept: %d", d.tracked())
	}
}
