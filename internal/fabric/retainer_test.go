package fabric_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/testutil"
	"emqxgo/internal/testutil/testnode"
)

// retainedFor subscribes a new client on n to prefix/# and returns the
// retained messages it gets (topic -> payload): the client publishes a
// marker once subscribed, which its session queues behind them.
func retainedFor(t *testing.T, n *tnode, id, prefix string) map[string]string {
	t.Helper()
	c := testutil.DialV5(t, n.Addr, id)
	defer func() { _ = c.Disconnect(&paho.Disconnect{}) }()
	marker := "marker/" + id
	c.Sub(t, marker, 1)
	c.Sub(t, prefix+"/#", 1)
	c.Pub(t, marker, 1, []byte(id))
	got := map[string]string{}
	for {
		select {
		case m := <-c.Msgs:
			if m.Topic == marker {
				return got
			}
			if !m.Retain {
				t.Fatalf("%s: %s %q without the retain flag", id, m.Topic, m.Payload)
			}
			got[m.Topic] = string(m.Payload)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no marker within 10s (got %v)", id, got)
		}
	}
}

func pubRetained(t *testing.T, c *testutil.V5, topic string, payload []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Retain: true, Payload: payload}); err != nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
}

// waitRetained waits until every node's retained table and mochi's store
// hold exactly want for the topics under prefix.
func waitRetained(t *testing.T, prefix string, want map[string]string, ns ...*tnode) {
	t.Helper()
	for _, n := range ns {
		testutil.Eventually(t, 10*time.Second, fmt.Sprintf("%s retains %v", n.Name, want), func() bool {
			store := map[string]string{}
			for topic, pk := range n.N.Broker().Server().Topics.Retained.GetAll() {
				if strings.HasPrefix(topic, prefix+"/") {
					store[topic] = string(pk.Payload)
				}
			}
			return sameMap(store, want) && n.N.Fabric().RetainedTable().Len() == len(want)
		})
	}
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestRetainerMaxRetainedMessages: with retainer.max_retained_messages = 2
// and two topics retained in the cluster, a third topic's retained PUBLISH
// is delivered live but not retained on any node (counted); replacing a
// retained topic still works, and once one is cleared there is room again.
func TestRetainerMaxRetainedMessages(t *testing.T) {
	t.Parallel()
	ns := cluster(t, 2, "EMQX_RETAINER__MAX_RETAINED_MESSAGES=2")
	a, b := ns[0], ns[1]
	live := testutil.DialV5(t, b.Addr, "max-live")
	live.Sub(t, "max/#", 1)
	waitRoute(t, a, "max/3", b)
	pa := testutil.DialV5(t, a.Addr, "max-pub-a")
	pb := testutil.DialV5(t, b.Addr, "max-pub-b")
	pubRetained(t, pa, "max/1", []byte("one"))
	live.Expect(t, "max/1", []byte("one"))
	pubRetained(t, pb, "max/2", []byte("two"))
	live.Expect(t, "max/2", []byte("two"))
	waitRetained(t, "max", map[string]string{"max/1": "one", "max/2": "two"}, a, b)

	pubRetained(t, pa, "max/3", []byte("three"))
	live.Expect(t, "max/3", []byte("three")) // delivered all the same
	if full, _ := a.N.Fabric().RetainedRefused(); full != 1 {
		t.Fatalf("refused as full: %d, want 1", full)
	}
	for _, n := range ns {
		if got := retainedFor(t, n, "max-new-"+n.Name, "max"); !sameMap(got, map[string]string{"max/1": "one", "max/2": "two"}) {
			t.Fatalf("%s: a new subscriber got %v", n.Name, got)
		}
	}

	pubRetained(t, pb, "max/1", []byte("one again")) // replacing is allowed
	live.Expect(t, "max/1", []byte("one again"))
	waitRetained(t, "max", map[string]string{"max/1": "one again", "max/2": "two"}, a, b)
	pubRetained(t, pa, "max/2", nil) // a clear makes room
	live.Expect(t, "max/2", nil)
	waitRetained(t, "max", map[string]string{"max/1": "one again"}, a, b)
	pubRetained(t, pa, "max/3", []byte("three"))
	live.Expect(t, "max/3", []byte("three"))
	waitRetained(t, "max", map[string]string{"max/1": "one again", "max/3": "three"}, a, b)
	if got := retainedFor(t, b, "max-last", "max"); !sameMap(got, map[string]string{"max/1": "one again", "max/3": "three"}) {
		t.Fatalf("a new subscriber got %v", got)
	}
}

// TestRetainerMaxPayloadSize: a retained PUBLISH beyond
// retainer.max_payload_size is delivered but not retained; one at the
// limit is retained.
func TestRetainerMaxPayloadSize(t *testing.T) {
	t.Parallel()
	ns := cluster(t, 2, "EMQX_RETAINER__MAX_PAYLOAD_SIZE=16B")
	a, b := ns[0], ns[1]
	live := testutil.DialV5(t, b.Addr, "size-live")
	live.Sub(t, "size/#", 1)
	waitRoute(t, a, "size/big", b)
	pub := testutil.DialV5(t, a.Addr, "size-pub")
	big, fits := []byte("seventeen bytes!!"), []byte("sixteen bytes!!!")
	pubRetained(t, pub, "size/big", big)
	live.Expect(t, "size/big", big)
	pubRetained(t, pub, "size/fits", fits)
	live.Expect(t, "size/fits", fits)
	waitRetained(t, "size", map[string]string{"size/fits": string(fits)}, a, b)
	if _, tooBig := a.N.Fabric().RetainedRefused(); tooBig != 1 {
		t.Fatalf("refused as too big: %d, want 1", tooBig)
	}
	for _, n := range ns {
		if got := retainedFor(t, n, "size-new-"+n.Name, "size"); !sameMap(got, map[string]string{"size/fits": string(fits)}) {
			t.Fatalf("%s: a new subscriber got %v", n.Name, got)
		}
	}
}

// TestRetainerExpiryInterval: with retainer.expiry_interval = 2s a
// retained message without a message expiry of its own is delivered to new
// subscribers (without one) until it runs out, then dropped on every node;
// one with its own longer expiry stays.
func TestRetainerExpiryInterval(t *testing.T) {
	t.Parallel()
	ns := cluster(t, 2, "EMQX_RETAINER__EXPIRY_INTERVAL=2s")
	a, b := ns[0], ns[1]
	pub := testutil.DialV5(t, a.Addr, "ivl-pub")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	own := uint32(600)
	if _, err := pub.Publish(ctx, &paho.Publish{Topic: "ivl/own", QoS: 1, Retain: true, Payload: []byte("own"),
		Properties: &paho.PublishProperties{MessageExpiry: &own}}); err != nil {
		t.Fatal(err)
	}
	pubRetained(t, pub, "ivl/short", []byte("short"))
	waitRetained(t, "ivl", map[string]string{"ivl/own": "own", "ivl/short": "short"}, a, b)
	c := testutil.DialV5(t, b.Addr, "ivl-early")
	c.Sub(t, "ivl/short", 1)
	m := c.Expect(t, "ivl/short", []byte("short"))
	if m.Properties != nil && m.Properties.MessageExpiry != nil {
		t.Fatalf("retained message without expiry of its own delivered with one: %d", *m.Properties.MessageExpiry)
	}
	for _, n := range ns {
		testutil.Eventually(t, 10*time.Second, n.Name+" drops ivl/short", func() bool {
			_, stored := n.N.Broker().Server().Topics.Retained.Get("ivl/short")
			_, _, deleted, ok := n.N.Fabric().RetainedTable().VersionOf("ivl/short")
			return !stored && ok && deleted
		})
	}
	for _, n := range ns {
		if got := retainedFor(t, n, "ivl-late-"+n.Name, "ivl"); !sameMap(got, map[string]string{"ivl/own": "own"}) {
			t.Fatalf("%s: a new subscriber got %v", n.Name, got)
		}
	}
}

// TestRetainerStopPublishClearMsg: with retainer.stop_publish_clear_msg a
// retained PUBLISH with an empty payload clears the retained message on
// every node and reaches no subscriber.
func TestRetainerStopPublishClearMsg(t *testing.T) {
	t.Parallel()
	ns := cluster(t, 2, "EMQX_RETAINER__STOP_PUBLISH_CLEAR_MSG=true")
	a, b := ns[0], ns[1]
	local := testutil.DialV5(t, a.Addr, "stop-local")
	local.Sub(t, "stop/#", 1)
	remote := testutil.DialV5(t, b.Addr, "stop-remote")
	remote.Sub(t, "stop/#", 1)
	waitRoute(t, a, "stop/t", b)
	pub := testutil.DialV5(t, a.Addr, "stop-pub")
	pubRetained(t, pub, "stop/t", []byte("kept"))
	waitRetained(t, "stop", map[string]string{"stop/t": "kept"}, a, b)
	pubRetained(t, pub, "stop/t", nil)
	pub.Pub(t, "stop/after", 1, []byte("after")) // the clear is not delivered: this comes next
	for _, c := range []*testutil.V5{local, remote} {
		c.Expect(t, "stop/t", []byte("kept"))
		c.Expect(t, "stop/after", []byte("after"))
	}
	waitRetained(t, "stop", map[string]string{}, a, b)
	for _, n := range ns {
		if got := retainedFor(t, n, "stop-new-"+n.Name, "stop"); len(got) != 0 {
			t.Fatalf("%s: a new subscriber got %v", n.Name, got)
		}
	}
}

// storageRestart retains a message in a cluster of two nodes with
// retainer.storage_type st, restarts one node alone (it gets the message
// back from its peer whatever the storage), then stops both and starts
// them again from the same data dirs: it reports what a new subscriber on
// each gets then.
func storageRestart(t *testing.T, st string) []map[string]string {
	ns := cluster(t, 2, "EMQX_RETAINER__STORAGE_TYPE="+st)
	a, b := ns[0], ns[1]
	pub := testutil.DialV5(t, a.Addr, "st-pub")
	pubRetained(t, pub, "st/t", []byte("survivor"))
	_ = pub.Disconnect(&paho.Disconnect{})
	want := map[string]string{"st/t": "survivor"}
	waitRetained(t, "st", want, a, b)

	b.Halt()
	b.Run()
	testnode.WaitRunning(t, 10*time.Second, a, b)
	waitRetained(t, "st", want, b)
	if got := retainedFor(t, b, "st-alone", "st"); !sameMap(got, want) {
		t.Fatalf("%s restarted alone: a new subscriber got %v", b.Name, got)
	}

	a.Halt()
	b.Halt()
	a.Run()
	b.Run()
	testnode.WaitRunning(t, 10*time.Second, a, b)
	var out []map[string]string
	for _, n := range ns {
		out = append(out, retainedFor(t, n, "st-after-"+n.Name, "st"))
	}
	return out
}

// TestRetainerStorageDisc: with storage_type disc retained messages
// survive a restart of every node.
func TestRetainerStorageDisc(t *testing.T) {
	t.Parallel()
	for i, got := range storageRestart(t, "disc") {
		if !sameMap(got, map[string]string{"st/t": "survivor"}) {
			t.Fatalf("node %d after the whole cluster restarted: %v", i+1, got)
		}
	}
}

// TestRetainerStorageRAM: with storage_type ram (the default) a node
// restarting alone gets the retained messages from its peers, but they
// are gone once every node stopped.
func TestRetainerStorageRAM(t *testing.T) {
	t.Parallel()
	for i, got := range storageRestart(t, "ram") {
		if len(got) != 0 {
			t.Fatalf("node %d after the whole cluster restarted: %v", i+1, got)
		}
	}
}

// TestRetainerRefusesRetainedWill: a retained will beyond
// retainer.max_payload_size is delivered but not retained: the retained
// message the topic had stays, on every node.
func TestRetainerRefusesRetainedWill(t *testing.T) {
	t.Parallel()
	ns := cluster(t, 2, "EMQX_RETAINER__MAX_PAYLOAD_SIZE=8B")
	a, b := ns[0], ns[1]
	live := testutil.DialV5(t, b.Addr, "will-live")
	live.Sub(t, "will/#", 1)
	waitRoute(t, a, "will/t", b)
	pub := testutil.DialV5(t, a.Addr, "will-pub")
	pubRetained(t, pub, "will/t", []byte("old"))
	live.Expect(t, "will/t", []byte("old"))
	waitRetained(t, "will", map[string]string{"will/t": "old"}, a, b)
	long := []byte("a will too long to retain")
	v, err := testutil.TryConnectV5(a.Addr, &paho.Connect{ClientID: "will-owner", CleanStart: true, KeepAlive: 30,
		WillMessage: &paho.WillMessage{Topic: "will/t", QoS: 1, Retain: true, Payload: long}})
	if err != nil {
		t.Fatal(err)
	}
	_ = v.Conn.Close()
	live.Expect(t, "will/t", long)
	// mochi stores a will after it delivered it, then the retainer refuses it.
	testutil.Eventually(t, 10*time.Second, "the will refused as too big", func() bool {
		_, tooBig := a.N.Fabric().RetainedRefused()
		return tooBig == 1
	})
	waitRetained(t, "will", map[string]string{"will/t": "old"}, a, b)
	for _, n := range ns {
		if got := retainedFor(t, n, "will-new-"+n.Name, "will"); !sameMap(got, map[string]string{"will/t": "old"}) {
			t.Fatalf("%s: a new subscriber got %v", n.Name, got)
		}
	}
}
