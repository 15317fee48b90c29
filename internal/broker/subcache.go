package broker

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Bounds of the subscriber cache: how much it remembers, in topics plus
// their subscribers (all is forgotten at once past that), and how many
// subscribers a remembered topic may have (a large fan-out pays for its
// lookup many times over anyway). seenSlots: the topics looked up once
// lately, by hash; a topic is remembered the second time it is looked up
// while its slot still holds it, so that a stream of distinct topics (a
// device per topic, each publishing now and then) pays a hash per message
// and builds no entries.
const (
	subCacheSize = 1 << 15
	subCacheSubs = 256
	seenSlots    = 1 << 13
)

// subCache remembers, per topic, the subscribers mochi's index finds for
// it (Topics.Subscribers allocates four maps and copies every matching
// filter's subscriber map: a quarter of the CPU of a node relaying at full
// speed). An entry is good only for the gen read before it was looked up,
// and every change to the index bumps gen:
//   - after the change and before the client that made it is answered
//     (changed: OnSubscribed, OnUnsubscribed, the node's own calls): a
//     message published meanwhile may miss a subscriber not yet
//     acknowledged, or reach one that is leaving, as with any lookup
//     that runs beside the change;
//   - around it (begin, end) when a session's subscriptions come or go:
//     taken over by a new connection (mochi's inheritance, between
//     OnSessionEstablish and the CONNACK: messages already routed here
//     are owed to them), or taken out (UnsubscribeClient, and mochi's
//     own at a connection's end: a message looked up meanwhile must not
//     wait in a session its client comes back to). While one is under
//     way the cache is not used.
//
// Only topics without shared or inline subscribers are remembered; the
// others take mochi's lookup every time.
type subCache struct {
	gen  atomic.Uint64
	busy atomic.Int32 // changes between begin and end
	n    atomic.Int64 // what m holds: topics plus their subscribers
	m    sync.Map     // topic -> *subEntry
	seen [seenSlots]atomic.Uint64
}

var subSeed = maphash.MakeSeed()

// subEntry is one topic's subscribers as of gen.
type subEntry struct {
	gen  uint64
	subs []subOf
}

type subOf struct {
	client string
	sub    packets.Subscription
}

// UnsubscribeClient takes every subscription of cl out of mochi's index
// (mochi's UnsubscribeClient) with the subscriber cache out of use
// meanwhile: a message looked up during the change must not wait in a
// session its client comes back to, behind newer messages.
func (b *Broker) UnsubscribeClient(cl *mqtt.Client) {
	b.subs.begin()
	defer b.subs.end()
	b.srv.UnsubscribeClient(cl)
}

// changed: the index changed; every entry is stale.
func (c *subCache) changed() { c.gen.Add(1) }

// begin: the index is about to change; end: it has (once per begin).
func (c *subCache) begin() {
	c.busy.Add(1)
	c.gen.Add(1)
}

func (c *subCache) end() {
	c.gen.Add(1)
	c.busy.Add(-1)
}

// get returns topic's subscribers from the cache (e), or mochi's lookup
// of them (subs) when they cannot be remembered; one of the two is nil.
// subs has the node's sentinel groups taken out.
func (c *subCache) get(topics *mqtt.TopicsIndex, topic string) (e *subEntry, subs *mqtt.Subscribers) {
	g := c.gen.Load()
	busy := c.busy.Load() > 0 // read after g: a begin since is seen here
	if !busy {
		if v, ok := c.m.Load(topic); ok {
			if e := v.(*subEntry); e.gen == g {
				return e, nil
			}
		}
	}
	subs = topics.Subscribers(topic)
	delete(subs.Shared, sentinelFilter)
	delete(subs.Shared, sysSentinel)
	if busy || len(subs.Shared) > 0 || len(subs.SharedSelected) > 0 || len(subs.InlineSubscriptions) > 0 ||
		len(subs.Subscriptions) > subCacheSubs || !c.again(topic) {
		return nil, subs
	}
	e = &subEntry{gen: g}
	if len(subs.Subscriptions) > 0 {
		e.subs = make([]subOf, 0, len(subs.Subscriptions))
		for id, sub := range subs.Subscriptions {
			e.subs = append(e.subs, subOf{client: id, sub: sub})
		}
	}
	old, loaded := c.m.Swap(topic, e)
	grown := int64(len(e.subs))
	if loaded {
		grown -= int64(len(old.(*subEntry).subs))
	} else {
		grown++
	}
	if c.n.Add(grown) > subCacheSize {
		c.m.Clear()
		c.n.Store(0)
	}
	return e, nil
}

// again reports whether topic was looked up lately (its slot holds it),
// and notes it otherwise.
func (c *subCache) again(topic string) bool {
	h := maphash.String(subSeed, topic) | 1 // 0: an empty slot
	slot := &c.seen[h%seenSlots]
	if slot.Load() == h {
		return true
	}
	slot.Store(h)
	return false
}

// subscribers is e as mochi's lookup gives it, for route.
func (e *subEntry) subscribers() *mqtt.Subscribers {
	subs := &mqtt.Subscribers{
		Shared:              map[string]map[string]packets.Subscription{},
		SharedSelected:      map[string]packets.Subscription{},
		Subscriptions:       make(map[string]packets.Subscription, len(e.subs)),
		InlineSubscriptions: map[int]mqtt.InlineSubscription{},
	}
	for _, s := range e.subs {
		subs.Subscriptions[s.client] = s.sub
	}
	return subs
}
