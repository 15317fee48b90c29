package broker

import (
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// BenchmarkPacedQoS0 sends b.N QoS 0 messages at 5000/s from one publisher
// to one subscriber (the CPU per message at a moderate rate).
func BenchmarkPacedQoS0(bm *testing.B) {
	b := startBroker(&testing.T{}, testConfig())
	defer b.Stop(bm.Context()) //nolint:errcheck
	addr := b.Addrs()["tcp"]
	sub, _ := dialRaw(bm, addr, 4, packets.ConnectParams{ClientIdentifier: "psub", Clean: true}, packets.Properties{})
	sub.subscribe("p", 0)
	pub, _ := dialRaw(bm, addr, 4, packets.ConnectParams{ClientIdentifier: "ppub", Clean: true}, packets.Properties{})
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
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for i := 0; i < bm.N; i += 5 {
		<-t.C
		for k := 0; k < 5 && i+k < bm.N; k++ {
			pub.send(publishPacket("p", 0, 0, payload))
		}
	}
	<-done
}
