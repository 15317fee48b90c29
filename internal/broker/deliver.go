package broker

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"emqxgo/internal/metrics"
)

// deliverHook hands every message mochi would send to subscribers to the
// node's sessions (session.go), and keeps them told of connections and
// acknowledgements. It is added last, after the cluster's hook has chosen
// the members of shared groups.
type deliverHook struct {
	mqtt.HookBase
	b *Broker
}

func (h *deliverHook) ID() string { return "emqx-session" }

var deliverHookEvents = []byte{mqtt.OnPublish, mqtt.OnSelectSubscribers, mqtt.OnQosComplete, mqtt.OnQosDropped,
	mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnClientExpired,
	mqtt.OnSubscribe, mqtt.OnSubscribed, mqtt.OnUnsubscribed, mqtt.OnPacketProcessed, mqtt.OnWillSent}

func (h *deliverHook) Provides(b byte) bool { return bytes.IndexByte(deliverHookEvents, b) >= 0 }

// OnPublish delivers a client's PUBLISH (or one injected by the cluster
// layer) to its subscribers through their sessions, stores it if it is
// retained, and tells mochi to do nothing more with it than acknowledge it
// (mochi would scan the subscriptions again, and skips storing an ignored
// PUBLISH). It runs last, after the gate and the cluster's hook. The
// cluster's retain gate may refuse to store it (retainer.max_payload_size,
// max_retained_messages: delivered all the same); with
// retainer.stop_publish_clear_msg an empty retained PUBLISH only clears.
func (h *deliverHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	// Stored before the subscribers are looked up, as mochi does: a client
	// that subscribes meanwhile gets it one way or the other.
	if pk.FixedHeader.Retain && h.b.srv.Options.Capabilities.RetainAvailable != 0 {
		if g := h.b.retainGate.Load(); g == nil || (*g)(cl, pk) { // retainer.*: it may be delivered only
			h.b.srv.Topics.RetainMessage(pk.Copy(false))
			h.b.metrics.Inc(metrics.MessagesRetained)
			atomic.StoreInt64(&h.b.srv.Info.Retained, int64(h.b.srv.Topics.Retained.Len()))
			if f := h.b.retained.Load(); f != nil {
				(*f)(cl, pk)
			}
		}
		if len(pk.Payload) == 0 && h.b.cfg.Retainer.StopPublishClearMsg && !injected(cl) {
			return pk, packets.CodeSuccessIgnore // it clears the retained message, no more (as EMQX)
		}
	}
	var n int
	if e, subs := h.b.subs.get(h.b.srv.Topics, pk.TopicName); e != nil && !h.onlyShared(cl, pk) {
		n = h.deliverTo(e.subs, pk, h.b.batchOf(cl))
	} else {
		if e != nil {
			subs = e.subscribers()
		}
		n = h.route(subs, pk, true, h.b.batchOf(cl))
	}
	// $SYS messages count neither as published nor as dropped (EMQX's
	// emqx_message:is_sys).
	if !strings.HasPrefix(pk.TopicName, "$SYS/") {
		h.b.metrics.Inc(metrics.MessagesPublish)
		if n == 0 {
			h.b.metrics.Inc(metrics.MessagesDroppedNoSubscribers) // of this node: peers count theirs
		}
	}
	if c, ok := cl.Net.Conn.(*conn); ok {
		if l := c.lim.Load(); l != nil {
			l.routed(n) // the routing quotas (ratelimit.go)
		}
	}
	return pk, packets.CodeSuccessIgnore
}

// OnSelectSubscribers delivers a PUBLISH mochi makes itself (a will, $SYS)
// to its subscribers through their sessions and leaves mochi no one to
// send it to. The cluster's hook, before it, chose the shared members.
// mochi's own $SYS/broker/... tree (published once, as it starts) goes to
// no one: the node's $SYS is EMQX's.
func (h *deliverHook) OnSelectSubscribers(subs *mqtt.Subscribers, pk packets.Packet) *mqtt.Subscribers {
	if strings.HasPrefix(pk.TopicName, mochiSysPrefix) {
		clear(subs.Subscriptions)
		clear(subs.SharedSelected)
		clear(subs.Shared)
		clear(subs.InlineSubscriptions)
		return subs
	}
	h.route(subs, pk, false, nil)
	return subs
}

// route delivers pk to subs (select: the shared groups' members are still
// to be chosen) and empties subs; it returns how many subscribers of this
// node it was delivered to. via: the batch of the publisher's input, on
// whose goroutine this runs (nil: none; Broker.batchOf).
func (h *deliverHook) route(subs *mqtt.Subscribers, pk packets.Packet, selectShared bool, via *Batch) int {
	delete(subs.Shared, sentinelFilter)
	delete(subs.Shared, sysSentinel)
	if selectShared && (len(subs.Shared) > 0 || h.onlyShared(nil, pk)) {
		if sel := h.b.selector.Load(); sel != nil {
			subs = (*sel)(subs, pk)
		}
	}
	if len(subs.SharedSelected) == 0 && len(subs.Shared) > 0 {
		if pk.TopicName != "" && pk.TopicName[0] == '$' {
			for f := range subs.Shared {
				if wildFirst(f) { // [MQTT-4.7.2-1]: mochi matches $ topics for shared groups
					delete(subs.Shared, f)
				}
			}
		}
		subs.SelectShared() // no hook chose: mochi's own choice
	}
	if subs.Subscriptions == nil {
		subs.Subscriptions = map[string]packets.Subscription{}
	}
	subs.MergeSharedSelected()
	n := len(subs.Subscriptions)
	if n > 0 {
		h.prepare(&pk)
		mid := MessageID(&pk)
		base := shared(&pk) // one copy for every subscriber
		for id, sub := range subs.Subscriptions {
			h.b.sessions.deliverVia(id, sub, base, mid, via)
		}
	}
	clear(subs.Subscriptions)
	clear(subs.SharedSelected)
	clear(subs.Shared)
	return n
}

// prepare readies a will for its subscribers: an MQTT 5 will gets its
// properties (will.go); a delayed will's message expiry runs from now
// (mochi keeps the time it was due in Expiry).
func (h *deliverHook) prepare(pk *packets.Packet) {
	if w := willOf(h.b.willOwner(pk), pk); w != nil {
		w.apply(pk)
	} else if pk.Connect.WillProperties.WillDelayInterval > 0 {
		pk.Expiry = 0
		if e := pk.Properties.MessageExpiryInterval; e > 0 {
			pk.Expiry = time.Now().Unix() + int64(e)
		}
	}
}

// deliverTo delivers a client's PUBLISH to subs, a topic's subscribers
// without shared groups (subCache), as route would.
func (h *deliverHook) deliverTo(subs []subOf, pk packets.Packet, via *Batch) int {
	if len(subs) == 0 {
		return 0
	}
	h.prepare(&pk)
	mid := MessageID(&pk)
	base := shared(&pk)
	for i := range subs {
		h.b.sessions.deliverVia(subs[i].client, subs[i].sub, base, mid, via)
	}
	return len(subs)
}

// onlyShared reports whether pk, injected by a peer's inline client, is
// for the shared groups the cluster chose alone (a group's message sent
// on after its member's node went); cl nil: pk.Origin tells.
func (h *deliverHook) onlyShared(cl *mqtt.Client, pk packets.Packet) bool {
	if cl != nil && !cl.Net.Inline || cl == nil && !strings.HasPrefix(pk.Origin, ReservedClientIDPrefix) {
		return false // a client's own PUBLISH: no lookup on its path
	}
	f := h.b.sharedOnly.Load()
	return f != nil && (*f)(pk.Origin)
}

// willSentinel arms the shared subscription on # while a will is on its
// way: from mochi's OnWill (it publishes an immediate will right after, a
// delayed one when it is due) until OnWillSent, or until its client
// connects again (which cancels a delayed will).
type willSentinel struct {
	mu      sync.Mutex
	pending map[string]bool // client ids
}

func (b *Broker) armWill(id string) {
	w := &b.wills
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pending == nil {
		w.pending = map[string]bool{}
	}
	if len(w.pending) == 0 {
		b.srv.Topics.Subscribe(sentinelClient, packets.Subscription{Filter: sentinelFilter})
		b.subs.changed()
	}
	w.pending[id] = true
}

func (b *Broker) disarmWill(id string) {
	w := &b.wills
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.pending[id] {
		return
	}
	delete(w.pending, id)
	if len(w.pending) == 0 {
		b.srv.Topics.Unsubscribe(sentinelFilter, sentinelClient)
		b.subs.changed()
	}
}

// wildFirst: the topic filter of shared group filter f ($share/g/tf)
// starts with a wildcard.
func wildFirst(f string) bool {
	n := 0
	for i := 0; i < len(f); i++ {
		if f[i] == '/' {
			n++
			if n == 2 {
				return i+1 < len(f) && (f[i+1] == '+' || f[i+1] == '#')
			}
		}
	}
	return false
}

func (h *deliverHook) OnQosComplete(cl *mqtt.Client, pk packets.Packet) {
	h.b.sessions.kick(cl, true, pk.PacketID)
}

func (h *deliverHook) OnQosDropped(cl *mqtt.Client, pk packets.Packet) {
	h.b.sessions.kick(cl, true, pk.PacketID)
}

func (h *deliverHook) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	if c, ok := cl.Net.Conn.(*conn); ok {
		// mochi is about to move the subscriptions of a session of this
		// client id (one taken over from a peer included) into its index.
		if old, ok := h.b.srv.Clients.Get(cl.ID); ok && old.State.Subscriptions.Len() > 0 {
			c.changingSubs(&h.b.subs) // ended by the CONNACK, or the connection's end
		}
	}
	if !cl.Net.Inline {
		h.b.sessions.establish(cl, pk, h.b.setMount(cl, pk))
		h.b.disarmWill(cl.ID) // a delayed will of its last connection is cancelled
	}
}

func (h *deliverHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	if !cl.Net.Inline {
		h.b.metrics.Inc(metrics.ClientConnected)
		h.b.sessions.attach(cl)
	}
}

func (h *deliverHook) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	if c, ok := cl.Net.Conn.(*conn); ok && expire && !cl.IsTakenOver() && cl.State.Subscriptions.Len() > 0 {
		c.changingSubs(&h.b.subs) // mochi removes them next; ended as the connection's goroutine ends
	}
	if !cl.Net.Inline {
		h.b.metrics.Inc(metrics.ClientDisconnected)
		if expire && !errors.Is(err, packets.ErrSessionTakenOver) {
			h.b.metrics.Inc(metrics.SessionTerminated)
		}
		h.b.sessions.disconnected(cl, expire)
		h.b.expireV3(cl, expire)
	}
}

func (h *deliverHook) OnClientExpired(cl *mqtt.Client) {
	h.b.metrics.Inc(metrics.SessionTerminated)
	h.b.sessions.end(cl)
}

// retainAsk is a filter of the SUBSCRIBE being handled whose retained
// messages the session sends (mochi is told Retain Handling 2 so that it
// sends none itself, bypassing the session).
type retainAsk struct {
	i       int  // position in the SUBSCRIBE
	rh      byte // the client's Retain Handling
	existed bool // the subscription existed before
}

// OnSubscribe notes each filter's Retain Handling and whether the
// subscription existed, and tells mochi to send no retained message.
func (h *deliverHook) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	c, ok := cl.Net.Conn.(*conn)
	if !ok {
		return pk
	}
	c.retain, c.retainDue = c.retain[:0], c.retainDue[:0]
	for i := range pk.Filters {
		f := &pk.Filters[i]
		if mqtt.IsSharedFilter(f.Filter) {
			continue // none for a shared subscription (4.8.2)
		}
		_, existed := cl.State.Subscriptions.Get(f.Filter)
		c.retain = append(c.retain, retainAsk{i: i, rh: f.RetainHandling, existed: existed})
		f.RetainHandling = 2
	}
	return pk
}

// OnSubscribed gives the stored subscriptions their Retain Handling back
// and notes which filters get retained messages [MQTT-3.3.1-9]
// [MQTT-3.3.1-10] [MQTT-3.3.1-11]; they are queued once the SUBACK is out
// (OnPacketProcessed).
func (h *deliverHook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, codes []byte) {
	h.b.subs.changed() // before the SUBACK
	c, ok := cl.Net.Conn.(*conn)
	if !ok {
		return
	}
	for _, a := range c.retain {
		if a.i >= len(pk.Filters) || a.i >= len(codes) || codes[a.i] >= 0x80 {
			continue
		}
		f := pk.Filters[a.i]
		if sub, ok := cl.State.Subscriptions.Get(f.Filter); ok {
			sub.RetainHandling = a.rh
			cl.State.Subscriptions.Add(f.Filter, sub)
		}
		if a.rh == 0 || a.rh == 1 && !a.existed {
			f.RetainHandling, f.Qos = a.rh, codes[a.i]
			c.retainDue = append(c.retainDue, f)
		}
	}
	c.retain = c.retain[:0]
}

// OnUnsubscribed: mochi took subscriptions out of its index: an
// UNSUBSCRIBE's, before its UNSUBACK (a message looked up meanwhile may
// still reach the client, which MQTT allows), or a session's
// (UnsubscribeClient: the node brackets its own calls and the one at a
// connection's end with begin and end, so that no message looked up
// meanwhile waits in a session its client comes back to, behind newer
// ones).
func (h *deliverHook) OnUnsubscribed(*mqtt.Client, packets.Packet) { h.b.subs.changed() }

func (h *deliverHook) OnPacketProcessed(cl *mqtt.Client, pk packets.Packet, err error) {
	switch pk.FixedHeader.Type {
	case packets.Subscribe:
	case packets.Publish, packets.Pubrel, packets.Pubrec:
		h.qos2Processed(cl, pk)
		return
	default:
		return
	}
	c, ok := cl.Net.Conn.(*conn)
	if !ok || len(c.retainDue) == 0 {
		return
	}
	due := c.retainDue
	c.retainDue = c.retainDue[:0]
	if err != nil {
		return
	}
	for _, sub := range due {
		sub.FwdRetainedFlag = true
		if sub.Identifier > 0 {
			sub.Identifiers = map[string]int{sub.Filter: sub.Identifier}
		}
		now := time.Now().Unix()
		for _, r := range h.b.srv.Topics.Messages(sub.Filter) { // [MQTT-3.8.4-4]
			if r.ProtocolVersion == 5 && r.Expiry > 0 && r.Expiry < now {
				continue // expired; mochi's sweep (every second) has not dropped it yet
			}
			h.b.sessions.deliver(cl.ID, sub, shared(&r), 0)
		}
	}
}

// injected reports whether cl is one of the cluster's inline clients (a
// peer's message delivered here).
func injected(cl *mqtt.Client) bool {
	return cl.Net.Inline && strings.HasPrefix(cl.ID, ReservedClientIDPrefix)
}

// qos2Processed keeps the session's notes of QoS 2 flows (retry.go) once
// mochi handled cl's PUBLISH, PUBREL or PUBREC pk.
func (h *deliverHook) qos2Processed(cl *mqtt.Client, pk packets.Packet) {
	c, ok := cl.Net.Conn.(*conn)
	if !ok || c.sess == nil {
		return
	}
	switch pk.FixedHeader.Type {
	case packets.Publish:
		if c.relNew && c.relPid == pk.PacketID {
			c.relNew = false
			c.sess.relAdded(cl, pk.PacketID)
		}
	case packets.Pubrel:
		if c.relFree && c.relPid == pk.PacketID {
			c.relFree = false
			c.sess.relFreed(pk.PacketID)
		}
	case packets.Pubrec:
		h.b.sessions.pubrecd(cl, c.sess, pk.PacketID)
	}
}
