package fabric_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"emqxgo/internal/testutil"
)

// TestLargeMessagesCrossNodes: whatever a node accepts it delivers on
// other nodes too. A 20 MB QoS 1 message (mqtt.max_packet_size = 64MB) was
// acknowledged and delivered on its own node but never on another (the
// peer-link frame limit was 16 MB); a burst of 1 MB messages used to make
// batches larger than a frame, which were then never sent.
func TestLargeMessagesCrossNodes(t *testing.T) {
	t.Parallel()
	ns := cluster(t, 2, "EMQX_MQTT__MAX_PACKET_SIZE=64MB")
	sub := testutil.DialV5(t, ns[1].Addr, "big-sub")
	sub.Sub(t, "big/#", 1)
	waitRoute(t, ns[0], "big/x", ns[1])
	pub := testutil.DialV5(t, ns[0].Addr, "big-pub")
	huge := bytes.Repeat([]byte("0123456789abcdef"), 20<<20/16)
	pub.Pub(t, "big/huge", 1, huge)
	select {
	case m := <-sub.Msgs:
		if m.Topic != "big/huge" || !bytes.Equal(m.Payload, huge) {
			t.Fatalf("got %s with %d bytes, want big/huge with %d", m.Topic, len(m.Payload), len(huge))
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the 20 MB message never reached the other node")
	}
	const burst = 40
	for i := 0; i < burst; i++ {
		p := bytes.Repeat([]byte{byte(i)}, 1<<20-64)
		pub.Pub(t, fmt.Sprintf("big/%d", i), 1, p)
	}
	for i := 0; i < burst; i++ {
		select {
		case m := <-sub.Msgs:
			if m.Topic != fmt.Sprintf("big/%d", i) || len(m.Payload) != 1<<20-64 || m.Payload[0] != byte(i) {
				t.Fatalf("message %d: got %s (%d bytes)", i, m.Topic, len(m.Payload))
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("message %d of the 1 MB burst never arrived", i)
		}
	}
}
