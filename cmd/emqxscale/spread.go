package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"emqxgo/internal/procstat"
)

// The spread part: when one process may not hold the connections asked
// (the open-files limit), they are spread over as many clustered node
// processes as that takes, each filled by a holder process of its own
// (this tool started again with -hold), since the tool is bound by the same
// limit. It measures what a cluster of that size answers about all of them.

// spreadBase is the first K of the spread part's nodes (127.0.252.K): above
// the cluster part's 1..nodes+1, below lockAddr's 254.
const spreadBase = 240

// holdMain is the holder process: it opens n idle connections to addr,
// prints "held N NANOS" (or "error N MESSAGE"), and keeps them until its
// standard input closes (the tool ends it, or dies).
func holdMain(addr, prefix string, n int) {
	raiseNofile(1 << 20)
	t0 := time.Now()
	cs, err := openConns(addr, prefix, n, 16)
	if err != nil {
		fmt.Printf("error %d %v\n", len(cs), err)
	} else {
		fmt.Printf("held %d %d\n", len(cs), time.Since(t0).Nanoseconds())
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range cs {
		c.Close()
	}
}

// holder is a running holdMain process.
type holder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

func startHolder(addr, prefix string, n int) (*holder, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-hold", addr, "-hold-prefix", prefix, "-hold-n", strconv.Itoa(n))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &holder{cmd: cmd, stdin: in, out: bufio.NewReader(out)}, nil
}

// wait reads the holder's report: how many it holds and how long opening
// them took.
func (h *holder) wait() (int, time.Duration, error) {
	line, err := h.out.ReadString('\n')
	if err != nil {
		return 0, 0, fmt.Errorf("holder: %v", err)
	}
	f := strings.SplitN(strings.TrimSpace(line), " ", 3)
	if len(f) == 3 && f[0] == "held" {
		n, _ := strconv.Atoi(f[1])
		ns, _ := strconv.ParseInt(f[2], 10, 64)
		return n, time.Duration(ns), nil
	}
	return 0, 0, fmt.Errorf("holder: %s", strings.TrimSpace(line))
}

// stop closes the holder's input, which closes its connections, and waits
// for it (KILL after 10 s).
func (h *holder) stop() {
	_ = h.stdin.Close()
	done := make(chan struct{}) // Wait only now: it closes the output pipe
	go func() { _ = h.cmd.Wait(); close(done) }()
	waitOrKill(h.cmd.Process, done)
}

// spread holds total idle connections over as many nodes as the
// open-files limit needs (at least 2), clustered, and measures the
// cluster's connect rate, memory and answer times at that count.
func spread(root string, total int) {
	part := fmt.Sprintf("%dk connections, cluster", total/1000)
	fmt.Fprintln(os.Stderr, part)
	_, hard := nofile(0)
	per := int(hard) - 500 // room for a node's own files; a holder needs as many
	nn := max(2, (total+per-1)/per)
	if nn > 12 {
		fail(fmt.Errorf("%d connections need %d nodes at %d open files each: more than 12", total, nn, hard))
	}
	ns := make([]*node, nn)
	for i := range ns {
		n, err := startNode(root, spreadBase+i+1)
		fail(err)
		ns[i] = n
	}
	defer func() {
		for _, n := range ns {
			n.stop()
		}
	}()
	for _, n := range ns[1:] {
		_, _, err := n.ctl(root, "cluster", "join", ns[0].name)
		fail(err)
	}
	waitMembers(root, ns)
	base := make([]int64, nn)
	for i, n := range ns {
		base[i] = settledRSS(n.pid())
	}

	// Every holder dials its node at once; the rate is the cluster's.
	hs := make([]*holder, nn)
	defer func() {
		for _, h := range hs {
			if h != nil {
				h.stop()
			}
		}
	}()
	var cpu time.Duration
	for _, n := range ns {
		cpu -= procstat.CPUTime(n.pid())
	}
	t0 := time.Now()
	for i, n := range ns {
		h, err := startHolder(n.addr, fmt.Sprintf("spread%d", i+1), total*(i+1)/nn-total*i/nn)
		fail(err)
		hs[i] = h
	}
	var wg sync.WaitGroup
	held := make([]int, nn)
	errs := make([]error, nn)
	for i, h := range hs {
		wg.Add(1)
		go func() { defer wg.Done(); held[i], _, errs[i] = h.wait() }()
	}
	wg.Wait()
	wall := time.Since(t0)
	for _, n := range ns {
		cpu += procstat.CPUTime(n.pid())
	}
	sum := 0
	for i := range hs {
		fail(errs[i])
		sum += held[i]
	}
	add(part, "nodes / connections each", fmt.Sprintf("%d / %d", nn, total/nn),
		fmt.Sprintf("one process may hold %d open files here; one holder process per node, 16 dialers each", hard))
	add(part, "connect rate", fmt.Sprintf("%.0f conn/s", float64(sum)/wall.Seconds()),
		fmt.Sprintf("%d connections, CONNECT..CONNACK, all nodes at once, in %.1f s", sum, wall.Seconds()))
	add(part, "node CPU per connect", fmt.Sprintf("%.0f µs", float64(cpu.Microseconds())/float64(sum)),
		fmt.Sprintf("all nodes' CPU time while connecting / connections: a CONNECT asks every other node (%d here) whether it holds the client id", nn-1))

	var stats struct {
		Data map[string]int `json:"data"`
	}
	_, err := ns[0].getJSON("/stats?aggregate=true", &stats)
	fail(err)
	if stats.Data["connections.count"] != total {
		fail(fmt.Errorf("GET /stats?aggregate=true: %v, want connections.count %d", stats.Data, total))
	}
	add(part, "connections held", fmt.Sprint(sum), "GET /api/v4/stats?aggregate=true agrees")

	var grown int64
	var rss []string
	for i, n := range ns {
		r := settledRSS(n.pid())
		grown += r - base[i]
		rss = append(rss, fmt.Sprintf("%.0f", float64(r)/(1<<20)))
	}
	add(part, "RSS per node", strings.Join(rss, ", ")+" MiB", "")
	add(part, "RSS per connection", fmt.Sprintf("%.1f KiB", float64(grown)/float64(sum)/1024),
		"the nodes' RSS growth together / connections")

	add(part, "CPU of the nodes at rest", restCPU(ns), fmt.Sprintf("over 3 s, %d idle connections", sum))
	st := medianOf(5, func() (time.Duration, error) { _, d, err := ns[0].ctl(root, "broker", "stats"); return d, err })
	add(part, "emqx_ctl broker stats", ms(st), "median of 5 (the node's own figures)")
	var page struct {
		Meta struct {
			Count int `json:"count"`
		} `json:"meta"`
		Data []map[string]any `json:"data"`
	}
	first := medianOf(5, func() (time.Duration, error) { return ns[0].getJSON("/clients?_limit=100", &page) })
	if page.Meta.Count != total || len(page.Data) != 100 {
		fail(fmt.Errorf("GET /clients?_limit=100: count %d, %d rows, want %d and 100", page.Meta.Count, len(page.Data), total))
	}
	add(part, "GET /api/v4/clients?_limit=100", ms(first), fmt.Sprintf("median of 5, every node asked, meta.count %d", page.Meta.Count))
	last := medianOf(3, func() (time.Duration, error) {
		return ns[0].getJSON(fmt.Sprintf("/clients?_page=%d&_limit=100", total/100), &page)
	})
	if len(page.Data) != 100 {
		fail(fmt.Errorf("GET /clients, last page: %d rows, want 100", len(page.Data)))
	}
	add(part, "GET /api/v4/clients, last page", ms(last), "median of 3")
	// A client held by the last node, looked up from the first.
	far := fmt.Sprintf("spread%d-0", nn)
	var one struct {
		Data []map[string]any `json:"data"`
	}
	byID := medianOf(5, func() (time.Duration, error) { return ns[0].getJSON("/clients/"+far, &one) })
	if len(one.Data) != 1 || one.Data[0]["node"] != ns[nn-1].name {
		fail(fmt.Errorf("GET /clients/%s on %s: %v, want one client on %s", far, ns[0].name, one.Data, ns[nn-1].name))
	}
	add(part, "GET /api/v4/clients/{clientid}", ms(byID), "median of 5, a client of another node")
	show := medianOf(5, func() (time.Duration, error) {
		out, d, err := ns[0].ctl(root, "clients", "show", far)
		if err == nil && !strings.Contains(out, far) {
			err = fmt.Errorf("emqx_ctl clients show %s: %s", far, firstLine(out))
		}
		return d, err
	})
	add(part, "emqx_ctl clients show", ms(show), "median of 5, a client of another node")
}
