package procstat

import (
	"os"
	"strings"
	"testing"
)

// TestOwnProcess: this process has a resident set, CPU time once it has
// worked a little, and the host a load average of three figures.
func TestOwnProcess(t *testing.T) {
	pid := os.Getpid()
	x := 0
	for i := range 50_000_000 {
		x += i
	}
	_ = x
	if r := RSS(pid); r < 1<<20 {
		t.Errorf("RSS %d bytes", r)
	}
	if c := CPUTime(pid); c <= 0 {
		t.Errorf("CPU time %v", c)
	}
	if l := LoadAvg(); len(strings.Fields(l)) != 3 {
		t.Errorf("load average %q", l)
	}
	if RSS(-1) != 0 || CPUTime(-1) != 0 {
		t.Error("figures of no process")
	}
}
