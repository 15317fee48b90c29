package broker

import (
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// benchPair starts a broker with one QoS 0 subscriber on topic b and one
// publisher; recv counts n messages on the subscriber's side.
func benchPair(bm *testing.B) (pub *raw, recv func(n int) <-chan int) {
	b := startBroker(&testing.T{}, testConfig())
	bm.Cleanup(func() { _ = b.Stop(bm.Context()) })
	addr := b.Addrs()["tcp"]
	sub, _ := dialRaw(bm, addr, 4, packets.ConnectParams{ClientIdentifier: "bsub", Clean: true}, packets.Properties{})
	sub.subscribe("b", 0)
	pub, _ = dialRaw(bm, addr, 4, packets.ConnectParams{ClientIdentifier: "bpub", Clean: true}, packets.Properties{})
	return pub, func(n int) <-chan int {
		done := make(chan int, 1)
		go func() {
			got := 0
			for got < n {
				if _, err := sub.next(5 * time.Second); err != nil {
					break
				}
				got++
			}
			done <- got
		}()
		return done
	}
}

// BenchmarkDeliverQoS0 is one publisher and one subscriber on a broker,
// QoS 0 messages through the session queue at full speed (b.N messages).
func BenchmarkDeliverQoS0(bm *testing.B) {
	pub, recv := benchPair(bm)
	payload := make([]byte, 16)
	bm.ResetTimer()
	done := recv(bm.N)
	for i := 0; i < bm.N; i++ {
		pub.send(publishPacket("b", 0, 0, payload))
	}
	if n := <-done; n != bm.N {
		bm.Fatalf("%d of %d", n, bm.N)
	}
}

// BenchmarkPacedQoS0 sends b.N QoS 0 messages at 5000/s (the load of the
// moderate-rate CPU row of make bench).
func BenchmarkPacedQoS0(bm *testing.B) {
	pub, recv := benchPair(bm)
	payload := make([]byte, 16)
	bm.ResetTimer()
	done := recv(bm.N)
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for i := 0; i < bm.N; i += 5 {
		<-t.C
		for k := 0; k < 5 && i+k < bm.N; k++ {
			pub.send(publishPacket("b", 0, 0, payload))
		}
	}
	if n := <-done; n != bm.N {
		bm.Fatalf("%d of %d", n, bm.N)
	}
}
