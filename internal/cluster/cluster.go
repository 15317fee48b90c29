package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
	"go.uber.org/zap"

	"emqxgo/internal/emqxterm"
	"emqxgo/internal/nodename"
	"emqxgo/internal/peerlink"
)

// Config is what the cluster layer needs from the node's configuration.
type Config struct {
	Name        nodename.Name
	Cookie      string
	ClusterName string
	DataDir     string
	Autoclean   time.Duration // 0: off
	Autoheal    bool
	// RPCManualPort, when non-zero, is the RPC port of every node
	// (rpc.port_discovery = manual); else a node's RPC port is 5370+N.
	RPCManualPort int
	ServerTLS     *tls.Config                   // rpc.driver = ssl
	ClientTLS     func(host string) *tls.Config // rpc.driver = ssl
	Log           *zap.Logger
	// ProbeInterval tunes failure detection (0: memberlist's LAN default, 1s).
	ProbeInterval time.Duration
}

// Status is the membership as this node sees it, lists sorted.
type Status struct {
	Running []string
	Stopped []string
}

// Cluster is one node's membership and peer links.
type Cluster struct {
	cfg    Config
	log    *zap.Logger
	self   string
	epoch  int64
	ip     net.IP
	filter *logFilter
	links  *peerlink.Links
	h      *handler // the links' handler: this package's operations, then the node's

	opMu sync.Mutex // serialises Join, Leave, ForceLeave, autoclean

	mu   sync.Mutex
	serf *serf.Serf
	rec  *record
	down map[string]bool // peers whose link broke and whose RPC port refuses
	// forgotten: force-left nodes that gossip may still think alive; hidden,
	// refused and pruned until gossip has them as left (or they join again).
	forgotten map[string]bool
	// blocked: peers that refused our rejoin (they removed us); their gossip
	// is refused until an explicit join, so the removed node stays out.
	blocked map[string]bool
	// open: this node takes gossip about other nodes. It starts closed and
	// opens on a join, a rejoin, or a peer admitted by a handshake, so that a
	// restarted or left node is not pulled back by stray gossip.
	open   bool
	retry  map[string]*attempts // dial / rejoin schedule per peer
	boot   []string             // the record's members when this run started
	tried  map[string]bool      // peers dialed at least once in this run (any outcome)
	joined bool                 // this run has been in a cluster (serf join or a member joined us)
	left   bool                 // `cluster leave` ran: autocluster stays off

	// base is cancelled by Stop: every wait and dial of the cluster's own
	// goroutines derives from it.
	base     context.Context
	cancel   context.CancelFunc
	stopOnce sync.Once
	wg       sync.WaitGroup
}

type attempts struct {
	next time.Time
	n    int
}

// New resolves the node's address; it binds nothing.
func New(cfg Config) (*Cluster, error) {
	ip, err := resolve(cfg.Name.Host)
	if err != nil {
		return nil, fmt.Errorf("node name %s: cannot resolve host: %w", cfg.Name, err)
	}
	c := &Cluster{cfg: cfg, log: cfg.Log.Named("cluster"), self: cfg.Name.String(), epoch: time.Now().UnixNano(),
		ip: ip, down: map[string]bool{}, forgotten: map[string]bool{}, blocked: map[string]bool{}, retry: map[string]*attempts{}}
	c.base, c.cancel = context.WithCancel(context.Background())
	c.filter = newLogFilter(c.log.Named("serf"))
	c.h = &handler{c: c}
	c.links = peerlink.New(peerlink.Config{Self: c.self, ClusterName: cfg.ClusterName, Cookie: cfg.Cookie, Epoch: c.epoch,
		LocalIP: ip, ServerTLS: cfg.ServerTLS, ClientTLS: cfg.ClientTLS, Admit: c.admit, Log: c.log})
	return c, nil
}

// resolve turns a host into one IP, IPv4 preferred.
func resolve(host string) (net.IP, error) {
	if ip := net.ParseIP(host); ip != nil {
		return ip, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	for _, ip := range ips {
		if ip.To4() != nil {
			return ip, nil
		}
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("no address for %s", host)
	}
	return ips[0], nil
}

func (c *Cluster) rpcPort(n nodename.Name) int {
	if c.cfg.RPCManualPort != 0 {
		return c.cfg.RPCManualPort
	}
	return n.RPCPort()
}

// peerAddrs computes a peer's gossip and RPC addresses from its name.
func (c *Cluster) peerAddrs(name string) (gossip, rpc string, err error) {
	n, err := nodename.Parse(name)
	if err != nil {
		return "", "", &emqxterm.Error{Reason: emqxterm.ReasonInvalidNodeName, Node: name, Err: err}
	}
	ip, err := resolve(n.Host)
	if err != nil {
		return "", "", &emqxterm.Error{Reason: emqxterm.ReasonNodeDown, Node: name, Err: err}
	}
	h := ip.String()
	return net.JoinHostPort(h, strconv.Itoa(n.GossipPort())), net.JoinHostPort(h, strconv.Itoa(c.rpcPort(n))), nil
}

// Start binds the RPC and gossip ports, rejoins the members of the persisted
// record in the background, and returns. h gets what peers send, after the
// cluster's own operations (a peer's force-leave) are taken out. Call it
// once; on error nothing is left bound.
func (c *Cluster) Start(h peerlink.Handler) error {
	rec, err := loadRecord(recordPath(c.cfg.DataDir, c.self))
	if err != nil {
		c.log.Warn("member record unreadable", zap.Error(err))
	}
	now := time.Now()
	for _, m := range rec.Members {
		if m.StoppedAt.IsZero() {
			m.StoppedAt = now // not seen since we started: stopped until it shows up
		}
	}
	if rec.Cluster != "" && rec.Cluster != c.cfg.ClusterName {
		c.log.Warn("member record belongs to another cluster.name; starting standalone",
			zap.String("record_cluster", rec.Cluster), zap.String("cluster", c.cfg.ClusterName))
		rec.Members = map[string]*member{}
	}
	rec.Cluster = c.cfg.ClusterName
	c.mu.Lock()
	c.rec = rec
	c.boot = rec.names()
	c.mu.Unlock()
	rpcAddr := net.JoinHostPort(c.ip.String(), strconv.Itoa(c.rpcPort(c.cfg.Name)))
	ln, err := net.Listen("tcp", rpcAddr)
	if err != nil {
		return portError("cluster RPC", rpcAddr, c.cfg.Name, err)
	}
	c.h.next = h
	s, err := c.newSerf()
	if err != nil {
		_ = ln.Close()
		return err
	}
	c.mu.Lock()
	c.serf = s
	c.mu.Unlock()
	if len(rec.Members) > 0 {
		c.log.Info("rejoining the members of the persisted record", zap.Strings("members", rec.names()))
	}
	c.links.Serve(ln, c.h)
	c.wg.Add(1)
	go c.maintain()
	return nil
}

func portError(what, addr string, n nodename.Name, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%s port %s (from node name %s) is already in use: another node with the same number suffix runs on this host, or another program holds the port", what, addr, n)
	}
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		return fmt.Errorf("%s address %s: the host of node name %s is not an address of this machine", what, addr, n)
	}
	return fmt.Errorf("%s %s: %w", what, addr, err)
}

// newSerf creates a serf instance on the gossip port with its event loop.
func (c *Cluster) newSerf() (*serf.Serf, error) {
	conf := serf.DefaultConfig()
	conf.NodeName = c.self
	conf.Tags = map[string]string{"rpc": strconv.Itoa(c.rpcPort(c.cfg.Name)), "epoch": strconv.FormatInt(c.epoch, 10)}
	conf.LeavePropagateDelay = 300 * time.Millisecond
	conf.BroadcastTimeout = 3 * time.Second
	conf.ValidateNodeNames = false // node names carry '@'
	conf.ReconnectTimeout = 100 * 365 * 24 * time.Hour
	if !c.cfg.Autoheal {
		// cluster.autoheal = off: after a partition the sides stay apart
		// until an operator joins them; serf must not reconnect by itself.
		conf.ReconnectInterval = 100 * 365 * 24 * time.Hour
	}
	if c.cfg.Autoclean > 0 {
		conf.ReconnectTimeout = c.cfg.Autoclean
		if ri := c.cfg.Autoclean / 2; ri < conf.ReapInterval {
			conf.ReapInterval = max(ri, 100*time.Millisecond)
		}
	}
	logger := log.New(c.filter, "", 0)
	conf.Logger = logger
	ml := memberlist.DefaultLANConfig()
	ml.BindAddr = c.ip.String()
	ml.BindPort = c.cfg.Name.GossipPort()
	ml.AdvertiseAddr = c.ip.String()
	ml.AdvertisePort = ml.BindPort
	ml.SecretKey = gossipKey(c.cfg.Cookie)
	ml.Label = "emqx/" + c.cfg.ClusterName
	ml.Logger = logger
	if c.cfg.ProbeInterval > 0 {
		ml.ProbeInterval = c.cfg.ProbeInterval
	}
	if !c.cfg.Autoheal {
		ml.GossipToTheDeadTime = 0 // nor may gossip to members it declared dead merge the sides again
	}
	conf.MemberlistConfig = ml
	conf.Merge = mergeGate{c}
	events := make(chan serf.Event, 1024)
	conf.EventCh = events
	var s *serf.Serf
	var err error
	var gate *gatedTransport
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		// A serf we just shut down may hold the port for a moment.
		var nt *memberlist.NetTransport
		nt, err = memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{ml.BindAddr}, BindPort: ml.BindPort, Logger: logger})
		if err == nil {
			gate = newGatedTransport(nt)
			ml.Transport = gate
			if s, err = serf.Create(conf); err != nil {
				_ = gate.Shutdown()
			}
		}
		if err == nil || time.Now().After(deadline) || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	if err == nil {
		gate.Open() // serf is complete: peers may be answered now
	}
	if err != nil {
		return nil, portError("cluster gossip", net.JoinHostPort(ml.BindAddr, strconv.Itoa(ml.BindPort)), c.cfg.Name, err)
	}
	c.wg.Add(1)
	go c.eventLoop(s, events)
	return s, nil
}

// Stop shuts down without leaving: peers list this node as stopped. It is
// safe to call twice, and before or after a failed Start.
func (c *Cluster) Stop() {
	c.stopOnce.Do(func() {
		c.cancel()
		c.links.Close() // the RPC port first, so peers see a refused port at once
		c.mu.Lock()
		s := c.serf
		c.mu.Unlock()
		if s != nil {
			_ = s.Shutdown()
		}
		c.wg.Wait()
	})
}

// stopping reports whether Stop has begun.
func (c *Cluster) stopping() bool { return c.base.Err() != nil }

// Self is this node's name.
func (c *Cluster) Self() string { return c.self }

// Links is the node's peer links, for the MQTT side of the cluster.
func (c *Cluster) Links() *peerlink.Links { return c.links }

// openGossip lets gossip about other nodes in (see Cluster.open).
func (c *Cluster) openGossip() {
	c.mu.Lock()
	c.open = true
	c.mu.Unlock()
}

// Epoch is when this node started (unix nanos): autocluster joins the oldest.
func (c *Cluster) Epoch() int64 { return c.epoch }

// Probe asks a node whether it answers (cookie, cluster name) and since
// when it runs, without joining it.
func (c *Cluster) Probe(ctx context.Context, name string) (int64, error) {
	_, rpc, err := c.peerAddrs(name)
	if err != nil {
		return 0, err
	}
	return c.links.Probe(ctx, name, rpc)
}

// EnableDiscovery lets autocluster run again after `cluster leave`.
func (c *Cluster) EnableDiscovery() {
	c.mu.Lock()
	c.left = false
	c.mu.Unlock()
}

// Left reports whether `cluster leave` ran in this process.
func (c *Cluster) Left() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.left
}

// BootPeers lists the members of the record this run started with that are
// still members.
func (c *Cluster) BootPeers() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, p := range c.boot {
		if _, ok := c.rec.Members[p]; ok {
			out = append(out, p)
		}
	}
	return out
}

// Reached reports whether this run has a link to peer (linked) or has tried
// to dial it at least once (tried).
func (c *Cluster) Reached(peer string) (linked, tried bool) {
	c.mu.Lock()
	tried = c.tried[peer]
	c.mu.Unlock()
	return c.links.Has(peer), tried
}

func (c *Cluster) markTried(peer string) {
	c.mu.Lock()
	if c.tried == nil {
		c.tried = map[string]bool{}
	}
	c.tried[peer] = true
	c.mu.Unlock()
}

// Status lists running and stopped members; it never blocks on the network.
func (c *Cluster) Status() Status {
	c.mu.Lock()
	s := c.serf
	known := map[string]bool{}
	for n := range c.rec.Members {
		known[n] = true
	}
	down, forgotten := copySet(c.down), copySet(c.forgotten)
	c.mu.Unlock()
	st := Status{Running: []string{c.self}}
	seen := map[string]bool{c.self: true}
	if s != nil {
		for _, m := range s.Members() {
			if seen[m.Name] || m.Status == serf.StatusLeft {
				continue
			}
			seen[m.Name] = true
			if forgotten[m.Name] {
				continue
			}
			if m.Status == serf.StatusFailed || down[m.Name] {
				st.Stopped = append(st.Stopped, m.Name)
			} else {
				st.Running = append(st.Running, m.Name)
			}
		}
	}
	for n := range known {
		if !seen[n] {
			st.Stopped = append(st.Stopped, n)
		}
	}
	sortStrings(st.Running)
	sortStrings(st.Stopped)
	return st
}

func copySet(m map[string]bool) map[string]bool {
	r := make(map[string]bool, len(m))
	for k, v := range m {
		r[k] = v
	}
	return r
}

// mergeGate refuses gossip merges that would bring back a force-left node.
type mergeGate struct{ c *Cluster }

func (g mergeGate) NotifyMerge(members []*serf.Member) error {
	g.c.mu.Lock()
	defer g.c.mu.Unlock()
	for _, m := range members {
		if m.Name == g.c.self {
			continue
		}
		if !g.c.open {
			return fmt.Errorf("merge refused: %s gossiped to a node that has not joined a cluster in this run", m.Name)
		}
		if g.c.forgotten[m.Name] {
			return fmt.Errorf("merge refused: %s was removed by force-leave", m.Name)
		}
		if g.c.blocked[m.Name] {
			return fmt.Errorf("merge refused: %s removed this node from its cluster", m.Name)
		}
	}
	return nil
}
