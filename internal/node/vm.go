package node

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"emqxgo/internal/sys"
)

// vm is emqx_mgmt_cli's vm command: the runtime's figures under the
// Erlang VM's names (cpu/, memory/, process/, io/, ports/).

// vmStat is one line: its name and value (a string for the loads, a
// number for the rest).
type vmStat struct {
	name  string
	value any
}

// vmSections are vm's sections in vm all's order, each with its line
// format (EMQX's).
var vmSections = []struct {
	name, format string
	stats        func() []vmStat
}{
	{"load", "cpu/%s: %v\n", vmLoad},
	{"memory", "memory/%s: %v\n", vmMemory},
	{"process", "process/%s: %v\n", vmProcess},
	{"io", "io/%s: %v\n", vmIO},
	{"ports", "ports/%s: %v\n", vmPorts},
}

// vmPad is the width of each section's names (~-20s for cpu/ ...).
var vmPad = map[string]int{"load": 20, "memory": 17, "process": 16, "io": 21, "ports": 16}

// vmLoad is emqx_vm:loads(): the host's load averages.
func vmLoad() []vmStat {
	l1, l5, l15 := sys.LoadAvg()
	return []vmStat{{"load1", l1}, {"load5", l5}, {"load15", l15}}
}

// vmMemory is erlang:memory() in its order, from runtime.MemStats:
//
//	total           Sys: everything the runtime obtained from the OS
//	processes       HeapInuse + StackInuse: the goroutines' heap spans and stacks
//	processes_used  HeapAlloc + StackInuse: of which live objects and stacks
//	system          Sys - processes: the runtime's own (GC metadata, spans,
//	                caches, idle heap)
//	atom, atom_used 0: Go interns no atoms at run time
//	binary          0: payloads are heap objects, counted in processes
//	code            0: the program's text is not allocated memory
//	ets             0: the node's tables are heap objects, counted in processes
func vmMemory() []vmStat {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	procs := ms.HeapInuse + ms.StackInuse
	system := uint64(0)
	if ms.Sys > procs {
		system = ms.Sys - procs
	}
	return []vmStat{{"total", ms.Sys}, {"processes", procs}, {"processes_used", ms.HeapAlloc + ms.StackInuse},
		{"system", system}, {"atom", 0}, {"atom_used", 0}, {"binary", 0}, {"code", 0}, {"ets", 0}}
}

// vmProcess: goroutines are the processes; they have no limit (the
// largest int32, as GET /nodes' process_available).
func vmProcess() []vmStat {
	return []vmStat{{"limit", math.MaxInt32}, {"count", runtime.NumGoroutine()}}
}

// vmIO: the open-file limit and the open files.
func vmIO() []vmStat {
	return []vmStat{{"max_fds", sys.MaxFDs()}, {"active_fds", sys.OpenFDs()}}
}

// vmPorts: the ports are the open sockets (MQTT, cluster, HTTP), their
// limit the open-file limit.
func vmPorts() []vmStat {
	return []vmStat{{"count", openSockets()}, {"limit", sys.MaxFDs()}}
}

// openSockets counts the process's open sockets; -1 without /proc.
func openSockets() int {
	const dir = "/proc/self/fd"
	es, err := os.ReadDir(dir)
	if err != nil {
		return -1
	}
	n := 0
	for _, e := range es {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

func (n *Node) vmCmd(c *call) string {
	names := []string{"load", "memory", "process", "io", "ports"}
	switch {
	case len(c.args) == 0 || len(c.args) == 1 && c.args[0] == "all":
	case len(c.args) == 1 && vmPad[c.args[0]] > 0:
		names = c.args
	default:
		return usage(vmUsage...)
	}
	var b strings.Builder
	data := map[string]map[string]any{}
	for _, s := range vmSections {
		if !slices.Contains(names, s.name) {
			continue
		}
		sec := map[string]any{}
		for _, st := range s.stats() {
			fmt.Fprintf(&b, s.format, pad(st.name, vmPad[s.name]), st.value)
			sec[st.name] = st.value
		}
		data[s.name] = sec
	}
	if len(names) == 1 {
		return c.out(data[names[0]], b.String)
	}
	return c.out(data, b.String)
}

var vmUsage = []usageLine{
	{"vm all", "Show info of Erlang VM"},
	{"vm load", "Show load of Erlang VM"},
	{"vm memory", "Show memory of Erlang VM"},
	{"vm process", "Show process of Erlang VM"},
	{"vm io", "Show IO of Erlang VM"},
	{"vm ports", "Show Ports of Erlang VM"},
}

func init() {
	registerCmd(ctlCommand{name: "vm", run: func(n *Node, c *call) string { return n.vmCmd(c) }, usage: vmUsage})
}
