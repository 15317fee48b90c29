package fabric_test

import (
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/testutil"
)

// dropWithDelayedWill connects id to addr with a will delayed by 2 s and a
// kept session, then cuts the connection without DISCONNECT.
func dropWithDelayedWill(t *testing.T, addr, id, topic string) {
	t.Helper()
	delay, exp := uint32(2), uint32(60)
	v, err := testutil.TryConnectV5(addr, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30,
		Properties:     &paho.ConnectProperties{SessionExpiryInterval: &exp},
		WillMessage:    &paho.WillMessage{Topic: topic, QoS: 1, Payload: []byte("gone")},
		WillProperties: &paho.WillProperties{WillDelayInterval: &delay}})
	if err != nil {
		t.Fatal(err)
	}
	v.Conn.Close()
}

// TestDelayedWillCancelledByReconnectElsewhere: a client whose connection
// on a dropped with a delayed will and that reconnects to its session on b
// before the delay has no will sent [MQTT-3.1.3-9] (a published it after
// the delay); one that does not reconnect has its will sent, cluster-wide.
func TestDelayedWillCancelledByReconnectElsewhere(t *testing.T) {
	t.Parallel()
	ns := cluster(t, 2)
	a, b := ns[0], ns[1]
	onA := testutil.DialV5(t, a.Addr, "will-sub-a")
	onA.Sub(t, "dwill/#", 1)
	onB := testutil.DialV5(t, b.Addr, "will-sub-b")
	onB.Sub(t, "dwill/#", 1)
	waitRoute(t, a, "dwill/x", b)
	waitRoute(t, b, "dwill/x", a)
	dropWithDelayedWill(t, a.Addr, "comes-back", "dwill/back")
	dropWithDelayedWill(t, a.Addr, "stays-away", "dwill/away")
	// a has seen the connection drop (its will's delay runs) before the
	// client comes back on b.
	testutil.Eventually(t, 5*time.Second, "a sees comes-back's connection closed", func() bool {
		cl, ok := a.N.Broker().Server().Clients.Get("comes-back")
		return ok && cl.Closed()
	})
	back, err := testutil.TryDialV5(b.Addr, "comes-back", false)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = back.Disconnect(&paho.Disconnect{}) }()
	for _, s := range []*testutil.V5{onA, onB} {
		s.Expect(t, "dwill/away", []byte("gone")) // within Expect's 10 s
	}
	deadline := time.After(3 * time.Second) // past the 2 s delay of both
	for {
		select {
		case m := <-onA.Msgs:
			t.Fatalf("subscriber on a got %s after its client moved to b", m.Topic)
		case m := <-onB.Msgs:
			t.Fatalf("subscriber on b got %s after its client moved to b", m.Topic)
		case <-deadline:
			return
		}
	}
}
