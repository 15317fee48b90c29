package metrics

import (
	"slices"
	"testing"
)

func TestDerived(t *testing.T) {
	var m Metrics
	m.Inc(PublishReceived[1])
	m.Inc(PublishReceived[0])
	m.Inc(Received[4]) // PUBACK
	m.Inc(Sent[2])     // CONNACK
	m.SetSource(DeliveryDroppedQueueFull, func() uint64 { return 3 })
	s := m.Snapshot()
	for id, want := range map[ID]uint64{PacketsReceived: 3, MessagesReceived: 2, PacketsPublishReceived: 2,
		MessagesQoS1Received: 1, PacketsSent: 1, ClientConnack: 1, MessagesAcked: 1,
		DeliveryDropped: 3, DeliveryDroppedQueueFull: 3} {
		if s[id] != want {
			t.Errorf("%s = %d, want %d", id, s[id], want)
		}
	}
	all := m.All()
	if len(all) != int(NumIDs) || !slices.IsSortedFunc(all, func(a, b Value) int {
		if a.Name < b.Name {
			return -1
		}
		return 1
	}) {
		t.Fatalf("All: %d, sorted?", len(all))
	}
	seen := map[string]bool{}
	for _, n := range names {
		if n == "" || seen[n] {
			t.Fatalf("name %q empty or twice", n)
		}
		seen[n] = true
	}
}

func TestStatsMax(t *testing.T) {
	var s Stats
	n := 5
	s.SetSource("connections", func() int { return n })
	s.All()
	n = 2
	if v, _ := s.Get("connections.count"); v != 2 {
		t.Fatalf("count %d", v)
	}
	if v, _ := s.Get("connections.max"); v != 5 {
		t.Fatalf("max %d", v)
	}
	if len(s.All()) != 22 {
		t.Fatal("22 stats")
	}
}

func BenchmarkInc(b *testing.B) {
	var m Metrics
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Inc(MessagesQoS0Received)
		}
	})
}
