package docker

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/testutil"
)

// span is a period during which a subscriber was connected and subscribed.
type span struct{ from, to time.Time }

type rollSub struct {
	mu    sync.Mutex
	spans []span
	got   map[[2]uint32]int // (publisher, seq) -> times received
}

type rollPub struct {
	mu    sync.Mutex
	acked map[uint32]time.Time // seq -> when the PUBACK came
}

// keepConnected runs fn with a fresh connection to addr until ctx ends,
// reconnecting whenever the node goes away.
func keepConnected(ctx context.Context, addr, id string, clean bool, fn func(c *testutil.V5) (end func())) {
	for ctx.Err() == nil {
		c, err := testutil.TryDialV5(addr, id, clean)
		if err != nil {
			select {
			case <-time.After(200 * time.Millisecond):
			case <-ctx.Done():
			}
			continue
		}
		end := fn(c)
		select {
		case <-c.Done():
		case <-ctx.Done():
			_ = c.Disconnect(&paho.Disconnect{})
		}
		end()
	}
}

// TestRollingRestart restarts the three nodes one at a time while a
// publisher on each node sends QoS 1 at a steady rate to subscribers on
// every node. A message whose publisher got a PUBACK is never lost for a
// subscriber that was connected (on a node that stayed up) around it.
func TestRollingRestart(t *testing.T) {
	t.Parallel()
	_, ns := trio(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	subs := make([]*rollSub, 3)
	pubs := make([]*rollPub, 3)
	for i, n := range ns {
		s := &rollSub{got: map[[2]uint32]int{}}
		subs[i] = s
		wg.Add(1)
		go func(addr string, i int) {
			defer wg.Done()
			keepConnected(ctx, addr, fmt.Sprintf("roll-sub-%d", i), false, func(c *testutil.V5) func() {
				sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
				_, err := c.Subscribe(sctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "roll/#", QoS: 1}}})
				scancel()
				from := time.Now()
				if err != nil {
					from = time.Now().Add(time.Hour) // not subscribed: this span counts for nothing
				}
				stop := make(chan struct{})
				go func() {
					for {
						select {
						case m := <-c.Msgs:
							k := [2]uint32{binary.BigEndian.Uint32(m.Payload[:4]), binary.BigEndian.Uint32(m.Payload[4:])}
							s.mu.Lock()
							s.got[k]++
							s.mu.Unlock()
						case <-stop:
							return
						}
					}
				}()
				return func() {
					close(stop)
					s.mu.Lock()
					s.spans = append(s.spans, span{from, time.Now()})
					s.mu.Unlock()
				}
			})
		}(n.addr, i)
		p := &rollPub{acked: map[uint32]time.Time{}}
		pubs[i] = p
		wg.Add(1)
		go func(addr string, i int) {
			defer wg.Done()
			var seq uint32
			keepConnected(ctx, addr, fmt.Sprintf("roll-pub-%d", i), true, func(c *testutil.V5) func() {
				done := make(chan struct{})
				go func() {
					defer close(done)
					tick := time.NewTicker(20 * time.Millisecond) // 50 msg/s per publisher
					defer tick.Stop()
					for {
						select {
						case <-tick.C:
						case <-c.Done():
							return
						case <-ctx.Done():
							return
						}
						seq++
						var b [8]byte
						binary.BigEndian.PutUint32(b[:4], uint32(i))
						binary.BigEndian.PutUint32(b[4:], seq)
						pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
						_, err := c.Publish(pctx, &paho.Publish{Topic: fmt.Sprintf("roll/%d", i), QoS: 1, Payload: b[:]})
						pcancel()
						if err == nil {
							p.mu.Lock()
							p.acked[seq] = time.Now()
							p.mu.Unlock()
						}
					}
				}()
				return func() { <-done }
			})
		}(n.addr, i)
	}
	time.Sleep(3 * time.Second) // steady traffic before the first restart
	start := time.Now()
	for _, n := range ns {
		docker(t, "restart", "-t", "20", n.container)
		for _, m := range ns {
			m.waitStatus(statusLine(names(ns...)), 30*time.Second)
		}
		time.Sleep(2 * time.Second) // clients reconnect and traffic settles between restarts
	}
	took := time.Since(start)
	time.Sleep(3 * time.Second)
	cancel()
	wg.Wait()

	// A message is required for a subscriber that was subscribed from
	// before the PUBACK (0.5 s before: its route must have reached the
	// publisher's node) until well after it (1 s for delivery).
	var lost, dup, required, delivered int
	for si, s := range subs {
		// A reader of the last connection may still be counting a late
		// copy: read under its lock.
		s.mu.Lock()
		defer s.mu.Unlock()
		for pi, p := range pubs {
			for seq, at := range p.acked {
				n := s.got[[2]uint32{uint32(pi), seq}]
				if n > 1 {
					dup += n - 1
				}
				if n > 0 {
					delivered++
				}
				for _, sp := range s.spans {
					if sp.from.Add(500*time.Millisecond).Before(at) && sp.to.After(at.Add(time.Second)) {
						required++
						if n == 0 {
							lost++
							t.Errorf("subscriber %d lost publisher %d seq %d (acked %s)", si, pi, seq, at.Format("15:04:05.000"))
						}
						break
					}
				}
			}
		}
	}
	t.Logf("rolling restart of 3 nodes in %s: %d required deliveries, %d lost, %d duplicated, %d delivered in all", took.Round(time.Millisecond), required, lost, dup, delivered)
	record("rolling restart, QoS 1 at 3x50 msg/s, persistent subscribers", "30s per node", took.Round(time.Second).String(), lost, dup)
	if required == 0 {
		t.Fatal("no delivery was required: the test measured nothing")
	}
}
