package procstat

import (
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestOwnProcess: this process has a resident set, CPU time once it has
// worked a little, and the host a load average of three figures; more
// goroutines busy at once than CPUs makes its threads wait for one.
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
	// More busy threads than CPUs: some wait for a CPU.
	n := 2*runtime.NumCPU() + 2
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(n))
	before := RunDelay(pid)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); {
			}
		})
	}
	wg.Wait()
	if d := RunDelay(pid) - before; d <= 0 {
		t.Errorf("run delay %v with more busy threads than CPUs", d)
	}
	if RSS(-1) != 0 || CPUTime(-1) != 0 || RunDelay(-1) != 0 {
		t.Error("figures of no process")
	}
}
