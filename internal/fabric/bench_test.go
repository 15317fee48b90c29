package fabric

import (
	"fmt"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/zap"
)

// BenchmarkRouteMatch100k: one cluster-index lookup for a publish among
// 100k remote filters of 3 peers (exact and wildcard).
func BenchmarkRouteMatch100k(b *testing.B) {
	r := newRoutes(&Fabric{self: "self"})
	for i := 0; i < 100000; i++ {
		peer := fmt.Sprintf("peer%d", i%3)
		f := fmt.Sprintf("site/%d/dev/%d/temp", i%100, i)
		if i%10 == 0 {
			f = fmt.Sprintf("site/%d/dev/+/hum", i%100)
		}
		r.index.Subscribe(peer, packets.Subscription{Filter: f})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		subs := r.index.Subscribers(fmt.Sprintf("site/%d/dev/%d/temp", i%100, i%100000))
		if len(subs.Subscriptions) > 3 {
			b.Fatal("too many")
		}
	}
}

// BenchmarkOutbox: put and take one message through a peer's outbox.
func BenchmarkOutbox(b *testing.B) {
	o := &outbox{f: &Fabric{log: zap.NewNop()}, wake: make(chan struct{}, 1)}
	m := fromPacket(packets.Packet{TopicName: "a/b", Payload: make([]byte, 64), FixedHeader: packets.FixedHeader{Qos: 1}}, time.Now())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		o.put(m)
		for _, x := range o.next() {
			o.ack(x.Seq)
		}
	}
}

// BenchmarkForwardEncode: encoding and decoding a batch of 64 forwarded messages.
func BenchmarkForwardEncode(b *testing.B) {
	var msgs []*message
	for i := 0; i < 64; i++ {
		msgs = append(msgs, &message{Seq: uint64(i), Topic: "site/1/dev/2/temp", Payload: make([]byte, 64), QoS: 1})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := decodeBatch(encodeBatch(1, msgs)); err != nil {
			b.Fatal(err)
		}
	}
}
