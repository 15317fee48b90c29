package broker

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/zap"

	"emqxgo/internal/config"
	"emqxgo/internal/metrics"
)

// The node keeps each session's outbound messages itself, as EMQX does: an
// inflight window of zone.external.max_inflight QoS 1/2 messages sent and
// not yet acknowledged (capped by the client's Receive Maximum), and behind
// it a queue of up to zone.external.max_mqueue_len messages not sent yet.
// mochi's own outbound path drops the newest message when its store or its
// write channel is full, parks messages over the client's Receive Maximum
// and forgets them once written, and marks every message DUP on a resume,
// sent before or not; so mochi is left to keep the inflight store (packet
// ids, acknowledgements, the resend of what was really sent) and the node
// decides what is sent when.
//
//   - Every message mochi would hand to its subscribers reaches deliver
//     instead (deliverHook.OnSelectSubscribers, made to run for every topic
//     by a shared subscription of a client that does not exist).
//   - deliver queues it in the subscriber's session; the session's pump
//     sends from the head of the queue while the window has room, taking
//     a packet id and storing the message in mochi's inflight store as it
//     goes. An acknowledgement (OnQosComplete) runs the pump again on the
//     client's own goroutine.
//   - When the queue is full, a publisher waits (at most stallAfter) for
//     a subscriber that is reading; one that does not read loses its
//     oldest queued message, counted, with a log line per client at most
//     every dropLogEvery.
//   - A session lives from CONNECT to its end (a clean session's
//     disconnect, expiry, or a takeover by another node, which takes the
//     queue along: TakeQueue, RestoreQueue); while no connection is
//     attached, messages wait in the queue (QoS 0 ones too when
//     zone.external.mqueue_store_qos0 is on, as EMQX).
//
// A session that moves between nodes tells copies of a message (the old
// node forwards what is still routed there, and the other nodes route to
// both for a while) by the message's cluster-wide id: the new node drops a
// copy of one the session had in flight or queued on the old node, or had
// since (seen), including copies forwarded to it before the session's
// state came (restore). A copy of a message the client already had is only
// ever the resend of one in flight, with DUP 1.

const (
	stallAfter   = 500 * time.Millisecond // a subscriber that neither read nor acknowledged for this long is not waited for
	dropLogEvery = 10 * time.Second
	// seenFor: how long a session that moved here drops copies of messages
	// it already had (the old node forwards for MoveGrace).
	seenFor = MoveGrace + 5*time.Second
	maxSeen = 1 << 17
)

// MoveGrace is how long a node forwards messages for a session that moved
// away and keeps its routes, while the cluster learns its new place.
const MoveGrace = 5 * time.Second

// holdAtMost bounds how long a session that moved here holds the messages
// routed here while it waits for the markers (a peer gone meanwhile sends
// none).
const holdAtMost = time.Second

// A client's PUBLISH (and one the cluster layer injects) is delivered by
// the node's hook in OnPublish, which tells mochi to do nothing more with
// it. The PUBLISHes mochi makes itself, wills and $SYS (its own tree, which
// mochi publishes once as it starts and the hook drops), are caught by
// shared subscriptions of no client, which make mochi ask the node's hook
// to select their subscribers (it asks only where a shared group
// matches): one on $SYS/# always, and one on # while a will is on its way
// (deliverHook.armWill), so that a client's PUBLISH never pays for it.
const (
	sentinelClient = "$emqxgo:deliver"
	sentinelFilter = "$share/$emqxgo/#"
	sysSentinel    = "$share/$emqxgo/$SYS/#"
)

// sessions holds the node's sessions by client id.
type sessions struct {
	srv *mqtt.Server
	log *zap.Logger
	// def is the zone of a session no client has established yet (one that
	// moved here); zoneOf is a client's zone (zonesession.go).
	def    *config.Zone
	zoneOf func(*mqtt.Client) *config.Zone
	// metrics counts the sessions created, resumed, ... (nil: not).
	metrics *metrics.Metrics

	m sync.Map // client id -> *session

	// excl: the exclusive subscriptions, freed as a session ends (exclusive.go).
	excl *exclusives

	mover Mover // nil: a node alone

	// overQueue, when set, hears of the queue length of a connected
	// session as a message is queued (force_shutdown_policy: shutdown.go).
	overQueue func(cl *mqtt.Client, queued int)

	// DroppedFull counts messages dropped from full queues, Expired those
	// whose message expiry passed while queued, TooLarge those over the
	// subscriber's Maximum Packet Size, DroppedQoS0 QoS 0 messages for an
	// offline session with mqueue_store_qos0 off.
	droppedFull, expired, tooLarge, droppedQoS0 atomic.Int64
	// forwarded: delivered for a session that had moved to another node and
	// sent there; duplicates: copies of a message a session that moved here
	// already had; lostMoved: forwarded here for a session that is gone.
	forwarded, duplicates, lostMoved atomic.Int64
	// resent: packets re-sent after retry_interval; relFull: QoS 2
	// PUBLISHes refused over max_awaiting_rel; relExpired: those awaiting
	// PUBREL longer than await_rel_timeout, dropped (retry.go).
	resent, relFull, relExpired atomic.Int64
}

// Message is a message queued for a session: the PUBLISH as prepared for
// its subscriber, and its cluster-wide id (0: none; see SetMessageID).
type Message struct {
	packets.Packet
	ID uint64
}

// qmsg is a message in a session's queue: the PUBLISH as published, which
// every subscriber's copy shares and none writes, and what is the
// subscriber's own. A delivery allocates nothing more than its slot.
type qmsg struct {
	pk     *packets.Packet
	id     uint64
	subIDs []int
	qos    byte
	retain bool
	prio   uint16 // zone.<name>.mqueue_priorities: 0..256, higher first (only when set: mqueue.go)
}

// packet is the PUBLISH as it goes to the subscriber (without packet id
// and topic alias, which the pump gives as it sends).
func (m *qmsg) packet() packets.Packet {
	out := *m.pk
	out.FixedHeader.Qos, out.FixedHeader.Retain, out.FixedHeader.Dup = m.qos, m.retain, false
	out.Properties.SubscriptionIdentifier = m.subIDs
	return out
}

// queued is m as a Message for a session that moves to another node.
func (m *qmsg) queued() Message { return Message{Packet: m.packet(), ID: m.id} }

// fromMessage is a Message (a session moving here) back in queue form.
func fromMessage(m *Message) qmsg {
	return qmsg{pk: &m.Packet, id: m.ID, subIDs: m.Properties.SubscriptionIdentifier, qos: m.FixedHeader.Qos, retain: m.FixedHeader.Retain}
}

// shared prepares the PUBLISH pk as every subscriber's copy shares it.
func shared(pk *packets.Packet) *packets.Packet {
	out := pk.Copy(false)
	out.FixedHeader.Dup = false
	if out.Properties.MessageExpiryInterval == 0 {
		// The publisher set no expiry: mochi gives every message its
		// maximum (a day), which would reach subscribers as if set.
		out.Expiry = 0
	}
	return &out
}

// SetMessageID gives pk, on its way through mochi's publish path (whose
// hooks pass packets by value), the cluster-wide id of its message: the
// node that forwards a message to other nodes gives each copy the same id,
// and a session that moves between nodes tells copies from new messages by
// it. It rides in two fields of the CONNECT part of the packet, which
// mochi neither sets nor encodes for a PUBLISH.
func SetMessageID(pk *packets.Packet, id uint64) {
	pk.Connect.WillProperties.SessionExpiryInterval = uint32(id >> 32)
	pk.Connect.WillProperties.MaximumPacketSize = uint32(id)
}

// MessageID is the id SetMessageID gave pk (0: none).
func MessageID(pk *packets.Packet) uint64 {
	w := &pk.Connect.WillProperties
	return uint64(w.SessionExpiryInterval)<<32 | uint64(w.MaximumPacketSize)
}

// Mover is the cluster's side of sessions that move between nodes.
type Mover interface {
	// Forward sends a message delivered here for a session that moved to
	// node on to it.
	Forward(clientID, node string, pk packets.Packet, id uint64)
	// ForwardMarker sends the marker of node origin for a session that
	// moved to node on to it, behind what was forwarded before.
	ForwardMarker(clientID, node, origin string)
}

// session is one client's outbound state kept by the node.
type session struct {
	ss     *sessions
	id     string
	proto5 atomic.Bool // the client speaks MQTT 5
	// z is the zone of the client that established the session last (nil:
	// sessions.def); its limits apply to the session (zonesession.go).
	z  atomic.Pointer[config.Zone]
	mu sync.Mutex
	// mount is the mountpoint of the connection that established the
	// session last (mount.go): taken off the topics it is sent.
	mount string
	owner *mqtt.Client // the connection that established the session last
	cl    *mqtt.Client // the connection messages are sent on; nil while none
	q     []qmsg
	head  int // q[head:] is queued
	// pumping: a goroutine is sending from the queue; no other starts.
	pumping  bool
	progress time.Time     // last write or acknowledgement on cl
	space    chan struct{} // closed when a queued message leaves (made by a waiting publisher)
	dropped  int64         // dropped since the last log line
	loggedAt time.Time
	// droppedAll: dropped since the session began (clientinfo.go)
	droppedAll int64

	sentIDs   map[uint16]uint64   // packet id -> message id, for messages in flight with an id
	movedTo   string              // the session moved to this node: forward to it
	seen      map[uint64]struct{} // message ids the session had when it moved here (and since)
	seenUntil time.Time           // seen is dropped after this

	// holdFrom: after a move here, the nodes whose marker (sent through the
	// old node after everything they had sent there for this session) has
	// not come yet; until then, messages routed here are held in held, so
	// that none overtakes an older one still coming through the old node.
	holdFrom map[string]bool
	held     []qmsg
	holding  atomic.Bool // holdFrom is set (read without mu on the delivery path)
	// releasing: release is queueing what was held (holdFrom is empty and
	// still set, so that what comes meanwhile is held behind it); holdGen
	// tells a release that the session moved (take, hold) meanwhile.
	releasing bool
	holdGen   uint32

	// retry_interval and await_rel_timeout (retry.go): notes of what was
	// sent (rq[rqHead:]) and of inbound QoS 2 PUBLISHes awaiting PUBREL
	// (rel[relHead:], relN of them), by time; the timer fires at timerAt
	// (monotonic; 0: not armed); seq: the last stamp given.
	rq, rel         []timed
	rqHead, relHead int
	relN            int
	seq             uint32
	timer           *time.Timer
	timerAt         int64
}

func (ss *sessions) get(id string) *session {
	if v, ok := ss.m.Load(id); ok {
		return v.(*session)
	}
	return nil
}

func (ss *sessions) getOrCreate(id string) *session {
	if s := ss.get(id); s != nil {
		return s
	}
	v, _ := ss.m.LoadOrStore(id, &session{ss: ss, id: id})
	return v.(*session)
}

func (s *session) len() int { return len(s.q) - s.head }

func (s *session) push(m qmsg) { s.q = append(s.q, m) }

// pop removes the head of the queue (which must not be empty).
func (s *session) pop() qmsg {
	pk := s.q[s.head]
	s.q[s.head] = qmsg{}
	s.head++
	switch {
	case s.head == len(s.q):
		if cap(s.q) > 64 {
			s.q = nil // a burst's buffer is not kept
		} else {
			s.q = s.q[:0]
		}
		s.head = 0
	case s.head >= 256 && s.head*2 >= len(s.q):
		n := copy(s.q, s.q[s.head:])
		clear(s.q[n:])
		s.q, s.head = s.q[:n], 0
	}
	if s.space != nil {
		close(s.space)
		s.space = nil
	}
	return pk
}

// window is how many QoS 1/2 messages may be in flight to cl.
func (s *session) window(cl *mqtt.Client) int {
	w := s.zone().MaxInflight
	if rm := int(cl.Properties.Props.ReceiveMaximum); rm > 0 && rm < w && cl.Properties.ProtocolVersion == 5 {
		w = rm // [MQTT-3.3.4-9]
	}
	return w
}

// sendable: the head of the queue may go out on cl now. Under mu.
func (s *session) sendable(cl *mqtt.Client) bool {
	if cl == nil || s.len() == 0 {
		return false
	}
	return s.q[s.head].qos == 0 || cl.State.Inflight.Len() < s.window(cl)
}

// deliver queues pk (prepared by shared, read only from now on) for the
// subscriber clientID under subscription sub, as mochi's own delivery
// would prepare it, minus packet id and topic alias, which the pump gives
// as it sends.
func (ss *sessions) deliver(clientID string, sub packets.Subscription, pk *packets.Packet, mid uint64) {
	ss.deliverVia(clientID, sub, pk, mid, nil)
}

// deliverVia is deliver on the goroutine of via, a batch of input being
// handled (a publisher's last read, a peer's forwarded batch): the
// subscriber's connection may be written on it, and flushed as via is
// released (pumpHere).
func (ss *sessions) deliverVia(clientID string, sub packets.Subscription, pk *packets.Packet, mid uint64, via *Batch) {
	s := ss.get(clientID)
	if s == nil {
		return // no session (a clean session that has just ended)
	}
	z := s.zone()
	if pk.Origin == clientID && (sub.NoLocal || z.IgnoreLoopDeliver && !s.proto5.Load()) {
		return // [MQTT-3.8.3-3]; zone.<name>.ignore_loop_deliver
	}
	m := qmsg{pk: pk, id: mid, qos: pk.FixedHeader.Qos, retain: pk.FixedHeader.Retain}
	if !sub.FwdRetainedFlag && (!s.proto5.Load() || !sub.RetainAsPublished) {
		m.retain = false // [MQTT-3.3.1-12] [MQTT-3.3.1-9 v3]
	}
	if len(sub.Identifiers) > 0 { // [MQTT-3.3.4-3]
		ids := make([]int, 0, len(sub.Identifiers))
		for _, id := range sub.Identifiers {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		m.subIDs = ids
	}
	m.qos = deliveryQoS(z, m.qos, sub.Qos, ss.srv.Options.Capabilities.MaximumQos)
	if s.holding.Load() {
		s.mu.Lock()
		if s.holdFrom != nil && s.movedTo == "" && len(s.held) < z.MaxMqueueLen {
			s.held = append(s.held, m)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
	s.enqueueVia(m, via)
}

// enqueue appends m to the queue and starts the pump if it can send. A
// session that moved to another node forwards it there; one that moved
// here lately drops a message it already has (by id).
func (s *session) enqueue(m qmsg) { s.enqueueVia(m, nil) }

// enqueueVia is enqueue on via's goroutine (deliverVia); nil: any.
func (s *session) enqueueVia(m qmsg, via *Batch) {
	s.mu.Lock()
	if s.movedTo != "" {
		node := s.movedTo
		s.mu.Unlock()
		if f := s.ss.mover; f != nil {
			f.Forward(s.id, node, m.packet(), m.id)
			s.ss.forwarded.Add(1)
		}
		return
	}
	if m.id != 0 && s.seen != nil {
		if time.Now().After(s.seenUntil) {
			s.seen = nil
		} else if _, dup := s.seen[m.id]; dup {
			s.mu.Unlock()
			s.ss.duplicates.Add(1)
			return
		} else if len(s.seen) < maxSeen {
			s.seen[m.id] = struct{}{}
		}
	}
	z := s.zone()
	if m.qos == 0 && s.cl == nil && !z.MqueueStoreQoS0 {
		s.mu.Unlock()
		s.ss.droppedQoS0.Add(1)
		return
	}
	prios := z.MqueuePriorities != nil
	if prios {
		m.prio = priority(z, m.pk.TopicName)
	}
	if s.len() >= z.MaxMqueueLen {
		if via != nil {
			via.Release() // what this publisher wrote goes before it waits
		}
		s.waitSpace(z.MaxMqueueLen)
		if s.len() >= z.MaxMqueueLen {
			switch {
			case !prios:
				s.pop()
			case !s.dropLowest(m.prio):
				s.noteDrop() // m is the oldest of the lowest priority
				s.mu.Unlock()
				return
			}
			s.noteDrop()
		}
	}
	if prios {
		s.pushByPriority(m)
	} else {
		s.push(m)
	}
	if f := s.ss.overQueue; f != nil && s.cl != nil {
		f(s.cl, s.len())
	}
	cl := s.cl
	start := !s.pumping && s.sendable(cl)
	if start {
		s.pumping = true
	}
	s.mu.Unlock()
	if start {
		s.pumpHere(cl, via)
	}
}

// inlineMax is how many messages a pump on a publisher's goroutine sends
// before it hands the rest to a goroutine of the session's own.
const inlineMax = 32

// pumpHere runs the pump, which the caller started. On via's goroutine
// (a publisher's, handling the bytes of its last read, or a peer link's,
// handling a forwarded batch), where the subscriber's connection lets it
// write without waiting (conn.holdNoWait), it runs right here and its
// writes stay buffered until via is released (when the publisher reads
// again, after the peer's batch), which sends them without waiting: no
// goroutine is started and woken per message, and a burst of messages goes
// out in one write.
// Elsewhere, and for more than inlineMax messages or a buffer of flushAt
// bytes, a goroutine pumps.
func (s *session) pumpHere(cl *mqtt.Client, via *Batch) {
	if via != nil {
		if c, ok := cl.Net.Conn.(*conn); ok && via.hold(c) {
			s.pumpOn(c)
			return
		}
	}
	go s.pump()
}

// waitSpace waits, under mu, while the queue is full and its client keeps
// reading, for at most stallAfter.
func (s *session) waitSpace(maxQueue int) {
	deadline := time.Now().Add(stallAfter)
	var t *time.Timer
	for s.len() >= maxQueue && s.cl != nil && time.Since(s.progress) < stallAfter {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		if t == nil {
			t = time.NewTimer(left)
			defer t.Stop()
		} else {
			t.Reset(left)
		}
		if s.space == nil {
			s.space = make(chan struct{})
		}
		ch := s.space
		s.mu.Unlock()
		select {
		case <-ch:
		case <-t.C:
		}
		s.mu.Lock()
	}
}

// noteDrop counts a message dropped from a full queue; under mu.
func (s *session) noteDrop() {
	s.ss.droppedFull.Add(1)
	s.dropped++
	s.droppedAll++
	if now := time.Now(); now.Sub(s.loggedAt) >= dropLogEvery {
		s.ss.log.Warn("message queue full: dropped the oldest queued message",
			zap.String("client", s.id), zap.Int64("dropped", s.dropped),
			zap.Int("max_mqueue_len", s.zone().MaxMqueueLen))
		s.dropped, s.loggedAt = 0, now
	}
}

// connGone reports whether cl's connection is closed or closing. mochi closes
// the socket before it marks the client closed: a message taken in flight
// meanwhile would wait for the session's next connection as sent, DUP and
// past its expiry [MQTT-3.3.2-5], though it was published after the client
// could see the connection end.
func connGone(cl *mqtt.Client) bool {
	if cl.Closed() {
		return true
	}
	c, ok := cl.Net.Conn.(*conn)
	return ok && c.closing.Load()
}

// pump sends from the head of the queue while the window has room; the
// caller has set pumping.
func (s *session) pump() { s.pumpOn(nil) }

// pumpOn is pump; nw, if not nil, is the connection held (holdFor) for a
// pump on another client's reading goroutine, which hands over to pump once
// it has sent enough or the session's connection is another.
func (s *session) pumpOn(nw *conn) {
	wrote := false
	held := nw // buffering the run of writes, sent together at the end
	defer func() {
		if held != nil && held != nw { // nw: released as its holder reads again
			held.release()
		}
	}()
	sent, handOver := 0, false // nw: messages written; enough for this goroutine
	for {
		s.mu.Lock()
		if wrote {
			s.progress = time.Now()
		}
		cl := s.cl
		if cl != nil && connGone(cl) {
			cl, s.cl = nil, nil
		}
		if !s.sendable(cl) {
			s.pumping = false
			s.mu.Unlock()
			return
		}
		if nw != nil && (handOver || cl.Net.Conn != nw) {
			s.mu.Unlock()
			go s.pump() // pumping passes to it
			return
		}
		if exp := s.q[s.head].pk.Expiry; exp > 0 && exp < time.Now().Unix() {
			s.pop()
			s.mu.Unlock()
			s.ss.expired.Add(1)
			continue
		}
		pk, mid := s.q[s.head].packet(), s.q[s.head].id
		if mp := s.mount; mp != "" && strings.HasPrefix(pk.TopicName, mp) {
			pk.TopicName = pk.TopicName[len(mp):] // zone.<name>.mountpoint (the queued copy is shared)
		}
		if pk.FixedHeader.Qos > 0 {
			id, err := cl.NextPacketID() // [MQTT-2.2.1-4]
			if err != nil {
				s.pumping = false // every id in use: acknowledgements run the pump again
				s.mu.Unlock()
				return
			}
			pk.PacketID = uint16(id)
			stored := pk
			if pk.Expiry > 0 {
				// Once sent, a QoS 1/2 message is delivered whatever its
				// expiry [MQTT-4.3.3-7] (mochi drops it from the store when
				// it expires); a resend carries what was left at the first.
				stored.Properties.MessageExpiryInterval = uint32(max(1, pk.Expiry-time.Now().Unix()))
				stored.Expiry = 0
			}
			if iv := s.zone().RetryInterval; iv > 0 {
				s.noteSent(cl, &stored, iv)
			}
			if cl.State.Inflight.Set(stored) { // [MQTT-4.3.2-3] [MQTT-4.3.3-3]
				atomic.AddInt64(&s.ss.srv.Info.Inflight, 1)
			}
			if mid != 0 {
				if s.sentIDs == nil {
					s.sentIDs = map[uint16]uint64{}
				}
				s.sentIDs[pk.PacketID] = mid
			}
		}
		s.pop()
		more := s.len() > 0
		s.mu.Unlock()
		if held == nil && more {
			if c, ok := cl.Net.Conn.(*conn); ok {
				c.hold()
				held = c
			}
		}

		out := pk
		if cl.Properties.Props.TopicAliasMaximum > 0 {
			// Aliases are given in the order packets are written, which
			// only the pump does; the stored copy keeps its topic name
			// for a resend on another connection.
			var known bool
			out.Properties.TopicAlias, known = cl.State.TopicAliases.Outbound.Set(pk.TopicName)
			if out.Properties.TopicAlias > 0 {
				out.Properties.TopicAliasFlag = true
				if known {
					out.TopicName = ""
				}
			}
		}
		err := cl.WritePacket(out)
		switch {
		case err == nil:
			wrote = true
			if nw != nil {
				sent++
				handOver = sent >= inlineMax || nw.pending() >= flushAt
			}
		case err == packets.ErrPacketTooLarge:
			// Larger than the client accepts: discarded for it as if
			// sent [MQTT-3.1.2-25].
			s.ss.tooLarge.Add(1)
			if pk.FixedHeader.Qos > 0 && cl.State.Inflight.Delete(pk.PacketID) {
				atomic.AddInt64(&s.ss.srv.Info.Inflight, -1)
				s.mu.Lock()
				delete(s.sentIDs, pk.PacketID)
				s.mu.Unlock()
			}
			s.ss.log.Debug("message larger than the client accepts; discarded for it", zap.String("client", s.id),
				zap.String("topic", pk.TopicName), zap.Uint32("maximum_packet_size", cl.Properties.Props.MaximumPacketSize))
		default:
			// The connection is gone: a QoS 1/2 message stays in flight
			// and is resent when the session resumes.
			s.mu.Lock()
			if s.cl == cl {
				s.cl = nil
			}
			s.pumping = false
			s.mu.Unlock()
			return
		}
	}
}

// kick runs the pump on the caller's goroutine if cl is the session's
// connection and something can be sent.
func (ss *sessions) kick(cl *mqtt.Client, progress bool, acked uint16) {
	s := ss.get(cl.ID)
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.sentIDs != nil {
		delete(s.sentIDs, acked)
	}
	s.acked(acked)
	if s.cl != cl {
		s.mu.Unlock()
		return
	}
	if progress {
		s.progress = time.Now()
	}
	start := !s.pumping && s.sendable(cl)
	if start {
		s.pumping = true
	}
	s.mu.Unlock()
	if start {
		s.pump()
	}
}

// establish runs before mochi takes over an existing session for cl (or
// starts a new one): nothing more is sent on the old connection, and a
// session that does not continue starts empty.
func (ss *sessions) establish(cl *mqtt.Client, pk packets.Packet, mount string) {
	existing, found := ss.srv.Clients.Get(cl.ID)
	fresh := !found || pk.Connect.Clean || existing.Properties.Clean && existing.Properties.ProtocolVersion < 5 // as mochi's takeover
	if ss.metrics != nil {
		switch {
		case fresh && found:
			ss.metrics.Inc(metrics.SessionDiscarded)
			ss.metrics.Inc(metrics.SessionCreated)
		case fresh:
			ss.metrics.Inc(metrics.SessionCreated)
		default:
			ss.metrics.Inc(metrics.SessionTakeovered)
			ss.metrics.Inc(metrics.SessionResumed)
		}
	}
	s := ss.getOrCreate(cl.ID)
	s.mu.Lock()
	s.owner, s.cl, s.movedTo, s.mount = cl, nil, "", mount
	s.proto5.Store(cl.Properties.ProtocolVersion == 5)
	s.z.Store(ss.zoneOf(cl))
	if fresh {
		s.reset()
	}
	s.mu.Unlock()
	if fresh && ss.excl != nil {
		ss.excl.freeAll(cl.ID) // the subscriptions of the old session are gone
	}
	if c, ok := cl.Net.Conn.(*conn); ok {
		c.sess = s
	}
}

// reset empties the queue; under mu.
func (s *session) reset() {
	s.q, s.head, s.dropped, s.droppedAll, s.sentIDs = nil, 0, 0, 0, nil
	s.stopTimer()
	if s.space != nil {
		close(s.space)
		s.space = nil
	}
}

// attach runs once mochi has sent CONNACK and resent what was in flight:
// the queue goes out on cl from now on.
func (ss *sessions) attach(cl *mqtt.Client) {
	// mochi's own send quota would park messages over it and lose them;
	// the session's window keeps the client's Receive Maximum instead.
	cl.State.Inflight.ResetSendQuota(0)
	s := ss.getOrCreate(cl.ID)
	s.mu.Lock()
	if s.owner != nil && s.owner != cl {
		s.mu.Unlock()
		return // taken over again meanwhile
	}
	s.owner, s.cl, s.progress = cl, cl, time.Now()
	s.rearm(cl)
	start := !s.pumping && s.sendable(cl)
	if start {
		s.pumping = true
	}
	s.mu.Unlock()
	if start {
		s.pump()
	}
}

// disconnected runs when cl's connection ends; expire: its session ends
// with it.
func (ss *sessions) disconnected(cl *mqtt.Client, expire bool) {
	s := ss.get(cl.ID)
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.cl == cl {
		s.cl = nil
	}
	mine := s.owner == cl
	s.mu.Unlock()
	if expire && mine && !cl.IsTakenOver() {
		ss.end(cl)
	}
}

// end drops cl's session (expired, or its client gone with a clean session).
func (ss *sessions) end(cl *mqtt.Client) {
	s := ss.get(cl.ID)
	if s == nil {
		return
	}
	s.mu.Lock()
	mine := s.owner == cl || s.owner == nil
	if mine {
		s.reset()
	}
	s.mu.Unlock()
	if mine {
		ss.m.CompareAndDelete(cl.ID, s)
		if ss.excl != nil {
			ss.excl.freeAll(cl.ID)
		}
	}
}

// take empties the session of id for a move to node to and returns what
// it had queued, in order, and the ids of the messages in flight by packet
// id. Until endMove, what is delivered for it here is forwarded to to
// (messages still routed here while the cluster learns where it went).
func (ss *sessions) take(id, to string) (queued []Message, sent map[uint16]uint64, seen []uint64) {
	s := ss.get(id)
	if s == nil {
		return nil, nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cl, s.owner, s.movedTo = nil, nil, to
	queued = make([]Message, 0, s.len()+len(s.held))
	for i := range s.q[s.head:] {
		queued = append(queued, s.q[s.head+i].queued())
	}
	for i := range s.held { // it moves on before its markers came: they go along
		queued = append(queued, s.held[i].queued())
	}
	s.held, s.holdFrom = nil, nil
	s.holding.Store(false)
	s.releasing = false
	s.holdGen++
	sent = s.sentIDs
	if s.seen != nil && time.Now().Before(s.seenUntil) {
		// It moved here lately: the next node must know what it had, or
		// a copy still on its way would come to it as new.
		seen = make([]uint64, 0, len(s.seen))
		for mid := range s.seen {
			seen = append(seen, mid)
		}
	}
	s.reset()
	s.seen = nil
	if to == "" {
		ss.m.CompareAndDelete(id, s)
	}
	return queued, sent, seen
}

// endMove ends the forwarding of a session that moved away.
func (ss *sessions) endMove(id string) {
	s := ss.get(id)
	if s == nil {
		return
	}
	s.mu.Lock()
	moved := s.movedTo != ""
	s.mu.Unlock()
	if moved {
		ss.m.CompareAndDelete(id, s)
	}
}

// restore queues what a session had queued on its previous node ahead of
// anything queued since, for the connection about to resume it; for a
// while, a message with the id of one of these or of one it had there
// (had: in flight there, or seen there since an earlier move) is a copy
// and dropped.
func (ss *sessions) restore(id string, queued []Message, had []uint64) {
	s := ss.getOrCreate(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.movedTo = ""
	if s.seen == nil {
		s.seen = map[uint64]struct{}{}
	}
	s.seenUntil = time.Now().Add(seenFor)
	for _, mid := range had {
		if mid != 0 && len(s.seen) < maxSeen {
			s.seen[mid] = struct{}{}
		}
	}
	rest := s.q[s.head:]
	q := make([]qmsg, 0, len(queued)+len(rest))
	for i := range queued {
		q = append(q, fromMessage(&queued[i]))
		if mid := queued[i].ID; mid != 0 {
			s.seen[mid] = struct{}{}
		}
	}
	if len(rest) > 0 {
		// Queued here before the session was restored: messages forwarded
		// by the old node, which lets the session go before its answer
		// comes. One it had in flight or queued is a copy: the first is
		// resent (DUP 1) on resume, the second is in queued already.
		known := make(map[uint64]struct{}, len(had)+len(queued))
		for _, mid := range had {
			known[mid] = struct{}{}
		}
		for i := range queued {
			known[queued[i].ID] = struct{}{}
		}
		for _, m := range rest {
			if _, dup := known[m.id]; m.id != 0 && dup {
				s.ss.duplicates.Add(1)
				continue
			}
			q = append(q, m)
		}
	}
	if z := s.zone(); z.MqueuePriorities != nil {
		sortByPriority(z, q)
		for len(q) > z.MaxMqueueLen { // the lowest priority's oldest first
			i := len(q) - 1
			for i > 0 && q[i-1].prio == q[len(q)-1].prio {
				i--
			}
			q = slices.Delete(q, i, i+1)
			s.noteDrop()
		}
	}
	for len(q) > s.zone().MaxMqueueLen {
		q = q[1:]
		s.noteDrop()
	}
	s.q, s.head = q, 0
}

// direct queues a message forwarded by the node that id's session moved
// away from. It may come before the session is restored here (the old
// node forwards as soon as it has let the session go): the session is made
// then, and dropped if nothing claims it within seenFor.
func (ss *sessions) direct(id string, pk packets.Packet, mid uint64) {
	s := ss.get(id)
	if s == nil {
		s = ss.getOrCreate(id)
		s.mu.Lock()
		if s.seen == nil {
			s.seen, s.seenUntil = map[uint64]struct{}{}, time.Now().Add(seenFor)
		}
		s.mu.Unlock()
		time.AfterFunc(seenFor, func() {
			s.mu.Lock()
			orphan := s.owner == nil && s.movedTo == ""
			if orphan {
				ss.lostMoved.Add(int64(s.len()))
				s.reset()
			}
			s.mu.Unlock()
			if orphan {
				ss.m.CompareAndDelete(id, s)
			}
		})
	}
	s.enqueue(qmsg{pk: &pk, id: mid, subIDs: pk.Properties.SubscriptionIdentifier, qos: pk.FixedHeader.Qos, retain: pk.FixedHeader.Retain})
}

// hold makes the session of id, just moved here, hold the messages routed
// here until a marker from each of origins came through the old node (or
// holdAtMost passed).
func (ss *sessions) hold(id string, origins []string) {
	if len(origins) == 0 {
		return
	}
	s := ss.getOrCreate(id)
	s.mu.Lock()
	s.holdFrom = map[string]bool{}
	s.releasing = false
	s.holdGen++
	for _, o := range origins {
		s.holdFrom[o] = true
	}
	s.holding.Store(true)
	s.mu.Unlock()
	time.AfterFunc(holdAtMost, func() { s.release("") })
}

// release notes the marker of origin ("": give up waiting) and, once none
// is awaited, queues what was held, in order (copies of what came through
// the old node meanwhile are dropped by id). Until the last held message
// is queued, what is routed here is held behind them: it would overtake
// them otherwise.
func (s *session) release(origin string) {
	s.mu.Lock()
	if s.holdFrom == nil || s.releasing {
		s.mu.Unlock()
		return
	}
	if origin != "" {
		delete(s.holdFrom, origin)
		if len(s.holdFrom) > 0 {
			s.mu.Unlock()
			return
		}
	}
	s.releasing = true
	gen := s.holdGen
	for len(s.held) > 0 {
		held := s.held
		s.held = nil
		s.mu.Unlock()
		for _, m := range held {
			s.enqueue(m)
		}
		s.mu.Lock()
		if s.holdGen != gen {
			s.mu.Unlock()
			return // it moved on (what it held went along) or moved again
		}
	}
	s.holdFrom, s.releasing = nil, false
	s.holding.Store(false)
	s.mu.Unlock()
}

// marker: the marker of origin for the session of id came. A session that
// moved on passes it to its node.
func (ss *sessions) marker(id, origin string) {
	s := ss.get(id)
	if s == nil {
		return
	}
	s.mu.Lock()
	node := s.movedTo
	s.mu.Unlock()
	if node != "" {
		if f := ss.mover; f != nil {
			f.ForwardMarker(id, node, origin)
		}
		return
	}
	s.release(origin)
}

// queued reports how many messages wait in id's session.
func (ss *sessions) queued(id string) int {
	s := ss.get(id)
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.len()
}
