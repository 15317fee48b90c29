package mcast

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/net/ipv4"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testGroup is the multicast group of the tests; enableLoopbackMulticast
// routes it to lo.
const testGroup = "239.192.77.1"

const testWait = 300 * time.Millisecond

var loSetup struct {
	once sync.Once
	err  error
}

// needLoopbackMulticast makes lo usable for multicast: the MULTICAST flag
// and a route for the test group (so that Iface 0.0.0.0 picks lo too). It
// needs root (CAP_NET_ADMIN) and the ip command of iproute2. The changes
// are left in place; they are harmless.
func needLoopbackMulticast(t *testing.T) {
	t.Helper()
	loSetup.once.Do(func() { loSetup.err = enableLoopbackMulticast() })
	if loSetup.err != nil {
		t.Fatalf("cannot enable multicast on the loopback interface (these tests need root and iproute2): %v", loSetup.err)
	}
}

func enableLoopbackMulticast() error {
	ip, err := exec.LookPath("ip")
	if err != nil {
		return fmt.Errorf("the ip command is missing (install the iproute2 package): %w", err)
	}
	for _, args := range [][]string{
		{"link", "set", "lo", "multicast", "on"},
		{"route", "add", testGroup + "/32", "dev", "lo"},
	} {
		out, err := exec.Command(ip, args...).CombinedOutput()
		if err != nil && !strings.Contains(string(out), "File exists") {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// freeUDPPorts returns n distinct UDP ports that were free a moment ago.
func freeUDPPorts(t *testing.T, n int) []int {
	t.Helper()
	var conns []*net.UDPConn
	var ports []int
	for range n {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero})
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		ports = append(ports, c.LocalAddr().(*net.UDPAddr).Port)
	}
	for _, c := range conns {
		c.Close()
	}
	return ports
}

// testCfg is the keys and the options of one test node.
type testCfg struct {
	Config
	Options
}

func testConfig(node string, ports []int) testCfg {
	return testCfg{
		Config: Config{
			Addr:  testGroup,
			Ports: ports,
			Iface: "127.0.0.1",
			TTL:   1,
			Loop:  true,
		},
		Options: Options{
			Node:        node,
			ClusterName: "emqxcl",
			Cookie:      "emqxsecretcookie",
			Wait:        testWait,
		},
	}
}

// newStrategy validates the Config (as package config does) and calls New.
func newStrategy(t *testing.T, c testCfg) (*Strategy, error) {
	t.Helper()
	c.Validate(func(key, problem string) { t.Fatalf("invalid config: %s: %s", key, problem) })
	return New(c.Config, c.Options)
}

func start(t *testing.T, c testCfg) *Strategy {
	t.Helper()
	s, err := newStrategy(t, c)
	if err != nil {
		t.Fatalf("New(%s): %v", c.Node, err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start(%s): %v", c.Node, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close(%s): %v", c.Node, err)
		}
	})
	return s
}

func discover(t *testing.T, s *Strategy) []string {
	t.Helper()
	got, err := s.Discover(context.Background())
	if err != nil {
		t.Fatalf("Discover(%s): %v", s.node, err)
	}
	return got
}

func wantNodes(t *testing.T, s *Strategy, want ...string) {
	t.Helper()
	got := discover(t, s)
	if !slices.Equal(got, want) {
		t.Errorf("Discover(%s) = %v, want %v", s.node, got, want)
	}
}

func TestThreeNodesFindEachOther(t *testing.T) {
	needLoopbackMulticast(t)
	ports := freeUDPPorts(t, 3)
	names := []string{"emqx1@127.0.0.1", "emqx2@127.0.0.1", "emqx3@127.0.0.1"}
	var ss []*Strategy
	for i, n := range names {
		s := start(t, testConfig(n, ports))
		if s.Port() != ports[i] {
			t.Fatalf("%s bound port %d, want %d (first free of %v)", n, s.Port(), ports[i], ports)
		}
		ss = append(ss, s)
	}
	for _, s := range ss {
		if s.Name() != "mcast" {
			t.Fatalf("Name() = %q", s.Name())
		}
		wantNodes(t, s, names...)
	}
}

func TestOtherCookieAndClusterAreIgnored(t *testing.T) {
	needLoopbackMulticast(t)
	ports := freeUDPPorts(t, 5)
	core, logs := observer.New(zapcore.DebugLevel)

	var same []*Strategy
	for i := 1; i <= 3; i++ {
		c := testConfig(fmt.Sprintf("emqx%d@127.0.0.1", i), ports)
		if i == 1 {
			c.Log = zap.New(core)
		}
		same = append(same, start(t, c))
	}
	c4 := testConfig("emqx4@127.0.0.1", ports)
	c4.Cookie = "anothercookie"
	other4 := start(t, c4)
	c5 := testConfig("emqx5@127.0.0.1", ports)
	c5.ClusterName = "othercluster"
	other5 := start(t, c5)

	seen := map[int]bool{}
	for _, s := range append(slices.Clone(same), other4, other5) {
		if seen[s.Port()] {
			t.Fatalf("port %d bound twice", s.Port())
		}
		seen[s.Port()] = true
	}

	want := map[*Strategy][]string{
		same[0]: {"emqx1@127.0.0.1", "emqx2@127.0.0.1", "emqx3@127.0.0.1"},
		same[1]: {"emqx1@127.0.0.1", "emqx2@127.0.0.1", "emqx3@127.0.0.1"},
		same[2]: {"emqx1@127.0.0.1", "emqx2@127.0.0.1", "emqx3@127.0.0.1"},
		other4:  {"emqx4@127.0.0.1"},
		other5:  {"emqx5@127.0.0.1"},
	}
	for range 3 { // several rounds, all nodes at once: the debug log must not repeat
		var wg sync.WaitGroup
		for s, w := range want {
			wg.Go(func() {
				got, err := s.Discover(context.Background())
				if err != nil || !slices.Equal(got, w) {
					t.Errorf("Discover(%s) = %v, %v; want %v", s.node, got, err, w)
				}
			})
		}
		wg.Wait()
	}

	// emqx1 got 3 pings from emqx4 and 3 from emqx5, each from one address.
	if n := logs.FilterMessage("mcast: ignoring datagram with another cookie").Len(); n != 1 {
		t.Errorf("another-cookie debug lines on emqx1 = %d, want 1 (rate limited per sender)", n)
	}
	if n := logs.FilterMessage("mcast: ignoring datagram of another cluster").Len(); n != 1 {
		t.Errorf("another-cluster debug lines on emqx1 = %d, want 1 (rate limited per sender)", n)
	}
	for _, e := range logs.FilterMessage("mcast: ignoring datagram of another cluster").All() {
		if e.ContextMap()["from_node"] != "emqx5@127.0.0.1" {
			t.Errorf("another-cluster line names %v, want emqx5", e.ContextMap()["from_node"])
		}
	}
}

// lo returns the loopback interface.
func lo(t *testing.T) *net.Interface {
	t.Helper()
	s := &Strategy{iface: mustAddr("127.0.0.1"), log: zap.NewNop()}
	ifi, err := s.interfaceOf()
	if err != nil {
		t.Fatal(err)
	}
	return ifi
}

// multicastSender returns a socket that sends to the test group over lo.
func multicastSender(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	pc := ipv4.NewPacketConn(c)
	if err := pc.SetMulticastInterface(lo(t)); err != nil {
		t.Fatal(err)
	}
	if err := pc.SetMulticastLoopback(true); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGarbageIsIgnored(t *testing.T) {
	needLoopbackMulticast(t)
	ports := freeUDPPorts(t, 2)
	core, logs := observer.New(zapcore.DebugLevel)
	c1 := testConfig("emqx1@127.0.0.1", ports)
	c1.Log = zap.New(core)
	s1 := start(t, c1)
	s2 := start(t, testConfig("emqx2@127.0.0.1", ports))

	wrongKey := proofKey("wrong")
	valid := func(key []byte, m message) []byte { return encode(key, &m) }
	ping := message{V: 1, T: typePing, Node: "x@127.0.0.1", Cluster: "emqxcl", Nonce: newNonce()}
	badProof := valid(s1.key, ping)
	badProof[len(badProof)-5] ^= 0x01 // still hex, wrong proof
	garbage := [][]byte{
		{},
		{0},
		[]byte("hello"),
		[]byte(magic),
		[]byte(magic + "{"),
		[]byte(magic + "null"),
		[]byte(magic + "[]"),
		[]byte(magic + `{"v":"1"}`),
		[]byte(magic + `{"v":2,"t":"ping","node":"x@h","cluster":"emqxcl","nonce":"00","cookie":"00"}`),
		[]byte(magic + `{"v":1,"t":"ping","node":"x@h","cluster":"emqxcl","nonce":"zz","cookie":"zz"}`),
		[]byte(magic + `{"v":1,"t":"hug","node":"x@h","cluster":"emqxcl","nonce":"` + newNonce() + `","cookie":"` + newNonce() + `"}`),
		append([]byte(magic+`{"v":1,"t":"ping","node":"`), make([]byte, 60000)...),
		make([]byte, 65000),
		valid(wrongKey, ping), // another cookie
		badProof,              // tampered proof
		valid(s1.key, message{V: 1, T: typePong, Node: "y@h", Cluster: "emqxcl", Nonce: newNonce()}), // unsolicited pong
	}

	mc := multicastSender(t)
	for range 3 {
		for _, g := range garbage {
			for _, p := range ports {
				// multicast to the group and unicast straight to the port
				if _, err := mc.WriteToUDP(g, &net.UDPAddr{IP: net.ParseIP(testGroup), Port: p}); err != nil {
					t.Fatalf("send %d bytes to group: %v", len(g), err)
				}
				if _, err := mc.WriteToUDP(g, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p}); err != nil {
					t.Fatalf("send %d bytes: %v", len(g), err)
				}
			}
		}
		// and to the discovery socket of emqx1
		for _, g := range garbage {
			if _, err := mc.WriteToUDP(g, s1.client.LocalAddr().(*net.UDPAddr)); err != nil {
				t.Fatalf("send %d bytes: %v", len(g), err)
			}
		}
	}

	// Let the responders work through the heap; emqx1's discovery socket
	// is drained by Discover itself.
	time.Sleep(200 * time.Millisecond)
	wantNodes(t, s1, "emqx1@127.0.0.1", "emqx2@127.0.0.1")
	wantNodes(t, s2, "emqx1@127.0.0.1", "emqx2@127.0.0.1")

	// Only the well-formed ping with another cookie or a bad proof may be
	// logged, once, at debug; everything else is silent.
	for _, e := range logs.All() {
		switch {
		case e.Message == DeprecationWarning, e.Message == "mcast discovery started", e.Message == "mcast: discovered":
		case e.Message == "mcast: ignoring datagram with another cookie" && e.Level == zapcore.DebugLevel:
		default:
			t.Errorf("unexpected log line: %s %q %v", e.Level, e.Message, e.ContextMap())
		}
	}
	// The multicast and the unicast copies may come from two addresses
	// (over lo, multicast gets the source address of another interface).
	from := map[any]bool{}
	for _, e := range logs.FilterMessage("mcast: ignoring datagram with another cookie").All() {
		f := e.ContextMap()["from"]
		if from[f] {
			t.Errorf("another-cookie line repeated for sender %v", f)
		}
		from[f] = true
	}
	if len(from) == 0 {
		t.Error("no debug line for the ping with another cookie")
	}
}

// TestPongsAreMatchedByNonceAndProof puts a spy on one port of the list
// that reads the ping and answers with pongs: a stale nonce, a wrong proof
// and another cluster are dropped, a correct pong is taken (once).
func TestPongsAreMatchedByNonceAndProof(t *testing.T) {
	needLoopbackMulticast(t)
	ports := freeUDPPorts(t, 2)
	spy, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero, Port: ports[0]})
	if err != nil {
		t.Fatal(err)
	}
	defer spy.Close()
	if err := ipv4.NewPacketConn(spy).JoinGroup(lo(t), &net.UDPAddr{IP: net.ParseIP(testGroup)}); err != nil {
		t.Fatal(err)
	}
	s := start(t, testConfig("emqx1@127.0.0.1", ports))
	if s.Port() != ports[1] {
		t.Fatalf("bound %d, want %d: the first port is taken by the spy", s.Port(), ports[1])
	}

	done := make(chan error, 1)
	go func() {
		done <- func() error {
			buf := make([]byte, readBuffer)
			spy.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, src, err := spy.ReadFromUDP(buf)
			if err != nil {
				return err
			}
			ping, ok := decode(buf[:n])
			if !ok || ping.T != typePing || ping.Node != "emqx1@127.0.0.1" || !verify(s.key, ping) {
				return fmt.Errorf("spy got %q", buf[:n])
			}
			pong := func(key []byte, node, cluster, nonce string) []byte {
				return encode(key, &message{V: 1, T: typePong, Node: node, Cluster: cluster, Nonce: nonce})
			}
			for _, d := range [][]byte{
				pong(s.key, "stale@127.0.0.1", "emqxcl", newNonce()),
				pong(proofKey("other"), "bad@127.0.0.1", "emqxcl", ping.Nonce),
				pong(s.key, "cluster@127.0.0.1", "other", ping.Nonce),
				pong(s.key, "ghost@127.0.0.2", "emqxcl", ping.Nonce),
				pong(s.key, "ghost@127.0.0.2", "emqxcl", ping.Nonce),
			} {
				if _, err := spy.WriteToUDP(d, src); err != nil {
					return err
				}
			}
			return nil
		}()
	}()
	wantNodes(t, s, "emqx1@127.0.0.1", "ghost@127.0.0.2")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestDefaultInterface(t *testing.T) {
	needLoopbackMulticast(t) // routes the test group to lo
	ports := freeUDPPorts(t, 2)
	var ss []*Strategy
	for _, n := range []string{"emqx1@127.0.0.1", "emqx2@127.0.0.1"} {
		c := testConfig(n, ports)
		c.Iface = "0.0.0.0"
		ss = append(ss, start(t, c))
	}
	for _, s := range ss {
		wantNodes(t, s, "emqx1@127.0.0.1", "emqx2@127.0.0.1")
	}
}

func TestAllPortsTaken(t *testing.T) {
	needLoopbackMulticast(t)
	ports := freeUDPPorts(t, 2)
	for _, p := range ports {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero, Port: p})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	s, err := newStrategy(t, testConfig("emqx1@127.0.0.1", ports))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Start()
	if err == nil || !strings.Contains(err.Error(), "cluster.mcast.ports") {
		t.Fatalf("Start with every port taken = %v, want an error naming cluster.mcast.ports", err)
	}
	t.Log(err)
	for _, p := range ports {
		if !strings.Contains(err.Error(), fmt.Sprint(p)) {
			t.Errorf("error %q does not name port %d", err, p)
		}
	}
	if _, err := s.Discover(context.Background()); !errors.Is(err, ErrNotStarted) {
		t.Errorf("Discover after a failed Start = %v, want ErrNotStarted", err)
	}

	// all nodes of a list with one port: the second one fails
	one := freeUDPPorts(t, 1)
	start(t, testConfig("emqx1@127.0.0.1", one))
	s2, err := newStrategy(t, testConfig("emqx2@127.0.0.1", one))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.Start(); err == nil || !strings.Contains(err.Error(), "cluster.mcast.ports") {
		t.Fatalf("second node on a one-port list: Start = %v, want cluster.mcast.ports error", err)
	}
}

func TestValidate(t *testing.T) {
	ok := testConfig("emqx1@127.0.0.1", []int{4369}).Config
	for _, c := range []Config{ok, Defaults()} {
		c.Validate(func(key, problem string) { t.Errorf("%+v: %s: %s", c, key, problem) })
	}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		key  string
		want string
	}{
		{"bad addr", func(c *Config) { c.Addr = "239.192.0" }, "cluster.mcast.addr", "IPv4 multicast address"},
		{"hostname addr", func(c *Config) { c.Addr = "mcast.example.com" }, "cluster.mcast.addr", "IPv4 multicast address"},
		{"unicast addr", func(c *Config) { c.Addr = "10.0.0.1" }, "cluster.mcast.addr", "IPv4 multicast address"},
		{"ipv6 addr", func(c *Config) { c.Addr = "ff02::1" }, "cluster.mcast.addr", "IPv4 multicast address"},
		{"empty addr", func(c *Config) { c.Addr = "" }, "cluster.mcast.addr", "IPv4 multicast address"},
		{"ttl 256", func(c *Config) { c.TTL = 256 }, "cluster.mcast.ttl", "from 0 to 255"},
		{"ttl -1", func(c *Config) { c.TTL = -1 }, "cluster.mcast.ttl", "from 0 to 255"},
		{"empty ports", func(c *Config) { c.Ports = []int{} }, "cluster.mcast.ports", "must be a list of ports"},
		{"port 0", func(c *Config) { c.Ports = []int{4369, 0} }, "cluster.mcast.ports", `port "0" must be an integer from 1 to 65535`},
		{"port 65536", func(c *Config) { c.Ports = []int{65536} }, "cluster.mcast.ports", `port "65536" must be`},
		{"iface name", func(c *Config) { c.Iface = "eth0" }, "cluster.mcast.iface", "must be an IPv4 address"},
		{"iface ipv6", func(c *Config) { c.Iface = "::1" }, "cluster.mcast.iface", "must be an IPv4 address"},
		{"iface empty", func(c *Config) { c.Iface = "" }, "cluster.mcast.iface", "must be an IPv4 address"},
		{"iface multicast", func(c *Config) { c.Iface = "239.1.1.1" }, "cluster.mcast.iface", "not a multicast address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mod(&c)
			var got []string
			c.Validate(func(key, problem string) { got = append(got, key+": "+problem) })
			if len(got) != 1 || !strings.HasPrefix(got[0], tc.key+": ") || !strings.Contains(got[0], tc.want) {
				t.Fatalf("Validate: %q; want one problem of %s saying %q", got, tc.key, tc.want)
			}
		})
	}
	for _, ttl := range []int{0, 1, 255} {
		c := ok
		c.TTL = ttl
		c.Validate(func(key, problem string) { t.Errorf("ttl %d: %s: %s", ttl, key, problem) })
	}
}

// TestNewChecksOptions: what New gets besides the keys is checked there.
func TestNewChecksOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Options)
		key  string
	}{
		{"no node", func(o *Options) { o.Node = "" }, "node.name"},
		{"node without host", func(o *Options) { o.Node = "emqx" }, "node.name"},
		{"no cluster", func(o *Options) { o.ClusterName = "" }, "cluster.name"},
		{"no cookie", func(o *Options) { o.Cookie = "" }, "node.cookie"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig("emqx1@127.0.0.1", []int{4369})
			tc.mod(&c.Options)
			s, err := New(c.Config, c.Options)
			if err == nil || !strings.HasPrefix(err.Error(), tc.key+":") {
				t.Fatalf("New = %v, %v; want an error naming %s", s, err, tc.key)
			}
		})
	}
}

func TestNewDefaultsAndBindsNothing(t *testing.T) {
	s, err := New(Defaults(), Options{Node: "emqx@127.0.0.1", ClusterName: "emqxcl", Cookie: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if s.group.String() != DefaultAddr || !slices.Equal(s.ports, []int{DefaultPort}) ||
		!s.iface.IsUnspecified() || s.wait != DefaultWait || s.Port() != 0 || s.ttl != DefaultTTL || !s.loop {
		t.Errorf("defaults: group %s ports %v iface %s wait %s port %d ttl %d loop %v", s.group, s.ports, s.iface, s.wait, s.Port(), s.ttl, s.loop)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	ports := freeUDPPorts(t, 1)
	c := testConfig("emqx1@127.0.0.1", []int{ports[0], ports[0]})
	s, err = newStrategy(t, c)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !slices.Equal(s.ports, ports) {
		t.Errorf("duplicate ports not folded: %v", s.ports)
	}
	l, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero, Port: ports[0]})
	if err != nil {
		t.Fatalf("New bound the port: %v", err)
	}
	l.Close()
}

// unassignedAddress returns a documentation address on no interface.
func unassignedAddress(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
next:
	for _, cand := range []string{"203.0.113.254", "198.51.100.254", "192.0.2.254"} {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.String() == cand {
				continue next
			}
		}
		return cand
	}
	t.Fatal("every candidate address is assigned here")
	return ""
}

func TestUnknownInterfaceAddress(t *testing.T) {
	c := testConfig("emqx1@127.0.0.1", freeUDPPorts(t, 1))
	c.Iface = unassignedAddress(t)
	s, err := newStrategy(t, c)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Start(); err == nil || !strings.HasPrefix(err.Error(), "cluster.mcast.iface:") {
		t.Fatalf("Start = %v, want a cluster.mcast.iface error", err)
	}
}

func TestDeprecationWarningOnce(t *testing.T) {
	needLoopbackMulticast(t)
	core, logs := observer.New(zapcore.InfoLevel)
	c := testConfig("emqx1@127.0.0.1", freeUDPPorts(t, 1))
	c.Log = zap.New(core)
	s := start(t, c)
	if err := s.Start(); err == nil {
		t.Fatal("second Start succeeded")
	}
	w := logs.FilterMessage("cluster.discovery = mcast is deprecated; use static, dns, etcd or k8s").All()
	if len(w) != 1 || w[0].Level != zapcore.WarnLevel {
		t.Fatalf("deprecation warnings: %v", w)
	}
}

func TestLifecycle(t *testing.T) {
	needLoopbackMulticast(t)
	s, err := newStrategy(t, testConfig("emqx1@127.0.0.1", freeUDPPorts(t, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Discover(context.Background()); !errors.Is(err, ErrNotStarted) {
		t.Errorf("Discover before Start = %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Discover(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Discover with a cancelled context = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Discover(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Discover after Close = %v", err)
	}
	if err := s.Start(); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close = %v", err)
	}

	s, err = newStrategy(t, testConfig("emqx1@127.0.0.1", []int{4369}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close without Start: %v", err)
	}
}

func TestDiscoverStopsWithContext(t *testing.T) {
	needLoopbackMulticast(t)
	ports := freeUDPPorts(t, 2)
	c := testConfig("emqx1@127.0.0.1", ports)
	c.Wait = time.Minute
	s := start(t, c)
	start(t, testConfig("emqx2@127.0.0.1", ports))

	// deadline
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	t0 := time.Now()
	got, err := s.Discover(ctx)
	if err != nil || time.Since(t0) > 10*time.Second {
		t.Fatalf("Discover = %v, %v after %s", got, err, time.Since(t0))
	}
	if !slices.Equal(got, []string{"emqx1@127.0.0.1", "emqx2@127.0.0.1"}) {
		t.Errorf("Discover = %v", got)
	}

	// cancel, without deadline; then a normal round must not be cut short
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(testWait, cancel)
	t0 = time.Now()
	if got, err := s.Discover(ctx); err != nil || time.Since(t0) > 10*time.Second || len(got) != 2 {
		t.Fatalf("Discover = %v, %v after %s", got, err, time.Since(t0))
	}
	ctx, cancel = context.WithTimeout(context.Background(), 2*testWait)
	defer cancel()
	t0 = time.Now()
	if _, err := s.Discover(ctx); err != nil || time.Since(t0) < 2*testWait-50*time.Millisecond {
		t.Fatalf("next Discover = %v after %s, want the full %s", err, time.Since(t0), 2*testWait)
	}
}

func TestConcurrentDiscoverAndClose(t *testing.T) {
	needLoopbackMulticast(t)
	ports := freeUDPPorts(t, 2)
	s1 := start(t, testConfig("emqx1@127.0.0.1", ports))
	start(t, testConfig("emqx2@127.0.0.1", ports))

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			got, err := s1.Discover(context.Background())
			if err != nil || len(got) != 2 {
				t.Errorf("concurrent Discover = %v, %v", got, err)
			}
		})
	}
	wg.Wait()

	c := testConfig("emqx3@127.0.0.1", ports)
	c.Wait = time.Minute
	c.Ports = freeUDPPorts(t, 1)
	s3 := start(t, c)
	res := make(chan error, 1)
	go func() {
		_, err := s3.Discover(context.Background())
		res <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := s3.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-res:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Discover cut by Close = %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end Discover")
	}
}
