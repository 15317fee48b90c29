package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"go.uber.org/zap"

	"emqxgo/internal/admins"
	"emqxgo/internal/banned"
	"emqxgo/internal/broker"
	"emqxgo/internal/cluster"
	"emqxgo/internal/config"
	"emqxgo/internal/ctlrpc"
	"emqxgo/internal/dashboard"
	"emqxgo/internal/discovery"
	"emqxgo/internal/fabric"
	"emqxgo/internal/logging"
	"emqxgo/internal/metrics"
	"emqxgo/internal/mgmt"
	"emqxgo/internal/mgmtapps"
	"emqxgo/internal/nodename"
	"emqxgo/internal/sys"
	"emqxgo/internal/version"
)

// maxSocketPath is the usable length of a unix socket path on Linux.
const maxSocketPath = 107

// nameFile records the last node name that used this data_dir.
const nameFile = "node_name"

// Node is one running EMQX node.
type Node struct {
	cfg     *config.Config
	log     *zap.Logger
	name    nodename.Name
	broker  *broker.Broker
	cluster *cluster.Cluster
	fabric  *fabric.Fabric
	sys     *sys.Publisher
	auto    *discovery.Loop // nil with cluster.discovery = manual
	ctl     *ctlrpc.Server
	sock    string
	access  accessParts
	bans    *banned.Hook
	banned  *banned.List
	// reloadConfig reads the configuration again (plugins reload); nil:
	// the node keeps the one it was given.
	reloadConfig func() (*config.Config, error)

	// api is the management HTTP API (api.go); apps, when set, checks an
	// application's credentials (else the default application's).
	api  *mgmt.Server
	apps func(id, secret string) bool
	// dash is the dashboard's listener (the same routes, authorized by
	// console's users; dashboard.go); mon its charts' samples (monitor.go).
	dash    *mgmt.Server
	console *dashboard.Dashboard
	mon     *monitor

	// logc: the logger's levels and handlers (emqx_ctl log; logcmd.go).
	logc *logging.Control
	// mgmtApps: the HTTP API's applications; admins: the dashboard's
	// users (apps.go, admins.go).
	mgmtApps *mgmtapps.Store
	admins   *admins.Store

	// stats: EMQX's stats (broker.go); started: when Start ran (uptime).
	stats   metrics.Stats
	started time.Time
	alarms  *alarmParts // alarms.go
	prom    *promParts  // prometheus.go

	reqOnce  sync.Once // closes stopReq
	stopReq  chan struct{}
	stopOnce sync.Once // Stop's work runs once; stopErr is its result
	stopErr  error
}

// New validates what it must and builds the parts; it starts nothing.
func New(cfg *config.Config, log *zap.Logger) (*Node, error) {
	name, err := nodename.Parse(cfg.Node.Name)
	if err != nil {
		return nil, err
	}
	sock := ctlrpc.SocketPath(cfg.Node.DataDir)
	if len(sock) > maxSocketPath {
		return nil, fmt.Errorf("node.data_dir %s is too long for the emqx_ctl socket (%d bytes, at most %d): use a shorter path", cfg.Node.DataDir, len(sock), maxSocketPath)
	}
	b, err := broker.New(cfg, log)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: log, name: name, broker: b, sock: sock, stopReq: make(chan struct{})}
	var ok bool
	if n.logc, ok = logging.ControlOf(log); !ok {
		n.logc = logging.NewControl(cfg.Log.Level) // a logger not built by logging.New: no handlers to change
	}
	if err := n.newBanHook(); err != nil { // before the gate
		return nil, err
	}
	if err := n.newGate(); err != nil { // before the cluster's hook
		return nil, err
	}
	cc, err := clusterConfig(cfg, name, log)
	if err != nil {
		return nil, err
	}
	cl, err := cluster.New(cc)
	if err != nil {
		return nil, err
	}
	fb, err := fabric.New(cl.Links(), b.Server(), b, fabric.Config{SharedStrategy: cfg.Broker.SharedSubscriptionStrategy, DataDir: cfg.Node.DataDir,
		Retainer: cfg.Retainer}, log)
	if err != nil {
		return nil, err
	}
	b.SetMover(fb)
	n.cluster, n.fabric = cl, fb
	if n.sys, err = n.newSys(); err != nil {
		return nil, err
	}
	n.newAlarms()
	n.prom = n.newPrometheus()
	if err := n.newAPI(); err != nil {
		return nil, err
	}
	if err := n.newDashboard(); err != nil {
		return nil, err
	}
	n.openBanned(fb)
	n.openApps(fb)
	n.openAdmins(fb)
	n.openDashboard()
	n.mon = newMonitor()
	n.newPlugins(fb)
	fb.SetCommandHandler(n.peerCommand)
	st, err := strategy(cfg, name, log)
	if err != nil {
		return nil, err
	}
	if st != nil {
		n.auto = discovery.NewLoop(st, loopCluster{cl}, log)
	}
	return n, nil
}

// newSys builds the publisher of EMQX's $SYS topics and presence events.
func (n *Node) newSys() (*sys.Publisher, error) {
	b := n.broker
	return sys.New(b.Server(), sys.Config{Node: n.name.String(), Version: version.Version,
		Interval: n.cfg.Broker.SysInterval, Heartbeat: n.cfg.Broker.SysHeartbeat,
		Nodes:    func() []string { return n.cluster.Status().Running },
		Presence: true, PresenceQoS: byte(n.cfg.Broker.PresenceQoS),
		SessionExpiry: func(cl *mqtt.Client) time.Duration { return b.Zone(cl).SessionExpiryInterval },
	}, n.log)
}

// Sys publishes the $SYS topics (SetStats, SetMetrics).
func (n *Node) Sys() *sys.Publisher { return n.sys }

// Name is the node's name.
func (n *Node) Name() nodename.Name { return n.name }

// ReloadConfigWith makes plugins reload read the configuration with load
// (the node started from files); call before Start.
func (n *Node) ReloadConfigWith(load func() (*config.Config, error)) { n.reloadConfig = load }

// Cluster is the node's membership and peer links.
func (n *Node) Cluster() *cluster.Cluster { return n.cluster }

// Fabric is the MQTT side of the cluster.
func (n *Node) Fabric() *fabric.Fabric { return n.fabric }

// Broker is the node's MQTT broker.
func (n *Node) Broker() *broker.Broker { return n.broker }

// Start prepares data_dir and binds the ctl socket, the MQTT listeners
// (holding their accepts) and the cluster ports; then, on a node that
// restarts into a cluster, it waits until the members of its persisted
// record have sent their routes (warmUp, at most warmUpLimit = 5 s), and
// only then accepts MQTT clients, starts autocluster and answers emqx_ctl.
// Apart from that wait it does not block. On error, what it started is
// stopped again in reverse order and nothing is left bound.
func (n *Node) Start() (err error) {
	if err := os.MkdirAll(n.cfg.Node.DataDir, 0o755); err != nil {
		return fmt.Errorf("node.data_dir: %w", err)
	}
	n.recordName()
	n.warnAccepted()
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	ln, err := n.listenCtl()
	if err != nil {
		return err
	}
	undo = append(undo, func() { _ = ln.Close(); _ = os.Remove(n.sock) })
	n.broker.HoldAccepts()
	if err := n.broker.Start(); err != nil {
		return err
	}
	undo = append(undo, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = n.broker.Stop(ctx)
	})
	if err := n.cluster.Start(n.fabric); err != nil {
		return err
	}
	undo = append(undo, n.cluster.Stop)
	n.warmUp(warmUpLimit)
	n.bootPlugins()
	undo = append(undo, n.access.plugins.Stop)
	n.setupObservability()
	n.stats.Start(statsInterval)
	undo = append(undo, n.stats.Stop)
	n.broker.OpenAccepts()
	n.sys.Start()
	n.startAlarms()
	if n.auto != nil {
		if err := n.auto.Start(); err != nil {
			n.log.Error("autocluster strategy cannot start; the node runs without it", zap.String("discovery", n.cfg.Cluster.Discovery), zap.Error(err))
			n.auto = nil
		}
	}
	n.startMonitor()
	n.startAPI()
	n.startDashboard()
	n.ctl = ctlrpc.NewServer(ln, n, n.log)
	n.ctl.Start()
	n.log.Info("node started", zap.String("node", n.name.String()), zap.String("version", version.Version),
		zap.Any("listeners", n.broker.Addrs()))
	return nil
}

// warmUpLimit bounds how long a rejoining node keeps MQTT clients waiting
// for its peers' routes.
const warmUpLimit = 5 * time.Second

// warmUp waits, before MQTT clients are accepted, until every member of the
// persisted record has sent its full route set or turned out unreachable on
// the first try: without it, a client of a restarted node could publish
// before the node knows the subscribers on other nodes, and the message
// would reach none of them. A fresh node has no record and does not wait.
func (n *Node) warmUp(limit time.Duration) {
	peers := n.cluster.BootPeers()
	if len(peers) == 0 {
		return
	}
	deadline := time.Now().Add(limit)
	for {
		var pending []string
		for _, p := range peers {
			if n.fabric.RoutesFrom(p) {
				continue
			}
			if linked, tried := n.cluster.Reached(p); !linked && tried {
				continue // not reachable now: its routes come when it links
			}
			pending = append(pending, p)
		}
		if len(pending) == 0 {
			return
		}
		if time.Now().After(deadline) {
			n.log.Warn("accepting MQTT clients before these members' routes arrived", zap.Strings("members", pending), zap.Duration("waited", limit))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recordName notes the node name in data_dir and warns when it changed:
// cluster state is kept per name, so the old name's state stays unused.
func (n *Node) recordName() {
	p := filepath.Join(n.cfg.Node.DataDir, nameFile)
	old, err := os.ReadFile(p)
	prev := strings.TrimSpace(string(old))
	if err == nil && prev != "" && prev != n.name.String() {
		n.log.Warn("node name changed: this data_dir belonged to another node; starting standalone",
			zap.String("old_node", prev), zap.String("new_node", n.name.String()),
			zap.String("old_state", filepath.Join(n.cfg.Node.DataDir, "cluster", prev)))
	}
	if prev != n.name.String() {
		if err := os.WriteFile(p, []byte(n.name.String()+"\n"), 0o644); err != nil {
			n.log.Warn("cannot record node name", zap.String("file", p), zap.Error(err))
		}
	}
}

// listenCtl binds the ctl socket, refusing to steal it from a live node.
func (n *Node) listenCtl() (net.Listener, error) {
	if _, err := os.Stat(n.sock); err == nil {
		c := ctlrpc.Client{Path: n.sock, Timeout: 2 * time.Second}
		if r, err := c.Ping(); err == nil {
			return nil, fmt.Errorf("node %s is already running with data_dir %s", r.Node, n.cfg.Node.DataDir)
		}
		_ = os.Remove(n.sock) // stale socket of a node that died
	}
	ln, err := net.Listen("unix", n.sock)
	if err != nil {
		return nil, fmt.Errorf("emqx_ctl socket %s: %w", n.sock, err)
	}
	if err := os.Chmod(n.sock, 0o600); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("emqx_ctl socket %s: %w", n.sock, err)
	}
	return ln, nil
}

// StopRequested is closed when `emqx stop` asked the node to stop.
func (n *Node) StopRequested() <-chan struct{} { return n.stopReq }

func (n *Node) requestStop() { n.reqOnce.Do(func() { close(n.stopReq) }) }

// Stop stops autocluster, the MQTT clients and listeners (within ctx), hands
// what peers are owed to them, then stops the cluster (not a leave: peers
// list this node as stopped), the fabric and the ctl socket. A second call
// waits for the first and returns its result.
func (n *Node) Stop(ctx context.Context) error {
	n.stopOnce.Do(func() { n.stopErr = n.stop(ctx) })
	return n.stopErr
}

func (n *Node) stop(ctx context.Context) error {
	n.requestStop()
	if n.auto != nil {
		n.auto.Stop()
	}
	n.stopAlarms()
	err := n.broker.Stop(ctx) // clients first: no new publishes
	n.sys.Stop()              // after the clients' disconnected events
	n.access.plugins.Stop()
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if ferr := n.fabric.Flush(fctx); ferr != nil {
		n.log.Warn("messages for peers not all acknowledged before stopping", zap.Error(ferr))
	}
	cancel()
	n.cluster.Stop() // not a leave: peers list this node as stopped
	n.stats.Stop()
	n.fabric.Stop()
	n.api.Close()
	n.dash.Close()
	n.stopMonitor()
	if n.ctl != nil {
		n.ctl.Close()
	}
	_ = os.Remove(n.sock)
	if err != nil {
		n.log.Error("node stopped uncleanly", zap.Error(err))
	} else {
		n.log.Info("node stopped", zap.String("node", n.name.String()))
	}
	return err
}

// ctlOp is one emqx_ctl operation: what it does, and whether the answer
// carries the cluster status.
type ctlOp struct {
	run         func(n *Node, req ctlrpc.Request, resp *ctlrpc.Response)
	withCluster bool
}

// ctlOps is every operation the node answers; an unknown one gets
// unknown_command (and the cluster status).
var ctlOps = map[string]ctlOp{
	ctlrpc.OpPing:            {run: (*Node).listeners},
	ctlrpc.OpStatus:          {run: (*Node).listeners},
	ctlrpc.OpStop:            {run: func(n *Node, _ ctlrpc.Request, _ *ctlrpc.Response) { n.requestStop() }},
	ctlrpc.OpClusterStatus:   {withCluster: true},
	ctlrpc.OpDiscoveryEnable: {run: (*Node).enableDiscovery},
	ctlrpc.OpJoin:            {run: (*Node).clusterOp, withCluster: true},
	ctlrpc.OpLeave:           {run: (*Node).clusterOp, withCluster: true},
	ctlrpc.OpForceLeave:      {run: (*Node).clusterOp, withCluster: true},
	ctlrpc.OpCommand:         {run: (*Node).textCommand},
}

// Handle answers one ctl request.
func (n *Node) Handle(req ctlrpc.Request) ctlrpc.Response {
	resp := ctlrpc.Response{Node: n.name.String(), Version: version.Version, Pid: os.Getpid()}
	op, ok := ctlOps[req.Op]
	switch {
	case !ok:
		resp.Error = "unknown_command"
		op.withCluster = true
	case op.run != nil:
		op.run(n, req, &resp)
	}
	if op.withCluster {
		st := n.cluster.Status()
		resp.Cluster = &ctlrpc.ClusterStatus{Running: st.Running, Stopped: st.Stopped}
	}
	return resp
}

// listeners answers ping and status with the bound listeners: MQTT's by
// protocol, the HTTP API's as "http:management", "https:management", the
// dashboard's as "http:dashboard", "https:dashboard".
func (n *Node) listeners(_ ctlrpc.Request, resp *ctlrpc.Response) {
	resp.Listeners = n.broker.Addrs()
	for k, v := range n.api.Addrs() {
		resp.Listeners[k+":management"] = v
	}
	for k, v := range n.dash.Addrs() {
		resp.Listeners[k+":dashboard"] = v
	}
}

func (n *Node) enableDiscovery(_ ctlrpc.Request, resp *ctlrpc.Response) {
	if n.auto == nil {
		resp.Error = "cluster.discovery = " + n.cfg.Cluster.Discovery + " runs no automatic discovery"
		return
	}
	n.cluster.EnableDiscovery()
	n.auto.Kick()
}

// clusterOp runs join, leave or force-leave; a failure is the EMQX reason term.
func (n *Node) clusterOp(req ctlrpc.Request, resp *ctlrpc.Response) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	switch req.Op {
	case ctlrpc.OpJoin:
		err = n.cluster.Join(ctx, req.Node)
	case ctlrpc.OpLeave:
		err = n.cluster.Leave(ctx)
		if err == nil && n.auto != nil {
			n.auto.Unregister(ctx) // and autocluster stays off until restart or `cluster discovery enable`
		}
	default:
		err = n.cluster.ForceLeave(ctx, req.Node)
	}
	switch {
	case errors.Is(err, cluster.ErrIgnored):
		resp.Ignored = true
	case err != nil:
		resp.Error = err.Error()
		n.log.Warn("cluster command failed", zap.String("op", req.Op), zap.String("node", req.Node), zap.Error(err))
	}
}

// warnAccepted writes, once at boot, the one line listing the EMQX keys set
// that this node accepts without acting on them. Log values are cut at
// 512 bytes, so the keys go in as many fields as they need.
func (n *Node) warnAccepted() {
	c := n.cfg
	if len(c.UnusedZones) > 0 {
		n.log.Warn("zones set that no listener uses (a listener picks its zone with listener.<proto>.<name>.zone)",
			zap.Strings("zones", c.UnusedZones))
	}
	if len(c.NotImplemented)+len(c.NoEffect) == 0 {
		return
	}
	var fields []zap.Field
	add := func(name string, keys []string) {
		part, i := "", 1
		flush := func() {
			if part != "" {
				fields = append(fields, zap.String(fmt.Sprintf("%s_%d", name, i), part))
				part, i = "", i+1
			}
		}
		for _, k := range keys {
			if len(part)+len(k)+2 > 480 {
				flush()
			}
			if part != "" {
				part += ", "
			}
			part += k
		}
		flush()
	}
	add("not_implemented", c.NotImplemented)
	add("no_effect", c.NoEffect)
	n.log.Warn(fmt.Sprintf("accepted, not implemented: %d keys; accepted, no effect here (Erlang VM settings): %d keys",
		len(c.NotImplemented), len(c.NoEffect)), fields...)
}
