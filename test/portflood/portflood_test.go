// Package portflood floods the cluster (RPC) port of a real node process
// with what a stranger can send before proving the cookie (huge hellos,
// huge frame headers trickled, wrong proofs) and checks that the node's
// memory and log stay bounded, that it stays linked to its peer, and that a
// genuine node with another cookie is still logged. Loopback only.
package portflood

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"emqxgo/internal/ctlrpc"
	"emqxgo/internal/peerlink"
	"emqxgo/internal/testutil"
)

// Bounds the flood must stay within.
const (
	floodFor     = 10 * time.Second
	maxRSSGrowth = 64 << 20
	maxLogGrowth = 1 << 20
)

var repoRoot = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}()

// build compiles emqx and emqx_ctl into a directory of the test.
func build(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, c := range []string{"emqx", "emqx_ctl"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, c), "./cmd/"+c)
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", c, err, out)
		}
	}
	return dir
}

// node is one release home with the repository's etc/ plus extra lines.
type node struct {
	t    *testing.T
	bin  string
	name string
	home string
}

func newNode(t *testing.T, bin, name string, extra ...string) *node {
	t.Helper()
	host := name[strings.IndexByte(name, '@')+1:]
	lines := append([]string{"node.name = " + name, "listener.tcp.external = " + host + ":0", "management.listener.http = " + host + ":0",
		"dashboard.listener.http = " + host + ":0"}, extra...)
	home := t.TempDir()
	etc := filepath.Join(home, "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"emqx.conf", "cluster.conf"} {
		b, err := os.ReadFile(filepath.Join(repoRoot, "etc", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines { // cluster.* and rpc.* go to cluster.conf, read last
			if isCluster := strings.HasPrefix(l, "cluster.") || strings.HasPrefix(l, "rpc."); isCluster == (f == "cluster.conf") {
				b = append(b, "\n"+l...)
			}
		}
		if err := os.WriteFile(filepath.Join(etc, f), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n := &node{t: t, bin: bin, name: name, home: home}
	t.Cleanup(func() {
		if _, _, code := n.run("emqx", "ping"); code == 0 {
			n.run("emqx", "stop")
		}
	})
	return n
}

func (n *node) run(bin string, args ...string) (stdout, stderr string, code int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(n.bin, bin), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(strings.ToUpper(kv), "EMQX_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "EMQX_HOME="+n.home, "EMQX_WAIT_FOR_START=60")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	_ = cmd.Run()
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

func (n *node) must(bin string, args ...string) {
	n.t.Helper()
	if o, e, code := n.run(bin, args...); code != 0 {
		n.t.Fatalf("%s %v on %s: exit %d\n%s%s", bin, args, n.name, code, o, e)
	}
}

func (n *node) info() ctlrpc.Response {
	n.t.Helper()
	r, err := (&ctlrpc.Client{Path: filepath.Join(n.home, "data", ctlrpc.SocketName), Timeout: 10 * time.Second}).Ping()
	if err != nil {
		n.t.Fatalf("ping %s: %v", n.name, err)
	}
	return r
}

func (n *node) status() string {
	o, _, _ := n.run("emqx_ctl", "cluster", "status")
	return strings.TrimSpace(o)
}

func (n *node) logFile() string { return filepath.Join(n.home, "log", "emqx.log") }

func fileSize(t *testing.T, p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// readFrom returns what p holds past off, at most 64 KB of it.
func readFrom(t *testing.T, p string, off int64) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b[min(off, int64(len(b))):min(off+64<<10, int64(len(b)))]
}

// rss is VmRSS of pid in bytes.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// The link frame layout, written out here by hand (a stranger's view): a
// 4-byte length, then type, flags, and with flag 16 the handshake fields
// Node, To, Clust, Nonce, Proof (uvarint length and bytes), Ver (a byte),
// Want, Epoch (varint).
const (
	typeHello     = 1
	typeChallenge = 2
	typeRefuse    = 5
	flagErr       = 4
	flagHandshake = 16
	linkProtocol  = peerlink.ProtocolVersion
)

func appendStr(b []byte, s []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// wrongHello is a well-formed hello from claimed, with a random proof.
func wrongHello(claimed, to, cluster string) []byte {
	nonce, proof := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(nonce)
	_, _ = rand.Read(proof)
	b := []byte{typeHello, flagHandshake}
	for _, s := range [][]byte{[]byte(claimed), []byte(to), []byte(cluster), nonce, proof} {
		b = appendStr(b, s)
	}
	b = append(b, linkProtocol)
	b = appendStr(b, []byte("join"))
	b = binary.AppendVarint(b, 0)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

// readSmallFrame reads one frame of at most 4 KB: its type and body.
func readSmallFrame(r *bufio.Reader) (byte, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < 2 || n > 4<<10 {
		return 0, nil, fmt.Errorf("frame of %d bytes before the proof", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return body[0], body, nil
}

// flood counts what the strangers saw.
type flood struct {
	attempts, refusedUnread, challenged, badCookie, leaked atomic.Int64
	silentFor                                              atomic.Int64 // the longest a silent one was kept
	firstLeak                                              atomic.Value
}

func (f *flood) String() string {
	return fmt.Sprintf("%d connections: %d closed unread (over the bounds), %d got the nonce, %d got a bare bad_cookie; silent ones kept %s at most",
		f.attempts.Load(), f.refusedUnread.Load(), f.challenged.Load(), f.badCookie.Load(), time.Duration(f.silentFor.Load()).Round(time.Millisecond))
}

// dial connects to addr from src and reads the acceptor's first frame:
// false if it closed the connection without sending one.
func (f *flood) dial(src net.IP, addr string, until time.Time) (net.Conn, *bufio.Reader, bool) {
	c := f.connect(src, addr, until)
	if c == nil {
		return nil, nil, false
	}
	r := bufio.NewReader(c)
	typ, body, err := readSmallFrame(r)
	if err != nil {
		f.refusedUnread.Add(1)
		c.Close()
		return nil, nil, false
	}
	f.check(typ, body)
	f.challenged.Add(1)
	return c, r, true
}

// connect only connects to addr from src.
func (f *flood) connect(src net.IP, addr string, until time.Time) net.Conn {
	f.attempts.Add(1)
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: src}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil
	}
	_ = c.SetDeadline(until.Add(6 * time.Second))
	return c
}

// drain checks the frames the node sent (those it sent before a reset).
func (f *flood) drain(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(6 * time.Second))
	r := bufio.NewReader(c)
	for {
		typ, body, err := readSmallFrame(r)
		if err != nil {
			return
		}
		f.check(typ, body)
	}
}

// check notes a frame that is not a bare challenge or refusal, or that
// carries more than a stranger should learn.
func (f *flood) check(typ byte, body []byte) {
	// The only frames a stranger may see, byte for byte: a challenge (empty
	// Node, To, Clust, a 32-byte nonce, empty Proof, Ver, empty Want, Epoch
	// 0) and a bare bad_cookie refusal (Err, then the handshake fields empty).
	challenge := []byte{typeChallenge, flagHandshake, 0, 0, 0, 32}
	refusal := append([]byte{typeRefuse, flagErr | flagHandshake, 10}, "bad_cookie\x00\x00\x00\x00\x00\x00\x00\x00"...)
	bad := ""
	switch typ {
	case typeChallenge:
		if len(body) != len(challenge)+32+4 || !bytes.HasPrefix(body, challenge) || !bytes.HasSuffix(body, []byte{0, linkProtocol, 0, 0}) {
			bad = "a challenge with more than a nonce"
		}
	case typeRefuse:
		if !bytes.Equal(body, refusal) {
			bad = "a refusal with details"
		}
	default:
		bad = "frame type " + strconv.Itoa(int(typ))
	}
	if bad != "" {
		f.leaked.Add(1)
		f.firstLeak.CompareAndSwap(nil, fmt.Sprintf("%s: %x", bad, body))
	}
}

// hugeHello sends a hello whose node name is 15 MB, streamed until the
// node hangs up.
// It writes first, as a protocol 4 dialer did, then reads what came.
func (f *flood) hugeHello(src net.IP, addr string, until time.Time) {
	c := f.connect(src, addr, until)
	if c == nil {
		return
	}
	defer c.Close()
	defer f.drain(c)
	const name = 15 << 20
	b := binary.BigEndian.AppendUint32(nil, name+100)
	b = append(b, typeHello, flagHandshake)
	b = binary.AppendUvarint(b, name)
	if _, err := c.Write(b); err != nil {
		return
	}
	chunk := bytes.Repeat([]byte("n"), 64<<10)
	_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	for sent := 0; sent < name && time.Now().Before(until); sent += len(chunk) {
		if _, err := c.Write(chunk); err != nil {
			return
		}
	}
}

// trickle announces a 16 MB frame and sends a byte every 200 ms.
func (f *flood) trickle(src net.IP, addr string, until time.Time) {
	c := f.connect(src, addr, until)
	if c == nil {
		return
	}
	defer c.Close()
	defer f.drain(c)
	if _, err := c.Write(binary.BigEndian.AppendUint32(nil, 16<<20)); err != nil {
		return
	}
	for i := 0; i < 50 && time.Now().Before(until); i++ {
		time.Sleep(200 * time.Millisecond)
		if _, err := c.Write([]byte{'x'}); err != nil {
			return
		}
	}
}

// silent takes a place and says nothing until the node hangs up.
func (f *flood) silent(src net.IP, addr string, until time.Time) {
	c, r, ok := f.dial(src, addr, until)
	if !ok {
		return
	}
	defer c.Close()
	start := time.Now()
	_, _ = io.Copy(io.Discard, r)
	f.silentFor.Store(max(f.silentFor.Load(), int64(time.Since(start))))
}

// wrongProof sends a hello with a wrong proof claiming to be claimed.
func (f *flood) wrongProof(src net.IP, addr, claimed, to string, until time.Time) {
	c, r, ok := f.dial(src, addr, until)
	if !ok {
		return
	}
	defer c.Close()
	if _, err := c.Write(wrongHello(claimed, to, "floodcl")); err != nil {
		return
	}
	for {
		typ, body, err := readSmallFrame(r)
		if err != nil {
			return
		}
		f.check(typ, body)
		if typ == typeRefuse {
			f.badCookie.Add(1)
		}
	}
}

// TestFloodBeforeProof: for floodFor, strangers on four loopback addresses
// flood node 1's cluster port with 15 MB hellos (48 at a time), 16 MB frame
// headers trickled (16 at a time) and wrong proofs claiming the name of a
// real node (a few hundred), and three more addresses hold 12 silent
// connections each (more than the 8 a source may have in its handshake).
// Node 1 stays within maxRSSGrowth and maxLogGrowth, stays linked to node 2
// (cluster status, and messages across them), closes the silent ones when
// the handshake time is up, and still logs the genuine node with another
// cookie.
func TestFloodBeforeProof(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	bin := os.Getenv("PORTFLOOD_BIN") // a directory with emqx and emqx_ctl of another build, to compare
	if bin == "" {
		bin = build(t)
	}
	sub := testutil.Subnet(t)
	host := func(i int) string { return fmt.Sprintf("127.0.%d.%d", sub, i) }
	cookie := "node.cookie = portflood-cookie-0123456789"
	n1 := newNode(t, bin, "emqx1@"+host(1), cookie, "cluster.name = floodcl")
	n2 := newNode(t, bin, "emqx2@"+host(2), cookie, "cluster.name = floodcl")
	n3 := newNode(t, bin, "emqx3@"+host(3), "node.cookie = another-cookie-0123456789", "cluster.name = floodcl")
	for _, n := range []*node{n1, n2, n3} {
		n.must("emqx", "start")
	}
	n2.must("emqx_ctl", "cluster", "join", n1.name)
	both := ctlrpc.ClusterStatus{Running: []string{n1.name, n2.name}}.Line()
	testutil.Eventually(t, 20*time.Second, "both nodes running on node 1", func() bool { return n1.status() == both })
	testutil.Eventually(t, 20*time.Second, "both nodes running on node 2", func() bool { return n2.status() == both })
	i1, i2 := n1.info(), n2.info()
	pub := testutil.DialV5(t, i1.Listeners["tcp"], "flood-pub")
	subc := testutil.DialV5(t, i2.Listeners["tcp"], "flood-sub")
	subc.Sub(t, "flood/#", 0)
	crossNode := func(within time.Duration) bool {
		for deadline := time.Now().Add(within); time.Now().Before(deadline); {
			pub.Pub(t, "flood/probe", 0, []byte("p"))
			select {
			case <-subc.Msgs:
				for len(subc.Msgs) > 0 {
					<-subc.Msgs
				}
				return true
			case <-time.After(200 * time.Millisecond):
			}
		}
		return false
	}
	if !crossNode(10 * time.Second) {
		t.Fatal("no message across the nodes before the flood")
	}

	time.Sleep(time.Second) // let node 1 settle
	var base int64
	for i := 0; i < 4; i++ {
		v, err := rss(i1.Pid)
		if err != nil {
			t.Fatal(err)
		}
		base = max(base, v)
		time.Sleep(100 * time.Millisecond)
	}
	logBase := fileSize(t, n1.logFile())
	rpc := net.JoinHostPort(host(1), "5371") // emqx1: 5370+1
	t.Logf("node 1 (pid %d) before the flood: RSS %d MB, log %d bytes", i1.Pid, base>>20, logBase)

	f := &flood{}
	until := time.Now().Add(floodFor)
	var wg sync.WaitGroup
	worker := func(n int, src net.IP, pause time.Duration, do func(net.IP, time.Time)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n && time.Now().Before(until); i++ {
				do(src, until)
				time.Sleep(pause)
			}
		}()
	}
	for i := 0; i < 48; i++ { // (a) 15 MB hellos
		worker(200, net.ParseIP(host(100+i%4)), 100*time.Millisecond, func(src net.IP, u time.Time) { f.hugeHello(src, rpc, u) })
	}
	for i := 0; i < 16; i++ { // (b) 16 MB headers, trickled
		worker(100, net.ParseIP(host(100+i%4)), 50*time.Millisecond, func(src net.IP, u time.Time) { f.trickle(src, rpc, u) })
	}
	for i := 0; i < 36; i++ { // (d) silent ones from three other sources, 12 each: more than a source may hold
		worker(20, net.ParseIP(host(110+i%3)), 50*time.Millisecond, func(src net.IP, u time.Time) { f.silent(src, rpc, u) })
	}
	for i := 0; i < 4; i++ { // (c) wrong proofs in the name of node 3
		worker(100, net.ParseIP(host(100+i)), 20*time.Millisecond, func(src net.IP, u time.Time) { f.wrongProof(src, rpc, n3.name, n1.name, u) })
	}

	// Meanwhile: node 1's memory, its view of the cluster, messages across,
	// and node 3 (another cookie, its own address) trying to join.
	var peak int64
	var problems []string
	joined := false
	for tick := 0; time.Now().Before(until); tick++ {
		if v, err := rss(i1.Pid); err == nil {
			peak = max(peak, v)
		} else {
			problems = append(problems, "node 1 gone: "+err.Error())
			break
		}
		if tick%4 == 0 {
			if st := n1.status(); st != both {
				problems = append(problems, "cluster status on node 1 during the flood: "+st)
			}
			if !crossNode(3 * time.Second) {
				problems = append(problems, "no message across the nodes during the flood")
			}
		}
		if !joined && time.Until(until) < floodFor/2 {
			joined = true
			if _, e, code := n3.run("emqx_ctl", "cluster", "join", n1.name); code == 0 || !strings.Contains(e, "bad_cookie") {
				problems = append(problems, fmt.Sprintf("node 3 joining with another cookie: exit %d, %q", code, e))
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	wg.Wait()
	if v, err := rss(i1.Pid); err == nil {
		peak = max(peak, v)
	}
	logGrowth := fileSize(t, n1.logFile()) - logBase
	t.Logf("flood: %s", f)
	t.Logf("node 1 under the flood: RSS peak %d MB (+%d MB), log +%d bytes", peak>>20, (peak-base)>>20, logGrowth)
	if testing.Verbose() {
		t.Logf("node 1's log during the flood:\n%s", readFrom(t, n1.logFile(), logBase))
	}
	for _, p := range problems {
		t.Error(p)
	}
	if f.attempts.Load() < 1000 || f.badCookie.Load() < 100 || f.refusedUnread.Load() < 100 {
		t.Errorf("the flood was too thin to prove anything: %s", f)
	}
	if l := f.leaked.Load(); l > 0 {
		t.Errorf("%d strangers learned more than a nonce; first: %v", l, f.firstLeak.Load())
	}
	if peak-base > maxRSSGrowth {
		t.Errorf("node 1's RSS grew by %d MB under the flood (bound %d MB)", (peak-base)>>20, maxRSSGrowth>>20)
	}
	if s := time.Duration(f.silentFor.Load()); s > 7*time.Second {
		t.Errorf("a silent stranger was kept %s (the handshake has 5 s)", s)
	}
	if logGrowth > maxLogGrowth {
		t.Errorf("node 1's log grew by %d bytes under the flood (bound %d)", logGrowth, maxLogGrowth)
	}
	if st := n1.status(); st != both {
		t.Errorf("cluster status on node 1 after the flood: %s", st)
	}
	if !crossNode(5 * time.Second) {
		t.Error("no message across the nodes after the flood")
	}
	b, err := os.ReadFile(n1.logFile())
	if err != nil {
		t.Fatal(err)
	}
	genuine := false
	for l := range strings.Lines(string(b)) {
		if strings.Contains(l, "different cookie") && strings.Contains(l, host(3)+":") {
			genuine = true
		}
	}
	if !genuine {
		t.Errorf("node 3's genuine bad cookie is not in node 1's log:\n%s", readFrom(t, n1.logFile(), logBase))
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
