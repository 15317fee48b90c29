package mcast

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/net/ipv4"
)

// Defaults of the keys, and of Options.Wait.
const (
	DefaultAddr  = "239.192.0.1"
	DefaultPort  = 4369
	DefaultIface = "0.0.0.0" // the system's choice
	DefaultTTL   = 255
	DefaultLoop  = true
	DefaultWait  = 3 * time.Second
)

// Bounds of cluster.mcast.ttl.
const (
	MinTTL = 0
	MaxTTL = 255
)

// DeprecationWarning is logged (once) by Start.
const DeprecationWarning = "cluster.discovery = mcast is deprecated; use static, dns, etcd or k8s"

// quietPeriod is how long a sender of pings/pongs of another cluster or
// cookie stays silent in the log after it was logged once.
const quietPeriod = time.Minute

// drainFor is how long Discover spends at most discarding stale datagrams.
const drainFor = 5 * time.Millisecond

// maxQuietSenders bounds the memory of the rate limiter.
const maxQuietSenders = 4096

// Config is the cluster.mcast.* keys.
type Config struct {
	Addr  string // cluster.mcast.addr: IPv4 multicast group
	Ports []int  // cluster.mcast.ports: the first free one is bound, pings go to all
	Iface string // cluster.mcast.iface: IPv4 address of an interface; 0.0.0.0 = the system's choice
	TTL   int    // cluster.mcast.ttl: MinTTL..MaxTTL
	Loop  bool   // cluster.mcast.loop: loop own datagrams back to this host (over lo they always come back)
}

// Defaults is the built-in value of every key.
func Defaults() Config {
	return Config{Addr: DefaultAddr, Ports: []int{DefaultPort}, Iface: DefaultIface, TTL: DefaultTTL, Loop: DefaultLoop}
}

// CheckKeys reports, as report(key, problem), each value of c that breaks
// its key's rule, the problem saying what is allowed.
func (c Config) CheckKeys(report func(key, problem string)) {
	if _, err := group(c.Addr); err != nil {
		report("cluster.mcast.addr", err.Error())
	}
	if len(c.Ports) == 0 {
		report("cluster.mcast.ports", "must be a list of ports from 1 to 65535, such as 4369,4370")
	}
	var bad []string
	for _, p := range c.Ports {
		if p < 1 || p > 65535 {
			bad = append(bad, fmt.Sprintf("port %q must be an integer from 1 to 65535", strconv.Itoa(p)))
		}
	}
	if len(bad) > 0 {
		report("cluster.mcast.ports", strings.Join(bad, "; "))
	}
	if _, err := ifaceAddr(c.Iface); err != nil {
		report("cluster.mcast.iface", err.Error())
	}
	if c.TTL < MinTTL || c.TTL > MaxTTL {
		report("cluster.mcast.ttl", fmt.Sprintf("must be an integer from %d to %d", MinTTL, MaxTTL))
	}
}

// Validate reports every problem that keeps the strategy from running with
// c: those of CheckKeys (every key has a default, none is required). New
// assumes c passed.
func (c Config) Validate(report func(key, problem string)) { c.CheckKeys(report) }

// group reads cluster.mcast.addr.
func group(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() || !a.IsMulticast() {
		return netip.Addr{}, errors.New("must be an IPv4 multicast address (224.0.0.0 to 239.255.255.255, e.g. 239.192.0.1)")
	}
	return a, nil
}

// ifaceAddr reads cluster.mcast.iface.
func ifaceAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, errors.New("must be an IPv4 address (of an interface; 0.0.0.0 lets the system choose)")
	}
	if a.IsMulticast() {
		return netip.Addr{}, errors.New("must be an IPv4 address of an interface, not a multicast address")
	}
	return a, nil
}

// Options is what New needs besides the keys.
type Options struct {
	Node        string        // this node's name, name@host
	ClusterName string        // cluster.name
	Cookie      string        // node.cookie; never sent, only proofs derived from it
	Wait        time.Duration // how long Discover collects pongs; <= 0 = DefaultWait
	Log         *zap.Logger   // nil = no logging
}

// Strategy is the mcast discovery strategy. It is safe for concurrent use;
// concurrent Discover calls run one after the other.
type Strategy struct {
	node    string
	cluster string
	key     []byte // derived from the cookie, see proofKey
	group   net.IP
	ports   []int
	iface   netip.Addr // unspecified = system default
	ttl     int
	loop    bool
	wait    time.Duration
	log     *zap.Logger

	warnOnce sync.Once
	quiet    quietLog

	discoverMu sync.Mutex // one Discover round at a time

	mu      sync.Mutex // guards the fields below
	started bool
	closed  bool
	conn    *net.UDPConn // responder: group port, joined
	client  *net.UDPConn // Discover: ephemeral port, unicast pongs
	port    int          // port of conn
	wg      sync.WaitGroup
}

// Structural check against discovery.Strategy, Starter and Closer (not
// imported: a strategy does not depend on the loop that runs it).
var _ interface {
	Name() string
	Discover(context.Context) ([]string, error)
	Start() error
	Close() error
} = (*Strategy)(nil)

// ErrNotStarted is returned by Discover before Start.
var ErrNotStarted = errors.New("mcast: discovery not started")

// ErrClosed is returned by Start and Discover after Close.
var ErrClosed = errors.New("mcast: discovery closed")

// New returns the Strategy of a validated Config; it binds nothing (see
// Start). It checks the Options (not configuration keys of this package);
// its errors name the configuration key at fault.
func New(c Config, o Options) (*Strategy, error) {
	if strings.TrimSpace(o.Node) == "" || !strings.Contains(o.Node, "@") {
		return nil, fmt.Errorf("node.name: %q is not of the form name@host", o.Node)
	}
	if len(o.Node) > maxField {
		return nil, fmt.Errorf("node.name: longer than %d bytes", maxField)
	}
	if o.ClusterName == "" {
		return nil, errors.New("cluster.name: empty")
	}
	if len(o.ClusterName) > maxField {
		return nil, fmt.Errorf("cluster.name: longer than %d bytes", maxField)
	}
	if o.Cookie == "" {
		return nil, errors.New("node.cookie: empty")
	}
	grp, err := group(c.Addr)
	if err != nil {
		return nil, fmt.Errorf("cluster.mcast.addr: %w", err)
	}
	iface, err := ifaceAddr(c.Iface)
	if err != nil {
		return nil, fmt.Errorf("cluster.mcast.iface: %w", err)
	}
	var ports []int // the list without repeats
	for _, p := range c.Ports {
		if !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	wait := o.Wait
	if wait <= 0 {
		wait = DefaultWait
	}
	log := o.Log
	if log == nil {
		log = zap.NewNop()
	}
	return &Strategy{
		node:    o.Node,
		cluster: o.ClusterName,
		key:     proofKey(o.Cookie),
		group:   net.IP(grp.AsSlice()),
		ports:   ports,
		iface:   iface,
		ttl:     c.TTL,
		loop:    c.Loop,
		wait:    wait,
		log:     log.With(zap.String("discovery", "mcast")),
	}, nil
}

// Name returns "mcast".
func (s *Strategy) Name() string { return "mcast" }

// Port returns the port of cluster.mcast.ports that Start bound, 0 before.
func (s *Strategy) Port() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.port
}

// Start binds the first free port of cluster.mcast.ports, joins the group
// and starts answering pings. It logs the deprecation warning once. It fails
// when every port is taken, when called twice or after Close.
func (s *Strategy) Start() error {
	s.warnOnce.Do(func() { s.log.Warn(DeprecationWarning) })

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.started {
		return errors.New("mcast: already started")
	}

	ifi, err := s.interfaceOf()
	if err != nil {
		return err
	}

	conn, err := s.bindFirstFree()
	if err != nil {
		return err
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	gaddr := &net.UDPAddr{IP: s.group}
	if err := ipv4.NewPacketConn(conn).JoinGroup(ifi, gaddr); err != nil {
		conn.Close()
		return fmt.Errorf("cluster.mcast.iface: joining group %s (cluster.mcast.addr) on %s: %w",
			s.group, ifaceName(ifi, s.iface), err)
	}

	client, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero})
	if err != nil {
		conn.Close()
		return fmt.Errorf("mcast: opening the discovery socket: %w", err)
	}
	pc := ipv4.NewPacketConn(client)
	if ifi != nil {
		if err := pc.SetMulticastInterface(ifi); err != nil {
			conn.Close()
			client.Close()
			return fmt.Errorf("cluster.mcast.iface: using %s: %w", ifaceName(ifi, s.iface), err)
		}
	}
	if err := pc.SetMulticastTTL(s.ttl); err != nil {
		conn.Close()
		client.Close()
		return fmt.Errorf("cluster.mcast.ttl: %w", err)
	}
	if err := pc.SetMulticastLoopback(s.loop); err != nil {
		conn.Close()
		client.Close()
		return fmt.Errorf("cluster.mcast.loop: %w", err)
	}

	s.conn, s.client, s.port, s.started = conn, client, port, true
	s.wg.Add(1)
	go s.respond(conn)
	s.log.Info("mcast discovery started",
		zap.String("group", s.group.String()), zap.Int("port", port),
		zap.String("iface", ifaceName(ifi, s.iface)), zap.Int("ttl", s.ttl), zap.Bool("loop", s.loop))
	return nil
}

// interfaceOf maps cluster.mcast.iface to an interface (nil: system default).
func (s *Strategy) interfaceOf() (*net.Interface, error) {
	if s.iface.IsUnspecified() {
		return nil, nil
	}
	ifis, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("cluster.mcast.iface: listing interfaces: %w", err)
	}
	for i := range ifis {
		addrs, err := ifis[i].Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			var ip net.IP
			switch a := a.(type) {
			case *net.IPNet:
				ip = a.IP
			case *net.IPAddr:
				ip = a.IP
			}
			if ip4, ok := netip.AddrFromSlice(ip); ok && ip4.Unmap() == s.iface {
				ifi := &ifis[i]
				if ifi.Flags&net.FlagMulticast == 0 {
					s.log.Warn("mcast: interface has no MULTICAST flag; discovery may not work",
						zap.String("iface", ifi.Name), zap.String("addr", s.iface.String()))
				}
				if ifi.Flags&net.FlagUp == 0 {
					s.log.Warn("mcast: interface is down", zap.String("iface", ifi.Name))
				}
				return ifi, nil
			}
		}
	}
	return nil, fmt.Errorf("cluster.mcast.iface: no interface has the address %s", s.iface)
}

// bindFirstFree binds 0.0.0.0:port for the first port of the list that is
// free. No SO_REUSEADDR: a port in use must fail so that the next is tried.
func (s *Strategy) bindFirstFree() (*net.UDPConn, error) {
	var errs []string
	for _, p := range s.ports {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero, Port: p})
		if err == nil {
			return conn, nil
		}
		s.log.Debug("mcast: port unavailable", zap.Int("port", p), zap.Error(err))
		errs = append(errs, fmt.Sprintf("%d: %v", p, unwrapSyscall(err)))
	}
	return nil, fmt.Errorf("cluster.mcast.ports: no free UDP port in %s (%s)",
		joinPorts(s.ports), strings.Join(errs, "; "))
}

// Discover pings the group on every port of the list and returns the names
// of the nodes that answered within Options.Wait (or until ctx ends), plus
// this node, sorted and deduplicated. A context that ends after the pings
// were sent cuts the wait short; what was collected is returned.
func (s *Strategy) Discover(ctx context.Context) ([]string, error) {
	s.discoverMu.Lock()
	defer s.discoverMu.Unlock()

	s.mu.Lock()
	client, started, closed := s.client, s.started, s.closed
	s.mu.Unlock()
	switch {
	case closed:
		return nil, ErrClosed
	case !started:
		return nil, ErrNotStarted
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	buf := make([]byte, readBuffer)
	if err := drain(client, buf); err != nil {
		return nil, err
	}

	nonce := newNonce()
	ping := s.encode(typePing, nonce)
	sent := 0
	var sendErr error
	for _, p := range s.ports {
		dst := &net.UDPAddr{IP: s.group, Port: p}
		if _, err := client.WriteToUDP(ping, dst); err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, ErrClosed
			}
			sendErr = err
			s.log.Debug("mcast: sending ping failed", zap.Stringer("to", dst), zap.Error(err))
			continue
		}
		sent++
	}
	if sent == 0 {
		return nil, fmt.Errorf("mcast: sending ping to %s port(s) %s: %w", s.group, joinPorts(s.ports), sendErr)
	}

	deadline := time.Now().Add(s.wait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := client.SetReadDeadline(deadline); err != nil {
		if errors.Is(err, net.ErrClosed) {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("mcast: %w", err)
	}
	// A cancelled ctx wakes the read below by moving the deadline into the
	// past. Wait for that callback if it ran, so it cannot shorten the next
	// round's deadline.
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		_ = client.SetReadDeadline(time.Unix(1, 0))
	})
	defer func() {
		if !stop() {
			<-fired
		}
	}()

	names := map[string]struct{}{s.node: {}}
	for {
		n, src, err := client.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if errors.Is(err, net.ErrClosed) {
				return nil, ErrClosed
			}
			if !time.Now().Before(deadline) || ctx.Err() != nil {
				break
			}
			time.Sleep(10 * time.Millisecond) // transient error: do not spin
			continue
		}
		m, ok := decode(buf[:n])
		if !ok || m.T != typePong || m.Nonce != nonce {
			continue
		}
		if !s.accept(m, src) {
			continue
		}
		names[m.Node] = struct{}{}
	}

	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	slices.Sort(out)
	s.log.Debug("mcast: discovered", zap.Strings("nodes", out))
	return out, nil
}

// drain discards what queued up on the discovery socket between rounds
// (late pongs, junk), so that the socket buffer has room for this round.
// It gives up after drainFor even if datagrams keep coming.
func drain(client *net.UDPConn, buf []byte) error {
	if err := client.SetReadDeadline(time.Now().Add(drainFor)); err != nil {
		if errors.Is(err, net.ErrClosed) {
			return ErrClosed
		}
		return fmt.Errorf("mcast: %w", err)
	}
	for {
		_, _, err := client.ReadFromUDP(buf)
		switch {
		case err == nil:
		case errors.Is(err, net.ErrClosed):
			return ErrClosed
		default: // deadline, or a transient error: enough
			return nil
		}
	}
}

// respond answers pings on the group socket until it is closed.
func (s *Strategy) respond(conn *net.UDPConn) {
	defer s.wg.Done()
	buf := make([]byte, readBuffer)
	for {
		n, src, err := conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.isClosed() {
				return
			}
			time.Sleep(10 * time.Millisecond) // transient error: do not spin
			continue
		}
		m, ok := decode(buf[:n])
		if !ok || m.T != typePing || m.Node == s.node {
			continue
		}
		if !s.accept(m, src) {
			continue
		}
		if _, err := conn.WriteToUDP(s.encode(typePong, m.Nonce), src); err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.quiet.log(s.log, src, "mcast: sending pong failed",
				zap.String("to_node", m.Node), zap.Error(err))
		}
	}
}

// accept checks the cluster name and the cookie proof of a decoded message.
func (s *Strategy) accept(m *message, src *net.UDPAddr) bool {
	if m.Cluster != s.cluster {
		s.quiet.log(s.log, src, "mcast: ignoring datagram of another cluster",
			zap.String("type", m.T), zap.String("from_node", m.Node), zap.String("cluster", m.Cluster))
		return false
	}
	if !verify(s.key, m) {
		s.quiet.log(s.log, src, "mcast: ignoring datagram with another cookie",
			zap.String("type", m.T), zap.String("from_node", m.Node))
		return false
	}
	return true
}

func (s *Strategy) encode(t, nonce string) []byte {
	return encode(s.key, &message{V: version, T: t, Node: s.node, Cluster: s.cluster, Nonce: nonce})
}

func (s *Strategy) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops the responder, closes both sockets and waits for the
// responder goroutine. A Discover in progress returns ErrClosed. Close is
// idempotent and may be called without Start.
func (s *Strategy) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	conn, client := s.conn, s.client
	s.mu.Unlock()

	var errs []error
	if conn != nil {
		if err := conn.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if client != nil {
		if err := client.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// quietLog writes a debug line at most once per sender per quietPeriod.
type quietLog struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (q *quietLog) log(l *zap.Logger, src *net.UDPAddr, msg string, fields ...zap.Field) {
	if !l.Core().Enabled(zap.DebugLevel) {
		return
	}
	key := src.String()
	now := time.Now()
	q.mu.Lock()
	if q.last == nil {
		q.last = make(map[string]time.Time)
	}
	if t, ok := q.last[key]; ok && now.Sub(t) < quietPeriod {
		q.mu.Unlock()
		return
	}
	if len(q.last) >= maxQuietSenders {
		for k, t := range q.last {
			if now.Sub(t) >= quietPeriod {
				delete(q.last, k)
			}
		}
		if len(q.last) >= maxQuietSenders {
			clear(q.last)
		}
	}
	q.last[key] = now
	q.mu.Unlock()
	l.Debug(msg, append(fields, zap.Stringer("from", src))...)
}

func ifaceName(ifi *net.Interface, addr netip.Addr) string {
	if ifi == nil {
		return "default interface"
	}
	return ifi.Name + " (" + addr.String() + ")"
}

func joinPorts(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}

// unwrapSyscall shortens "listen udp4 0.0.0.0:4369: bind: address already
// in use" to its last part.
func unwrapSyscall(err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}
