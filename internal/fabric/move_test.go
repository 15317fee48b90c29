package fabric_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/testutil"
)

// TestSessionMovesLoseNothing: a subscriber with a kept session hops
// between two nodes while a publisher on a third sends QoS 1 at a steady
// rate: every acknowledged message reaches it, in order, none twice as
// new (a copy comes only as a resend, DUP 1). Messages still routed to the
// node a session left were lost before (21 of 4000 over 5 moves), and, once
// forwarded, arrived after newer ones sent straight to the new node.
func TestSessionMovesLoseNothing(t *testing.T) {
	t.Parallel()
	sessionMoves(t, 1500*time.Millisecond, 4000) // the 1.5 s hops
}

// TestSessionPingPongLosesNothing: the same with hops of 0.5 s between two
// nodes, where a node often gets the session back while it still forwards
// to the other: copies forwarded to the new node before the session's
// state came there went out again as new (DUP 0), and messages routed
// there while it released those it held overtook them.
func TestSessionPingPongLosesNothing(t *testing.T) {
	t.Parallel()
	sessionMoves(t, 500*time.Millisecond, 4000)
}

// sessionMoves moves a subscriber between two nodes every hop while n
// messages are published on a third.
func sessionMoves(t *testing.T, hop time.Duration, n int) {
	ns := cluster(t, 3)
	a, b, c := ns[0], ns[1], ns[2]
	const id = "hopper"
	first, err := testutil.TryDialV5(a.Addr, id, false)
	if err != nil {
		t.Fatal(err)
	}
	first.Sub(t, "hop/#", 1)
	waitRoute(t, c, "hop/x", a)
	pub := testutil.DialV5(t, c.Addr, "hop-pub")
	done := make(chan struct{})
	go func() { // about 700 messages a second
		defer close(done)
		for i := 1; i <= n; i++ {
			p := binary.BigEndian.AppendUint64(nil, uint64(i))
			if _, err := pub.Publish(t.Context(), &paho.Publish{Topic: "hop/x", QoS: 1, Payload: p}); err != nil {
				t.Errorf("publish %d: %v", i, err)
				return
			}
			if i%10 == 0 {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	got := map[uint64]bool{}
	last, moves := uint64(0), 0
	cur := first
	note := func(m *paho.Publish) {
		k := binary.BigEndian.Uint64(m.Payload)
		switch {
		case got[k] && !m.Duplicate(): // [MQTT-3.3.1-1]
			t.Fatalf("#%d came again as new (DUP 0)", k)
		case !got[k] && k < last:
			t.Fatalf("#%d after #%d", k, last)
		}
		got[k], last = true, max(last, k)
	}
	read := func(v *testutil.V5, until time.Time) {
		for time.Now().Before(until) && len(got) < n {
			select {
			case m := <-v.Msgs:
				note(m)
			case <-time.After(time.Until(until)):
			}
		}
	}
	// drain takes what a connection got before it closed (the client
	// acknowledged it: it is not sent again).
	drain := func(v *testutil.V5) {
		for {
			select {
			case m := <-v.Msgs:
				note(m)
			default:
				return
			}
		}
	}
	for nodes := []string{b.Addr, a.Addr}; len(got) < n; moves++ {
		read(cur, time.Now().Add(hop))
		if len(got) >= n {
			break
		}
		if moves > int(60*1500*time.Millisecond/hop) {
			var missing []int
			for i := 1; i <= n; i++ {
				if !got[uint64(i)] {
					missing = append(missing, i)
				}
			}
			t.Fatalf("%d of %d messages after %d moves; missing %v", len(got), n, moves, missing)
		}
		_ = cur.Disconnect(&paho.Disconnect{})
		<-cur.Done()
		drain(cur)
		next, err := testutil.TryDialV5(nodes[moves%2], id, false)
		if err != nil {
			t.Fatal(err)
		}
		if !next.Connack.SessionPresent {
			t.Fatal("session not found after a move")
		}
		cur = next
	}
	<-done
	_ = cur.Disconnect(&paho.Disconnect{})
	if moves < 2 {
		t.Fatalf("only %d moves during the run", moves)
	}
	var forwarded int64
	for _, nd := range ns {
		forwarded += nd.N.Broker().Drops().Forwarded
	}
	t.Logf("%d messages over %d moves; %d forwarded by the node a session had left", n, moves, forwarded)
}
