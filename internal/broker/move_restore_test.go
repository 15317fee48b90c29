package broker

import (
	"slices"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

// TestRestoreDropsCopiesForwardedBefore: the node a session leaves
// forwards what is still delivered there as soon as it has let the session
// go, so copies can be queued on the new node before the session's state
// is restored there. One of a message the session had in flight on the
// old node (resent with DUP 1 on resume) or had queued there (restored
// ahead) must not stay queued as well: it would go out again as new.
func TestRestoreDropsCopiesForwardedBefore(t *testing.T) {
	b := startBroker(t, testConfig())
	pk := func(n byte) packets.Packet {
		return packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: "m/x", Payload: []byte{n}}
	}
	const id = "mover"
	b.DeliverDirect(id, pk(1), 101) // in flight on the old node
	b.DeliverDirect(id, pk(2), 102) // queued on the old node
	b.DeliverDirect(id, pk(4), 104) // new
	b.RestoreQueue(id, []Message{{Packet: pk(2), ID: 102}, {Packet: pk(3), ID: 103}}, []uint64{101})
	s := b.sessions.get(id)
	s.mu.Lock()
	var got []byte
	for _, m := range s.q[s.head:] {
		got = append(got, m.pk.Payload[0])
	}
	s.mu.Unlock()
	if want := []byte{2, 3, 4}; !slices.Equal(got, want) {
		t.Fatalf("queued %v after the restore, want %v", got, want)
	}
	if d := b.Drops().Duplicates; d != 2 {
		t.Errorf("%d copies counted, want 2", d)
	}
}
