// Command emqxscale measures the node at scale on this machine and prints
// the table of docs/scale.md (make scale):
//
//   - one node holding as many idle MQTT connections as the open-files
//     limit allows (100k asked): connect rate, RSS per connection, the
//     answer time of `emqx_ctl broker stats` and of a page of GET
//     /api/v4/clients at that count;
//   - when one process may not hold that many (the open-files limit), the
//     same count spread over as many clustered nodes as it takes, each
//     filled by a holder process (this tool with -hold): the cluster's
//     connect rate, RSS per connection, and the answer time of cluster-wide
//     pages and lookups at that count;
//   - a cluster of -nodes node processes on loopback: the join time of
//     each, -subs subscriptions (distinct filters) spread over the nodes,
//     the time from the last SUBACK until every node's routes.count shows
//     them all, RSS per route, and what one more node costs (join, route
//     copy, RSS) with the routes present.
//
// Nodes are bin/emqx processes (make build) on 127.0.252.K; every loop is
// bounded in count and time and every node is stopped on exit, failure,
// timeout or signal (and dies with the tool: Pdeathsig).
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"emqxgo/internal/procstat"
)

// row is one line of the table.
type row struct{ part, metric, value, note string }

var rows []row

func add(part, metric, value, note string) {
	rows = append(rows, row{part, metric, value, note})
	fmt.Fprintf(os.Stderr, "  %-40s %s %s\n", metric, value, note)
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "emqxscale:", err)
		stopAll()
		os.Exit(1)
	}
}

func main() {
	quick := flag.Bool("quick", false, "smaller counts: 5000 connections, 20000 subscriptions, 5 nodes")
	conns := flag.Int("conns", 100000, "connections to hold on one node (capped by the open-files limits)")
	subs := flag.Int("subs", 100000, "subscriptions (distinct filters) spread over the cluster")
	nnodes := flag.Int("nodes", 10, "cluster size (one more node then joins)")
	timeout := flag.Duration("timeout", 8*time.Minute, "the whole run's bound; everything is stopped then")
	root := flag.String("root", ".", "the repository (bin/emqx, bin/emqx_ctl, etc/)")
	holdAddr := flag.String("hold", "", "(internal) be a holder process: hold -hold-n connections to this address")
	holdN := flag.Int("hold-n", 0, "(internal) connections a holder opens")
	holdPrefix := flag.String("hold-prefix", "hold", "(internal) a holder's client id prefix")
	flag.Parse()
	if *holdAddr != "" {
		holdMain(*holdAddr, *holdPrefix, *holdN)
		return
	}
	if *quick {
		*conns, *subs, *nnodes = min(*conns, 5000), min(*subs, 20000), min(*nnodes, 5)
	}
	if *nnodes < 2 || *nnodes > 200 || *subs < *nnodes || *conns < 4 {
		fail(fmt.Errorf("-nodes must be 2-200, -subs at least -nodes, -conns at least 4"))
	}
	for _, b := range []string{"emqx", "emqx_ctl"} {
		if _, err := os.Stat(filepath.Join(*root, "bin", b)); err != nil {
			fail(fmt.Errorf("%v: run make build first", err))
		}
	}
	lock, err := net.Listen("tcp4", lockAddr)
	if err != nil {
		fail(fmt.Errorf("another emqxscale holds %s: %v", lockAddr, err))
	}
	defer lock.Close()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sig
		fmt.Fprintln(os.Stderr, "emqxscale:", s, "- stopping the nodes")
		stopAll()
		os.Exit(1)
	}()
	time.AfterFunc(*timeout, func() {
		fmt.Fprintln(os.Stderr, "emqxscale: timeout", *timeout, "- stopping the nodes")
		stopAll()
		os.Exit(1)
	})
	defer stopAll()

	raiseNofile(1 << 20)
	started := time.Now()
	machine()
	if !single(*root, *conns) {
		spread(*root, *conns)
	}
	cluster(*root, *nnodes, *subs)
	add("machine", "load average at the end", procstat.LoadAvg(), "1, 5, 15 min")
	printTable(time.Since(started))
}

// machine records what the figures were measured on.
func machine() {
	fmt.Fprintln(os.Stderr, "machine")
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(firstLine(string(b)), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	model := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	soft, hard := nofile(0)
	nrOpen, _ := os.ReadFile("/proc/sys/fs/nr_open")
	add("machine", "CPU", fmt.Sprintf("%d × %s", runtime.NumCPU(), model), "")
	add("machine", "memory", mem, "")
	add("machine", "open files per process", fmt.Sprintf("%d soft / %d hard", soft, hard),
		"fs.nr_open "+strings.TrimSpace(string(nrOpen))+"; raising the hard limit needs CAP_SYS_RESOURCE")
	add("machine", "load average at the start", procstat.LoadAvg(), "1, 5, 15 min; the machine is shared")
}

func mb(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// medianOf runs f n times and returns the median wall time.
func medianOf(n int, f func() (time.Duration, error)) time.Duration {
	ds := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		d, err := f()
		fail(err)
		ds = append(ds, d)
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// settledRSS is pid's RSS once it has stopped moving by more than 1% over
// 500 ms (bounded by 5 s).
func settledRSS(pid int) int64 {
	last := procstat.RSS(pid)
	for i := 0; i < 10; i++ {
		time.Sleep(500 * time.Millisecond)
		r := procstat.RSS(pid)
		if d := r - last; d < last/100 && -d < last/100 {
			return r
		}
		last = r
	}
	return last
}

// single measures one node holding many idle connections; false when the
// open-files limit let it hold fewer than want.
func single(root string, want int) bool {
	fmt.Fprintln(os.Stderr, "one node")
	const part = "one node"
	n, err := startNode(root, 1)
	fail(err)
	defer n.stop()
	_, nodeHard := nofile(n.pid())
	_, selfHard := nofile(0)
	// Room for the node's own files (listener, logs, data, HTTP) and the tool's.
	target := min(int64(want), nodeHard-500, selfHard-200)
	if target < int64(want) {
		add(part, "connections asked / possible", fmt.Sprintf("%d / %d", want, target),
			fmt.Sprintf("the node's open-files limit is %d and cannot be raised here", nodeHard))
	}
	base := settledRSS(n.pid())
	add(part, "RSS idle", mb(base), "")

	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	steps := 4
	var total, cpu time.Duration
	prevRSS, prevN := base, 0
	for s := 1; s <= steps; s++ {
		upto := int(target) * s / steps
		t0, c0 := time.Now(), procstat.CPUTime(n.pid())
		cs, err := openConns(n.addr, fmt.Sprintf("idle%d", s), upto-len(held), 32)
		d := time.Since(t0)
		cpu += procstat.CPUTime(n.pid()) - c0
		held = append(held, cs...)
		fail(err)
		total += d
		r := settledRSS(n.pid())
		add(part, fmt.Sprintf("step %d: %d connections", s, upto),
			fmt.Sprintf("%.0f conn/s, RSS %s", float64(len(cs))/d.Seconds(), mb(r)),
			fmt.Sprintf("%.1f KiB per connection in this step", float64(r-prevRSS)/float64(upto-prevN)/1024))
		prevRSS, prevN = r, upto
	}
	got, _, err := n.stat(root, "connections.count")
	fail(err)
	if got != len(held) {
		fail(fmt.Errorf("the node counts %d connections, the tool holds %d", got, len(held)))
	}
	add(part, "connections held", fmt.Sprint(len(held)), "connections.count agrees")
	add(part, "connect rate", fmt.Sprintf("%.0f conn/s", float64(len(held))/total.Seconds()),
		"CONNECT..CONNACK, 32 dialers in the tool, loopback")
	add(part, "node CPU per connect", fmt.Sprintf("%.0f µs", float64(cpu.Microseconds())/float64(len(held))),
		"the node's CPU time over the steps / connections")
	add(part, "RSS per connection", fmt.Sprintf("%.1f KiB", float64(prevRSS-base)/float64(len(held))/1024),
		fmt.Sprintf("(%s - %s) / %d", mb(prevRSS), mb(base), len(held)))
	exec := medianOf(5, func() (time.Duration, error) { _, d, err := n.ctl(root, "status"); return d, err })
	add(part, "emqx_ctl status (process start + RPC)", ms(exec), "median of 5: the floor of every emqx_ctl call")
	st := medianOf(5, func() (time.Duration, error) { _, d, err := n.ctl(root, "broker", "stats"); return d, err })
	add(part, "emqx_ctl broker stats", ms(st), fmt.Sprintf("median of 5, at %d connections", len(held)))
	var size int
	page := medianOf(5, func() (time.Duration, error) {
		s, d, err := n.get("/clients?_limit=100")
		size = s
		return d, err
	})
	add(part, "GET /api/v4/clients?_limit=100", ms(page), fmt.Sprintf("median of 5, %d-byte page, at %d connections", size, len(held)))
	last := medianOf(3, func() (time.Duration, error) {
		_, d, err := n.get(fmt.Sprintf("/clients?_page=%d&_limit=100", len(held)/100))
		return d, err
	})
	add(part, "GET /api/v4/clients, last page", ms(last), "median of 3")
	return len(held) >= want
}

// cluster measures nnodes nodes with subs routes, then one more node.
func cluster(root string, nnodes, subs int) {
	fmt.Fprintln(os.Stderr, "cluster")
	const part = "cluster"
	ns := make([]*node, nnodes)
	for i := range ns {
		n, err := startNode(root, i+1)
		fail(err)
		ns[i] = n
	}
	joins := make([]string, 0, nnodes-1)
	for _, n := range ns[1:] {
		_, d, err := n.ctl(root, "cluster", "join", ns[0].name)
		fail(err)
		joins = append(joins, fmt.Sprintf("%.0f", float64(d.Microseconds())/1000))
		if n == ns[len(ns)-1] {
			add(part, fmt.Sprintf("join time of node %d", len(ns)), ms(d), "emqx_ctl cluster join, wall time, no routes yet")
		}
	}
	add(part, "join times of nodes 2.."+fmt.Sprint(nnodes), strings.Join(joins, ", ")+" ms", "")
	waitMembers(root, ns)

	before := make([]int64, len(ns))
	var sumBefore int64
	for i, n := range ns {
		before[i] = settledRSS(n.pid())
		sumBefore += before[i]
	}
	add(part, "RSS per node, no routes", mb(sumBefore/int64(len(ns))), "mean")
	add(part, "CPU of the nodes at rest, no routes", restCPU(ns), "over 3 s, no traffic")

	// One connection per node subscribes to its share of distinct filters.
	conns := make([]net.Conn, len(ns))
	for i, n := range ns {
		c, err := connect(n.addr, fmt.Sprintf("sub-%d", i+1))
		fail(err)
		conns[i] = c
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(ns))
	for i := range ns {
		lo, hi := subs*i/len(ns), subs*(i+1)/len(ns)
		filters := make([]string, 0, hi-lo)
		for j := lo; j < hi; j++ {
			filters = append(filters, fmt.Sprintf("scale/%d/dev/%d/+/state", i+1, j))
		}
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = subscribeMany(conns[i], filters, 100, 16) }()
	}
	wg.Wait()
	lastAck := time.Now()
	for _, err := range errs {
		fail(err)
	}
	add(part, "subscriptions", fmt.Sprintf("%d in %s", subs, ms(lastAck.Sub(t0))),
		fmt.Sprintf("one connection per node, %d filters each, 100 per SUBSCRIBE", subs/len(ns)))

	conv := converge(ns, subs, lastAck)
	add(part, "route convergence", ms(conv), fmt.Sprintf("last SUBACK until every node's routes.count = %d (GET /nodes/{node}/stats every 50 ms)", subs))
	for _, n := range ns {
		got, _, err := n.stat(root, "routes.count")
		fail(err)
		if got != subs {
			fail(fmt.Errorf("emqx_ctl broker stats on %s: routes.count %d, want %d", n.name, got, subs))
		}
	}

	var sumAfter int64
	for _, n := range ns {
		sumAfter += settledRSS(n.pid())
	}
	perNode := (sumAfter - sumBefore) / int64(len(ns))
	add(part, "RSS per node, with routes", mb(sumAfter/int64(len(ns))), "mean")
	add(part, "RSS per route (each node)", fmt.Sprintf("%.0f B", float64(perNode)/float64(subs)),
		fmt.Sprintf("mean RSS growth per node / %d routes; includes the node's 1/%d share of subscriptions", subs, len(ns)))

	add(part, "CPU of the nodes at rest with the routes", restCPU(ns), "over 3 s after convergence, no traffic")
	st := medianOf(5, func() (time.Duration, error) { _, d, err := ns[0].ctl(root, "broker", "stats"); return d, err })
	add(part, "emqx_ctl broker stats", ms(st), fmt.Sprintf("median of 5, %d routes", subs))
	out, d, err := ns[len(ns)-1].ctl(root, "routes", "list")
	fail(err)
	if c := strings.Count(out, " -> "); c != subs {
		fail(fmt.Errorf("routes list on %s shows %d routes, want %d", ns[len(ns)-1].name, c, subs))
	}
	add(part, "emqx_ctl routes list", ms(d), fmt.Sprintf("all %d routes, %d bytes", subs, len(out)))
	var size int
	page := medianOf(5, func() (time.Duration, error) { s, d, err := ns[0].get("/routes?_limit=100"); size = s; return d, err })
	add(part, "GET /api/v4/routes?_limit=100", ms(page), fmt.Sprintf("median of 5, %d-byte page", size))

	// One more node, with the routes present.
	extra, err := startNode(root, nnodes+1)
	fail(err)
	fresh := settledRSS(extra.pid())
	othersBefore := sumAfter
	_, jd, err := extra.ctl(root, "cluster", "join", ns[0].name)
	fail(err)
	add(part, fmt.Sprintf("join time of node %d", nnodes+1), ms(jd), fmt.Sprintf("emqx_ctl cluster join, wall time, %d routes present", subs))
	copied := converge([]*node{extra}, subs, time.Now().Add(-jd))
	add(part, fmt.Sprintf("node %d has every route", nnodes+1), ms(copied), "from the start of its join")
	all := append(slices.Clone(ns), extra)
	waitMembers(root, all)
	after := settledRSS(extra.pid())
	add(part, fmt.Sprintf("RSS of node %d", nnodes+1), fmt.Sprintf("%s fresh, %s with the routes", mb(fresh), mb(after)),
		fmt.Sprintf("%.0f B per route (peer routes only, no local subscriptions)", float64(after-fresh)/float64(subs)))
	var othersAfter int64
	for _, n := range ns {
		othersAfter += settledRSS(n.pid())
	}
	add(part, "RSS of the other nodes, one node more", fmt.Sprintf("%+.1f MiB per node", float64(othersAfter-othersBefore)/float64(len(ns))/(1<<20)), "mean")
}

// restCPU is the CPU the nodes use together over 3 s, as a share of one core.
func restCPU(ns []*node) string {
	var cpu time.Duration
	for _, n := range ns {
		cpu -= procstat.CPUTime(n.pid())
	}
	t0 := time.Now()
	time.Sleep(3 * time.Second)
	for _, n := range ns {
		cpu += procstat.CPUTime(n.pid())
	}
	return fmt.Sprintf("%.0f%% of a core, all %d together", 100*cpu.Seconds()/time.Since(t0).Seconds(), len(ns))
}

// waitMembers waits (30 s at most) until the first node's cluster status
// lists every node as running.
func waitMembers(root string, ns []*node) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _, err := ns[0].ctl(root, "cluster", "status")
		fail(err)
		run, _, _ := strings.Cut(out, "stopped_nodes")
		missing := 0
		for _, n := range ns {
			if !strings.Contains(run, "'"+n.name+"'") && !strings.Contains(run, n.name) {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			fail(fmt.Errorf("%d nodes missing from cluster status after 30 s: %s", missing, firstLine(out)))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// converge polls each node's routes.count (GET .../stats) until it is want (2 minutes at
// most) and returns the time from since until the last node got there.
func converge(ns []*node, want int, since time.Time) time.Duration {
	var wg sync.WaitGroup
	at := make([]time.Time, len(ns))
	errs := make([]error, len(ns))
	for i, n := range ns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(2 * time.Minute)
			for {
				got, err := n.apiStat("routes.count")
				if err != nil {
					errs[i] = err
					return
				}
				if got == want {
					at[i] = time.Now()
					return
				}
				if time.Now().After(deadline) {
					errs[i] = fmt.Errorf("%s: routes.count %d after 2 minutes, want %d", n.name, got, want)
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	var last time.Time
	for i := range ns {
		fail(errs[i])
		if at[i].After(last) {
			last = at[i]
		}
	}
	return last.Sub(since)
}

func printTable(took time.Duration) {
	fmt.Printf("| part | figure | value | how |\n|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Printf("| %s | %s | %s | %s |\n", r.part, r.metric, r.value, r.note)
	}
	fmt.Printf("\nrun: %s, %s\n", time.Now().UTC().Format(time.RFC3339), took.Round(time.Second))
}
