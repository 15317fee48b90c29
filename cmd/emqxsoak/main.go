// Command emqxsoak is `make soak`: three emqx node processes on loopback
// form a cluster; MQTT 5 clients spread over them publish at QoS 0, 1 and 2,
// persistent subscribers (session expiry, clean start 0) hop from node to
// node, a shared group shares a stream, and every -kill-every one node is
// killed -9 and restarted. After -duration it prints what was published,
// acknowledged, delivered, lost, duplicated and out of order, and exits 1
// on any loss of a message the broker owed: acknowledged to its publisher
// and owed to a subscriber whose session was kept (a session on a node that
// was killed is not kept; neither is a message whose publisher's node died
// right after acknowledging it, before it could be forwarded: those are
// counted apart). Every loop is bounded by the run's duration.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

type config struct {
	root        string
	duration    time.Duration
	publishers  int
	rate        int // messages per second per publisher
	subscribers int
	hop         time.Duration
	killEvery   time.Duration
	shared      int
}

func main() {
	_, file, _, _ := runtime.Caller(0)
	var c config
	flag.StringVar(&c.root, "root", filepath.Join(filepath.Dir(file), "..", ".."), "repository with bin/emqx and etc/")
	flag.DurationVar(&c.duration, "duration", 10*time.Minute, "how long the load runs")
	flag.IntVar(&c.publishers, "publishers", 60, "publishers (QoS 0, 1, 2 in turn)")
	flag.IntVar(&c.rate, "rate", 20, "messages per second per publisher")
	flag.IntVar(&c.subscribers, "subscribers", 150, "persistent subscribers, two publishers' topics each")
	flag.DurationVar(&c.hop, "hop", 15*time.Second, "each persistent subscriber moves to the next node this often")
	flag.DurationVar(&c.killEvery, "kill-every", time.Minute, "one node is killed -9 and restarted this often (0: never)")
	flag.IntVar(&c.shared, "shared", 3, "members of the shared group $share/g/soak/shared/#")
	flag.Parse()
	if d := os.Getenv("SOAK"); d != "" {
		v, err := time.ParseDuration(d)
		if err != nil {
			fmt.Fprintf(os.Stderr, "SOAK=%s: %v\n", d, err)
			os.Exit(2)
		}
		c.duration = v
	}
	r, err := run(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "emqxsoak:", err)
		os.Exit(2)
	}
	r.print(os.Stdout)
	if r.failed() {
		os.Exit(1)
	}
}

// run starts the cluster, drives the load, and counts.
func run(c config) (*report, error) {
	var ns []*node
	defer func() {
		for _, n := range ns {
			n.stop()
			_ = os.RemoveAll(n.home)
		}
	}()
	for i := 1; i <= 3; i++ {
		n, err := newNode(c.root, fmt.Sprintf("soak%d@127.0.0.1", i))
		if err != nil {
			return nil, err
		}
		ns = append(ns, n)
		if err := n.start(); err != nil {
			return nil, err
		}
	}
	for _, n := range ns[1:] {
		if out, err := n.ctl("cluster", "join", ns[0].name); err != nil {
			return nil, fmt.Errorf("%s: cluster join: %v: %s", n.name, err, out)
		}
	}
	w := newWorld(c, ns)
	subCtx, stopSubs := context.WithCancel(context.Background())
	defer stopSubs()
	var wg sync.WaitGroup
	for i := 0; i < c.subscribers; i++ {
		s := w.newSubscriber(i, []int{i % c.publishers, (i*7 + 3) % c.publishers}, false)
		wg.Add(1)
		go func() { defer wg.Done(); s.run(subCtx, w) }()
	}
	for i := 0; i < c.shared; i++ {
		s := w.newSubscriber(c.subscribers+i, []int{sharedStream}, true)
		wg.Add(1)
		go func() { defer wg.Done(); s.run(subCtx, w) }()
	}
	if err := w.waitSubscribed(30 * time.Second); err != nil {
		stopSubs()
		wg.Wait()
		return nil, err
	}
	load, stopLoad := context.WithTimeout(context.Background(), c.duration)
	defer stopLoad()
	var lwg sync.WaitGroup
	for i := 0; i < c.publishers; i++ {
		p := w.newStream(i, byte(i%3))
		lwg.Add(1)
		go func() { defer lwg.Done(); p.publish(load, w) }()
	}
	sp := w.newStream(sharedStream, 1)
	lwg.Add(1)
	go func() { defer lwg.Done(); sp.publish(load, w) }()
	if c.killEvery > 0 {
		lwg.Add(1)
		go func() { defer lwg.Done(); w.killer(load) }()
	}
	lwg.Wait()
	w.settle(time.Minute)
	stopSubs()
	wg.Wait()
	return w.count(), nil
}
