package fabric

import (
	"context"
	"sync"
	"time"

	"emqxgo/internal/broker"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/zap"
)

type takeoverReq struct {
	ClientID string `codec:"c"`
	Clean    bool   `codec:"cl,omitempty"` // the new connection starts clean: just drop the old session
}

type subscription struct {
	Filter string `codec:"f"`
	QoS    byte   `codec:"q,omitempty"`
	NL     bool   `codec:"nl,omitempty"`
	RAP    bool   `codec:"rap,omitempty"`
	RH     byte   `codec:"rh,omitempty"`
	ID     int    `codec:"id,omitempty"`
}

// inflight is an unacknowledged message of a session taken over; a list
// of them crosses the link in the binary form of codec.go (encodeInflight).
type inflight struct {
	ID  uint16
	Msg *message
}

type takeoverResp struct {
	Found    bool           `codec:"f,omitempty"`
	Session  bool           `codec:"s,omitempty"` // a session follows
	Version  byte           `codec:"v,omitempty"`
	Subs     []subscription `codec:"subs,omitempty"`
	Inflight []byte         `codec:"inf,omitempty"`  // encodeInflight
	Queued   []byte         `codec:"q,omitempty"`    // encodeInflight, ids 0: queued, never sent
	Pubrels  []uint16       `codec:"rel,omitempty"`  // QoS 2 messages received by the client (PUBREC), PUBREL not completed
	Seen     []uint64       `codec:"seen,omitempty"` // ids of messages the session had since it moved to the sender lately
	// At: when the answer was made (Unix seconds, the sender's clock); the
	// queued messages' expiry is what was left then (fwdBatch.age).
	At int64 `codec:"at,omitempty"`
}

// takeoverTimeout bounds how long a CONNECT waits for the other nodes.
const takeoverTimeout = 3 * time.Second

// claim runs before CONNACK: every linked peer that holds this client id
// disconnects it (0x8E) and hands over the session unless the new
// connection starts clean. The session is installed as a placeholder that
// mochi's own takeover then resumes (SessionPresent).
func (f *Fabric) claim(cl *mqtt.Client, pk packets.Packet) {
	f.settleMove(cl.ID) // it had moved away from here: it is back
	peers := f.links.Peers()
	if len(peers) == 0 {
		return
	}
	req, _ := encode(&takeoverReq{ClientID: cl.ID, Clean: pk.Connect.Clean})
	ctx, cancel := context.WithTimeout(context.Background(), takeoverTimeout)
	defer cancel()
	var mu sync.Mutex
	var found *takeoverResp
	var from string // the node found answered from
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Add(1)
		go func(p string) {
			defer wg.Done()
			b, err := f.links.Call(ctx, p, opTakeover, req)
			if err != nil {
				f.log.Debug("takeover call failed", zap.String("peer", p), zap.String("client", cl.ID), zap.Error(err))
				return
			}
			var r takeoverResp
			if decode(b, &r) != nil || !r.Found {
				return
			}
			mu.Lock()
			if found == nil || (r.Session && !found.Session) {
				found, from = &r, p
			}
			mu.Unlock()
			f.log.Info("client session taken over from another node", zap.String("client", cl.ID), zap.String("from", p))
		}(p)
	}
	wg.Wait()
	if found == nil || !found.Session || pk.Connect.Clean {
		return
	}
	if _, local := f.srv.Clients.Get(cl.ID); local {
		return // a local session exists too; mochi resumes that one
	}
	ph := f.srv.NewClient(nil, "cluster", cl.ID, false)
	ph.Properties.ProtocolVersion = found.Version
	ph.Properties.Clean = false
	for _, s := range found.Subs {
		sub := packets.Subscription{Filter: s.Filter, Qos: s.QoS, NoLocal: s.NL, RetainAsPublished: s.RAP, RetainHandling: s.RH, Identifier: s.ID}
		ph.State.Subscriptions.Add(s.Filter, sub)
		f.routes.add(s.Filter, cl.ID) // inherited: mochi fires no OnSubscribed for these
	}
	// In queued order, with ascending packet ids: the broker keeps that
	// order when mochi resends them after CONNACK (broker.QueuedOrder).
	sent, err := decodeInflight(found.Inflight, false)
	if err != nil {
		f.log.Warn("session taken over without its inflight messages: malformed takeover answer", zap.String("client", cl.ID), zap.Error(err))
	}
	for _, id := range found.Pubrels {
		ph.State.Inflight.Set(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrel, Qos: 1}, PacketID: id,
			Created: time.Now().Unix()})
	}
	var sentIDs []uint64
	for _, in := range sent {
		p := in.Msg.toPacket(in.Msg.Retain)
		p.PacketID = in.ID
		p.FixedHeader.Dup = true
		ph.State.Inflight.Set(p)
		sentIDs = append(sentIDs, in.Msg.ID)
	}
	// Never sent: queued behind them, sent as new (DUP 0).
	queued, err := decodeInflight(found.Queued, true)
	if err != nil {
		f.log.Warn("session taken over without its queued messages: malformed takeover answer", zap.String("client", cl.ID), zap.Error(err))
	}
	msgs := make([]broker.Message, 0, len(queued))
	lag := time.Now().Unix() - found.At
	for _, in := range queued {
		if found.At != 0 && !in.Msg.age(lag) {
			f.queues.DroppedExpired() // it ran out while the answer came
			continue
		}
		p := in.Msg.toPacket(in.Msg.Retain)
		p.Origin = in.Msg.From
		msgs = append(msgs, broker.Message{Packet: p, ID: in.Msg.ID})
	}
	f.queues.RestoreQueue(cl.ID, msgs, append(sentIDs, found.Seen...))
	// What is routed here for it waits for the markers of every node
	// (flushing, once its subscriptions are in place: OnSessionEstablished):
	// a message still on its way through the old node is older.
	origins := []string{f.self}
	for _, p := range peers {
		if p != from {
			origins = append(origins, p)
		}
	}
	f.queues.HoldRouted(cl.ID, origins)
	f.flushing.Store(cl.ID, from)
	f.srv.Clients.Add(ph)
}

// release answers a peer's takeover: disconnect our client with that id
// and give its session away.
func (f *Fabric) release(peer string, req *takeoverReq) *takeoverResp {
	cl, ok := f.srv.Clients.Get(req.ClientID)
	if !ok || cl.Net.Inline {
		return &takeoverResp{}
	}
	now := time.Now() // the queued messages' expiry is what is left at At
	resp := &takeoverResp{Found: true, At: now.Unix()}
	if !cl.Closed() {
		if cl.Properties.ProtocolVersion == 5 {
			_ = f.srv.DisconnectClient(cl, packets.ErrSessionTakenOver)
		} else {
			cl.Stop(packets.ErrSessionTakenOver)
		}
	}
	keep := !req.Clean && !(cl.Properties.Clean && cl.Properties.ProtocolVersion < 5) // as mochi's own takeover
	if keep {
		// The queue first: from here nothing more goes in flight.
		waiting, sentIDs, seen := f.queues.TakeQueue(cl.ID, peer)
		resp.Seen = seen
		resp.Session, resp.Version = true, cl.Properties.ProtocolVersion
		for _, s := range cl.State.Subscriptions.GetAll() {
			resp.Subs = append(resp.Subs, subscription{Filter: s.Filter, QoS: s.Qos, NL: s.NoLocal, RAP: s.RetainAsPublished, RH: s.RetainHandling, ID: s.Identifier})
		}
		all := cl.State.Inflight.GetAll(false)
		broker.QueuedOrder(all)
		var sent []inflight
		for _, p := range all {
			if p.FixedHeader.Type == packets.Pubrel {
				resp.Pubrels = append(resp.Pubrels, p.PacketID) // resent on resume [MQTT-4.4.0-1]
				continue
			}
			if p.FixedHeader.Type != packets.Publish {
				continue // our side of an inbound QoS 2 flow: the client resends its PUBREL
			}
			m := fromPacket(p, now)
			if m == nil {
				f.queues.DroppedExpired()
				continue
			}
			m.ID, m.From = sentIDs[p.PacketID], p.Origin
			sent = append(sent, inflight{ID: p.PacketID, Msg: m})
		}
		if len(sent) > 0 {
			resp.Inflight = encodeInflight(sent)
		}
		var queued []inflight
		for _, q := range waiting {
			m := fromPacket(q.Packet, now)
			if m == nil {
				f.queues.DroppedExpired() // it ran out in the queue here
				continue
			}
			m.ID, m.From = q.ID, q.Origin
			queued = append(queued, inflight{Msg: m})
		}
		if len(queued) > 0 {
			resp.Queued = encodeInflight(queued)
		}
		// Its subscriptions stay for MoveGrace, so that what is still routed
		// here meanwhile is forwarded to peer; then they go, and our routes
		// with them.
		f.settleMove(cl.ID)
		mv := &move{cl: cl}
		f.moved.Store(cl.ID, mv)
		mv.timer = time.AfterFunc(broker.MoveGrace, func() {
			if f.moved.CompareAndDelete(cl.ID, mv) {
				mv.end(f)
			}
		})
	} else {
		_, _, _ = f.queues.TakeQueue(cl.ID, "") // the session ends here
		f.queues.UnsubscribeClient(cl)          // fires OnUnsubscribed: our routes for it go
	}
	cl.ClearInflights()
	// The session continues elsewhere, so a delayed will must not be sent
	// [MQTT-3.1.3-9]; mochi cancels it on the client's own DISCONNECT or a
	// reconnect here, and published it here after the delay otherwise. A
	// DISCONNECT is injected for it. (A will of a connection still open
	// here, taken over now, may be scheduled after this: its goroutine ends
	// on its own time.)
	_ = f.srv.InjectPacket(cl, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
	f.srv.Clients.Delete(cl.ID)
	return resp
}

// move is a session that moved from here to another node: its
// subscriptions stay until the timer, and what they match is forwarded.
type move struct {
	cl    *mqtt.Client
	timer *time.Timer
	once  sync.Once
}

func (mv *move) end(f *Fabric) {
	mv.once.Do(func() {
		f.queues.EndMove(mv.cl.ID)
		f.queues.UnsubscribeClient(mv.cl) // fires OnUnsubscribed: our routes for it go
	})
}

// settleMove ends at once the forwarding for a session of id that moved
// away from here (it comes back, or moves again).
func (f *Fabric) settleMove(id string) {
	if mv, ok := f.moved.LoadAndDelete(id); ok {
		mv.timer.Stop()
		mv.end(f)
	}
}

// requestFlush runs once the subscriptions of a session that moved here
// from old are in place: every other peer is asked (behind the route
// update that gave them those subscriptions) to send its marker for it
// through old, and this node sends its own.
func (f *Fabric) requestFlush(clientID, old string) {
	var peers []string
	for _, p := range f.links.Peers() {
		if p != old {
			peers = append(peers, p)
		}
	}
	f.routes.announceTo(peers, routeUpdate{Flush: []flushReq{{Client: clientID, Via: old}}})
	f.sendMarker(clientID, old, f.self)
}

// sendMarker sends this node's marker for the session of clientID, which
// moved from via to node to, through via, behind what this node forwarded
// there.
func (f *Fabric) sendMarker(clientID, via, to string) {
	f.outbox(via).put(&message{Marker: true, Topic: clientID, From: f.self, Node: to, QoS: 1}, false)
}

// ForwardMarker implements broker.Mover: the marker of origin for a
// session that moved on to node follows what was forwarded to it.
func (f *Fabric) ForwardMarker(clientID, node, origin string) {
	_ = f.direct(node, &directMsg{Client: clientID, Marker: origin}) // lost: the new node stops waiting after a second
}
