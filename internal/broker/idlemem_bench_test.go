package broker

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"emqxgo/internal/testutil"
)

// BenchmarkIdleConnMemory attributes the memory of idle MQTT 3.1.1
// connections (keep alive 300, clean session) to goroutine stacks and live
// heap, per connection, after a GC: what the bench's RSS figure (idle
// memory per connection) is made of on the broker's side. Run it with
//
//	go test -run '^$' -bench IdleConnMemory -benchtime 1x ./internal/broker/
//
// and take a heap profile of the same load with -memprofile and
// -memprofilerate 1. Client and server share the process: the clients are
// bare sockets (no goroutines), their part of the heap is small.
func BenchmarkIdleConnMemory(b *testing.B) {
	const conns = 2000
	br := startBroker(b, testConfig())
	addr := br.Addrs()["tcp"]
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		g0 := runtime.NumGoroutine()
		cs := make([]net.Conn, 0, conns)
		for i := range conns {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			cs = append(cs, c)
			if _, err := c.Write(connect311(fmt.Sprintf("idle-%d", i), 300)); err != nil {
				b.Fatal(err)
			}
			ack := make([]byte, 4)
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(c, ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
				b.Fatalf("CONNACK %d: %v %x", i, err, ack)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		per := func(a, z uint64) float64 { return float64(int64(z)-int64(a)) / conns }
		b.ReportMetric(per(before.StackInuse, after.StackInuse), "stack-B/conn")
		b.ReportMetric(per(before.HeapAlloc, after.HeapAlloc), "heap-B/conn")
		b.ReportMetric(float64(runtime.NumGoroutine()-g0)/conns, "goroutines/conn")
		for _, c := range cs {
			_ = c.Close()
		}
		testutil.Eventually(b, 10*time.Second, "the idle clients gone", func() bool {
			return br.Server().Clients.Len() <= 1 // the inline client
		})
	}
}

// connect311 is an MQTT 3.1.1 CONNECT with a clean session.
func connect311(id string, keepalive uint16) []byte {
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 2, byte(keepalive >> 8), byte(keepalive), byte(len(id) >> 8), byte(len(id))}
	body = append(body, id...)
	return append([]byte{0x10, byte(len(body))}, body...)
}
