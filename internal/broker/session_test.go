package broker

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"emqxgo/internal/testutil"

	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// receive reads n messages from r, acknowledging each QoS 1 one at once,
// and checks they are numbered 1..n in order with DUP 0.
func receiveInOrder(t *testing.T, r *raw, want []int, dup bool) {
	t.Helper()
	for k, w := range want {
		pk, err := r.next(20 * time.Second)
		if err != nil {
			t.Fatalf("message %d of %d (want #%d): %v", k+1, len(want), w, err)
		}
		if pk.FixedHeader.Type != packets.Publish {
			t.Fatalf("got packet type %d, want PUBLISH", pk.FixedHeader.Type)
		}
		if got := seqOf(pk); got != w {
			t.Fatalf("message %d of %d is #%d, want #%d", k+1, len(want), got, w)
		}
		if pk.FixedHeader.Dup != dup {
			t.Fatalf("message #%d has DUP %v, want %v", w, pk.FixedHeader.Dup, dup)
		}
		if pk.FixedHeader.Qos > 0 {
			if err := r.ack(pk.PacketID); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// TestBurstLosesNothingForAReader: a subscriber that keeps reading gets
// every message of a full-speed burst, in order, none marked DUP: QoS 1
// with 100 in flight from the publisher, then QoS 0 (mochi dropped the
// newest past its store and write channel limits: 1-25% of QoS 1).
func TestBurstLosesNothingForAReader(t *testing.T) {
	b := startBroker(t, testConfig())
	addr := b.Addrs()["tcp"]
	for _, qos := range []byte{1, 0} {
		n := map[byte]int{1: 30000, 0: 60000}[qos]
		sub, _ := dialRaw(t, addr, 4, packets.ConnectParams{ClientIdentifier: "burst-sub", Clean: true}, packets.Properties{})
		sub.subscribe("burst", qos)
		pub, _ := dialRaw(t, addr, 4, packets.ConnectParams{ClientIdentifier: "burst-pub", Clean: true}, packets.Properties{})
		got := make(chan struct{})
		go func() {
			defer close(got)
			receiveInOrder(t, sub, seq(1, n), false)
		}()
		if qos == 1 {
			pub.publishWindowed("burst", n, 100)
		} else {
			for i := 1; i <= n; i++ {
				pub.send(publishPacket("burst", 0, 0, seqPayload(i)))
			}
		}
		<-got
		if t.Failed() {
			return
		}
		if d := b.Drops(); d.QueueFull != 0 {
			t.Fatalf("QoS %d: %d messages dropped from the queue of a subscriber that kept reading", qos, d.QueueFull)
		}
		sub.c.Close()
		pub.c.Close()
	}
}

// TestReceiveMaximumAndWindow: no more QoS 1 messages are in flight to a
// client than its Receive Maximum [MQTT-3.3.4-9], or than
// zone.external.max_inflight; each acknowledgement lets exactly one more go.
func TestReceiveMaximumAndWindow(t *testing.T) {
	cfg := testConfig()
	cfg.ZoneOf("external").MaxInflight = 8
	b := startBroker(t, cfg)
	addr := b.Addrs()["tcp"]
	for _, c := range []struct {
		name   string
		v      byte
		rm     uint16
		window int
	}{{"v5 receive maximum 3", 5, 3, 3}, {"v3 max_inflight 8", 4, 0, 8}} {
		t.Run(c.name, func(t *testing.T) {
			sub, _ := dialRaw(t, addr, c.v, packets.ConnectParams{ClientIdentifier: "rm-sub", Clean: true},
				packets.Properties{ReceiveMaximum: c.rm})
			sub.subscribe("rm", 1)
			pub, _ := dialRaw(t, addr, 4, packets.ConnectParams{ClientIdentifier: "rm-pub", Clean: true}, packets.Properties{})
			pub.publishWindowed("rm", 20, 20)
			var held []packets.Packet
			for len(held) < c.window {
				held = append(held, sub.read(5*time.Second))
			}
			if pk, err := sub.next(300 * time.Millisecond); err == nil {
				t.Fatalf("message #%d sent beyond a window of %d", seqOf(pk), c.window)
			}
			if err := sub.ack(held[0].PacketID); err != nil {
				t.Fatal(err)
			}
			if pk := sub.read(5 * time.Second); seqOf(pk) != c.window+1 {
				t.Fatalf("after one PUBACK got #%d, want #%d", seqOf(pk), c.window+1)
			}
			if pk, err := sub.next(300 * time.Millisecond); err == nil {
				t.Fatalf("one PUBACK let #%d go too", seqOf(pk))
			}
			for i, pk := range held {
				if seqOf(pk) != i+1 || pk.FixedHeader.Dup {
					t.Fatalf("held message %d: #%d dup %v", i, seqOf(pk), pk.FixedHeader.Dup)
				}
			}
			sub.c.Close()
			pub.c.Close()
		})
	}
}

// TestFullQueueDropsOldest: an offline session's queue keeps the newest
// zone.external.max_mqueue_len messages; the dropped are counted and
// logged once with their count.
func TestFullQueueDropsOldest(t *testing.T) {
	cfg := testConfig()
	cfg.ZoneOf("external").MaxMqueueLen = 10
	core, logs := observer.New(zapcore.WarnLevel)
	b, err := New(cfg, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.Stop(ctx)
	})
	addr := b.Addrs()["tcp"]
	sub, _ := dialRaw(t, addr, 4, packets.ConnectParams{ClientIdentifier: "full-sub"}, packets.Properties{})
	sub.subscribe("full", 1)
	sub.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
	sub.c.Close()
	waitOffline(t, b, "full-sub")
	pub, _ := dialRaw(t, addr, 4, packets.ConnectParams{ClientIdentifier: "full-pub", Clean: true}, packets.Properties{})
	pub.publishWindowed("full", 25, 1)
	again, present := dialRaw(t, addr, 4, packets.ConnectParams{ClientIdentifier: "full-sub"}, packets.Properties{})
	if !present {
		t.Fatal("session not resumed")
	}
	receiveInOrder(t, again, seq(16, 25), false)
	if pk, err := again.next(300 * time.Millisecond); err == nil {
		t.Fatalf("unexpected message #%d", seqOf(pk))
	}
	if d := b.Drops().QueueFull; d != 15 {
		t.Fatalf("%d drops counted, want 15", d)
	}
	lines := logs.FilterMessage("message queue full: dropped the oldest queued message").All()
	if len(lines) != 1 || lines[0].ContextMap()["client"] != "full-sub" {
		t.Fatalf("want one log line for the client, got %v", lines)
	}
}

// TestResumeMarksDupOnlyResent: on resume, messages that were sent and not
// acknowledged come again with DUP 1, in order, and those never sent come
// after them with DUP 0 [MQTT-3.3.1-1] [MQTT-4.4.0-1].
func TestResumeMarksDupOnlyResent(t *testing.T) {
	cfg := testConfig()
	cfg.ZoneOf("external").MaxInflight = 5
	b := startBroker(t, cfg)
	addr := b.Addrs()["tcp"]
	sub, _ := dialRaw(t, addr, 4, packets.ConnectParams{ClientIdentifier: "dup-sub"}, packets.Properties{})
	sub.subscribe("dup", 1)
	pub, _ := dialRaw(t, addr, 4, packets.ConnectParams{ClientIdentifier: "dup-pub", Clean: true}, packets.Properties{})
	pub.publishWindowed("dup", 15, 15)
	for i := 1; i <= 5; i++ { // in flight, not acknowledged
		if pk := sub.read(5 * time.Second); seqOf(pk) != i || pk.FixedHeader.Dup {
			t.Fatalf("first send: #%d dup %v, want #%d", seqOf(pk), pk.FixedHeader.Dup, i)
		}
	}
	sub.c.Close()
	again, present := dialRaw(t, addr, 4, packets.ConnectParams{ClientIdentifier: "dup-sub"}, packets.Properties{})
	if !present {
		t.Fatal("session not resumed")
	}
	receiveInOrder(t, again, seq(1, 5), true)
	receiveInOrder(t, again, seq(6, 15), false)
}

// TestResumeWhilePublishingLosesNothing: a subscriber with a kept session
// that reconnects again and again while a publisher runs gets every
// message (mochi lost those published while the session resumed).
func TestResumeWhilePublishingLosesNothing(t *testing.T) {
	b := startBroker(t, testConfig())
	addr := b.Addrs()["tcp"]
	sub, _ := dialRaw(t, addr, 4, packets.ConnectParams{ClientIdentifier: "hop-sub"}, packets.Properties{})
	sub.subscribe("hop", 1)
	pub, _ := dialRaw(t, addr, 4, packets.ConnectParams{ClientIdentifier: "hop-pub", Clean: true}, packets.Properties{})
	const n = 3000
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for i := 1; i <= n; i += 10 {
			for k := i; k < i+10 && k <= n; k++ {
				if err := pub.write(publishPacket("hop", 1, uint16(k), seqPayload(k))); err != nil {
					t.Error(err)
					return
				}
				if pk, err := pub.next(5 * time.Second); err != nil || pk.FixedHeader.Type != packets.Puback {
					t.Errorf("publisher: %v, packet type %d", err, pk.FixedHeader.Type)
					return
				}
			}
			time.Sleep(2 * time.Millisecond) // a steady rate, about 5000/s at most
		}
	}()
	seen := map[int]bool{}
	last, dups := 0, 0
	conn := sub
	for hop := 0; len(seen) < n; hop++ {
		// read for a while, then drop the connection without DISCONNECT
		until := time.Now().Add(50 * time.Millisecond)
		for time.Now().Before(until) && len(seen) < n {
			pk, err := conn.next(time.Until(until) + time.Millisecond)
			if err != nil {
				break
			}
			if pk.FixedHeader.Type != packets.Publish {
				continue
			}
			k := seqOf(pk)
			if seen[k] {
				if !pk.FixedHeader.Dup {
					t.Fatalf("#%d again without DUP", k)
				}
				dups++
			} else if k < last && !pk.FixedHeader.Dup {
				t.Fatalf("#%d after #%d", k, last)
			}
			seen[k], last = true, max(last, k)
			_ = conn.ack(pk.PacketID)
		}
		if len(seen) >= n {
			break
		}
		if hop > 2000 {
			t.Fatalf("%d of %d received", len(seen), n)
		}
		conn.c.Close()
		var present bool
		conn, present = dialRaw(t, addr, 4, packets.ConnectParams{ClientIdentifier: "hop-sub"}, packets.Properties{})
		if !present {
			t.Fatal("session not resumed")
		}
	}
	<-pubDone
	t.Logf("%d messages over reconnects, %d resent with DUP", n, dups)
}

// TestOfflineQoS0FollowsStoreQoS0: with zone.external.mqueue_store_qos0 off,
// QoS 0 messages for an offline session are dropped and counted; QoS 1
// ones are kept.
func TestOfflineQoS0FollowsStoreQoS0(t *testing.T) {
	cfg := testConfig()
	cfg.ZoneOf("external").MqueueStoreQoS0 = false
	b := startBroker(t, cfg)
	addr := b.Addrs()["tcp"]
	sub, _ := dialRaw(t, addr, 4, packets.ConnectParams{ClientIdentifier: "q0-sub"}, packets.Properties{})
	sub.subscribe("q0", 1)
	sub.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
	sub.c.Close()
	waitOffline(t, b, "q0-sub")
	pub, _ := dialRaw(t, addr, 4, packets.ConnectParams{ClientIdentifier: "q0-pub", Clean: true}, packets.Properties{})
	for i := 1; i <= 3; i++ {
		pub.send(publishPacket("q0", 0, 0, seqPayload(i)))
	}
	pub.send(publishPacket("q0", 1, 1, seqPayload(4)))
	if pk := pub.read(5 * time.Second); pk.FixedHeader.Type != packets.Puback {
		t.Fatalf("no PUBACK: %+v", pk)
	}
	again, _ := dialRaw(t, addr, 4, packets.ConnectParams{ClientIdentifier: "q0-sub"}, packets.Properties{})
	receiveInOrder(t, again, []int{4}, false)
	if d := b.Drops().QoS0Offline; d != 3 {
		t.Fatalf("%d offline QoS 0 drops counted, want 3", d)
	}
}

// TestRetainedOnSubscribeThroughWindow: retained messages sent on
// SUBSCRIBE go through the session like any other: after the SUBACK,
// within the client's Receive Maximum, with the retain flag; Retain
// Handling 1 sends none for a subscription that existed, 2 none at all
// [MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11].
func TestRetainedOnSubscribeThroughWindow(t *testing.T) {
	b := startBroker(t, testConfig())
	addr := b.Addrs()["tcp"]
	pub, _ := dialRaw(t, addr, 4, packets.ConnectParams{ClientIdentifier: "ret-pub", Clean: true}, packets.Properties{})
	for i := 1; i <= 5; i++ {
		p := publishPacket(fmt.Sprintf("ret/%d", i), 1, uint16(i), seqPayload(i))
		p.FixedHeader.Retain = true
		pub.send(p)
		pub.read(5 * time.Second)
	}
	sub, _ := dialRaw(t, addr, 5, packets.ConnectParams{ClientIdentifier: "ret-sub", Clean: true}, packets.Properties{ReceiveMaximum: 2})
	subscribe := func(rh byte) byte {
		sub.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 7,
			Filters: packets.Subscriptions{{Filter: "ret/#", Qos: 1, RetainHandling: rh}}})
		return sub.read(5 * time.Second).FixedHeader.Type
	}
	if typ := subscribe(0); typ != packets.Suback {
		t.Fatalf("packet type %d before the SUBACK", typ)
	}
	var got []packets.Packet
	for len(got) < 2 {
		got = append(got, sub.read(5*time.Second))
	}
	if pk, err := sub.next(300 * time.Millisecond); err == nil {
		t.Fatalf("retained #%d beyond Receive Maximum 2", seqOf(pk))
	}
	for len(got) < 5 {
		if err := sub.ack(got[len(got)-2].PacketID); err != nil {
			t.Fatal(err)
		}
		got = append(got, sub.read(5*time.Second))
	}
	for _, pk := range got {
		if !pk.FixedHeader.Retain || pk.FixedHeader.Type != packets.Publish {
			t.Fatalf("retained message without the retain flag: %+v", pk)
		}
		_ = sub.ack(pk.PacketID)
	}
	for _, rh := range []byte{1, 2} {
		if typ := subscribe(rh); typ != packets.Suback {
			t.Fatalf("retain handling %d: packet type %d, want SUBACK", rh, typ)
		}
		if pk, err := sub.next(300 * time.Millisecond); err == nil {
			t.Fatalf("retain handling %d: retained #%d sent again", rh, seqOf(pk))
		}
	}
	sub.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 8,
		Filters: packets.Subscriptions{{Filter: "ret/1", Qos: 1, RetainHandling: 1}}})
	if typ := sub.read(5 * time.Second).FixedHeader.Type; typ != packets.Suback {
		t.Fatalf("packet type %d, want SUBACK", typ)
	}
	if pk := sub.read(5 * time.Second); seqOf(pk) != 1 || !pk.FixedHeader.Retain {
		t.Fatalf("retain handling 1, new subscription: got %+v", pk)
	}
}

// waitOffline waits until the broker has seen the session of id lose its
// connection (a test that publishes for an offline session starts then).
func waitOffline(t *testing.T, b *Broker, id string) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, "the session of "+id+" offline", func() bool {
		s := b.sessions.get(id)
		if s == nil {
			return false
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.cl == nil
	})
}

// TestNothingSentOnAClosingConnection: mochi closes a connection's socket
// before it marks the client closed (Client.Stop); a message for the
// session that comes meanwhile (its client may already have seen the
// connection end) stays queued, its expiry running, and is sent new when
// the session resumes. It had been taken in flight on the dead connection:
// resent as DUP on resume, and kept past its expiry [MQTT-3.3.2-5]. Here a
// mochi client on a real socket stands in that window: its connection
// closed, no reader to mark it closed.
func TestNothingSentOnAClosingConnection(t *testing.T) {
	b := startBroker(t, testConfig())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	go func() { _, _ = io.Copy(io.Discard, peer) }()
	sock, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := newConn(sock, 0, 0)
	const id, topic = "closing", "closing/x"
	cl := b.srv.NewClient(c, "tcp", id, false)
	cl.Properties.ProtocolVersion = 4
	b.sessions.establish(cl, packets.Packet{Connect: packets.ConnectParams{ClientIdentifier: id}}, "")
	b.sessions.attach(cl)
	sub := packets.Subscription{Filter: topic, Qos: 1}
	send := func(n int) {
		pk := publishPacket(topic, 1, 0, seqPayload(n))
		pk.Properties.MessageExpiryInterval = 60
		pk.Expiry = time.Now().Unix() + 60
		b.sessions.deliver(id, sub, shared(&pk), 0)
	}
	send(1)
	testutil.Eventually(t, 5*time.Second, "the first message in flight", func() bool { return cl.State.Inflight.Len() == 1 })
	_ = c.Close() // mochi's Client.Stop: the socket first, then the client marked closed
	if cl.Closed() {
		t.Fatal("the client is marked closed with its connection: the window this test stands in is gone")
	}
	send(2)
	waitOffline(t, b, id) // the pump has let the connection go
	if n, q := cl.State.Inflight.Len(), b.sessions.queued(id); n != 1 || q != 1 {
		t.Fatalf("%d messages in flight and %d queued, want 1 and 1: the second was taken as sent on the closing connection", n, q)
	}
}
