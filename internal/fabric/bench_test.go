package fabric

import (
	"fmt"
	"testing"
	"time"

	"emqxgo/internal/peerlink"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/zap"
)

// routeBenchFilters: 100k remote filters of 3 peers (exact and wildcard),
// and topics that each match one of them.
func routeBenchFilters() (filters, peers, topics []string) {
	for i := 0; i < 100000; i++ {
		f := fmt.Sprintf("site/%d/dev/%d/temp", i%100, i)
		if i%10 == 0 {
			f = fmt.Sprintf("site/%d/dev/+/hum", i%100)
		}
		filters = append(filters, f)
		peers = append(peers, fmt.Sprintf("peer%d", i%3))
	}
	for i := 0; i < 1000; i++ {
		d := i * 97 % 100000
		if d%10 == 0 {
			d++ // a filter ending in temp
		}
		if i%2 == 0 {
			topics = append(topics, fmt.Sprintf("site/%d/dev/%d/hum", d%10*10, d)) // the + filter
		} else {
			topics = append(topics, fmt.Sprintf("site/%d/dev/%d/temp", d%100, d))
		}
	}
	return
}

// BenchmarkRouteMatch100k: one cluster-index lookup for a publish among
// 100k remote filters.
func BenchmarkRouteMatch100k(b *testing.B) {
	r := newRoutes(&Fabric{self: "self"})
	filters, peers, topics := routeBenchFilters()
	for i, f := range filters {
		r.sub(peers[i], f)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mt := getMatches()
		r.index.match(topics[i%len(topics)], mt)
		if len(mt.peers) == 0 {
			b.Fatal("no match")
		}
		putMatches(mt)
	}
}

// BenchmarkRouteMatch100kMochiBaseline: the same lookup in mochi's topic
// index, which the cluster index used before (the baseline of the above).
func BenchmarkRouteMatch100kMochiBaseline(b *testing.B) {
	x := mqtt.NewTopicsIndex()
	filters, peers, topics := routeBenchFilters()
	for i, f := range filters {
		x.Subscribe(peers[i], packets.Subscription{Filter: f})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(x.Subscribers(topics[i%len(topics)]).Subscriptions) == 0 {
			b.Fatal("no match")
		}
	}
}

// BenchmarkOutbox: put and take one message through a peer's outbox (the
// queued path: the peer has no link, so nothing goes straight to it).
func BenchmarkOutbox(b *testing.B) {
	o := &outbox{f: &Fabric{log: zap.NewNop(), links: peerlink.New(peerlink.Config{Self: "emqx@127.0.0.1"})}, wake: make(chan struct{}, 1)}
	m := fromPacket(packets.Packet{TopicName: "a/b", Payload: make([]byte, 64), FixedHeader: packets.FixedHeader{Qos: 1}}, time.Now())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		o.put(m, false)
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
