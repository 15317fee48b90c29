package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"emqxgo/internal/release"
)

// subnet is the loopback /24 the tool's nodes live on: node K is
// scaleK@127.0.<subnet>.K, with its gossip and RPC ports from K (4370+K,
// 5370+K), MQTT on :1883 and management HTTP on :8081 of its own address.
// The tests take 127.0.10-250.x (internal/testutil.Subnet) and the other
// tools 127.0.0.1, so nothing else binds here; lockAddr keeps two runs of
// this tool apart.
const (
	subnet   = 252
	lockAddr = "127.0.252.254:27370"
	cookie   = "scale-cookie"
)

// node is a running bin/emqx process.
type node struct {
	k    int
	name string // scaleK@127.0.252.K
	ip   string
	addr string // MQTT
	api  string // management HTTP, host:port
	home string
	cmd  *exec.Cmd
	done chan struct{}
	once sync.Once
}

// nodes are every node started, so that exit stops them all.
var nodes struct {
	sync.Mutex
	all []*node
}

func (n *node) pid() int { return n.cmd.Process.Pid }

// stop ends the process (TERM, then KILL after 10 s) and removes its home;
// safe to call twice and from several goroutines.
func (n *node) stop() {
	n.once.Do(func() {
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		waitOrKill(n.cmd.Process, n.done)
		_ = os.RemoveAll(n.home)
	})
}

// waitOrKill waits for done (the process has been told to end), and kills
// the process if it has not ended after 10 s.
func waitOrKill(p *os.Process, done <-chan struct{}) {
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.Kill()
		<-done
	}
}

func stopAll() {
	nodes.Lock()
	all := append([]*node(nil), nodes.all...)
	nodes.Unlock()
	var wg sync.WaitGroup
	for _, n := range all {
		wg.Add(1)
		go func() { defer wg.Done(); n.stop() }()
	}
	wg.Wait()
}

// startNode runs bin/emqx foreground as node k in a fresh home and waits
// for its MQTT and HTTP ports. The process dies with the tool (Pdeathsig).
func startNode(root string, k int) (*node, error) {
	home, err := release.NewHome(root, "emqxscale-node")
	if err != nil {
		return nil, err
	}
	ip := fmt.Sprintf("127.0.%d.%d", subnet, k)
	n := &node{k: k, name: fmt.Sprintf("scale%d@%s", k, ip), ip: ip, addr: ip + ":1883", api: ip + ":8081",
		home: home, done: make(chan struct{})}
	cmd := exec.Command(filepath.Join(root, "bin", "emqx"), "foreground")
	cmd.Env = append(os.Environ(), "EMQX_HOME="+home, "EMQX_NODE_NAME="+n.name, "EMQX_NODE_COOKIE="+cookie,
		"EMQX_LISTENER__TCP__EXTERNAL="+n.addr, // the only listener the shipped emqx.conf opens
		"EMQX_MANAGEMENT__LISTENER__HTTP="+n.api, "EMQX_DASHBOARD__LISTENER__HTTP=off",
		"EMQX_LOG__TO=file")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(home)
		return nil, err
	}
	n.cmd = cmd
	go func() { _ = cmd.Wait(); close(n.done) }()
	nodes.Lock()
	nodes.all = append(nodes.all, n)
	nodes.Unlock()
	for _, a := range []string{n.addr, n.api} {
		if err := waitPort(a, n.done); err != nil {
			n.stop()
			return nil, fmt.Errorf("%s: %w (log in its home)", n.name, err)
		}
	}
	return n, nil
}

func waitPort(addr string, died <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-died:
			return errors.New("the process exited")
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s does not accept connections in 30 s", addr)
}

// ctl runs bin/emqx_ctl against n and returns its output and wall time.
func (n *node) ctl(root string, args ...string) (string, time.Duration, error) {
	cmd := exec.Command(filepath.Join(root, "bin", "emqx_ctl"), args...)
	cmd.Env = append(os.Environ(), "EMQX_HOME="+n.home, "EMQX_NODE_NAME="+n.name, "EMQX_NODE_COOKIE="+cookie)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(t0)
	if err != nil {
		return string(out), d, fmt.Errorf("emqx_ctl %s on %s: %v: %s", strings.Join(args, " "), n.name, err, firstLine(string(out)))
	}
	return string(out), d, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// stat reads one figure of `emqx_ctl broker stats` ("routes.count").
func (n *node) stat(root, name string) (int, time.Duration, error) {
	out, d, err := n.ctl(root, "broker", "stats")
	if err != nil {
		return 0, d, err
	}
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.TrimSpace(k) == name {
			i, err := strconv.Atoi(strings.TrimSpace(v))
			return i, d, err
		}
	}
	return 0, d, fmt.Errorf("no %s in broker stats of %s", name, n.name)
}

var httpc = &http.Client{Timeout: 30 * time.Second}

// fetch calls the management API (admin/public, the default application)
// and returns the body and the wall time; a status other than 200 is an
// error.
func (n *node) fetch(path string) ([]byte, time.Duration, error) {
	req, err := http.NewRequest("GET", "http://"+n.api+"/api/v4"+path, nil)
	if err != nil {
		return nil, 0, err
	}
	req.SetBasicAuth("admin", "public")
	t0 := time.Now()
	resp, err := httpc.Do(req)
	if err != nil {
		return nil, time.Since(t0), err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	d := time.Since(t0)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("GET %s on %s: %s: %.200s", path, n.name, resp.Status, b)
	}
	return b, d, err
}

// get is fetch that keeps only the body's size.
func (n *node) get(path string) (int, time.Duration, error) {
	b, d, err := n.fetch(path)
	return len(b), d, err
}

// getJSON is fetch that decodes the body into v.
func (n *node) getJSON(path string, v any) (time.Duration, error) {
	b, d, err := n.fetch(path)
	if err != nil {
		return d, err
	}
	return d, json.Unmarshal(b, v)
}

// apiStat reads one figure of GET /api/v4/nodes/{node}/stats, answered
// by n itself (cheaper to poll than an emqx_ctl process).
func (n *node) apiStat(name string) (int, error) {
	var v struct {
		Code int            `json:"code"`
		Data map[string]int `json:"data"`
	}
	if _, err := n.getJSON("/nodes/"+n.name+"/stats", &v); err != nil {
		return 0, err
	}
	got, ok := v.Data[name]
	if !ok {
		return 0, fmt.Errorf("no %s in the stats of %s (code %d)", name, n.name, v.Code)
	}
	return got, nil
}

// nofile is the soft and hard limit on open files of pid (0: this process).
func nofile(pid int) (soft, hard int64) {
	p := "self"
	if pid > 0 {
		p = strconv.Itoa(pid)
	}
	b, err := os.ReadFile("/proc/" + p + "/limits")
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(strings.TrimPrefix(l, "Max open files")); strings.HasPrefix(l, "Max open files") && len(f) >= 2 {
			soft, _ = strconv.ParseInt(f[0], 10, 64)
			hard, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	return soft, hard
}

// raiseNofile lifts this process's soft limit to want, or to the hard
// limit if that is lower (raising the hard limit needs CAP_SYS_RESOURCE).
func raiseNofile(want uint64) {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return
	}
	if want > l.Max {
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: want}) == nil {
			return
		}
		want = l.Max
	}
	l.Cur = want
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
}
