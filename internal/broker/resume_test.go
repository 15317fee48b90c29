package broker

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/testutil"
)

// TestResumedBacklogInOrder: the messages queued for an offline session
// are delivered in the order they were published when it resumes (mochi
// shuffled those created within the same second).
func TestResumedBacklogInOrder(t *testing.T) {
	b := startBroker(t, testConfig())
	addr := b.Addrs()["tcp"]
	sub, err := testutil.TryDialV5(addr, "backlog", false)
	if err != nil {
		t.Fatal(err)
	}
	sub.Sub(t, "order/#", 1)
	_ = sub.Disconnect(&paho.Disconnect{})
	pub := testutil.DialV5(t, addr, "order-pub")
	const n = 900 // within the stored backlog (zone.external.max_mqueue_len 1000)
	for i := 1; i <= n; i++ {
		p := make([]byte, 8)
		binary.BigEndian.PutUint64(p, uint64(i))
		pub.Pub(t, "order/x", 1, p)
	}
	again, err := testutil.TryDialV5(addr, "backlog", false)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = again.Disconnect(&paho.Disconnect{}) }()
	if !again.Connack.SessionPresent {
		t.Fatal("session not resumed")
	}
	swaps, last := 0, uint64(0)
	for got := 0; got < n; got++ {
		select {
		case m := <-again.Msgs:
			v := binary.BigEndian.Uint64(m.Payload)
			if v < last {
				swaps++
			}
			last = max(last, v)
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d queued messages arrived", got, n)
		}
	}
	if swaps > 0 {
		t.Fatalf("%d messages of the resumed backlog arrived out of order", swaps)
	}
}
