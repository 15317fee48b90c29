//go:build conformance_gaps

package conformance_test

import (
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

// The tests in this file assert what the specifications require where the
// node does something else today (README.md lists these as known gaps).
// They run only with -tags conformance_gaps, so the default run stays green.

// TestSubscriptionOptionsReservedGap: the reserved bits of the 5.0
// subscription options must be 0. The node accepts options with bits 6-7
// set. [MQTT-3.8.3-5] (5.0)
func TestSubscriptionOptionsReservedGap(t *testing.T) {
	t.Parallel()
	r := connectID(t, next(), 5, uniq(t, "c"))
	b, err := encode(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 3,
		Filters: packets.Subscriptions{{Filter: "a/b", Qos: 1}}}, 5)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] |= 0xC0
	r.write(b)
	for _, pk := range r.closed() {
		if pk.FixedHeader.Type != packets.Disconnect || pk.ReasonCode < 0x80 {
			t.Fatalf("got %+v before the close", pk)
		}
	}
}
