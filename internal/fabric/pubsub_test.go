package fabric_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"go.uber.org/goleak"

	"emqxgo/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testutil.IgnoreSerf()...) }

func TestCrossNodePubSubAllQoS(t *testing.T) {
	t.Parallel()
	ns := cluster(t, 3)
	a, b, c := ns[0], ns[1], ns[2]
	subB := testutil.DialV5(t, b.Addr, "subB")
	subC := testutil.DialV5(t, c.Addr, "subC")
	subB.Sub(t, "room/+/temp", 2) // wildcard
	subC.Sub(t, "room/1/temp", 2) // exact
	waitRoute(t, a, "room/1/temp", b, c)
	pub := testutil.DialV5(t, a.Addr, "pub")
	for qos := byte(0); qos <= 2; qos++ {
		payload := []byte(fmt.Sprintf("q%d", qos))
		pub.Pub(t, "room/1/temp", qos, payload)
		for _, s := range []*testutil.V5{subB, subC} {
			if m := s.Expect(t, "room/1/temp", payload); m.QoS != qos {
				t.Fatalf("qos %d arrived as %d", qos, m.QoS)
			}
		}
	}
	// Nothing duplicated.
	for _, s := range []*testutil.V5{subB, subC} {
		select {
		case m := <-s.Msgs:
			t.Fatalf("duplicate or stray message %s %q", m.Topic, m.Payload)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func TestMQTT5PropertiesSurviveTheHop(t *testing.T) {
	t.Parallel()
	ns := cluster(t, 2)
	a, b := ns[0], ns[1]
	sub := testutil.DialV5(t, b.Addr, "props-sub")
	sub.Sub(t, "req/#", 1)
	waitRoute(t, a, "req/x", b)
	pub := testutil.DialV5(t, a.Addr, "props-pub")
	expiry := uint32(120)
	pfi := byte(1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := pub.Publish(ctx, &paho.Publish{Topic: "req/x", QoS: 1, Payload: []byte("{}"), Properties: &paho.PublishProperties{
		ContentType: "application/json", ResponseTopic: "resp/x", CorrelationData: []byte{1, 2, 3},
		MessageExpiry: &expiry, PayloadFormat: &pfi,
		User: paho.UserProperties{{Key: "k1", Value: "v1"}, {Key: "k2", Value: "v2"}, {Key: "k1", Value: "again"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	m := sub.Expect(t, "req/x", []byte("{}"))
	p := m.Properties
	if p == nil || p.ContentType != "application/json" || p.ResponseTopic != "resp/x" || !bytes.Equal(p.CorrelationData, []byte{1, 2, 3}) {
		t.Fatalf("properties lost: %+v", p)
	}
	if p.MessageExpiry == nil || *p.MessageExpiry == 0 || *p.MessageExpiry > expiry {
		t.Fatalf("message expiry %v, want remaining lifetime <= %d", p.MessageExpiry, expiry)
	}
	if p.PayloadFormat == nil || *p.PayloadFormat != 1 {
		t.Fatalf("payload format %v", p.PayloadFormat)
	}
	want := paho.UserProperties{{Key: "k1", Value: "v1"}, {Key: "k2", Value: "v2"}, {Key: "k1", Value: "again"}}
	if len(p.User) != len(want) {
		t.Fatalf("user properties %v", p.User)
	}
	for i := range want {
		if p.User[i] != want[i] {
			t.Fatalf("user properties %v, want %v (order kept)", p.User, want)
		}
	}
}

func TestRouteWithdrawnAndStoppedNodeDropped(t *testing.T) {
	t.Parallel()
	ns := cluster(t, 3)
	a, b, c := ns[0], ns[1], ns[2]
	sub := testutil.DialV5(t, b.Addr, "w-sub")
	sub.Sub(t, "w/t", 1)
	waitRoute(t, a, "w/t", b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := sub.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{"w/t"}}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "route withdrawn on a", func() bool { return len(a.N.Fabric().RouteNodes("w/t")) == 0 })
	subC := testutil.DialV5(t, c.Addr, "w-subC")
	subC.Sub(t, "w/#", 0)
	waitRoute(t, a, "w/t", c)
	c.Halt()
	testutil.Eventually(t, 10*time.Second, "stopped node's routes dropped on a", func() bool { return len(a.N.Fabric().RouteNodes("w/t")) == 0 })
}

// TestExpiredSessionLeavesNoRoute: a persistent session that expires takes
// its routes with it.
func TestExpiredSessionLeavesNoRoute(t *testing.T) {
	t.Parallel()
	ns := cluster(t, 2)
	a, b := ns[0], ns[1]
	conn, err := net.Dial("tcp", b.Addr)
	if err != nil {
		t.Fatal(err)
	}
	cl := paho.NewClient(paho.ClientConfig{Conn: conn, ClientID: "short"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	expiry := uint32(1)
	if _, err := cl.Connect(ctx, &paho.Connect{ClientID: "short", KeepAlive: 30, Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "ghost/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	waitRoute(t, a, "ghost/x", b)
	_ = cl.Disconnect(&paho.Disconnect{})
	// Offline but not expired yet: the route stays (messages queue for it).
	if len(a.N.Fabric().RouteNodes("ghost/x")) != 1 {
		t.Fatal("route dropped while the session lives")
	}
	testutil.Eventually(t, 10*time.Second, "route gone after the session expired", func() bool {
		return len(a.N.Fabric().RouteNodes("ghost/x")) == 0
	})
}

// TestRestartedNodeTakesRoutesBeforeClients: a node that restarts accepts
// MQTT clients only once it has its peers' routes, so the very first publish
// of its first client reaches a subscriber on another node.
func TestRestartedNodeTakesRoutesBeforeClients(t *testing.T) {
	t.Parallel()
	ns := cluster(t, 2)
	a, b := ns[0], ns[1]
	sub := testutil.DialV5(t, b.Addr, "boot-sub")
	sub.Sub(t, "boot/t", 1)
	waitRoute(t, a, "boot/t", b)
	for i := 0; i < 3; i++ {
		a.Halt()
		a.Run() // same home: it rejoins from its member record
		pub := testutil.DialV5(t, a.Addr, fmt.Sprintf("boot-pub-%d", i))
		payload := []byte(fmt.Sprintf("first after restart %d", i))
		pub.Pub(t, "boot/t", 1, payload)
		sub.Expect(t, "boot/t", payload)
		_ = pub.Disconnect(&paho.Disconnect{})
	}
}
