package fabric

import (
	"strings"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// version orders retained messages of one topic: newest wins, the node name
// breaks ties.
type version struct {
	ts   int64
	node string
}

func (v version) newer(o version) bool {
	return v.ts > o.ts || (v.ts == o.ts && v.node > o.node)
}

// retainer replicates retained messages to every node.
type retainer struct {
	f        *Fabric
	mu       sync.Mutex
	versions map[string]version // topic -> version of what this node holds (tombstones for clears)
}

// local is called when a client of this node retained (or cleared) a topic.
func (r *retainer) local(pk packets.Packet) {
	if strings.HasPrefix(pk.TopicName, "$") {
		return
	}
	m := fromPacket(pk, time.Now())
	if m == nil {
		return
	}
	r.mu.Lock()
	v := version{ts: time.Now().UnixNano(), node: r.f.self}
	if old, ok := r.versions[pk.TopicName]; ok && !v.newer(old) {
		v.ts = old.ts + 1 // clocks differ between nodes; a local write still supersedes what we hold
	}
	r.versions[pk.TopicName] = v
	r.mu.Unlock()
	m.TS, m.Node, m.Retain = v.ts, v.node, true
	for _, p := range r.f.links.Peers() {
		r.f.outbox(p).put(m)
	}
}

// unstored runs inject (a delivery with the retain flag, through inline
// client origin) and then puts back the retained message that topic had
// before, unless another client stored one meanwhile: what a node retains
// is decided by store, newest wins, not by the order deliveries arrive in.
func (r *retainer) unstored(origin, topic string, inject func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old, had := r.f.srv.Topics.Retained.Get(topic)
	inject()
	cur, ok := r.f.srv.Topics.Retained.Get(topic)
	switch {
	case ok && cur.Origin != origin:
		return // stored by someone else since: theirs stands
	case had:
		r.f.srv.Topics.RetainMessage(old)
	case ok:
		r.f.srv.Topics.RetainMessage(packets.Packet{TopicName: topic, FixedHeader: packets.FixedHeader{Type: packets.Publish, Retain: true}})
	}
}

// store applies a peer's retained message if it is newer than ours.
func (r *retainer) store(m *message) {
	v := version{ts: m.TS, node: m.Node}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.versions[m.Topic]; ok && !v.newer(old) {
		return
	}
	r.versions[m.Topic] = v
	r.f.srv.Topics.RetainMessage(m.toPacket(true))
}

// sync queues every retained message (and clear) this node holds for a peer
// whose link just came up; the peer keeps the newest of each topic.
func (r *retainer) sync(peer string) {
	r.mu.Lock()
	var msgs []*message
	for topic, v := range r.versions {
		m := &message{Topic: topic, TS: v.ts, Node: v.node, Retain: true}
		if pk, ok := r.f.srv.Topics.Retained.Get(topic); ok && len(pk.Payload) > 0 {
			full := fromPacket(pk, time.Now())
			if full == nil {
				continue // expired here
			}
			full.TS, full.Node, full.Retain = v.ts, v.node, true
			m = full
		}
		msgs = append(msgs, m)
	}
	r.mu.Unlock()
	o := r.f.outbox(peer)
	for _, m := range msgs {
		o.put(m)
	}
}
