package broker

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/mochi-mqtt/server/v2/packets"

	"emqxgo/internal/testutil"
)

// TestStalledSubscriberDoesNotHoldPublisher: messages are written to a
// subscriber's connection on the publisher's goroutine (pumpHere). A
// subscriber on the same node that never reads fills its socket; the
// publisher's goroutine never waits for it, so a second subscriber gets
// every message, and the publisher's own acknowledgements keep coming.
func TestStalledSubscriberDoesNotHoldPublisher(t *testing.T) {
	b := startBroker(t, testConfig())
	addr := b.Addrs()["tcp"]
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	_ = slow.(*net.TCPConn).SetReadBuffer(4096)
	_, _ = slow.Write(testutil.ConnectPacket("stalled", 4))
	var sb bytes.Buffer
	sp := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1, ProtocolVersion: 4,
		Filters: packets.Subscriptions{{Filter: "load/#", Qos: 0}}}
	if err := sp.SubscribeEncode(&sb); err != nil {
		t.Fatal(err)
	}
	_, _ = slow.Write(sb.Bytes())
	ack := make([]byte, 9) // CONNACK, SUBACK; then it reads no more
	_ = slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(slow, ack); err != nil || ack[0] != 0x20 || ack[4] != 0x90 || ack[8] != 0 {
		t.Fatalf("stalled subscriber not subscribed: %x %v", ack, err)
	}
	fast := testutil.DialV5(t, addr, "fast")
	fast.Sub(t, "load/#", 0)
	var got atomic.Int64
	fast.Each(t, func(*paho.Publish) { got.Add(1) })
	pub := testutil.DialV5(t, addr, "pub")
	const total = 20000
	payload := bytes.Repeat([]byte("x"), 1024)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for i := range total {
		if i%500 == 0 { // QoS 1 now and then: its PUBACK comes back through the same goroutine
			if _, err := pub.Publish(ctx, &paho.Publish{Topic: "load/x", QoS: 1, Payload: payload}); err != nil {
				t.Fatalf("publish %d: %v", i, err)
			}
		} else if _, err := pub.Publish(ctx, &paho.Publish{Topic: "load/x", QoS: 0, Payload: payload}); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if i%250 == 249 { // within the subscriber's queue: this is about the stalled one
			testutil.Eventually(t, 20*time.Second, "the fast subscriber keeps up", func() bool { return got.Load() >= int64(i-500) })
		}
	}
	testutil.Eventually(t, 30*time.Second, "the fast subscriber got everything", func() bool { return got.Load() == total })
}
