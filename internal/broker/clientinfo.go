package broker

import (
	"bytes"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"emqxgo/internal/metrics"
)

// What the management (emqx_ctl clients and subscriptions, the HTTP API's
// /clients and /mqtt/subscribe) reads of and does to the node's clients,
// as EMQX's emqx_cm and channels answer it: each client's info and
// counts, kicking it, and subscribing or unsubscribing it on its behalf.
//
// The times EMQX keeps per channel (when its session was created, its
// connection came, its connection went) are noted by a hook on the
// connection events only (book); nothing here runs per message.

// book notes the times of each network client; entries go with their
// client (weak keys: a client the server forgot is collected, and its
// entry with it).
type book struct {
	mu sync.Mutex
	m  map[weak.Pointer[mqtt.Client]]*clientTimes
}

// clientTimes are one client's times (unix ms; 0: not yet) and whether
// it was kicked.
type clientTimes struct {
	created, connected, disconnected int64
	// kicked: its session ends with its connection; gone: the connection's
	// end was handled (OnDisconnect ran), expired: with its session;
	// discarded: a kick's discard is under way or done.
	kicked, gone, expired, discarded bool
}

// discardNow tells, under mu, whether the kick's discard is to run now
// (once, and only for a session that outlives its connection).
func (e *clientTimes) discardNow() bool {
	if !e.kicked || !e.gone || e.expired || e.discarded {
		return false
	}
	e.discarded = true
	return true
}

// entry is cl's times, made if missing; under mu.
func (bk *book) entry(cl *mqtt.Client) *clientTimes {
	if bk.m == nil {
		bk.m = map[weak.Pointer[mqtt.Client]]*clientTimes{}
	}
	k := weak.Make(cl)
	if e := bk.m[k]; e != nil {
		return e
	}
	e := &clientTimes{}
	bk.m[k] = e
	runtime.AddCleanup(cl, bk.forget, k)
	return e
}

func (bk *book) forget(k weak.Pointer[mqtt.Client]) {
	bk.mu.Lock()
	delete(bk.m, k)
	bk.mu.Unlock()
}

// times is a copy of cl's times (zero if none were noted).
func (bk *book) times(cl *mqtt.Client) clientTimes {
	bk.mu.Lock()
	defer bk.mu.Unlock()
	if e := bk.m[weak.Make(cl)]; e != nil {
		return *e
	}
	return clientTimes{}
}

// infoHook notes the times (book) and ends the session of a kicked
// client once its connection's end is handled.
type infoHook struct {
	mqtt.HookBase
	b *Broker
}

func (h *infoHook) ID() string { return "emqx-client-info" }

func (h *infoHook) Provides(e byte) bool {
	return e == mqtt.OnSessionEstablish || e == mqtt.OnSessionEstablished || e == mqtt.OnDisconnect
}

// OnSessionEstablish runs before mochi takes over an earlier connection
// with the same id: a session that continues keeps its creation time.
func (h *infoHook) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	if cl.Net.Inline {
		return
	}
	now := time.Now().UnixMilli()
	old, found := h.b.srv.Clients.Get(cl.ID)
	fresh := !found || pk.Connect.Clean || old.Properties.Clean && old.Properties.ProtocolVersion < 5 // as sessions.establish
	bk := &h.b.clients
	bk.mu.Lock()
	defer bk.mu.Unlock()
	e := bk.entry(cl)
	e.created = now
	if !fresh {
		if o := bk.m[weak.Make(old)]; o != nil && o.created != 0 {
			e.created = o.created
		}
	}
}

func (h *infoHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	if cl.Net.Inline {
		return
	}
	bk := &h.b.clients
	bk.mu.Lock()
	bk.entry(cl).connected = time.Now().UnixMilli()
	bk.mu.Unlock()
}

func (h *infoHook) OnDisconnect(cl *mqtt.Client, _ error, expire bool) {
	if cl.Net.Inline {
		return
	}
	bk := &h.b.clients
	bk.mu.Lock()
	e := bk.entry(cl)
	e.disconnected, e.gone, e.expired = time.Now().UnixMilli(), true, expire
	now := e.discardNow()
	bk.mu.Unlock()
	if now {
		h.b.discard(cl) // a session that outlives its connection does not outlive a kick
	}
}

// NetworkClients are this node's network clients: connected, or sessions
// kept after their connection (EMQX's channels).
func (b *Broker) NetworkClients() []*mqtt.Client {
	all := b.srv.Clients.GetAll()
	out := make([]*mqtt.Client, 0, len(all))
	for _, cl := range all {
		if isNetworkClient(cl) {
			out = append(out, cl)
		}
	}
	return out
}

// NetworkClient is the network client clientID of this node.
func (b *Broker) NetworkClient(clientID string) (*mqtt.Client, bool) {
	cl, ok := b.srv.Clients.Get(clientID)
	if !ok || !isNetworkClient(cl) {
		return nil, false
	}
	return cl, true
}

// isNetworkClient: not one of the cluster's inline clients, nor the
// stand-in of a session coming from another node (no connection).
func isNetworkClient(cl *mqtt.Client) bool { return !cl.Net.Inline && cl.Net.Conn != nil }

// ClientInfo is one client as emqx_ctl clients and the HTTP API show it
// (EMQX's channel info and stats). Times are unix milliseconds (0: none).
type ClientInfo struct {
	ClientID    string `json:"clientid"`
	Username    string `json:"username,omitempty"`
	HasUsername bool   `json:"has_username,omitempty"`
	Zone        string `json:"zone"`
	Mountpoint  string `json:"mountpoint,omitempty"`
	PeerHost    string `json:"peerhost"`
	PeerPort    int    `json:"peerport"`
	ProtoName   string `json:"proto_name"`
	ProtoVer    int    `json:"proto_ver"`
	CleanStart  bool   `json:"clean_start"`
	Keepalive   int    `json:"keepalive"`
	// ExpiryInterval is the session's expiry in seconds.
	ExpiryInterval int64 `json:"expiry_interval"`
	Connected      bool  `json:"connected"`
	CreatedAt      int64 `json:"created_at"`
	ConnectedAt    int64 `json:"connected_at"`
	DisconnectedAt int64 `json:"disconnected_at,omitempty"`

	SessionCounts

	// Traffic is the current connection's counts (traffic.go).
	Traffic Traffic `json:"traffic"`
}

// SessionCounts are a session's figures and their limits, with EMQX's
// names (the HTTP API's client objects carry them as they are).
type SessionCounts struct {
	Subscriptions    int   `json:"subscriptions_cnt"`
	MaxSubscriptions int   `json:"max_subscriptions"`
	Inflight         int   `json:"inflight"`
	MaxInflight      int   `json:"max_inflight"`
	AwaitingRel      int   `json:"awaiting_rel"`
	MaxAwaitingRel   int   `json:"max_awaiting_rel"`
	MqueueLen        int   `json:"mqueue_len"`
	MaxMqueue        int   `json:"max_mqueue"`
	MqueueDropped    int64 `json:"mqueue_dropped"`
}

// Info is what the node has of cl now.
func (b *Broker) Info(cl *mqtt.Client) ClientInfo {
	z := b.Zone(cl)
	in := ClientInfo{
		ClientID: cl.ID, Zone: z.Name, Mountpoint: mountOf(cl),
		ProtoName: "MQTT", ProtoVer: int(cl.Properties.ProtocolVersion),
		CleanStart: cl.Properties.Clean, Keepalive: int(cl.State.Keepalive),
		Connected: !cl.Closed(),
		SessionCounts: SessionCounts{Subscriptions: cl.State.Subscriptions.Len(), MaxSubscriptions: z.MaxSubscriptions,
			MaxInflight: z.MaxInflight, MaxAwaitingRel: z.MaxAwaitingRel, MaxMqueue: z.MaxMqueueLen},
	}
	if in.ProtoVer == 3 {
		in.ProtoName = "MQIsdp"
	}
	if len(cl.Properties.Username) > 0 {
		in.Username, in.HasUsername = string(cl.Properties.Username), true
	}
	in.PeerHost, in.PeerPort = splitPeer(cl.Net.Remote)
	switch {
	case in.ProtoVer == 5:
		in.ExpiryInterval = int64(cl.Properties.Props.SessionExpiryInterval)
	case !in.CleanStart:
		in.ExpiryInterval = int64(z.SessionExpiryInterval / time.Second)
	}
	in.Traffic = TrafficOf(cl)
	t := b.clients.times(cl)
	in.CreatedAt, in.ConnectedAt = t.created, t.connected
	if in.ConnectedAt == 0 {
		in.ConnectedAt = in.CreatedAt
	}
	if !in.Connected {
		in.DisconnectedAt = t.disconnected
		if in.DisconnectedAt == 0 {
			in.DisconnectedAt = cl.StopTime() * 1000
		}
	}
	inflight := cl.State.Inflight.Len()
	if s := b.sessions.get(cl.ID); s != nil {
		s.mu.Lock()
		in.MqueueLen, in.AwaitingRel, in.MqueueDropped = s.len(), s.relN, s.droppedAll
		s.mu.Unlock()
	}
	in.Inflight = max(0, inflight-in.AwaitingRel) // mochi keeps the PUBRECs of inbound QoS 2 there too
	return in
}

// splitPeer is a remote address's host and port.
func splitPeer(remote string) (string, int) {
	host, port, err := net.SplitHostPort(remote)
	if err != nil {
		return remote, 0
	}
	p, _ := strconv.Atoi(port)
	if ip := net.ParseIP(host); ip != nil {
		if v4 := ip.To4(); v4 != nil {
			host = v4.String() // EMQX's ntoa of an IPv4-mapped address
		}
	}
	return host, p
}

// Kick disconnects the client clientID of this node and ends its session
// (emqx_cm:kick_session): an MQTT 5 client gets DISCONNECT 0x98
// (Administrative action); a session kept after its connection is
// discarded too. found false: no such client here.
func (b *Broker) Kick(clientID string) (found bool) {
	cl, ok := b.NetworkClient(clientID)
	if !ok {
		return false
	}
	bk := &b.clients
	bk.mu.Lock()
	e := bk.entry(cl)
	e.kicked = true
	bk.mu.Unlock()
	if !cl.Closed() {
		if cl.Properties.ProtocolVersion == 5 {
			_ = b.srv.DisconnectClient(cl, packets.ErrAdministrativeAction)
		} else {
			cl.Stop(packets.ErrAdministrativeAction)
		}
	}
	// The connection's end is handled on its own goroutine (infoHook's
	// OnDisconnect discards the session then); one whose end was handled
	// before the mark (a session kept after its connection) is discarded
	// here.
	bk.mu.Lock()
	now := e.discardNow()
	bk.mu.Unlock()
	if now {
		b.discard(cl)
	}
	return true
}

// discard ends cl's session as its expiry would: its subscriptions (and
// with them the cluster's routes: OnUnsubscribed), its queue, its
// inflight messages, its place among the clients.
func (b *Broker) discard(cl *mqtt.Client) {
	if cur, ok := b.srv.Clients.Get(cl.ID); !ok || cur != cl {
		return // taken over or ended meanwhile
	}
	b.UnsubscribeClient(cl)
	cl.ClearInflights()
	b.sessions.end(cl)
	if cur, ok := b.srv.Clients.Get(cl.ID); ok && cur == cl {
		b.srv.Clients.Delete(cl.ID)
		b.metrics.Inc(metrics.SessionTerminated)
	}
}

// SubscribeResult is what Subscribe did with one filter.
type SubscribeResult struct {
	// Filter is the filter as the node holds it (mountpoint added,
	// $queue/ as $share/$queue/, $exclusive/ taken off) when subscribed;
	// Code is the SUBACK code the client's own SUBSCRIBE would have got
	// (0..2: the QoS granted).
	Filter string
	Code   byte
}

// Subscribe subscribes the client clientID of this node to filters at qos
// as EMQX's management does (a {subscribe, TopicFilters} sent to its
// channel): as its own SUBSCRIBE would, with the zone's limits, the ACL,
// its mountpoint, exclusive and shared subscriptions, and its retained
// messages, but no SUBACK goes to the client. The caller gives the
// cluster the routes of the filters subscribed. found false: no such
// client here.
func (b *Broker) Subscribe(clientID string, filters []string, qos byte) (res []SubscribeResult, found bool) {
	cl, ok := b.NetworkClient(clientID)
	if !ok {
		return nil, false
	}
	z := b.Zone(cl)
	mp := mountOf(cl)
	q := min(qos, byte(z.MaxQoSAllowed), b.srv.Options.Capabilities.MaximumQos)
	for _, f := range filters {
		r := SubscribeResult{Code: packets.ErrTopicFilterInvalid.Code}
		plain := strings.TrimPrefix(f, exclusivePrefix)
		if code := b.subRefusal(z, plain); code != 0 {
			r.Code = code
			res = append(res, r)
			continue
		}
		if !wholeWildcards(plain) || !mqtt.IsValidFilter(f, false) {
			res = append(res, r)
			continue
		}
		stored, excl := f, false
		if sub, code, ok := b.exclusiveFilter(cl, z.ExclusiveSubscription, mp, f); ok {
			if code != 0 {
				r.Code = code
				res = append(res, r)
				continue
			}
			stored, excl = sub, true
		} else {
			stored = queueAsShared(mountFilter(mp, f))
		}
		_, existed := cl.State.Subscriptions.Get(stored)
		switch {
		case z.MaxSubscriptions > 0 && !existed && cl.State.Subscriptions.Len() >= z.MaxSubscriptions:
			r.Code = packets.ErrQuotaExceeded.Code
		case !b.subAllowed(cl, stored):
			r.Code = packets.ErrNotAuthorized.Code
		default:
			r.Code = q
		}
		if r.Code >= 0x80 {
			if excl {
				b.exclusive.free(stored, cl.ID)
			}
			res = append(res, r)
			continue
		}
		sub := packets.Subscription{Filter: stored, Qos: q}
		if old, ok := cl.State.Subscriptions.Get(stored); ok {
			sub.NoLocal, sub.RetainAsPublished, sub.Identifier = old.NoLocal, old.RetainAsPublished, old.Identifier
		}
		if b.srv.Topics.Subscribe(cl.ID, sub) {
			atomic.AddInt64(&b.srv.Info.Subscriptions, 1)
		}
		b.subs.changed()
		cl.State.Subscriptions.Add(stored, sub)
		r.Filter = stored
		res = append(res, r)
		if !mqtt.IsSharedFilter(stored) {
			b.sendRetained(cl, sub)
		}
	}
	return res, true
}

// subAllowed puts a filter the node holds to the ACL as the client named
// it (the mountpoint off).
func (b *Broker) subAllowed(cl *mqtt.Client, stored string) bool {
	f := b.subCheck.Load()
	return f == nil || (*f)(cl, b.Unmount(cl, stored))
}

// sendRetained queues the retained messages matching sub for cl (Retain
// Handling 0, as EMQX's management subscribes).
func (b *Broker) sendRetained(cl *mqtt.Client, sub packets.Subscription) {
	sub.FwdRetainedFlag = true
	now := time.Now().Unix()
	for _, r := range b.srv.Topics.Messages(sub.Filter) {
		if r.ProtocolVersion == 5 && r.Expiry > 0 && r.Expiry < now {
			continue
		}
		b.sessions.deliver(cl.ID, sub, shared(&r), 0)
	}
}

// queueAsShared is $queue/t as the cluster holds it: $share/$queue/t.
func queueAsShared(f string) string {
	if rest, ok := strings.CutPrefix(f, "$queue/"); ok {
		return "$share/$queue/" + rest
	}
	return f
}

// Unsubscribe unsubscribes the client clientID of this node from filters
// as EMQX's management does: it returns the filters as the node held
// them (the cluster's routes of them go: the caller's), found false: no
// such client here.
func (b *Broker) Unsubscribe(clientID string, filters []string) (removed []string, found bool) {
	cl, ok := b.NetworkClient(clientID)
	if !ok {
		return nil, false
	}
	mp := mountOf(cl)
	for _, f := range filters {
		stored := queueAsShared(mountFilter(mp, f))
		if t, ok := strings.CutPrefix(f, exclusivePrefix); ok && t != "" {
			stored = mp + t
		}
		if _, ok := cl.State.Subscriptions.Get(stored); !ok {
			continue
		}
		if b.srv.Topics.Unsubscribe(stored, cl.ID) {
			atomic.AddInt64(&b.srv.Info.Subscriptions, -1)
		}
		b.subs.changed()
		cl.State.Subscriptions.Delete(stored)
		b.exclusive.free(stored, cl.ID)
		removed = append(removed, stored)
	}
	return removed, true
}

// Subscribed tells whether the client clientID of this node holds a
// subscription to filter (as the node holds it).
func (b *Broker) Subscribed(clientID, filter string) bool {
	cl, ok := b.NetworkClient(clientID)
	if !ok {
		return false
	}
	_, ok = cl.State.Subscriptions.Get(filter)
	return ok
}

// Subscription is one subscription of a client as the node holds it.
type Subscription struct {
	Filter string // mountpoint included; a shared one with $share/<group>/
	QoS    byte
}

// Subscriptions are cl's subscriptions, by filter.
func Subscriptions(cl *mqtt.Client) []Subscription {
	all := cl.State.Subscriptions.GetAll()
	out := make([]Subscription, 0, len(all))
	for f, s := range all {
		out = append(out, Subscription{Filter: f, QoS: s.Qos})
	}
	slices.SortFunc(out, func(a, b Subscription) int { return strings.Compare(a.Filter, b.Filter) })
	return out
}

// SortClients sorts clients by id.
func SortClients(cls []*mqtt.Client) {
	slices.SortFunc(cls, func(a, b *mqtt.Client) int { return strings.Compare(a.ID, b.ID) })
}

// UsernameIs tells whether cl's user name is name (without a copy).
func UsernameIs(cl *mqtt.Client, name string) bool {
	return len(cl.Properties.Username) > 0 && bytes.Equal(cl.Properties.Username, []byte(name))
}
