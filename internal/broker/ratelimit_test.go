package broker

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"emqxgo/internal/testutil"
)

// burstPublish writes n QoS 0 PUBLISHes on topic, payloads seqPayload(1..n)
// padded to size bytes, in one write: as fast as a client can.
func burstPublish(t *testing.T, r *raw, topic string, from, n, size int) {
	t.Helper()
	var all bytes.Buffer
	for i := from; i < from+n; i++ {
		payload := append(seqPayload(i), make([]byte, max(0, size-8))...)
		pk := publishPacket(topic, 0, 0, payload)
		pk.ProtocolVersion = r.v
		b, err := encodePacket(pk)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	if _, err := r.c.Write(all.Bytes()); err != nil {
		t.Fatal(err)
	}
}

// receiveAll waits, within d, until sub has received every payload
// numbered 1..n on topic (each once) and returns when the last came.
func receiveAll(t *testing.T, sub *testutil.V5, n int, d time.Duration) time.Time {
	t.Helper()
	seen := map[int]bool{}
	deadline := time.After(d)
	for len(seen) < n {
		select {
		case m := <-sub.Msgs:
			i := int(0)
			if len(m.Payload) >= 8 {
				i = seqOf(packets.Packet{Payload: m.Payload[:8]})
			}
			if i < 1 || i > n || seen[i] {
				t.Fatalf("unexpected or repeated message %d on %s", i, m.Topic)
			}
			seen[i] = true
		case <-deadline:
			t.Fatalf("received %d of %d messages within %s", len(seen), n, d)
		}
	}
	return time.Now()
}

func rawPublisher(t *testing.T, addr, id string) *raw {
	r, _ := dialRaw(t, addr, 5, packets.ConnectParams{ClientIdentifier: id, Clean: true, Keepalive: 30}, packets.Properties{})
	return r
}

// TestRateLimitMessagesIn: with rate_limit.conn_messages_in = 10,1s a
// client that sends 50 PUBLISHes at once is read at 10 a second after its
// burst of 10: every message arrives, the last after about 4 s.
func TestRateLimitMessagesIn(t *testing.T) {
	t.Parallel()
	b := startBroker(t, testConfig("zone.external.rate_limit.conn_messages_in = 10,1s"))
	addr := b.Addrs()["tcp"]
	sub := testutil.DialV5(t, addr, "rl-sub")
	sub.Sub(t, "rl/#", 0)
	pub := rawPublisher(t, addr, "rl-pub")
	start := time.Now()
	burstPublish(t, pub, "rl/m", 1, 50, 8)
	took := receiveAll(t, sub, 50, 30*time.Second).Sub(start)
	if took < 3500*time.Millisecond || took > 20*time.Second {
		t.Fatalf("50 messages at 10/s (burst 10) took %s, want about 4 s", took)
	}
	if b.RateLimitPauses() == 0 {
		t.Fatal("no pause counted")
	}
}

// TestRateLimitBytesIn: rate_limit.conn_bytes_in = 2KB,1s holds a client
// sending about 6 KB at once to about 2 KB a second.
func TestRateLimitBytesIn(t *testing.T) {
	t.Parallel()
	b := startBroker(t, testConfig("zone.external.rate_limit.conn_bytes_in = 2KB,1s"))
	addr := b.Addrs()["tcp"]
	sub := testutil.DialV5(t, addr, "rb-sub")
	sub.Sub(t, "rb/#", 0)
	pub := rawPublisher(t, addr, "rb-pub")
	start := time.Now()
	burstPublish(t, pub, "rb/m", 1, 50, 120) // 50 x 128 bytes: 6400
	took := receiveAll(t, sub, 50, 30*time.Second).Sub(start)
	// (6400 - 2048) / 2048 per second: over 2 s.
	if took < 1800*time.Millisecond || took > 20*time.Second {
		t.Fatalf("6.4 KB at 2 KB/s (burst 2 KB) took %s, want about 2 s", took)
	}
}

// TestQuotaConnMessagesRouting: quota.conn_messages_routing = 20,1s; a
// PUBLISH delivered to one subscriber costs 2 (as EMQX counts: 1 and 1
// per recipient), so 50 take about (100 - 20) / 20 = 4 s.
func TestQuotaConnMessagesRouting(t *testing.T) {
	t.Parallel()
	b := startBroker(t, testConfig("zone.external.quota.conn_messages_routing = 20,1s"))
	addr := b.Addrs()["tcp"]
	sub := testutil.DialV5(t, addr, "qc-sub")
	sub.Sub(t, "qc/#", 0)
	pub := rawPublisher(t, addr, "qc-pub")
	start := time.Now()
	burstPublish(t, pub, "qc/m", 1, 50, 8)
	took := receiveAll(t, sub, 50, 30*time.Second).Sub(start)
	if took < 3*time.Second || took > 20*time.Second {
		t.Fatalf("50 routed messages at a quota of 20/s took %s, want about 4 s", took)
	}
}

// TestQuotaOverallShared: quota.overall_messages_routing = 20,1s is one
// bucket for every connection of the zone: two publishers of 25 messages
// each share it (about 4 s in all; each alone would be done in about 1.5 s).
func TestQuotaOverallShared(t *testing.T) {
	t.Parallel()
	b := startBroker(t, testConfig("zone.external.quota.overall_messages_routing = 20,1s"))
	addr := b.Addrs()["tcp"]
	sub := testutil.DialV5(t, addr, "qo-sub")
	sub.Sub(t, "qo/#", 0)
	p1, p2 := rawPublisher(t, addr, "qo-pub1"), rawPublisher(t, addr, "qo-pub2")
	start := time.Now()
	burstPublish(t, p1, "qo/a", 1, 25, 8)
	burstPublish(t, p2, "qo/b", 26, 25, 8)
	took := receiveAll(t, sub, 50, 30*time.Second).Sub(start)
	if took < 3*time.Second || took > 20*time.Second {
		t.Fatalf("two publishers sharing an overall quota of 20/s took %s for 50 messages, want about 4 s", took)
	}
}

// TestRateLimitPauseEndsOnStop: a connection paused by its rate limit
// does not hold the node's stop up.
func TestRateLimitPauseEndsOnStop(t *testing.T) {
	t.Parallel()
	b := startBroker(t, testConfig("zone.external.rate_limit.conn_messages_in = 1,1h"))
	pub := rawPublisher(t, b.Addrs()["tcp"], "rl-stop")
	burstPublish(t, pub, "stop/m", 1, 3, 8)
	testutil.Eventually(t, 5*time.Second, "a pause", func() bool { return b.RateLimitPauses() > 0 })
	// startBroker's cleanup stops the node within its deadline.
}

// TestForceShutdownQueue: with force_shutdown_policy = 10|1MB a subscriber
// that takes one QoS 1 message at a time and never acknowledges it is
// closed, with DISCONNECT 0x97, once more than 10 messages wait for it.
func TestForceShutdownQueue(t *testing.T) {
	t.Parallel()
	b := startBroker(t, testConfig("zone.external.force_shutdown_policy = 10|1MB"))
	addr := b.Addrs()["tcp"]
	sub, _ := dialRaw(t, addr, 5, packets.ConnectParams{ClientIdentifier: "fs-sub", Clean: true}, packets.Properties{ReceiveMaximum: 1})
	sub.subscribe("fs/#", 1)
	pub := testutil.DialV5(t, addr, "fs-pub")
	for i := 1; i <= 100; i++ {
		pub.Pub(t, "fs/m", 1, []byte(fmt.Sprint(i)))
	}
	var reason byte
	for {
		pk, err := sub.next(10 * time.Second)
		if err != nil {
			break // closed (a timeout would fail below: no DISCONNECT)
		}
		if pk.FixedHeader.Type == packets.Disconnect {
			reason = pk.ReasonCode
		}
	}
	if reason != packets.ErrQuotaExceeded.Code {
		t.Fatalf("the subscriber was not sent DISCONNECT 0x97 (got reason %#x)", reason)
	}
	if n := b.ForcedShutdowns(); n != 1 {
		t.Fatalf("forced shutdowns: %d, want 1", n)
	}
}
