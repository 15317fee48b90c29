package broker

import (
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"emqxgo/internal/testutil"
)

// TestMqueuePriorities: an offline session's queued messages come, on
// resume, in priority order (higher first, arrival order within one);
// topics not in mqueue_priorities have mqueue_default_priority; a full
// queue drops the oldest of the lowest priority.
func TestMqueuePriorities(t *testing.T) {
	// Published in this order, numbered 1..8.
	topics := []string{"pr/lo", "pr/mid", "pr/other", "pr/hi", "pr/lo", "pr/hi", "pr/mid", "pr/other"}
	for _, c := range []struct {
		name    string
		lines   []string
		want    []int
		dropped int64
	}{
		{"highest", []string{"zone.external.mqueue_default_priority = highest"}, []int{3, 8, 4, 6, 2, 7, 1, 5}, 0},
		// Full at 6: #7 (mid) drops #3 (other, the lowest); #8 (other) is
		// lower than all queued and dropped itself.
		{"lowest-full", []string{"zone.external.mqueue_default_priority = lowest", "zone.external.max_mqueue_len = 6"},
			[]int{4, 6, 2, 7, 1, 5}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := startBroker(t, testConfig(append([]string{"zone.external.mqueue_priorities = pr/hi=10,pr/mid=5,pr/lo=1"}, c.lines...)...))
			addr := b.Addrs()["tcp:external"]
			sub, _ := dialRaw(t, addr, 4, packets.ConnectParams{ClientIdentifier: "pq-sub"}, packets.Properties{})
			sub.subscribe("pr/#", 1)
			sub.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
			sub.c.Close()
			waitOffline(t, b, "pq-sub")
			pub, _ := dialRaw(t, addr, 4, packets.ConnectParams{ClientIdentifier: "pq-pub", Clean: true}, packets.Properties{})
			for i, topic := range topics {
				pub.send(publishPacket(topic, 1, uint16(i+1), seqPayload(i+1)))
				pub.expect(packets.Puback, uint16(i+1), 5*time.Second)
			}
			testutil.Eventually(t, 5*time.Second, "the messages queued", func() bool { return b.Queued("pq-sub") == len(c.want) })
			again, present := dialRaw(t, addr, 4, packets.ConnectParams{ClientIdentifier: "pq-sub"}, packets.Properties{})
			if !present {
				t.Fatal("session not resumed")
			}
			receiveInOrder(t, again, c.want, false)
			again.quiet(300*time.Millisecond, "after the queue")
			if d := b.Drops().QueueFull; d != c.dropped {
				t.Fatalf("dropped %d, want %d", d, c.dropped)
			}
		})
	}
}
