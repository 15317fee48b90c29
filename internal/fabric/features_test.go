package fabric_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/broker"
	"emqxgo/internal/testutil"
)

func TestRetainedClusterWide(t *testing.T) {
	t.Parallel()
	net := testutil.Subnet(t)
	a := start(t, fmt.Sprintf("emqx1@127.0.%d.1", net))
	b := start(t, fmt.Sprintf("emqx2@127.0.%d.2", net))
	join(t, b, a)
	pub := testutil.DialV5(t, a.Addr, "rpub")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	publish := func(c *testutil.V5, topic, payload string) {
		t.Helper()
		if _, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Retain: true, Payload: []byte(payload)}); err != nil {
			t.Fatal(err)
		}
	}
	publish(pub, "r/1", "one")
	publish(pub, "r/2", "two")
	// A late subscriber on b gets what was retained on a.
	expectRetained := func(n *tnode, filter string, want map[string]string) {
		t.Helper()
		testutil.Eventually(t, 10*time.Second, fmt.Sprintf("%s holds %v", n.Name, want), func() bool {
			c, err := testutil.TryDialV5(n.Addr, fmt.Sprintf("probe-%d", time.Now().UnixNano()), true)
			if err != nil {
				return false
			}
			defer c.Disconnect(&paho.Disconnect{})
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer scancel()
			if _, err := c.Subscribe(sctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}}); err != nil {
				return false
			}
			got := map[string]string{}
			for {
				select {
				case m := <-c.Msgs:
					if !m.Retain {
						return false
					}
					got[m.Topic] = string(m.Payload)
					continue
				case <-time.After(300 * time.Millisecond):
				}
				break
			}
			if len(got) != len(want) {
				return false
			}
			for k, v := range want {
				if got[k] != v {
					return false
				}
			}
			return true
		})
	}
	expectRetained(b, "r/#", map[string]string{"r/1": "one", "r/2": "two"})
	// Clearing on b clears everywhere; newest wins.
	pubB := testutil.DialV5(t, b.Addr, "rpubB")
	publish(pubB, "r/1", "")
	publish(pubB, "r/2", "two-b")
	expectRetained(a, "r/#", map[string]string{"r/2": "two-b"})
	expectRetained(b, "r/#", map[string]string{"r/2": "two-b"})
	// A node that joins later gets the retained set.
	c := start(t, fmt.Sprintf("emqx3@127.0.%d.3", net))
	join(t, c, b)
	expectRetained(c, "r/#", map[string]string{"r/2": "two-b"})
}

// collect subscribes clients and records which client got which payload.
type collector struct {
	mu  sync.Mutex
	got map[string][]string // payload -> receiving clients
}

func (c *collector) add(t *testing.T, client string, v *testutil.V5) {
	v.Each(t, func(m *paho.Publish) {
		c.mu.Lock()
		c.got[string(m.Payload)] = append(c.got[string(m.Payload)], client)
		c.mu.Unlock()
	})
}

func (c *collector) snapshot() map[string][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]string{}
	for k, v := range c.got {
		out[k] = append([]string(nil), v...)
	}
	return out
}

func TestSharedSubscriptionsExactlyOnce(t *testing.T) {
	for _, strategy := range []string{"random", "round_robin", "sticky", "hash_clientid", "hash_topic", "local"} {
		t.Run(strategy, func(t *testing.T) {
			t.Parallel()
			ns := cluster(t, 3, "EMQX_BROKER__SHARED_SUBSCRIPTION_STRATEGY="+strategy)
			col := &collector{got: map[string][]string{}}
			for i, n := range ns {
				for j := 0; j < 2; j++ {
					id := fmt.Sprintf("m%d%d", i, j)
					v := testutil.DialV5(t, n.Addr, id)
					filter := "$share/g1/jobs/+"
					if j == 1 {
						filter = "$queue/jobs/+" // EMQX's group-less form: its own group
					}
					v.Sub(t, filter, 1)
					col.add(t, id, v)
				}
			}
			for _, n := range ns {
				testutil.Eventually(t, 10*time.Second, "shared members known on "+n.Name, func() bool {
					return len(n.N.Fabric().RouteNodes("jobs/x")) == 2
				})
			}
			const total = 150
			pubs := []*testutil.V5{testutil.DialV5(t, ns[0].Addr, "p0"), testutil.DialV5(t, ns[1].Addr, "p1")}
			for i := 0; i < total; i++ {
				pubs[i%2].Pub(t, fmt.Sprintf("jobs/%d", i%7), 1, []byte(fmt.Sprint(i)))
			}
			// Each message: exactly one member of g1 and one of $queue.
			testutil.Eventually(t, 15*time.Second, "every message delivered once per group", func() bool {
				return len(col.snapshot()) == total && countAll(col.snapshot()) >= 2*total
			})
			time.Sleep(300 * time.Millisecond) // a duplicate would arrive now; then count
			snap := col.snapshot()
			used := map[string]bool{}
			for p, rcv := range snap {
				g1, q := 0, 0
				for _, c := range rcv {
					used[c] = true
					if strings.HasSuffix(c, "0") {
						g1++
					} else {
						q++
					}
				}
				if g1 != 1 || q != 1 {
					t.Fatalf("message %s went to %v: want exactly one member per group", p, rcv)
				}
			}
			switch strategy {
			case "round_robin", "random":
				if len(used) != 6 {
					t.Fatalf("%s used only %v of 6 members", strategy, used)
				}
			case "sticky": // each publishing node sticks to one member per group
				if len(used) > 4 {
					t.Fatalf("sticky used %v, want at most one member per group per publishing node", used)
				}
			}
		})
	}
}

func countAll(m map[string][]string) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}

func TestTakeoverAcrossNodes(t *testing.T) {
	t.Parallel()
	ns := cluster(t, 3)
	a, b, c := ns[0], ns[1], ns[2]
	// Live takeover: the old connection gets DISCONNECT 0x8E.
	old := testutil.DialV5(t, a.Addr, "dup")
	nw := testutil.DialV5(t, b.Addr, "dup")
	select {
	case d := <-old.Disconnects:
		if d.ReasonCode != 0x8E {
			t.Fatalf("reason %#x, want 0x8E", d.ReasonCode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("old connection not taken over")
	}
	_ = nw

	// Offline session with queued QoS 1 moves to another node.
	s1, err := testutil.TryDialV5(a.Addr, "persist", false)
	if err != nil {
		t.Fatal(err)
	}
	s1.Sub(t, "q/#", 1)
	waitRoute(t, c, "q/1", a)
	_ = s1.Disconnect(&paho.Disconnect{ReasonCode: 0})
	pub := testutil.DialV5(t, c.Addr, "qpub")
	for i := 0; i < 5; i++ {
		pub.Pub(t, "q/1", 1, []byte(fmt.Sprint(i)))
	}
	// The five are queued in the offline session on a before it moves
	// (messages still crossing to a when the session leaves it are not
	// re-routed: see the fabric package notes).
	testutil.Eventually(t, 10*time.Second, "five messages queued on a", func() bool {
		return a.N.Broker().Queued("persist") == 5
	})
	s2, err := testutil.TryDialV5(b.Addr, "persist", false)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Disconnect(&paho.Disconnect{})
	if !s2.Connack.SessionPresent {
		t.Fatal("SessionPresent false after moving the session to another node")
	}
	for i := 0; i < 5; i++ {
		s2.Expect(t, "q/1", []byte(fmt.Sprint(i)))
	}
	// The subscription moved too: new publishes reach it on b, once.
	waitRoute(t, a, "q/2", b)
	pub.Pub(t, "q/2", 1, []byte("after"))
	s2.Expect(t, "q/2", []byte("after"))
	// a keeps the session's routes for broker.MoveGrace, forwarding what
	// they still match to b; then they go.
	testutil.Eventually(t, broker.MoveGrace+5*time.Second, "a no longer routes q/ to itself", func() bool {
		for _, n := range c.N.Fabric().RouteNodes("q/3") {
			if n == a.Name {
				return false
			}
		}
		return true
	})
}

func TestWillAcrossNodes(t *testing.T) {
	t.Parallel()
	ns := cluster(t, 2)
	a, b := ns[0], ns[1]
	sub := testutil.DialV5(t, b.Addr, "will-sub")
	sub.Sub(t, "wills/#", 1)
	waitRoute(t, a, "wills/x", b)
	conn, err := net.Dial("tcp", a.Addr)
	if err != nil {
		t.Fatal(err)
	}
	cl := paho.NewClient(paho.ClientConfig{Conn: conn, ClientID: "dies"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cl.Connect(ctx, &paho.Connect{ClientID: "dies", CleanStart: true, KeepAlive: 30, WillMessage: &paho.WillMessage{Topic: "wills/x", QoS: 1, Payload: []byte("gone")}}); err != nil {
		t.Fatal(err)
	}
	conn.Close() // no DISCONNECT: the will fires on a
	sub.Expect(t, "wills/x", []byte("gone"))
}

// TestDuplicateClientIDSettledOnMerge: the same client id connected on two
// nodes that were apart (a healed partition, here: two clusters joined) is
// settled when they link up: the newest connection wins.
func TestDuplicateClientIDSettledOnMerge(t *testing.T) {
	t.Parallel()
	net := testutil.Subnet(t)
	a := start(t, fmt.Sprintf("emqx1@127.0.%d.1", net))
	b := start(t, fmt.Sprintf("emqx2@127.0.%d.2", net))
	older := testutil.DialV5(t, a.Addr, "twin")
	newer := testutil.DialV5(t, b.Addr, "twin") // not clustered yet: no takeover
	join(t, b, a)
	select {
	case d := <-older.Disconnects:
		if d.ReasonCode != 0x8E {
			t.Fatalf("reason %#x", d.ReasonCode)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("older duplicate not disconnected after the merge")
	}
	select {
	case d := <-newer.Disconnects:
		t.Fatalf("newest connection disconnected (%#x)", d.ReasonCode)
	case <-time.After(500 * time.Millisecond):
	}
	newer.Sub(t, "twin/t", 0)
	newer.Pub(t, "twin/t", 0, []byte("ok"))
	newer.Expect(t, "twin/t", []byte("ok"))
}
