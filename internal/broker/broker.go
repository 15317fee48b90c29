package broker

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/zap"

	"emqxgo/internal/config"
	"emqxgo/internal/logging"
	"emqxgo/internal/metrics"
	"emqxgo/internal/tlsfiles"
	"emqxgo/internal/topic"
)

// ReservedClientIDPrefix is kept for the cluster layer's inline clients;
// network clients may not use it.
const ReservedClientIDPrefix = "$cluster:"

// Broker is the node's MQTT server.
type Broker struct {
	cfg       *config.Config
	ext       *config.Zone            // zone external: inline clients' and the default
	zones     map[string]*config.Zone // listener id -> its zone (read-only after New)
	log       *zap.Logger
	srv       *mqtt.Server
	listeners []*listener   // in the order of the configuration; slots replaced by restarts (under ctl.mu)
	ctl       listenerCtl   // listeners stopped and restarted (listenerctl.go)
	gate      chan struct{} // closed: listeners accept (see HoldAccepts)
	gateOnce  sync.Once
	stopOnce  sync.Once
	drained   chan struct{} // closed when Stop's drain is over
	sessions  *sessions
	hooked    bool // the session hook is added (Start)
	subCheck  atomic.Pointer[func(cl *mqtt.Client, filter string) bool]
	// selector chooses the members of shared groups (the cluster's);
	// retained hears of each retained PUBLISH the node stores itself (see
	// deliverHook.OnPublish).
	selector   atomic.Pointer[func(*mqtt.Subscribers, packets.Packet) *mqtt.Subscribers]
	sharedOnly atomic.Pointer[func(origin string) bool]
	// subs remembers each topic's subscribers (subcache.go).
	subs     subCache
	retained atomic.Pointer[func(*mqtt.Client, packets.Packet)]
	// retainGate decides whether a retained PUBLISH is stored (the
	// cluster's retainer.* checks).
	retainGate atomic.Pointer[func(*mqtt.Client, packets.Packet) bool]
	wills      willSentinel
	// sendingWill: client id -> the client whose immediate will mochi is
	// publishing (will.go).
	sendingWill sync.Map
	// inlineBatches: inline client -> the Batch its injections write
	// through (InlineBatch; one per peer link, kept while the node runs).
	inlineBatches sync.Map
	// refused*: what the zones' limits refused (Refusals).
	refusedPublish, refusedSubscribe, refusedConnect atomic.Int64
	// limits: the zones' shared rate buckets (ratelimit.go); shutdowns:
	// force_shutdown_policy (shutdown.go).
	limits    zoneLimits
	shutdowns forceShutdowns
	// exclusive: the topics held by $exclusive/ subscriptions (exclusive.go).
	exclusive exclusives
	// metrics: EMQX's metrics (Metrics; counted in conn.go and the hooks).
	metrics metrics.Metrics
	// clients: when each client connected and went, kicks (clientinfo.go).
	clients book
}

// New builds the server and its listeners; it binds and starts nothing.
func New(cfg *config.Config, log *zap.Logger) (*Broker, error) {
	caps := mqtt.NewDefaultServerCapabilities()
	ext := cfg.ZoneOf("external")
	// mochi's limits are the widest of the zones; each client gets its
	// zone's (told in CONNACK, enforced by the node's hooks and listeners).
	var maxPacket int64
	var maxAlias, maxQoS int
	inUse := []*config.Zone{ext} // inline clients' (the cluster's)
	for _, lc := range cfg.Listeners.List {
		inUse = append(inUse, cfg.ZoneOf(lc.Zone))
	}
	for _, z := range inUse {
		maxPacket, maxAlias, maxQoS = max(maxPacket, z.MaxPacketSize), max(maxAlias, z.MaxTopicAlias), max(maxQoS, z.MaxQoSAllowed)
	}
	caps.MaximumPacketSize = uint32(maxPacket)
	caps.MaximumSessionExpiryInterval = longestSessionExpiry(cfg) // zonesession.go
	caps.ReceiveMaximum = uint16(ext.MaxInflight)
	// The sessions (session.go) keep the window and the queue; mochi's own
	// limits must not drop before them, and its write channel is unused.
	caps.MaximumInflight = 65535
	caps.MaximumClientWritesPending = 16
	caps.TopicAliasMaximum = uint16(maxAlias)
	caps.MaximumQos = byte(maxQoS) // granted at most; each zone's told in CONNACK
	// An acknowledgement carries the server's properties, not the PUBLISH's
	// (mochi copies them by default: a client's user properties came back
	// in its PUBACK).
	caps.Compatibilities.NoInheritedPropertiesOnAck = true
	// mochi's own $SYS/broker/... tree is off: the node publishes EMQX's
	// $SYS/brokers/... (package sys). mochi publishes its tree once as it
	// starts (Start takes it out of the retained store, the deliver hook
	// drops it) and then every SysTopicResendInterval: in effect never.
	srv := mqtt.New(&mqtt.Options{
		Capabilities:           caps,
		Logger:                 logging.Slog(log),
		InlineClient:           true,
		SysTopicResendInterval: mochiSysNever,
		// conn.Read keeps the bytes of a read (readBufSize) until mochi
		// has taken them, and an idle connection holds no read buffer;
		// mochi's own takes a few small packets per call.
		ClientNetReadBufferSize: 256,
	})
	b := &Broker{cfg: cfg, log: log, srv: srv, gate: make(chan struct{}), ext: ext, zones: map[string]*config.Zone{}}
	b.countDrops()
	b.sessions = &sessions{srv: srv, log: log, def: ext, zoneOf: b.Zone, excl: &b.exclusive, metrics: &b.metrics}
	b.limits.init(cfg)
	b.shutdowns.init(b)
	srv.Topics.Subscribe(sentinelClient, packets.Subscription{Filter: sysSentinel})
	b.subs.changed()
	close(b.gate)
	mounts := false
	for _, z := range inUse {
		mounts = mounts || z.Mountpoint != ""
	}
	_ = srv.AddHook(&infoHook{b: b}, nil) // clientinfo.go; its Init cannot fail
	if err := srv.AddHook(&nodeHook{b: b, mounts: mounts}, nil); err != nil {
		return nil, err
	}
	for _, lc := range cfg.Listeners.List {
		z := cfg.ZoneOf(lc.Zone)
		l := &listener{id: lc.ID(), addr: lc.Addr, proto: lc.Proto, wsPath: lc.MQTTPath, conf: lc, zone: z,
			idle: z.IdleTimeout, maxPacket: uint32(z.MaxPacketSize), log: log, metrics: &b.metrics, gate: b.accepting, done: make(chan struct{}),
			serving: make(chan struct{})}
		if lc.Proto == "ssl" || lc.Proto == "wss" {
			tc, err := tlsConfig(lc)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", lc.Key(), err)
			}
			l.tls = tc
		}
		b.listeners = append(b.listeners, l)
		b.zones[l.id] = z
	}
	return b, nil
}

// Zone is the zone of a client: its listener's; inline clients (the
// cluster's) and unknown listeners get zone external.
func (b *Broker) Zone(cl *mqtt.Client) *config.Zone {
	if z := b.zones[cl.Net.Listener]; z != nil {
		return z
	}
	return b.ext
}

func tlsConfig(l config.Listener) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(l.CertFile, l.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load certfile %s / keyfile %s: %w", l.CertFile, l.KeyFile, err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if l.CACertFile != "" {
		pool, err := tlsfiles.LoadCAPool(l.CACertFile, nil)
		if err != nil {
			return nil, fmt.Errorf("cacertfile: %w", err)
		}
		tc.ClientCAs = pool
	}
	if l.VerifyPeer {
		tc.ClientAuth = tls.VerifyClientCertIfGiven
		if l.FailIfNoPeerCert {
			tc.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return tc, nil
}

// HoldAccepts, before Start, makes the listeners bind but not accept until
// OpenAccepts: a node that rejoins its cluster first takes in its peers'
// routes, so that a client's first publish finds its subscribers. Clients
// connecting meanwhile wait in the listen backlog.
func (b *Broker) HoldAccepts() { b.gate = make(chan struct{}) }

// OpenAccepts lets the listeners accept.
func (b *Broker) OpenAccepts() {
	b.gateOnce.Do(func() {
		select {
		case <-b.gate:
		default:
			close(b.gate)
		}
	})
}

func (b *Broker) accepting() <-chan struct{} { return b.gate }

// Server is the mochi server, for the cluster layer.
func (b *Broker) Server() *mqtt.Server { return b.srv }

// ListenerError names the listener and says why binding failed.
type ListenerError struct {
	Key, Addr string
	Err       error
}

func (e *ListenerError) Error() string {
	why := e.Err.Error()
	if errors.Is(e.Err, syscall.EADDRINUSE) {
		why = "port already in use (another node or program is listening there)"
	} else if errors.Is(e.Err, syscall.EACCES) {
		why = "permission denied (ports below 1024 need privileges)"
	}
	return fmt.Sprintf("%s = %s: cannot listen: %s", e.Key, e.Addr, why)
}

func (e *ListenerError) Unwrap() error { return e.Err }

// Start binds every listener and starts serving. On error nothing is left running.
func (b *Broker) Start() error {
	if !b.hooked { // last, after the cluster's hook: it delivers what the others selected
		if err := b.srv.AddHook(&deliverHook{b: b}, nil); err != nil {
			return err
		}
		b.hooked = true
	}
	for _, l := range b.listeners {
		if err := b.srv.AddListener(l); err != nil {
			for _, o := range b.listeners {
				o.Close(nil)
			}
			return &ListenerError{Key: "listener." + strings.Replace(l.id, ":", ".", 1), Addr: l.addr, Err: err}
		}
	}
	if err := b.srv.Serve(); err != nil {
		return err
	}
	b.dropMochiSys()
	for _, l := range b.listeners {
		select {
		case <-l.serving:
		case <-time.After(5 * time.Second): // mochi starts it at once; never wait unbounded
		}
		b.log.Info("listener started", zap.String("listener", l.id), zap.String("address", l.Address()))
	}
	return nil
}

// Addrs returns the bound address of each running listener by protocol (tcp, ssl, ws,
// wss: the external one where there are several) and by id (tcp:internal).
func (b *Broker) Addrs() map[string]string {
	m := map[string]string{}
	for _, l := range b.running() {
		if _, ok := m[l.proto]; !ok || strings.HasSuffix(l.id, ":external") {
			m[l.proto] = l.Address()
		}
		m[l.id] = l.Address()
	}
	return m
}

// Stop stops accepting, disconnects every client (MQTT 5 clients get
// DISCONNECT 0x8B), waits for their goroutines until ctx ends, then closes
// mochi. It returns within ctx's deadline even if mochi's Close hangs. A second
// call waits for the same drain (within its own ctx).
func (b *Broker) Stop(ctx context.Context) error {
	b.stopOnce.Do(func() {
		all := b.closeAll()
		for _, cl := range b.srv.Clients.GetAll() {
			if cl.Net.Inline || cl.Closed() {
				continue
			}
			if cl.Properties.ProtocolVersion == 5 {
				_ = b.srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
			} else {
				cl.Stop(packets.ErrServerShuttingDown) // MQTT 3 has no server DISCONNECT
			}
		}
		b.drained = make(chan struct{})
		go func() {
			for _, l := range all {
				l.closeConns() // connections still before CONNECT
				l.wg.Wait()
			}
			_ = b.srv.Close()
			close(b.drained)
		}()
	})
	select {
	case <-b.drained:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mqtt clients did not drain in time: %w", ctx.Err())
	}
}

// nodeHook refuses reserved and over-long client ids and tells each
// connection its protocol version (authentication is the gate's:
// internal/access/guard).
type nodeHook struct {
	mqtt.HookBase
	b      *Broker
	mounts bool // a zone in use has a mountpoint (OnPublish)
}

func (h *nodeHook) ID() string { return "emqx-node" }

var nodeHookEvents = []byte{mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPacketEncode, mqtt.OnUnsubscribe,
	mqtt.OnSubscribe, mqtt.OnWill, mqtt.OnRetainMessage, mqtt.OnPacketRead, mqtt.OnSubscribed}

// Provides is asked for every hook on every event: keep it a byte scan.
// OnPublish (mount.go) only when a zone in use has a mountpoint: it is on
// every PUBLISH's path.
func (h *nodeHook) Provides(b byte) bool {
	return bytes.IndexByte(nodeHookEvents, b) >= 0 || b == mqtt.OnPublish && h.mounts
}

// OnPacketEncode advertises mqtt.max_packet_size and mqtt.max_topic_alias
// in CONNACK (MQTT 5), which mochi does not do by itself, so well-behaved
// clients never exceed them.
//
// It also corrects what mochi sends where the specifications differ: the
// return codes of a refused MQTT 3.1.1 CONNECT are 3.1.1 codes (an
// unsupported protocol level is 0x01 [MQTT-3.1.2-2], an empty client id
// without clean session 0x02 [MQTT-3.1.3-8]); a PUBLISH topic with a
// wildcard is DISCONNECT 0x90; SUBACK and UNSUBACK carry no properties of
// the request, and an invalid filter in UNSUBSCRIBE is 0x8F; a repeated
// QoS 2 PUBLISH gets PUBREC 0x00. Reason Strings and User Properties are
// left out only where the client's Maximum Packet Size leaves no room for
// them, and never from a PUBLISH (encodefit.go).
func (h *nodeHook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	switch pk.FixedHeader.Type {
	case packets.Publish:
		return publishFits(pk)
	case packets.Connack:
		if c, ok := cl.Net.Conn.(*conn); ok {
			c.subsChanged()
		}
		pk = h.connack(cl, pk)
	case packets.Pubrec:
		// A PUBLISH repeated before PUBREL is acknowledged as the first
		// one was, with PUBREC 0x00 [MQTT-4.3.3-10]; mochi says 0x91
		// (Packet Identifier in use), which tells the client the message
		// failed [MQTT-4.4.0-2] while the node waits for a PUBREL that
		// then never comes, refusing the id from then on.
		if pk.ReasonCode == packets.ErrPacketIdentifierInUse.Code {
			pk.ReasonCode, pk.Properties.ReasonString = packets.CodeSuccess.Code, ""
		}
	case packets.Disconnect:
		// A PUBLISH topic with a wildcard is an invalid topic name: 0x90
		// [MQTT-3.3.2-2], where mochi says 0x82.
		if pk.ReasonCode == packets.ErrProtocolViolationSurplusWildcard.Code && pk.Properties.ReasonString == packets.ErrProtocolViolationSurplusWildcard.Reason {
			pk.ReasonCode, pk.Properties.ReasonString = packets.ErrTopicNameInvalid.Code, packets.ErrTopicNameInvalid.Reason
		}
	case packets.Suback:
		pk.Properties.User = nil // the server's own properties only: mochi copies the SUBSCRIBE's
		if c, ok := cl.Net.Conn.(*conn); ok && c.badSub != nil && c.subID == pk.PacketID {
			// Filters over the node's limits (limits.go): their own codes
			// (mochi answered 0x8F, 3.1.1 0x80, for the stand-in filter).
			if cl.Properties.ProtocolVersion == 5 {
				for _, b := range c.badSub {
					if b.i < len(pk.ReasonCodes) {
						pk.ReasonCodes[b.i] = b.code
					}
				}
			}
			c.badSub = nil
		}
	case packets.Unsuback:
		// The server's own properties only (mochi copies the UNSUBSCRIBE's
		// user properties), and 0x8F for an invalid filter (mochi says 0x11).
		pk.Properties.User = nil
		if c, ok := cl.Net.Conn.(*conn); ok && c.badUnsub != nil && c.unsubID == pk.PacketID {
			for _, i := range c.badUnsub {
				if i < len(pk.ReasonCodes) && pk.ReasonCodes[i] < packets.ErrUnspecifiedError.Code {
					pk.ReasonCodes[i] = packets.ErrTopicFilterInvalid.Code
				}
			}
			c.badUnsub = nil
		}
	}
	return problemInfoFits(pk)
}

func (h *nodeHook) connack(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if pk.SessionPresent {
		keepInflightOrder(cl)
	}
	if cl.Properties.ProtocolVersion == 5 {
		z := h.b.Zone(cl)
		h.connackLimits(z, &pk)
		capSessionExpiry(cl, z, &pk)
		pk.Properties.MaximumPacketSize = uint32(z.MaxPacketSize)
		pk.Properties.TopicAliasMaximum = uint16(z.MaxTopicAlias)
		pk.Properties.ReceiveMaximum = uint16(z.MaxInflight)
		if cl.Properties.Props.RequestResponseInfo == 1 && pk.ReasonCode == packets.CodeSuccess.Code {
			// zone.<name>.response_information, asked for by Request
			// Response Information (EMQX: only then; "" is not sent).
			pk.Properties.ResponseInfo = z.ResponseInformation
		}
		if z.MaxQoSAllowed < 2 {
			pk.Properties.MaximumQos, pk.Properties.MaximumQosFlag = byte(z.MaxQoSAllowed), true
		} else {
			pk.Properties.MaximumQos, pk.Properties.MaximumQosFlag = 0, false
		}
		return pk
	}
	switch {
	case pk.ReasonCode == packets.ErrProtocolViolationProtocolVersion.Code && pk.Properties.ReasonString == packets.ErrProtocolViolationProtocolVersion.Reason:
		pk.ReasonCode = packets.Err3UnsupportedProtocolVersion.Code
	case pk.ReasonCode == packets.ErrUnspecifiedError.Code && emptyIDKept(cl):
		pk.ReasonCode = packets.Err3ClientIdentifierNotValid.Code
	case pk.ReasonCode >= 0x80:
		pk.ReasonCode = connack3(pk.ReasonCode)
	}
	return pk
}

// connack3 is the MQTT 3.1.1 return code for an MQTT 5 CONNACK reason
// code, as EMQX maps them (3.1.1 has codes 1 to 5 only).
func connack3(code byte) byte {
	switch code {
	case 0x85:
		return 0x02 // identifier rejected
	case 0x86:
		return 0x04 // bad user name or password
	case 0x87, 0x8A, 0x8C:
		return 0x05 // not authorized
	case 0x88, 0x89, 0x8B, 0x90, 0x97, 0x9C, 0x9D, 0x9F:
		return 0x03 // server unavailable
	}
	return 0x01 // unacceptable protocol version (EMQX's answer for 0x80-0x84)
}

// emptyIDKept: the client sent no client id (mochi made one up) and asked
// for its session to be kept, which needs an id.
func emptyIDKept(cl *mqtt.Client) bool {
	return cl.Properties.Props.AssignedClientID != "" && !cl.Properties.Clean
}

func (h *nodeHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	if c, ok := cl.Net.Conn.(*conn); ok {
		c.v5.Store(cl.Properties.ProtocolVersion == 5)
		h.b.metrics.Inc(metrics.ClientConnect)
	}
	captureWill(cl, pk)
	if code := h.refusal(cl); code != packets.CodeSuccess {
		h.b.refusedConnect.Add(1)
		h.b.log.Debug("connection refused", zap.String("client", cl.ID), zap.String("remote", cl.Net.Remote), zap.String("reason", code.Reason))
		if cl.Properties.ProtocolVersion < 5 && code == packets.ErrTopicNameInvalid {
			return code // 3.1.1 has no code for it: the connection is closed
		}
		_ = h.b.srv.SendConnack(cl, code, false, nil)
		return code
	}
	z := h.b.Zone(cl)
	switch {
	case cl.Net.Inline:
	case cl.Properties.ProtocolVersion < 5:
		// MQTT 3.1.1 has no Receive Maximum: as in EMQX, only the zone's
		// max_awaiting_rel bounds the QoS 2 PUBLISHes awaiting PUBREL
		// (limits.go); mochi's quota would close the client at max_inflight.
		cl.State.Inflight.ResetReceiveQuota(math.MaxInt32)
	case z.MaxInflight != int(h.b.ext.MaxInflight):
		cl.State.Inflight.ResetReceiveQuota(int32(z.MaxInflight)) // the zone's Receive Maximum, told in CONNACK
	}
	if ka := z.ServerKeepalive; ka > 0 && cl.Properties.ProtocolVersion == 5 {
		// zone.external.server_keepalive: told in CONNACK and enforced
		// instead of the client's own (as EMQX, MQTT 5 only).
		cl.State.ServerKeepalive, cl.State.Keepalive = true, uint16(ka)
	}
	if c, ok := cl.Net.Conn.(*conn); ok {
		c.keepalive.Store(uint32(cl.State.Keepalive))
		h.b.limitConn(cl, c)
	}
	return nil
}

// refusal is why a CONNECT is refused, or CodeSuccess.
func (h *nodeHook) refusal(cl *mqtt.Client) packets.Code {
	switch {
	case emptyIDKept(cl): // MQTT 5 allows refusing it; EMQX does (0x85)
		return packets.ErrClientIdentifierNotValid
	case cl.Properties.ProtocolVersion == 5 && cl.Properties.Props.AuthenticationMethod != "":
		// No enhanced authentication method is supported: 0x8C and close
		// [MQTT-4.12.0-1] (mochi ignored the method and accepted).
		return packets.ErrBadAuthenticationMethod
	case cl.Properties.Will.Flag > 0 && !validTopicName(cl.Properties.Will.TopicName):
		return packets.ErrTopicNameInvalid // [MQTT-3.1.3-11]: a will topic is a topic name
	case strings.HasPrefix(cl.ID, ReservedClientIDPrefix) && !cl.Net.Inline:
		return packets.ErrClientIdentifierNotValid
	case len(cl.ID) > h.b.Zone(cl).MaxClientIDLen:
		return packets.ErrClientIdentifierNotValid
	}
	return packets.CodeSuccess
}

// invalidFilter stands for a filter the engine would accept and the
// specifications do not: the engine refuses it (0x8F, 0x80 in 3.1.1).
const invalidFilter = "#/"

// OnSubscribe refuses a filter whose wildcard does not fill a whole level,
// such as a/b+ or a/#b [MQTT-4.7.1-2] [MQTT-4.7.1-3] (mochi grants them).
// No Local on a shared subscription is a Protocol Error: DISCONNECT 0x82
// [MQTT-3.8.3-4] (mochi answers with 0x82 in the SUBACK, not a SUBACK code).
func (h *nodeHook) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	c, _ := cl.Net.Conn.(*conn)
	if c != nil {
		c.badSub, c.subID = nil, pk.PacketID
		h.b.metrics.Inc(metrics.ClientSubscribe)
	}
	z := h.b.Zone(cl)
	var mp string
	if c != nil {
		mp, c.exclTaken = c.mount, c.exclTaken[:0]
	}
	for i := range pk.Filters {
		f := &pk.Filters[i]
		if int(f.Qos) > z.MaxQoSAllowed {
			f.Qos = byte(z.MaxQoSAllowed) // granted at most the zone's (mochi caps at the widest zone's)
		}
		plain := f.Filter // the limits apply to the filter without $exclusive/ (as EMQX)
		if c != nil {
			plain = strings.TrimPrefix(plain, exclusivePrefix)
		}
		if code := h.b.subRefusal(z, plain); code != 0 && wholeWildcards(plain) {
			f.Filter = invalidFilter
			if c != nil {
				c.badSub = append(c.badSub, subCode{i: i, code: code})
				h.b.refusedSubscribe.Add(1)
			}
			continue
		}
		switch {
		case !wholeWildcards(plain):
			f.Filter = invalidFilter
			continue
		case f.NoLocal && mqtt.IsSharedFilter(f.Filter) && cl.Properties.ProtocolVersion == 5:
			f.Filter = invalidFilter
			_ = h.b.srv.DisconnectClient(cl, packets.ErrProtocolViolationInvalidSharedNoLocal)
			continue
		}
		if c == nil {
			continue
		}
		if sub, code, excl := h.b.exclusiveFilter(cl, z.ExclusiveSubscription, mp, f.Filter); excl {
			if code != 0 {
				f.Filter = invalidFilter
				c.badSub = append(c.badSub, subCode{i: i, code: code})
				continue
			}
			f.Filter = sub
			c.exclTaken = append(c.exclTaken, i)
			continue
		}
		f.Filter = mountFilter(mp, f.Filter) // zone.<name>.mountpoint (mount.go)
	}
	if z.MaxSubscriptions > 0 && c != nil {
		h.b.refusedSubscribe.Add(int64(quotaSubscriptions(cl, z.MaxSubscriptions, &pk, c)))
	}
	return pk
}

// wholeWildcards: every '+' or '#' in f is a level of its own.
func wholeWildcards(f string) bool {
	for i := 0; i < len(f); i++ {
		if f[i] != '+' && f[i] != '#' {
			continue
		}
		if i > 0 && f[i-1] != '/' || i+1 < len(f) && f[i+1] != '/' {
			return false
		}
	}
	return true
}

// OnUnsubscribe notes which filters of an MQTT 5 UNSUBSCRIBE are invalid,
// for their reason code in the UNSUBACK (OnPacketEncode).
//
// The filters get the client's mountpoint (mount.go); $exclusive/<topic>
// unsubscribes <topic>, and unsubscribing a topic the client holds by an
// exclusive subscription frees it (exclusive.go).
func (h *nodeHook) OnUnsubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	c, ok := cl.Net.Conn.(*conn)
	if !ok {
		return pk
	}
	h.b.metrics.Inc(metrics.ClientUnsubscribe)
	if cl.Properties.ProtocolVersion == 5 {
		c.badUnsub = nil
		for i, f := range pk.Filters {
			if !mqtt.IsValidFilter(f.Filter, false) { // the rule SUBSCRIBE is held to
				c.badUnsub = append(c.badUnsub, i)
			}
		}
		c.unsubID = pk.PacketID
	}
	for i := range pk.Filters {
		f := &pk.Filters[i]
		if t, ok := strings.CutPrefix(f.Filter, exclusivePrefix); ok && t != "" {
			f.Filter = c.mount + t
		} else {
			f.Filter = mountFilter(c.mount, f.Filter)
		}
		h.b.exclusive.free(f.Filter, cl.ID)
	}
	return pk
}

// OnSubscribed frees the exclusive topics taken for filters of the
// SUBSCRIBE that failed after all (ACL, max_subscriptions).
func (h *nodeHook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, codes []byte) {
	c, ok := cl.Net.Conn.(*conn)
	if !ok || len(c.exclTaken) == 0 {
		return
	}
	for _, i := range c.exclTaken {
		if i < len(codes) && codes[i] >= 0x80 && i < len(pk.Filters) {
			h.b.exclusive.free(pk.Filters[i].Filter, cl.ID)
		}
	}
	c.exclTaken = c.exclTaken[:0]
}

// OnConnectAuthenticate lets every client through mochi's own check: the
// gate (internal/access/guard) authenticates in OnConnect.
func (h *nodeHook) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

// OnACLCheck answers mochi's ACL question: a SUBSCRIBE filter is put to
// the check SetSubscribeCheck gave (mochi lets any one hook allow, so the
// gate cannot be a hook of its own here); PUBLISH is the gate's OnPublish
// (after the topic alias is resolved) and deliveries are not checked, as
// in EMQX.
func (h *nodeHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if write {
		return true
	}
	if f := h.b.subCheck.Load(); f != nil {
		return (*f)(cl, h.b.Unmount(cl, topic)) // the filter as the client named it (as EMQX)
	}
	return true
}

// SetSharedSelector makes sel choose the members of the shared groups of
// each message (as mochi's OnSelectSubscribers hook does); only reports
// whether a message that origin (an inline client) injects is for shared
// groups alone: sel is asked about it even when no group here matches.
func (b *Broker) SetSharedSelector(sel func(*mqtt.Subscribers, packets.Packet) *mqtt.Subscribers, only func(origin string) bool) {
	b.selector.Store(&sel)
	b.sharedOnly.Store(&only)
}

// SetRetainListener makes f hear of each retained PUBLISH of a client the
// node stores (mochi's OnRetainMessage hook hears only of wills).
func (b *Broker) SetRetainListener(f func(cl *mqtt.Client, pk packets.Packet)) { b.retained.Store(&f) }

// SetRetainGate makes f decide whether a client's retained PUBLISH is
// stored (false: it is delivered, not retained).
func (b *Broker) SetRetainGate(f func(cl *mqtt.Client, pk packets.Packet) bool) {
	b.retainGate.Store(&f)
}

// SetSubscribeCheck makes check decide each SUBSCRIBE filter (false: 0x87,
// 3.1.1: 0x80).
func (b *Broker) SetSubscribeCheck(check func(cl *mqtt.Client, filter string) bool) {
	b.subCheck.Store(&check)
}

// connectedClients counts network clients still connected.
func (b *Broker) connectedClients() int {
	n := 0
	for _, cl := range b.srv.Clients.GetAll() {
		if !cl.Net.Inline && !cl.Closed() {
			n++
		}
	}
	return n
}

// validTopicName: a topic name is non-empty, has no wildcard and no U+0000
// [MQTT-4.7.3-1] [MQTT-4.7.1-1] [MQTT-4.7.3-2].
func validTopicName(s string) bool {
	return s != "" && !strings.ContainsAny(s, "+#\x00")
}

// keepInflightOrder runs as the CONNACK of a resumed session goes out, just
// before mochi resends the session's unacknowledged messages. mochi sends
// them in the order of the low 16 bits of their creation second, with ties
// in random order (403 adjacent swaps in a backlog of 3000); here they get
// creation times one second apart, in QueuedOrder. The times move back by
// at most twice the backlog in seconds, well inside the engine's 24 h cap
// on a stored message's age.
func keepInflightOrder(cl *mqtt.Client) {
	all := cl.State.Inflight.GetAll(false)
	n := len(all)
	if n < 2 {
		return
	}
	QueuedOrder(all)
	base := time.Now().Unix() - int64(n)
	if over := int64(uint16(base)) + int64(n) - 1 - 65535; over > 0 {
		base -= over // the low 16 bits must not wrap inside the backlog
	}
	for i := range all {
		all[i].Created = base + int64(i)
		cl.State.Inflight.Set(all[i])
	}
}

// QueuedOrder sorts a session's unacknowledged packets into the order they
// were queued in: creation second, then packet id (allocated in ascending
// order, wrapping at 65535).
func QueuedOrder(all []packets.Packet) {
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].Created != all[j].Created {
			return all[i].Created < all[j].Created
		}
		return int16(all[j].PacketID-all[i].PacketID) > 0 // j comes after i, wrap-aware
	})
}

// SetMover connects the sessions to the cluster; before Start.
func (b *Broker) SetMover(m Mover) { b.sessions.mover = m }

// TakeQueue empties the session of clientID, which moves to node to, and
// returns what it had queued and not sent, in order, the message ids of
// what is in flight (by packet id), and, if it moved here lately, the ids
// of the messages it had since. For MoveGrace what is delivered here for
// it is forwarded to to (EndMove ends that sooner).
func (b *Broker) TakeQueue(clientID, to string) (queued []Message, sent map[uint16]uint64, seen []uint64) {
	return b.sessions.take(clientID, to)
}

// EndMove ends the forwarding for a session that moved away.
func (b *Broker) EndMove(clientID string) { b.sessions.endMove(clientID) }

// DroppedExpired counts a message the cluster dropped because its expiry
// ran out before it could be delivered (delivery.dropped.expired).
func (b *Broker) DroppedExpired() { b.sessions.expired.Add(1) }

// RestoreQueue queues what the session of clientID had queued on its
// previous node, for the connection about to resume it; had are the
// message ids of what it had there otherwise (in flight, resent as such;
// or seen since an earlier move): copies of those are dropped here.
func (b *Broker) RestoreQueue(clientID string, queued []Message, had []uint64) {
	b.sessions.restore(clientID, queued, had)
}

// HoldRouted makes the session of clientID, which has just moved here,
// hold the messages routed here until the marker of each node in origins
// has come through the node it moved from (Marker), at most a second: a
// message still on its way through that node is older than those.
func (b *Broker) HoldRouted(clientID string, origins []string) { b.sessions.hold(clientID, origins) }

// Marker notes that the marker of node origin came for the session of
// clientID (or passes it on, if the session moved on).
func (b *Broker) Marker(clientID, origin string) { b.sessions.marker(clientID, origin) }

// DeliverDirect queues a message forwarded by the node that the session of
// clientID moved away from (or forwards it on, if it moved again).
func (b *Broker) DeliverDirect(clientID string, pk packets.Packet, id uint64) {
	b.sessions.direct(clientID, pk, id)
}

// DeliveryDrops counts, since start, messages not delivered: dropped from
// a full queue (zone.external.max_mqueue_len), expired while queued, larger
// than the subscriber accepts, QoS 0 for an offline session when
// zone.external.mqueue_store_qos0 is off, and forwarded for a session that
// had moved on and was gone (LostMoved); and those handled for sessions
// that moved between nodes: forwarded to the new node (Forwarded), copies
// the session already had (Duplicates, dropped).
type DeliveryDrops struct {
	QueueFull, Expired, TooLarge, QoS0Offline int64
	Forwarded, Duplicates, LostMoved          int64
	// Resent: packets re-sent after zone.<name>.retry_interval (not a
	// drop); AwaitRelFull: QoS 2 PUBLISHes refused over max_awaiting_rel;
	// AwaitRelExpired: those whose PUBREL did not come within
	// await_rel_timeout.
	Resent, AwaitRelFull, AwaitRelExpired int64
}

// countDrops makes the metrics read what the sessions count: EMQX's
// delivery.dropped.*, messages.dropped.await_pubrel_timeout and
// packets.publish.dropped (QoS 2 over max_awaiting_rel).
func (b *Broker) countDrops() {
	for id, f := range map[metrics.ID]func(*sessions) int64{
		metrics.DeliveryDroppedQueueFull:          func(s *sessions) int64 { return s.droppedFull.Load() },
		metrics.DeliveryDroppedExpired:            func(s *sessions) int64 { return s.expired.Load() },
		metrics.DeliveryDroppedTooLarge:           func(s *sessions) int64 { return s.tooLarge.Load() },
		metrics.DeliveryDroppedQoS0Msg:            func(s *sessions) int64 { return s.droppedQoS0.Load() },
		metrics.MessagesDroppedAwaitPubrelTimeout: func(s *sessions) int64 { return s.relExpired.Load() },
		metrics.PacketsPublishDropped:             func(s *sessions) int64 { return s.relFull.Load() },
	} {
		b.metrics.SetSource(id, func() uint64 { return uint64(max(f(b.sessions), 0)) })
	}
}

// Metrics are the node's EMQX metrics.
func (b *Broker) Metrics() *metrics.Metrics { return &b.metrics }

// Drops returns the delivery drop counters.
func (b *Broker) Drops() DeliveryDrops {
	s := b.sessions
	return DeliveryDrops{s.droppedFull.Load(), s.expired.Load(), s.tooLarge.Load(), s.droppedQoS0.Load(),
		s.forwarded.Load(), s.duplicates.Load(), s.lostMoved.Load(),
		s.resent.Load(), s.relFull.Load(), s.relExpired.Load()}
}

// Queued reports how many messages wait, not sent yet, in the session of
// clientID on this node.
func (b *Broker) Queued(clientID string) int { return b.sessions.queued(clientID) }

// ConnectedClients counts the network clients connected to this node.
func (b *Broker) ConnectedClients() int { return b.connectedClients() }

// SessionCounts counts this node's sessions (network clients, connected
// or kept after a disconnect), their subscriptions and, among those, the
// shared ones ($share/, $queue/).
func (b *Broker) SessionCounts() (sessions, subscriptions, shared int) {
	c := b.Counts()
	return c.Sessions, c.Subscriptions, c.Shared
}

// ClientCounts are this node's clients, sessions and subscriptions.
type ClientCounts struct{ Connected, Sessions, Subscriptions, Shared int }

// Counts counts the node's network clients in one pass: connected ones,
// sessions (connected or kept after a disconnect), their subscriptions
// and the shared ones among those ($share/, $queue/).
func (b *Broker) Counts() ClientCounts {
	var c ClientCounts
	for _, cl := range b.srv.Clients.GetAll() {
		if cl.Net.Inline {
			continue
		}
		c.Sessions++
		if !cl.Closed() {
			c.Connected++
		}
		n := cl.State.Subscriptions.Len()
		c.Subscriptions += n
		if n == 0 {
			continue
		}
		for f := range cl.State.Subscriptions.GetAll() {
			if pre, _ := topic.SplitShared(f); pre != "" {
				c.Shared++
			}
		}
	}
	return c
}

// mochiSysNever is mochi's $SYS interval (seconds) that never comes: about
// 68 years.
const mochiSysNever = 1 << 31

// mochiSysPrefix is mochi's own $SYS tree (EMQX's is $SYS/brokers...).
const mochiSysPrefix = "$SYS/broker/"

// dropMochiSys takes out of the retained store what mochi retained of its
// own $SYS tree as it started.
func (b *Broker) dropMochiSys() {
	for topic := range b.srv.Topics.Retained.GetAll() {
		if strings.HasPrefix(topic, mochiSysPrefix) {
			b.srv.Topics.RetainMessage(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Retain: true}, TopicName: topic})
		}
	}
	atomic.StoreInt64(&b.srv.Info.Retained, int64(b.srv.Topics.Retained.Len()))
}
