package e2e

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"emqxgo/internal/testutil"
)

// TestClusterOneBroker: three node processes behave as one broker for real
// MQTT clients, and stay responsive with 10k clients connected across them.
func TestClusterOneBroker(t *testing.T) {
	t.Parallel()
	ms := trio(t)
	for _, m := range ms {
		m.start()
	}
	ms[1].must(0, "", "emqx_ctl", "cluster", "join", ms[0].name)
	ms[2].must(0, "", "emqx_ctl", "cluster", "join", ms[0].name)
	addr := make([]string, 3)
	for i, m := range ms {
		m.waitStatus(statusLine(names(ms...)), 10*time.Second)
		addr[i] = m.info().Listeners["tcp"]
	}
	sub := testutil.DialV5(t, addr[2], "one-sub")
	sub.Sub(t, "one/#", 1)
	pub := testutil.DialV5(t, addr[0], "one-pub")
	testutil.Eventually(t, 5*time.Second, "cross-node delivery", func() bool {
		pub.Pub(t, "one/probe", 0, []byte("p"))
		select {
		case <-sub.Msgs:
			return true
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
	for len(sub.Msgs) > 0 {
		<-sub.Msgs
	}
	pub.Pub(t, "one/x", 1, []byte("hello"))
	sub.Expect(t, "one/x", []byte("hello"))

	// 10k clients, spread over the nodes.
	const clients = 10000
	var conns []net.Conn
	var mu sync.Mutex
	var failed atomic.Int64
	sem := make(chan struct{}, 100)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < clients; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addr[i%3], 10*time.Second)
			if err != nil {
				failed.Add(1)
				return
			}
			_ = c.SetDeadline(time.Now().Add(60 * time.Second))
			_, _ = c.Write(testutil.ConnectPacket(fmt.Sprintf("idle-%d", i), 4))
			ack := make([]byte, 4)
			if _, err := io.ReadFull(c, ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
				failed.Add(1)
				c.Close()
				return
			}
			_ = c.SetDeadline(time.Time{})
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	if f := failed.Load(); f != 0 {
		t.Fatalf("%d of %d connections failed", f, clients)
	}
	t.Logf("%d clients connected across 3 nodes in %s", clients, time.Since(start))
	for _, m := range ms {
		for _, args := range [][]string{{"status"}, {"cluster", "status"}} {
			s := time.Now()
			m.must(0, "", "emqx_ctl", args...)
			if d := time.Since(s); d > 3*time.Second {
				t.Fatalf("emqx_ctl %v on %s took %s with %d clients", args, m.name, d, clients)
			}
		}
	}
	s := time.Now()
	pub.Pub(t, "one/y", 1, []byte("still"))
	sub.Expect(t, "one/y", []byte("still"))
	t.Logf("cross-node QoS 1 round trip with %d clients connected: %s", clients, time.Since(s))
}
