package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"emqxgo/internal/testutil"
)

// cached reports whether the broker answers topic from its subscriber
// cache (an entry of the current generation).
func cached(b *Broker, topic string) bool {
	v, ok := b.subs.m.Load(topic)
	return ok && v.(*subEntry).gen == b.subs.gen.Load() && b.subs.busy.Load() == 0
}

// noMessage checks that v receives nothing more before a marker published
// after everything else reaches it.
func noMessage(t *testing.T, pub, v *testutil.V5, marker string) {
	t.Helper()
	pub.Pub(t, marker, 1, []byte("marker"))
	m := v.Expect(t, marker, []byte("marker"))
	if m == nil {
		t.Fatal("no marker")
	}
}

// TestSubscriberCacheFollowsSubscriptions: a topic's subscribers come from
// the cache once looked up, and every way a subscription comes or goes is
// seen by the next message: SUBSCRIBE, a new QoS, UNSUBSCRIBE, a session's
// end, a session resumed on a new connection, the management API.
func TestSubscriberCacheFollowsSubscriptions(t *testing.T) {
	b := startBroker(t, testConfig())
	addr := b.Addrs()["tcp"]
	pub := testutil.DialV5(t, addr, "pub")
	a := testutil.DialV5(t, addr, "a")
	a.Sub(t, "c/+", 1)
	pub.Pub(t, "c/1", 1, []byte("one"))
	a.Expect(t, "c/1", []byte("one"))
	if cached(b, "c/1") {
		t.Fatal("c/1 was remembered after its first message")
	}
	pub.Pub(t, "c/1", 1, []byte("two"))
	a.Expect(t, "c/1", []byte("two"))
	if !cached(b, "c/1") {
		t.Fatal("c/1 was not remembered after its second message")
	}
	pub.Pub(t, "c/1", 1, []byte("two more"))
	a.Expect(t, "c/1", []byte("two more")) // from the cache

	// SUBSCRIBE: the next message reaches the new subscriber.
	bc := testutil.DialV5(t, addr, "b")
	bc.Sub(t, "m/b", 1)
	bc.Sub(t, "c/1", 0)
	pub.Pub(t, "c/1", 1, []byte("three"))
	a.Expect(t, "c/1", []byte("three"))
	if m := bc.Expect(t, "c/1", []byte("three")); m.QoS != 0 {
		t.Fatalf("delivered at QoS %d, subscribed at 0", m.QoS)
	}
	// A new QoS for the same filter.
	bc.Sub(t, "c/1", 1)
	pub.Pub(t, "c/1", 1, []byte("four"))
	a.Expect(t, "c/1", []byte("four"))
	if m := bc.Expect(t, "c/1", []byte("four")); m.QoS != 1 {
		t.Fatalf("delivered at QoS %d after subscribing again at 1", m.QoS)
	}
	// UNSUBSCRIBE: nothing more for it.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := bc.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{"c/1"}}); err != nil {
		t.Fatal(err)
	}
	pub.Pub(t, "c/1", 1, []byte("five"))
	a.Expect(t, "c/1", []byte("five"))
	noMessage(t, pub, bc, "m/b")

	// The management API's subscribe and unsubscribe.
	if res, found := b.Subscribe("b", []string{"c/1"}, 1); !found || len(res) != 1 || res[0].Code >= 0x80 {
		t.Fatalf("API subscribe: %+v %v", res, found)
	}
	pub.Pub(t, "c/1", 1, []byte("six"))
	a.Expect(t, "c/1", []byte("six"))
	bc.Expect(t, "c/1", []byte("six"))
	if removed, found := b.Unsubscribe("b", []string{"c/1"}); !found || len(removed) != 1 {
		t.Fatalf("API unsubscribe: %v %v", removed, found)
	}
	pub.Pub(t, "c/1", 1, []byte("seven"))
	a.Expect(t, "c/1", []byte("seven"))
	noMessage(t, pub, bc, "m/b")

	// A session that ends with its connection: its subscriptions go.
	if err := a.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "a's session gone", func() bool {
		_, ok := b.Server().Clients.Get("a")
		return !ok
	})
	pub.Pub(t, "c/1", 1, []byte("eight"))
	if !cached(b, "c/1") {
		t.Fatal("c/1 not remembered")
	}
	if v, _ := b.subs.m.Load("c/1"); len(v.(*subEntry).subs) != 0 {
		t.Fatalf("c/1 still has subscribers after a's session ended: %+v", v.(*subEntry).subs)
	}

	// A kept session resumed on a new connection: its subscriptions come
	// back with it (mochi's inheritance) and the next message reaches it.
	p, err := testutil.TryDialV5(addr, "p", false)
	if err != nil {
		t.Fatal(err)
	}
	p.Sub(t, "c/1", 1)
	pub.Pub(t, "c/1", 1, []byte("nine"))
	p.Expect(t, "c/1", []byte("nine"))
	p2, err := testutil.TryDialV5(addr, "p", false) // takes the session over
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p2.Disconnect(&paho.Disconnect{}) })
	pub.Pub(t, "c/1", 1, []byte("ten"))
	p2.ExpectAfterTakeover(t, "c/1", []byte("ten"), []byte("nine"))
	if !cached(b, "c/1") {
		t.Fatal("c/1 not remembered after the takeover")
	}
}

// TestSubscriberCacheBetweenBeginAndEnd: while a change is under way the
// cache is not used, and what was looked up before it is not used after.
func TestSubscriberCacheBetweenBeginAndEnd(t *testing.T) {
	var c subCache
	idx := mqtt.NewTopicsIndex()
	if e, subs := c.get(idx, "a/b"); e != nil || len(subs.Subscriptions) != 0 {
		t.Fatalf("the first lookup is not remembered: %+v", e)
	}
	if e, _ := c.get(idx, "a/b"); e == nil || len(e.subs) != 0 {
		t.Fatalf("no subscribers: %+v", e)
	}
	c.begin()
	idx.Subscribe("x", packets.Subscription{Filter: "a/+"})
	e, subs := c.get(idx, "a/b")
	if e != nil || len(subs.Subscriptions) != 1 {
		t.Fatalf("during a change: entry %+v, lookup %+v", e, subs)
	}
	c.end()
	if e, _ := c.get(idx, "a/b"); e == nil || len(e.subs) != 1 || e.subs[0].client != "x" {
		t.Fatalf("after the change: %+v", e)
	}
	if e, _ := c.get(idx, "a/b"); e == nil || len(e.subs) != 1 {
		t.Fatalf("remembered: %+v", e)
	}
	// Shared groups are looked up every time.
	idx.Subscribe("y", packets.Subscription{Filter: "$share/g/a/b"})
	c.changed()
	if e, subs := c.get(idx, "a/b"); e != nil || len(subs.Shared) != 1 || len(subs.Subscriptions) != 1 {
		t.Fatalf("with a shared group: entry %+v, lookup %+v", e, subs)
	}
}

// TestSubscriberCacheBounded: distinct topics looked up once are not
// remembered; looked up twice, the cache holds at most subCacheSize of
// them and their subscribers.
func TestSubscriberCacheBounded(t *testing.T) {
	var c subCache
	idx := mqtt.NewTopicsIndex()
	idx.Subscribe("x", packets.Subscription{Filter: "#"})
	idx.Subscribe("y", packets.Subscription{Filter: "t/+"})
	for i := range 4 * seenSlots {
		if e, subs := c.get(idx, fmt.Sprintf("once/%d", i)); e != nil || len(subs.Subscriptions) != 1 {
			t.Fatalf("once/%d: %+v %+v", i, e, subs)
		}
	}
	if n := c.n.Load(); n != 0 {
		t.Fatalf("%d remembered of topics looked up once", n)
	}
	for i := range 2 * subCacheSize {
		topic := fmt.Sprintf("t/%d", i)
		c.get(idx, topic)
		if e, _ := c.get(idx, topic); e == nil || len(e.subs) != 2 {
			t.Fatalf("%s: %+v", topic, e)
		}
		if n := c.n.Load(); n > subCacheSize {
			t.Fatalf("%d remembered", n)
		}
	}
	held := 0
	c.m.Range(func(any, any) bool { held++; return true })
	if held*3 > subCacheSize {
		t.Fatalf("%d entries held", held)
	}
}

// TestSharedOnlyReachesNoPlainSubscriber: a message a peer sends on for
// shared groups alone reaches no plain subscriber here, even with no
// group here to choose from (the cached path and mochi's alike).
func TestSharedOnlyReachesNoPlainSubscriber(t *testing.T) {
	b := startBroker(t, testConfig())
	addr := b.Addrs()["tcp"]
	peer := b.Server().NewClient(nil, "cluster", ReservedClientIDPrefix+"peer", true)
	peer.Properties.ProtocolVersion = 5
	only := false
	b.SetSharedSelector(func(subs *mqtt.Subscribers, pk packets.Packet) *mqtt.Subscribers {
		if only && pk.Origin == peer.ID {
			subs.Subscriptions = map[string]packets.Subscription{}
		}
		return subs
	}, func(origin string) bool { return only && origin == peer.ID })
	s := testutil.DialV5(t, addr, "s")
	s.Sub(t, "g/1", 1)
	s.Sub(t, "m/s", 1)
	pub := testutil.DialV5(t, addr, "pub")
	inject := func(payload string) {
		t.Helper()
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: "g/1", Payload: []byte(payload), PacketID: 1}
		if err := b.Server().InjectPacket(peer, pk); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 2 { // the first looks up in mochi's index, the second in the cache
		only = false
		if round == 0 {
			b.subs.changed()
		}
		inject(fmt.Sprintf("plain %d", round))
		s.Expect(t, "g/1", []byte(fmt.Sprintf("plain %d", round)))
		only = true
		if round == 0 {
			b.subs.changed()
		} else if !cached(b, "g/1") {
			t.Fatal("g/1 not remembered")
		}
		inject(fmt.Sprintf("shared only %d", round))
		noMessage(t, pub, s, "m/s")
	}
}

var lookupSink *mqtt.Subscribers

// BenchmarkSubscriberLookup: mochi's lookup against the cache, for one
// topic again and again and for a stream of distinct topics (the worst
// case: every lookup misses and is remembered).
func BenchmarkSubscriberLookup(bm *testing.B) {
	idx := mqtt.NewTopicsIndex()
	for i := range 1000 {
		idx.Subscribe(fmt.Sprintf("c%d", i), packets.Subscription{Filter: fmt.Sprintf("dev/%d/+", i)})
	}
	idx.Subscribe("all", packets.Subscription{Filter: "dev/#"})
	topics := make([]string, 1<<16)
	for i := range topics {
		topics[i] = fmt.Sprintf("dev/%d/%d", i%1000, i)
	}
	bm.Run("mochi", func(bm *testing.B) {
		for i := 0; i < bm.N; i++ {
			lookupSink = idx.Subscribers("dev/7/temp") // kept, as the node keeps it
		}
	})
	bm.Run("cached", func(bm *testing.B) {
		var c subCache
		for i := 0; i < bm.N; i++ {
			c.get(idx, "dev/7/temp")
		}
	})
	bm.Run("mochi-distinct", func(bm *testing.B) {
		for i := 0; i < bm.N; i++ {
			lookupSink = idx.Subscribers(topics[i&(len(topics)-1)])
		}
	})
	bm.Run("cached-distinct", func(bm *testing.B) {
		var c subCache
		for i := 0; i < bm.N; i++ {
			c.get(idx, topics[i&(len(topics)-1)])
		}
	})
}
