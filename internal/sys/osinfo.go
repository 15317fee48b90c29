package sys

import (
	"os"
	"strings"
	"syscall"
)

// LoadAvg is the host's 1, 5 and 15 minute load averages as /proc/loadavg
// writes them (EMQX's cpu/load1 ...); "0.00" each where unknown.
func LoadAvg() (l1, l5, l15 string) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "0.00", "0.00", "0.00"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "0.00", "0.00", "0.00"
	}
	return f[0], f[1], f[2]
}

// MaxFDs is the process's open-file limit (EMQX's io/max_fds).
func MaxFDs() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return int(r.Cur)
}

// OpenFDs counts the process's open files (EMQX's io/active_fds); -1 when
// /proc is not there.
func OpenFDs() int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(es)
}
