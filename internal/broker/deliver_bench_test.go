package broker

import (
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// BenchmarkDeliverQoS0 is one publisher and one subscriber on a broker,
// QoS 0 messages through the session queue (b.N messages).
func BenchmarkDeliverQoS0(bm *testing.B) {
	b := startBroker(&testing.T{}, testConfig())
	defer b.Stop(bm.Context()) //nolint:errcheck
	addr := b.Addrs()["tcp"]
	sub, _ := dialRaw(bm, addr, 4, packets.ConnectParams{ClientIdentifier: "bsub", Clean: true}, packets.Properties{})
	sub.subscribe("b", 0)
	pub, _ := dialRaw(bm, addr, 4, packets.ConnectParams{ClientIdentifier: "bpub", Clean: true}, packets.Properties{})
	payload := make([]byte, 16)
	done := make(chan int)
	bm.ResetTimer()
	go func() {
		n := 0
		for n < bm.N {
			if _, err := sub.next(5 * time.Second); err != nil {
				break
			}
			n++
		}
		done <- n
	}()
	for i := 0; i < bm.N; i++ {
		pub.send(publishPacket("b", 0, 0, payload))
	}
	if n := <-done; n != bm.N {
		bm.Fatalf("%d of %d", n, bm.N)
	}
}
