package fabric

import (
	"bytes"
	"strings"
	"time"

	"emqxgo/internal/broker"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// hook connects mochi's events to the fabric.
type hook struct {
	mqtt.HookBase
	f *Fabric
}

func (h *hook) ID() string { return "emqx-cluster-fabric" }

var provided = []byte{
	mqtt.OnSubscribe, mqtt.OnUnsubscribe, mqtt.OnSubscribed, mqtt.OnUnsubscribed,
	mqtt.OnPublish, mqtt.OnPublished, mqtt.OnSelectSubscribers, mqtt.OnRetainMessage, mqtt.OnRetainedExpired,
	mqtt.OnWill, mqtt.OnWillSent, mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnClientExpired, mqtt.OnDisconnect,
}

func (h *hook) Provides(b byte) bool { return bytes.IndexByte(provided, b) >= 0 }

func fromPeer(cl *mqtt.Client) bool {
	return cl.Net.Inline && strings.HasPrefix(cl.ID, reservedPrefix)
}

// queueFilter rewrites $queue/t (EMQX's shared subscription without a group)
// as $share/$queue/t, which mochi understands.
func queueFilter(f string) string {
	if rest, ok := strings.CutPrefix(f, "$queue/"); ok {
		return "$share/$queue/" + rest
	}
	return f
}

func (h *hook) OnSubscribe(_ *mqtt.Client, pk packets.Packet) packets.Packet {
	for i := range pk.Filters {
		pk.Filters[i].Filter = queueFilter(pk.Filters[i].Filter)
	}
	return pk
}

func (h *hook) OnUnsubscribe(_ *mqtt.Client, pk packets.Packet) packets.Packet {
	for i := range pk.Filters {
		pk.Filters[i].Filter = queueFilter(pk.Filters[i].Filter)
	}
	return pk
}

func (h *hook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, codes []byte) {
	if cl.Net.Inline {
		return
	}
	for i, f := range pk.Filters {
		if i < len(codes) && codes[i] < 0x80 {
			h.f.routes.add(f.Filter, cl.ID)
		}
	}
}

func (h *hook) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	if cl.Net.Inline {
		return
	}
	for _, f := range pk.Filters {
		h.f.routes.remove(f.Filter, cl.ID)
	}
}

// OnClientExpired: mochi leaves an expired session's subscriptions in its
// index; unsubscribing also withdraws our routes.
func (h *hook) OnClientExpired(cl *mqtt.Client) { h.f.queues.UnsubscribeClient(cl) }

func (h *hook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h.f.decisions.Delete(cl.ID)
	if c, ok := h.f.conns.Load(cl.ID); ok && c.cl == cl {
		h.f.conns.CompareAndDelete(cl.ID, c)
	}
}

// OnSessionEstablished records when the client connected (newest wins
// when a healed partition finds it on two nodes).
func (h *hook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	if !cl.Net.Inline {
		h.f.conns.Store(cl.ID, connection{since: time.Now().UnixNano(), cl: cl})
		if old, ok := h.f.flushing.LoadAndDelete(cl.ID); ok {
			h.f.requestFlush(cl.ID, old)
		}
	}
}

// OnSessionEstablish runs before CONNACK: take the client id over cluster-wide.
func (h *hook) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	if cl.Net.Inline {
		return
	}
	h.f.claim(cl, pk)
}

// OnPublish forwards a client's publish to the peers that want it and
// decides which node serves each matching shared group.
func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if fromPeer(cl) {
		return pk, nil
	}
	if pk.FixedHeader.Retain && len(pk.Payload) == 0 && h.f.retained.cfg.StopPublishClearMsg {
		return pk, nil // retainer.stop_publish_clear_msg: it only clears (the table carries that)
	}
	if id := h.f.dispatch(cl.ID, pk, !broker.Busy(cl)); id != 0 {
		broker.SetMessageID(&pk, id)
	}
	return pk, nil
}

func (h *hook) OnPublished(cl *mqtt.Client, _ packets.Packet) {
	h.f.decisions.Delete(cl.ID)
}

// OnSelectSubscribers keeps only the shared groups this node serves for
// the message, with the member chosen cluster-wide.
func (h *hook) OnSelectSubscribers(subs *mqtt.Subscribers, pk packets.Packet) *mqtt.Subscribers {
	var chosen map[string]string
	if c := h.f.injectedChoice(pk.Origin); c != nil {
		chosen = c.groups
		if c.sharedOnly {
			subs.Subscriptions = map[string]packets.Subscription{}
		}
	} else if d, ok := h.f.decisions.Load(pk.Origin); ok {
		chosen = d
	} else {
		return subs // not a message the fabric saw: mochi decides
	}
	for filter, members := range subs.Shared {
		client, ok := chosen[filter]
		if !ok {
			continue // served by another node
		}
		sub, ok := members[client]
		if !ok {
			for c, s := range members { // the chosen member left meanwhile: any local one
				client, sub = c, s
				break
			}
		}
		if cur, ok := subs.SharedSelected[client]; ok {
			sub = cur.Merge(sub)
		}
		subs.SharedSelected[client] = sub
	}
	subs.Shared = map[string]map[string]packets.Subscription{} // nothing left for mochi to pick
	return subs
}

// OnRetainMessage: mochi stored a retained will. One that retainer.*
// refuses is taken back out of mochi's store (the table's stands).
func (h *hook) OnRetainMessage(cl *mqtt.Client, pk packets.Packet, _ int64) {
	if fromPeer(cl) {
		return
	}
	if !h.f.retained.accept(cl, pk) {
		h.f.retained.reshow(pk.TopicName)
		return
	}
	h.retain(cl, pk)
}

// retain: a client of this node retained (or cleared) a topic.
func (h *hook) retain(cl *mqtt.Client, pk packets.Packet) {
	if fromPeer(cl) {
		return
	}
	broker.CompleteWill(cl, &pk) // a retained will: with its properties
	h.f.retained.local(pk)
}

// OnRetainedExpired: mochi dropped an expired retained message; the
// retained table follows.
func (h *hook) OnRetainedExpired(topic string) { h.f.retained.expired(topic) }

// OnWill forwards an immediate will (wills bypass OnPublish); delayed wills
// go when mochi sends them (OnWillSent).
func (h *hook) OnWill(cl *mqtt.Client, will mqtt.Will) (mqtt.Will, error) {
	if will.WillDelayInterval == 0 {
		h.f.dispatch(cl.ID, willPacket(cl, will), false) // mochi builds the packet it delivers here: no id on it
	}
	return will, nil
}

func (h *hook) OnWillSent(cl *mqtt.Client, pk packets.Packet) {
	if pk.Connect.WillProperties.WillDelayInterval > 0 {
		// mochi keeps the time a delayed will is due in Expiry; it is no
		// message expiry (the hop would take it as expired and drop it).
		// An MQTT 5 will gets its properties and its own expiry.
		if !broker.CompleteWill(cl, &pk) {
			pk.Expiry = 0
		}
		h.f.dispatch(cl.ID, pk, false) // delivered here already
	}
	h.f.decisions.Delete(cl.ID)
}

// willPacket is the PUBLISH of cl's will w, as mochi builds it, with the
// properties the will was given in an MQTT 5 CONNECT (broker.CompleteWill).
func willPacket(cl *mqtt.Client, w mqtt.Will) packets.Packet {
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: w.Qos, Retain: w.Retain},
		TopicName:   w.TopicName, Payload: w.Payload, Origin: cl.ID, Created: time.Now().Unix(),
		Properties: packets.Properties{User: w.User},
	}
	broker.CompleteWill(cl, &pk)
	return pk
}

// dispatch: one index lookup finds the peers with plain routes and every
// shared group's members; each matching peer gets the message once.
// It returns the id the copies were given (0: none went). The node's
// $SYS messages (EMQX's $SYS/brokers/..., presence events) go to the
// peers' subscribers like any other, as in EMQX.
func (f *Fabric) dispatch(publisher string, pk packets.Packet, now bool) uint64 {
	if f.routes.entries.Load() == 0 {
		return 0
	}
	mt := getMatches()
	defer putMatches(mt)
	f.routes.index.match(pk.TopicName, mt)
	if len(mt.peers) == 0 && len(mt.groups) == 0 {
		return 0
	}
	var perPeer map[string]map[string]string
	if len(mt.groups) > 0 {
		local := map[string]string{}
		for _, g := range mt.groups {
			node, client := splitKey(f.picker.pick(g.filter, g.members, pk.TopicName, publisher))
			if node == f.self {
				local[g.filter] = client
				continue
			}
			if perPeer == nil {
				perPeer = map[string]map[string]string{}
			}
			if perPeer[node] == nil {
				perPeer[node] = map[string]string{}
			}
			perPeer[node][g.filter] = client
		}
		f.decisions.Store(publisher, local)
	}
	m := fromPacket(pk, time.Now())
	if m == nil {
		return 0
	}
	m.From = publisher
	// The same id goes with the copies delivered here (the caller sets it
	// on the packet): a session moving between nodes tells copies from new
	// messages by it.
	m.ID = f.nextID()
	for _, peer := range mt.peers {
		m.Groups = perPeer[peer] // put copies m
		delete(perPeer, peer)
		f.outbox(peer).put(m, now)
	}
	for peer, g := range perPeer {
		m.Groups = g
		f.outbox(peer).put(m, now)
	}
	return m.ID
}

// regroup sends the shared-group messages that a vanished peer was chosen
// for to another member of each group (QoS 1/2: at least once).
func (f *Fabric) regroup(msgs []*message) {
	for _, m := range msgs {
		mt := getMatches()
		f.routes.index.match(m.Topic, mt)
		for filter := range m.Groups {
			members := mt.members(filter)
			if len(members) == 0 {
				continue
			}
			node, client := splitKey(f.picker.pick(filter, members, m.Topic, m.From))
			c := *m
			c.Groups, c.SharedOnly, c.Seq = map[string]string{filter: client}, true, 0
			if node == f.self {
				in := f.inbound(f.self)
				in.mu.Lock()
				f.inject(in, &c)
				in.batch.Release()
				in.mu.Unlock()
			} else {
				f.outbox(node).put(&c, false)
			}
		}
		putMatches(mt)
	}
}
