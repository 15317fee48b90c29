package fabric

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"emqxgo/internal/broker"
	"emqxgo/internal/config"
	"emqxgo/internal/peerlink"
	"emqxgo/internal/wire"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/zap"
)

// reservedPrefix marks the inline clients that inject other nodes'
// messages; the broker refuses it from network clients.
const reservedPrefix = broker.ReservedClientIDPrefix

// Fabric joins one node's mochi server to its peers.
// Queues are the node's session queues (the broker's): what a session has
// queued and not sent moves with it to another node.
type Queues interface {
	TakeQueue(clientID, to string) (queued []broker.Message, sent map[uint16]uint64, seen []uint64)
	RestoreQueue(clientID string, queued []broker.Message, had []uint64)
	DeliverDirect(clientID string, pk packets.Packet, id uint64)
	EndMove(clientID string)
	HoldRouted(clientID string, origins []string)
	Marker(clientID, origin string)
	// The broker delivers a client's PUBLISH itself: it asks the cluster
	// to choose the shared groups' members, and tells it of what it
	// retains (mochi's hooks hear of neither).
	SetSharedSelector(sel func(*mqtt.Subscribers, packets.Packet) *mqtt.Subscribers, only func(origin string) bool)
	SetRetainListener(func(*mqtt.Client, packets.Packet))
	// The broker asks the cluster whether a client's retained PUBLISH is
	// stored (retainer.*: the table's count, the payload's size).
	SetRetainGate(func(*mqtt.Client, packets.Packet) bool)
	// InlineBatch: the deliveries of what a peer's inline client injects
	// are written on the injecting goroutine and sent as the batch is
	// released, when the link has read no more.
	InlineBatch(cl *mqtt.Client) *broker.Batch
	// UnsubscribeClient takes a client's subscriptions out of the index
	// (mochi's, with the broker's cache told).
	UnsubscribeClient(cl *mqtt.Client)
	// DroppedExpired counts a message that expired before it could be
	// delivered (delivery.dropped.expired).
	DroppedExpired()
}

// nextID is a new cluster-wide message id: this node and start in the high
// half, a count in the low.
func (f *Fabric) nextID() uint64 { return f.idBase | f.idSeq.Add(1)&0xffffffff }

// Forward implements broker.Mover: a message delivered here for a session
// that moved to node goes there.
func (f *Fabric) Forward(clientID, node string, pk packets.Packet, id uint64) {
	m := fromPacket(pk, time.Now())
	if m == nil {
		return
	}
	m.ID, m.From = id, pk.Origin
	if err := f.direct(node, &directMsg{Client: clientID, Msg: appendMessage(nil, m), SubIDs: pk.Properties.SubscriptionIdentifier}); err != nil {
		f.log.Warn("message for a session that moved to another node not forwarded", zap.String("client", clientID),
			zap.String("node", node), zap.Error(err))
	}
}

// direct sends d to node on the link, behind what was sent there before
// (forwarded messages and markers keep their order).
func (f *Fabric) direct(node string, d *directMsg) error {
	body, err := encode(d)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return f.links.Notify(ctx, node, opDirect, body)
}

// Fabric is the MQTT side of the cluster (see the package notes).
type Fabric struct {
	self     string
	epoch    int64
	srv      *mqtt.Server
	queues   Queues
	links    *peerlink.Links
	log      *zap.Logger
	cmds     commands
	routes   *routes
	retained *retainer
	tables   *tableSet
	picker   *picker
	dataDir  string

	decisions syncMap[string, map[string]string] // publishing client id -> shared filter -> client chosen on this node
	conns     syncMap[string, connection]        // client id -> since when, which client: connected clients
	injecting syncMap[string, *inbound]          // inline client id -> its peer's receiving state (inbound.choice)
	moved     syncMap[string, *move]             // client id -> a session that moved away (takeover.go)
	flushing  syncMap[string, string]            // client id -> the node its session just moved from (takeover.go)
	idBase    uint64                             // high half of message ids: this node and start
	idSeq     atomic.Uint64

	mu  sync.Mutex
	out map[string]*outbox
	in  map[string]*inbound

	stop     chan struct{}
	stopOnce sync.Once
	goMu     sync.Mutex // startGoroutine against Stop
	wg       sync.WaitGroup
}

// Config is what the fabric takes from the node's configuration.
type Config struct {
	// SharedStrategy is broker.shared_subscription_strategy.
	SharedStrategy string
	// DataDir is node.data_dir: persisted tables live under DataDir/tables.
	DataDir string
	// Retainer is retainer.* (retained.go).
	Retainer config.Retainer
}

// New builds the fabric over the node's peer links and adds its hook to srv
// (before srv serves). Pass it to cluster.Start as the links' handler.
func New(links *peerlink.Links, srv *mqtt.Server, queues Queues, cfg Config, log *zap.Logger) (*Fabric, error) {
	self := links.Self()
	f := &Fabric{self: self, epoch: time.Now().UnixNano(), srv: srv, queues: queues, links: links, log: log.Named("fabric"),
		picker: &picker{strategy: cfg.SharedStrategy, self: self}, dataDir: cfg.DataDir,
		out: map[string]*outbox{}, in: map[string]*inbound{}, stop: make(chan struct{})}
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "%s/%d", self, f.epoch)
	f.idBase = h.Sum64() &^ 0xffffffff
	f.routes = newRoutes(f)
	f.tables = newTableSet(f)
	f.retained = newRetainer(f, cfg.Retainer)
	hk := &hook{f: f}
	if err := srv.AddHook(hk, nil); err != nil {
		return nil, err
	}
	queues.SetSharedSelector(hk.OnSelectSubscribers, f.sharedOnly)
	queues.SetRetainListener(hk.retain)
	queues.SetRetainGate(f.retained.accept)
	return f, nil
}

// startGoroutine counts a goroutine the caller is about to start, unless
// the fabric stopped (false: do not start it).
func (f *Fabric) startGoroutine() bool {
	f.goMu.Lock()
	defer f.goMu.Unlock()
	select {
	case <-f.stop:
		return false
	default:
	}
	f.wg.Add(1)
	return true
}

// Stop ends the fabric's goroutines and writes the persisted tables that
// changed; it is safe to call twice. Tables stay readable and writable
// after it, in memory only.
func (f *Fabric) Stop() {
	f.stopOnce.Do(func() {
		f.goMu.Lock()
		close(f.stop)
		f.goMu.Unlock()
		f.tables.cancel()
		f.moved.Range(func(id string, mv *move) bool { // the node stops: nothing to forward to
			if f.moved.CompareAndDelete(id, mv) {
				mv.timer.Stop()
			}
			return true
		})
	})
	f.wg.Wait()
	f.flushTables()
}

// Request implements peerlink.Handler.
func (f *Fabric) Request(peer, op string, body []byte) ([]byte, error) {
	switch op {
	case opTable:
		return nil, f.tables.receive(peer, body)
	case opCommand:
		return f.runCommand(body)
	}
	if op != opTakeover {
		return nil, errors.New("unknown request " + op)
	}
	var req takeoverReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	return encode(f.release(peer, &req))
}

// Notify implements peerlink.Handler; it runs on the link's read path.
func (f *Fabric) Notify(peer, op string, body []byte, behind bool) {
	if op != opForward && !behind {
		defer f.released(peer) // what earlier forwarded frames hold goes now
	}
	switch op {
	case opRoutes:
		var u routeUpdate
		if err := decode(body, &u); err == nil {
			f.routes.apply(peer, &u)
			for _, fr := range u.Flush { // after the routes they follow
				if fr.Via != f.self {
					f.sendMarker(fr.Client, fr.Via, peer)
				}
			}
		}
	case opForward:
		b, err := decodeBatch(body)
		if err != nil {
			f.log.Warn("malformed forward batch from a peer; dropped", zap.String("peer", peer), zap.Error(err))
			if !behind {
				f.released(peer)
			}
			return
		}
		f.receive(peer, b, behind)
	case opClients:
		var l clientList
		if err := decode(body, &l); err == nil {
			f.settle(peer, l.Since)
		}
	case opDirect:
		var d directMsg
		if err := decode(body, &d); err != nil {
			return
		}
		if d.Marker != "" {
			f.queues.Marker(d.Client, d.Marker)
			return
		}
		r := &wire.Reader{B: d.Msg}
		m := readMessage(r)
		if r.Err != nil {
			f.log.Warn("malformed forwarded message from a peer; dropped", zap.String("peer", peer))
			return
		}
		pk := m.toPacket(m.Retain)
		pk.Origin = m.From
		pk.Properties.SubscriptionIdentifier = d.SubIDs
		f.queues.DeliverDirect(d.Client, pk, m.ID)
	case opAck:
		var a fwdAck
		if err := decode(body, &a); err == nil && a.Epoch == f.epoch {
			f.outbox(peer).ack(a.Seq)
		}
	default:
		f.log.Debug("unknown notify", zap.String("peer", peer), zap.String("op", op))
	}
}

// LinkUp implements peerlink.Handler: full route set to the peer, then
// resend what it has not acknowledged, and every table whole (retained
// messages too).
func (f *Fabric) LinkUp(peer string, epoch int64) {
	select {
	case <-f.stop:
		return
	default:
	}
	f.routes.sendFull(peer)
	o := f.outbox(peer)
	o.linkUp(epoch)
	f.tables.linkUp(peer)
	f.wg.Add(1)
	go f.sendClients(peer)
}

// LinkDown implements peerlink.Handler: routes stay until membership
// says the peer is gone, so a link that comes back loses nothing.
func (f *Fabric) LinkDown(string) {}

// PeerGone implements peerlink.Handler: the peer's routes go at once,
// and shared-group messages it was chosen for go to another member.
func (f *Fabric) PeerGone(peer string) {
	f.routes.drop(peer)
	f.mu.Lock()
	o := f.out[peer]
	f.mu.Unlock()
	if o != nil {
		f.regroup(o.takeGroups())
	}
}

var (
	encode = peerlink.Encode
	decode = peerlink.Decode
)

// RoutesFrom reports whether peer's full route set has arrived in this run.
func (f *Fabric) RoutesFrom(peer string) bool {
	f.routes.mu.Lock()
	defer f.routes.mu.Unlock()
	return f.routes.full[peer]
}

// RouteNodes lists the nodes (other than this one) whose routes match
// topic, plus those holding shared members for it.
func (f *Fabric) RouteNodes(topic string) []string {
	mt := getMatches()
	defer putMatches(mt)
	f.routes.index.match(topic, mt)
	out := slices.Clone(mt.peers)
	for _, g := range mt.groups {
		for _, k := range g.members {
			if n, _ := splitKey(k); n != f.self && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

type connection struct {
	since int64
	cl    *mqtt.Client
}

// sendClients tells a peer whose link came up who is connected here.
func (f *Fabric) sendClients(peer string) {
	defer f.wg.Done()
	l := clientList{Since: map[string]int64{}}
	f.conns.Range(func(id string, c connection) bool {
		if !c.cl.Closed() {
			l.Since[id] = c.since
		}
		return true
	})
	body, err := encode(&l)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = f.links.Notify(ctx, peer, opClients, body)
}

// settle disconnects local clients that also connected on peer later: after
// a partition heals, the newest connection of a client id wins.
func (f *Fabric) settle(peer string, remote map[string]int64) {
	for id, since := range remote {
		c, ok := f.conns.Load(id)
		if !ok {
			continue
		}
		if c.cl.Closed() || c.since > since || (c.since == since && f.self > peer) {
			continue
		}
		f.log.Warn("client id connected on both sides of a healed partition; the newest connection wins",
			zap.String("client", id), zap.String("newest_on", peer))
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.release(peer, &takeoverReq{ClientID: id, Clean: true})
		}()
	}
}

// Flush waits until every peer with a live link has been sent, and has
// acknowledged, what this node queued for it (a graceful stop calls it
// after its clients are gone, so a PUBACKed QoS 1 message is not lost).
// It first acknowledges what this node received, so that no peer resends
// (or gives another shared-group member) what was delivered here.
func (f *Fabric) Flush(ctx context.Context) error {
	f.mu.Lock()
	ins := make(map[string]*inbound, len(f.in))
	for peer, in := range f.in {
		ins[peer] = in
	}
	f.mu.Unlock()
	for peer, in := range ins {
		if f.links.Has(peer) {
			f.sendAck(ctx, peer, in)
		}
	}
	defer func() { _ = f.links.Drain(ctx) }() // the acknowledgements are on the wire before the links close
	for {
		busy := false
		f.mu.Lock()
		for peer, o := range f.out {
			if !f.links.Has(peer) {
				continue
			}
			o.mu.Lock()
			if len(o.queue) > 0 || len(o.pending) > 0 {
				busy = true
			}
			o.mu.Unlock()
		}
		f.mu.Unlock()
		if !busy {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}
