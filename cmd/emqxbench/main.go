// Command emqxbench is `make bench`: a reproducible benchmark of this node
// against baselines measured in the same run (mosquitto and stock mochi for
// a single node, the same node for cluster paths). Every figure is a ratio of medians over
// interleaved rounds, because these machines are shared and noisy. It
// prints a markdown table and appends JSON lines (with the command and the
// machine load) to bench-results/results.jsonl.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"emqxgo/internal/procstat"
)

type key struct{ scenario, metric, who string }

var (
	results = map[key][]float64{}
	units   = map[key]string{}
	order   []key
)

func add(scn, metric, who, unit string, v float64) {
	k := key{scn, metric, who}
	if _, ok := results[k]; !ok {
		order = append(order, k)
	}
	results[k] = append(results[k], v)
	units[k] = unit
	fmt.Fprintf(os.Stderr, "  %-10s %-34s %-10s %12.2f %s\n", scn, metric, who, v, unit)
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "emqxbench:", err)
		os.Exit(1)
	}
}

func main() {
	rounds := flag.Int("rounds", 3, "interleaved A/B rounds per scenario")
	quick := flag.Bool("quick", false, "smaller message counts (a smoke run)")
	outDir := flag.String("out", "bench-results", "folder for results.jsonl")
	only := flag.String("scenarios", "1,m,a,2,3", "scenarios to run (comma-separated: 1 single node, m moderate rates, a access control cost, 2 two-node, 3 three-node)")
	stock := flag.String("serve-stock-mochi", "", "internal: run a stock mochi server on this address")
	flag.Parse()
	if *stock != "" {
		serveStockMochi(*stock)
		return
	}
	want := func(n string) bool { return slices.Contains(strings.Split(*only, ","), n) }
	root, _ := os.Getwd()
	scale := 1
	if *quick {
		scale = 5
	}
	started := time.Now()
	load := procstat.LoadAvg()

	if want("1") {
		fmt.Fprintln(os.Stderr, "scenario 1: single node vs mosquitto")
	}
	for r := 0; r < *rounds && want("1"); r++ {
		whos := []string{"emqx-go", "mosquitto", "mochi"}
		for i := 0; i < r%3; i++ { // rotate: each takes each place in turn
			whos = append(whos[1:], whos[0])
		}
		for _, who := range whos {
			start := func() (*broker, error) {
				switch who {
				case "emqx-go":
					return startEmqx(root, "emqx@127.0.0.1")
				case "mosquitto":
					return startMosquitto()
				}
				return startStockMochi()
			}
			b, err := start()
			must(err)
			single(b, scale)
			b.stop()
			// Idle memory on a fresh process: memory a process kept from the
			// load before (heap headroom, buffers) would hide the cost.
			b, err = start()
			must(err)
			idleMemory(b, scale)
			b.stop()
		}
	}

	if want("m") {
		fmt.Fprintln(os.Stderr, "scenario m: 5000 msg/s, node vs stock mochi vs mosquitto")
		moderate(root, *rounds)
	}
	if want("a") {
		fmt.Fprintln(os.Stderr, "scenario a: the cost of the default acl.conf and the built-in database")
		accessCost(root, *rounds, scale)
	}
	if want("2") || want("3") {
		cluster(root, *rounds, scale, want)
	}
	report(*outDir, started, load)
}

// cluster runs scenario 2 (two nodes) and 3 (a third joins) on one pair of nodes.
func cluster(root string, rounds, scale int, want func(string) bool) {
	fmt.Fprintln(os.Stderr, "scenario 2: two-node cluster, cross-node vs same-node")
	a, err := startEmqx(root, "emqx1@127.0.0.1")
	must(err)
	bn, err := startEmqx(root, "emqx2@127.0.0.1")
	must(err)
	_, err = bn.ctl(root, "cluster", "join", a.node)
	must(err)
	for r := 0; r < rounds && want("2"); r++ {
		paths := [][2]string{{"same-node", a.addr}, {"cross-node", bn.addr}}
		if r%2 == 1 {
			slices.Reverse(paths)
		}
		for _, p := range paths {
			v, _, err := throughput(a.addr, p[1], 1, 0, 200000/scale, 64)
			must(err)
			add("cluster2", "QoS0 1->1 throughput", p[0], "msg/s", v)
			v, _, err = throughput(a.addr, p[1], 1, 1, 50000/scale, 64)
			must(err)
			add("cluster2", "QoS1 1->1 throughput", p[0], "msg/s", v)
			// CPU: both nodes' (the peer link's two ends on cross-node);
			// wait: their threads' time runnable without a CPU, which
			// latency pays for.
			cpu0 := procstat.CPUTime(a.pid()) + procstat.CPUTime(bn.pid())
			wait0 := procstat.RunDelay(a.pid()) + procstat.RunDelay(bn.pid())
			res, err := paced(a.addr, p[1], 5000, 5*time.Second)
			must(err)
			cpu := procstat.CPUTime(a.pid()) + procstat.CPUTime(bn.pid()) - cpu0
			wait := procstat.RunDelay(a.pid()) + procstat.RunDelay(bn.pid()) - wait0
			add("cluster2", "run-queue wait per message @5k msg/s", p[0], "µs", float64(wait.Microseconds())/float64(max(res.received, 1)))
			add("cluster2", "latency p50 @5k msg/s", p[0], "ms", float64(res.p50.Microseconds())/1000)
			add("cluster2", "latency p99 @5k msg/s", p[0], "ms", float64(res.p99.Microseconds())/1000)
			add("cluster2", "CPU per delivered message @5k msg/s", p[0], "µs", float64(cpu.Microseconds())/float64(max(res.received, 1)))
			res, err = paced(a.addr, p[1], 20000, 3*time.Second)
			must(err)
			add("cluster2", "latency p99 @20k msg/s", p[0], "ms", float64(res.p99.Microseconds())/1000)
		}
		for _, rate := range []int{10000, 20000, 40000} {
			res, err := paced(a.addr, bn.addr, rate, 3*time.Second)
			must(err)
			add("cluster2", fmt.Sprintf("QoS0 loss @%dk msg/s", rate/1000), "cross-node", "%", 100*float64(res.sent-res.received)/float64(res.sent))
		}
	}

	if !want("3") {
		a.stop()
		bn.stop()
		return
	}
	fmt.Fprintln(os.Stderr, "scenario 3: three-node cluster")
	c, err := startEmqx(root, "emqx3@127.0.0.1")
	must(err)
	cluster3(root, a, bn, c, rounds)
	for _, b := range []*broker{a, bn, c} {
		b.stop()
	}
}

// single runs the single-node measurements against b.
func single(b *broker, scale int) {
	v, _, err := throughput(b.addr, b.addr, 1, 0, 200000/scale, 64)
	must(err)
	add("single", "QoS0 1->1 throughput", b.name, "msg/s", v)
	// The QoS 1 burst: 60000 at full speed with 100 in flight, as the
	// loss row measures (a subscriber that keeps reading loses nothing).
	v, loss, err := throughput(b.addr, b.addr, 1, 1, 60000/scale, 100)
	must(err)
	add("single", "QoS1 1->1 throughput", b.name, "msg/s", v)
	add("single", "QoS1 burst loss", b.name, "%", loss)
	v, _, err = throughput(b.addr, b.addr, 50, 0, 4000/scale, 64)
	must(err)
	add("single", "QoS0 fan-out 1->50 deliveries", b.name, "msg/s", v)
	cpu0 := procstat.CPUTime(b.pid())
	res, err := paced(b.addr, b.addr, 5000, 5*time.Second)
	must(err)
	cpu := procstat.CPUTime(b.pid()) - cpu0
	add("single", "latency p50 @5k msg/s", b.name, "ms", float64(res.p50.Microseconds())/1000)
	add("single", "latency p99 @5k msg/s", b.name, "ms", float64(res.p99.Microseconds())/1000)
	add("single", "CPU per delivered message", b.name, "µs", float64(cpu.Microseconds())/float64(max(res.received, 1)))
}

// moderate runs the moderate-rate rows: one publisher and one subscriber
// at 5000 msg/s for 5 s, QoS 0 and QoS 1, the broker's CPU seconds and
// latency; the brokers take turns in a rotating order, each round on fresh
// processes.
func moderate(root string, rounds int) {
	whos := []string{"emqx-go", "mochi", "mosquitto"}
	for r := 0; r < rounds; r++ {
		for _, who := range whos {
			var b *broker
			var err error
			switch who {
			case "emqx-go":
				b, err = startEmqx(root, "emqx@127.0.0.1")
			case "mosquitto":
				b, err = startMosquitto()
			default:
				b, err = startStockMochi()
			}
			must(err)
			for _, qos := range []byte{0, 1} {
				cpu0 := procstat.CPUTime(b.pid())
				res, err := pacedQoS(b.addr, b.addr, 5000, 5*time.Second, qos)
				must(err)
				cpu := procstat.CPUTime(b.pid()) - cpu0
				m := fmt.Sprintf("QoS%d @5k msg/s", qos)
				add("moderate", m+" CPU seconds", who, "s", cpu.Seconds())
				add("moderate", m+" p50", who, "ms", float64(res.p50.Microseconds())/1000)
				add("moderate", m+" p99", who, "ms", float64(res.p99.Microseconds())/1000)
			}
			b.stop()
		}
		whos = append(whos[1:], whos[0])
	}
}

// accessCost measures QoS 0 1->1 throughput on a node with the shipped
// acl.conf and emqx_auth_mnesia loaded (with a user and ACL rules in its
// database, the ACL cache in front of it) against one with an empty
// acl.conf and no plugin; fresh processes, alternating order.
func accessCost(root string, rounds, scale int) {
	empty, err := os.CreateTemp("", "emqxbench-acl-*.conf")
	must(err)
	empty.Close()
	defer os.Remove(empty.Name())
	runs := []struct {
		who string
		env []string
	}{
		{"with access", []string{"EMQX_LOADED_PLUGINS=emqx_auth_mnesia"}},
		{"without", []string{"EMQX_ACL_FILE=" + empty.Name()}},
	}
	for r := 0; r < rounds; r++ {
		for i := range runs {
			run := runs[(i+r)%len(runs)]
			b, err := startEmqx(root, "emqx@127.0.0.1", run.env...)
			must(err)
			if run.who == "with access" {
				for _, args := range [][]string{{"user", "add", "bench-user", "secret"}, {"acl", "add", "_all", "private/#", "pubsub", "deny"},
					{"acl", "add", "username", "bench-user", "bench/#", "pubsub", "allow"}} {
					_, err := b.ctl(root, args...)
					must(err)
				}
			}
			v, _, err := throughput(b.addr, b.addr, 1, 0, 200000/scale, 64)
			must(err)
			add("access", "QoS0 1->1 throughput", run.who, "msg/s", v)
			b.stop()
		}
	}
}

// idleMemory: RSS per idle connection, 10k connections.
func idleMemory(b *broker, scale int) {
	const conns = 10000
	before := procstat.RSS(b.pid())
	cs, err := idleConns(b.addr, conns/scale)
	must(err)
	time.Sleep(2 * time.Second) // let the broker settle its buffers before reading RSS
	after := procstat.RSS(b.pid())
	add("single", "idle memory per connection", b.name, "KB", float64(after-before)/1024/float64(len(cs)))
	for _, c := range cs {
		c.close()
	}
}

// cluster3: route propagation, join time, kill -9 -> stopped, 10k subscriptions.
func cluster3(root string, a, b, c *broker, rounds int) {
	for r := 0; r < rounds; r++ {
		s := time.Now()
		out, err := c.ctl(root, "cluster", "join", a.node)
		if err != nil {
			must(fmt.Errorf("join: %v %s", err, out))
		}
		add("cluster3", "join time", "emqx-go", "ms", float64(time.Since(s).Microseconds())/1000)
		if r < rounds-1 {
			_, _ = c.ctl(root, "cluster", "leave")
		}
	}
	// Route propagation: subscribe on b while a publishes every ms.
	pub, err := dial(a.addr, "rp-pub")
	must(err)
	var samples []float64
	for i := 0; i < 20*rounds; i++ {
		topic := fmt.Sprintf("bench/rp/%d", i)
		stop := make(chan struct{})
		go func() {
			t := time.NewTicker(time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					_ = pub.publish(topic, []byte("M"), 0, 0)
					_ = pub.flush()
				}
			}
		}()
		s := time.Now()
		rcv, err := newReceiver(b.addr, topic, 0, false)
		must(err)
		for rcv.count.Load() == 0 && time.Since(s) < 5*time.Second {
			time.Sleep(100 * time.Microsecond)
		}
		samples = append(samples, float64(time.Since(s).Microseconds())/1000)
		close(stop)
		rcv.close()
	}
	pub.close()
	sort.Float64s(samples)
	add("cluster3", "route propagation p50", "emqx-go", "ms", samples[len(samples)/2])
	add("cluster3", "route propagation p99", "emqx-go", "ms", samples[len(samples)*99/100])

	// 10k subscriptions on b, replicated to a.
	sub, err := dial(b.addr, "many-subs")
	must(err)
	s := time.Now()
	for i := 0; i < 10000; i++ {
		must(sub.subscribeNoWait(fmt.Sprintf("bench/many/%d", i), uint16(i%65000+1)))
	}
	must(sub.flush())
	pub, err = dial(a.addr, "many-pub")
	must(err)
	got := make(chan struct{})
	go func() {
		for {
			typ, body, err := sub.read()
			if err != nil {
				return
			}
			if typ == 3 && string(payloadOf(body)) == "last" {
				close(got)
				return
			}
		}
	}()
	for done := false; !done && time.Since(s) < 30*time.Second; {
		_ = pub.publish("bench/many/9999", []byte("last"), 0, 0)
		_ = pub.flush()
		select {
		case <-got:
			done = true
		case <-time.After(5 * time.Millisecond):
		}
	}
	add("cluster3", "10k subscriptions replicated", "emqx-go", "ms", float64(time.Since(s).Microseconds())/1000)
	sub.close()
	pub.close()

	// kill -9 -> shown as stopped on a.
	for r := 0; r < rounds; r++ {
		must(c.cmd.Process.Signal(syscall.SIGKILL))
		_, _ = c.cmd.Process.Wait()
		s := time.Now()
		for time.Since(s) < 30*time.Second {
			out, _ := a.ctl(root, "cluster", "status")
			if strings.Contains(out, "stopped_nodes") {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		add("cluster3", "kill -9 -> shown as stopped", "emqx-go", "ms", float64(time.Since(s).Microseconds())/1000)
		nc, err := restart(root, c)
		must(err)
		*c = *nc
		for s := time.Now(); time.Since(s) < 30*time.Second; time.Sleep(50 * time.Millisecond) {
			if out, _ := a.ctl(root, "cluster", "status"); !strings.Contains(out, "stopped_nodes") {
				break
			}
		}
	}
}

// restart starts a killed node again in its home (it rejoins by itself).
func restart(_ string, b *broker) (*broker, error) {
	cmd := exec.Command(b.cmd.Path, b.cmd.Args[1:]...)
	cmd.Env = b.cmd.Env
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &broker{name: b.name, addr: b.addr, home: b.home, node: b.node, cmd: cmd}, waitPort(b.addr)
}

type row struct {
	label, scenario, metric, ours, base string
	higherBetter                        bool
	target                              string
	check                               func(ours, base float64) bool
}

// lastRun is the previous run's samples of the node's QoS 0 1->1
// throughput in dir's results.jsonl, as the baseline "last run": the cost
// of what changed since (the operator's counters, say) shows against it.
// Runs on another day can differ by more than the noise of one run; the
// row says which run it compares with.
func lastRun(dir string) (samples []float64, when string) {
	b, err := os.ReadFile(filepath.Join(dir, "results.jsonl"))
	if err != nil {
		return nil, ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		var r struct {
			Time, Scenario, Metric, Who string
			Samples                     []float64
		}
		if json.Unmarshal([]byte(l), &r) != nil {
			continue
		}
		if r.Scenario == "single" && r.Metric == "QoS0 1->1 throughput" && r.Who == "emqx-go" && len(r.Samples) > 0 {
			samples, when = r.Samples, r.Time
		}
	}
	return samples, when
}

func report(dir string, started time.Time, load string) {
	lastLabel := "QoS0 1->1 throughput (counters on), vs the last run (none recorded)"
	lastCheck := func(o, b float64) bool { return o >= 0.97*b }
	if k := (key{"single", "QoS0 1->1 throughput", "emqx-go"}); len(results[k]) > 0 {
		if prev, when := lastRun(dir); len(prev) > 0 {
			results[key{"single", "QoS0 1->1 throughput", "last run"}] = prev
			units[key{"single", "QoS0 1->1 throughput", "last run"}] = units[k]
			lastLabel = "QoS0 1->1 throughput (counters on), vs the last run (" + when + ")"
		} else {
			lastCheck = nil
		}
	}
	rows := []row{
		{"QoS0 1->1 throughput", "single", "QoS0 1->1 throughput", "emqx-go", "mosquitto", true, ">= 1.0x mosquitto", func(o, b float64) bool { return o >= b }},
		{"QoS1 1->1 throughput", "single", "QoS1 1->1 throughput", "emqx-go", "mosquitto", true, ">= 1.0x mosquitto", func(o, b float64) bool { return o >= b }},
		{"QoS1 burst loss (60000 at full speed, 100 in flight)", "single", "QoS1 burst loss", "emqx-go", "", false, "= 0", func(o, _ float64) bool { return o == 0 }},
		{"stock mochi: QoS1 burst loss", "single", "QoS1 burst loss", "mochi", "", false, "-", nil},
		{"mosquitto: QoS1 burst loss", "single", "QoS1 burst loss", "mosquitto", "", false, "-", nil},
		{"QoS0 fan-out 1->50", "single", "QoS0 fan-out 1->50 deliveries", "emqx-go", "mosquitto", true, "-", nil},
		{"latency p50 @5k msg/s", "single", "latency p50 @5k msg/s", "emqx-go", "mosquitto", false, "-", nil},
		{"latency p99 @5k msg/s", "single", "latency p99 @5k msg/s", "emqx-go", "mosquitto", false, "-", nil},
		{"CPU per delivered message", "single", "CPU per delivered message", "emqx-go", "mosquitto", false, "<= 1.5x mosquitto", func(o, b float64) bool { return o <= 1.5*b }},
		{"idle memory per connection (10k)", "single", "idle memory per connection", "emqx-go", "mosquitto", false, "<= 12 KB", func(o, _ float64) bool { return o <= 12 }},
		{lastLabel, "single", "QoS0 1->1 throughput", "emqx-go", "last run", true, ">= 0.97x last run", lastCheck},
		{"QoS0 1->1 throughput, vs stock mochi", "single", "QoS0 1->1 throughput", "emqx-go", "mochi", true, "-", nil},
		{"QoS1 1->1 throughput, vs stock mochi", "single", "QoS1 1->1 throughput", "emqx-go", "mochi", true, "-", nil},
		{"CPU per delivered message, vs stock mochi", "single", "CPU per delivered message", "emqx-go", "mochi", false, "-", nil},
		{"idle memory per connection, vs stock mochi", "single", "idle memory per connection", "emqx-go", "mochi", false, "-", nil},
		{"stock mochi: CPU per delivered message", "single", "CPU per delivered message", "mochi", "mosquitto", false, "-", nil},
		{"stock mochi: idle memory per connection", "single", "idle memory per connection", "mochi", "mosquitto", false, "-", nil},
		{"QoS0 @5k msg/s: CPU seconds (5 s)", "moderate", "QoS0 @5k msg/s CPU seconds", "emqx-go", "mochi", false, "<= 1.0x stock mochi", func(o, b float64) bool { return o <= b }},
		{"QoS0 @5k msg/s: p50", "moderate", "QoS0 @5k msg/s p50", "emqx-go", "mochi", false, "-", nil},
		{"QoS0 @5k msg/s: p99", "moderate", "QoS0 @5k msg/s p99", "emqx-go", "mochi", false, "<= 1.2x stock mochi", func(o, b float64) bool { return o <= 1.2*b }},
		{"QoS1 @5k msg/s: CPU seconds (5 s)", "moderate", "QoS1 @5k msg/s CPU seconds", "emqx-go", "mochi", false, "<= 1.0x stock mochi", func(o, b float64) bool { return o <= b }},
		{"QoS1 @5k msg/s: p50", "moderate", "QoS1 @5k msg/s p50", "emqx-go", "mochi", false, "-", nil},
		{"QoS1 @5k msg/s: p99", "moderate", "QoS1 @5k msg/s p99", "emqx-go", "mochi", false, "<= 1.2x stock mochi", func(o, b float64) bool { return o <= 1.2*b }},
		{"QoS0 @5k msg/s: CPU seconds, vs mosquitto", "moderate", "QoS0 @5k msg/s CPU seconds", "emqx-go", "mosquitto", false, "-", nil},
		{"QoS1 @5k msg/s: CPU seconds, vs mosquitto", "moderate", "QoS1 @5k msg/s CPU seconds", "emqx-go", "mosquitto", false, "-", nil},
		{"QoS0 @5k msg/s: p99, vs mosquitto", "moderate", "QoS0 @5k msg/s p99", "emqx-go", "mosquitto", false, "-", nil},
		{"QoS0 1->1 throughput, default acl.conf + built-in database vs none", "access", "QoS0 1->1 throughput", "with access", "without", true, ">= 0.95x", func(o, b float64) bool { return o >= 0.95*b }},
		{"cluster QoS0 throughput", "cluster2", "QoS0 1->1 throughput", "cross-node", "same-node", true, ">= 0.85x same-node", func(o, b float64) bool { return o >= 0.85*b }},
		{"cluster QoS1 throughput", "cluster2", "QoS1 1->1 throughput", "cross-node", "same-node", true, "-", nil},
		{"cluster latency p50 @5k", "cluster2", "latency p50 @5k msg/s", "cross-node", "same-node", false, "-", nil},
		{"cluster latency p99 @5k", "cluster2", "latency p99 @5k msg/s", "cross-node", "same-node", false, "<= 1.5x same-node", func(o, b float64) bool { return o <= 1.5*b }},
		{"cluster latency p99 @20k", "cluster2", "latency p99 @20k msg/s", "cross-node", "same-node", false, "<= 1.5x same-node", func(o, b float64) bool { return o <= 1.5*b }},
		{"cluster CPU per delivered message @5k (both nodes)", "cluster2", "CPU per delivered message @5k msg/s", "cross-node", "same-node", false, "<= 1.5x same-node", func(o, b float64) bool { return o <= 1.5*b }},
		{"cluster run-queue wait per message @5k (both nodes)", "cluster2", "run-queue wait per message @5k msg/s", "cross-node", "same-node", false, "-", nil},
		{"cross-node QoS0 loss @10k msg/s", "cluster2", "QoS0 loss @10k msg/s", "cross-node", "", false, "-", nil},
		{"cross-node QoS0 loss @20k msg/s", "cluster2", "QoS0 loss @20k msg/s", "cross-node", "", false, "= 0", func(o, _ float64) bool { return o == 0 }},
		{"cross-node QoS0 loss @40k msg/s", "cluster2", "QoS0 loss @40k msg/s", "cross-node", "", false, "-", nil},
		{"route propagation p99", "cluster3", "route propagation p99", "emqx-go", "", false, "< 20 ms", func(o, _ float64) bool { return o < 20 }},
		{"join time", "cluster3", "join time", "emqx-go", "", false, "< 1000 ms", func(o, _ float64) bool { return o < 1000 }},
		{"kill -9 -> shown as stopped", "cluster3", "kill -9 -> shown as stopped", "emqx-go", "", false, "<= 5000 ms", func(o, _ float64) bool { return o <= 5000 }},
		{"10k subscriptions replicated", "cluster3", "10k subscriptions replicated", "emqx-go", "", false, "-", nil},
		{"route propagation p50", "cluster3", "route propagation p50", "emqx-go", "", false, "-", nil},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n## emqxbench %s (load before: %s; took %s)\n\n", started.Format(time.RFC3339), load, time.Since(started).Round(time.Second))
	b.WriteString("| metric | ours (median, min-max) | baseline (median, min-max) | ratio | target | met |\n|---|---|---|---|---|---|\n")
	cell := func(k key) (string, float64) {
		v := results[k]
		if len(v) == 0 {
			return "-", 0
		}
		s := append([]float64(nil), v...)
		sort.Float64s(s)
		return fmt.Sprintf("%.2f %s (%.2f-%.2f)", median(s), units[k], s[0], s[len(s)-1]), median(s)
	}
	for _, r := range rows {
		if len(results[key{r.scenario, r.metric, r.ours}]) == 0 {
			continue // scenario not run
		}
		ours, o := cell(key{r.scenario, r.metric, r.ours})
		base, bv := "-", 0.0
		ratio := "-"
		if r.base != "" {
			base, bv = cell(key{r.scenario, r.metric, r.base})
			if bv != 0 {
				ratio = fmt.Sprintf("%.2fx", o/bv)
			}
		}
		met := "-"
		if r.check != nil {
			met = "MISS"
			if r.check(o, bv) {
				met = "yes"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.label, ours, base, ratio, r.target, met)
	}
	fmt.Print(b.String())
	must(os.MkdirAll(dir, 0o755))
	f, err := os.OpenFile(filepath.Join(dir, "results.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	must(err)
	defer f.Close()
	enc := json.NewEncoder(f)
	for _, k := range order {
		_ = enc.Encode(map[string]any{"time": started.Format(time.RFC3339), "command": strings.Join(os.Args, " "), "loadavg": load,
			"scenario": k.scenario, "metric": k.metric, "who": k.who, "unit": units[k], "median": median(results[k]), "samples": results[k]})
	}
	fmt.Printf("\nJSON lines appended to %s\n", filepath.Join(dir, "results.jsonl"))
}
