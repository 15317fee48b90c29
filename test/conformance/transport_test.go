package conformance_test

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// TestWebSocket: over the WebSocket listener the node selects the "mqtt"
// subprotocol; it reads MQTT packets split over several frames (a CONNECT
// over three, a frame ending inside a PUBLISH's header and the next one
// inside its body with the start of another packet) and several packets
// in one frame (SUBSCRIBE, PUBLISH and PINGREQ; 100 PUBLISHes, more bytes
// than the largest packet the node accepts), and sends only binary
// frames (the client's reader fails on any other); a text frame, before or
// after CONNECT, makes it close the connection.
// [MQTT-6.0.0-1] [MQTT-6.0.0-2] [MQTT-6.0.0-4] (both)
func TestWebSocket(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		t.Run(fmt.Sprint("v", v), func(t *testing.T) {
			t.Parallel()
			for _, offer := range [][]string{{"mqtt"}, {"chat", "mqtt"}} {
				c, resp := dialWSConn(t, wsAddr(1), offer...)
				if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "mqtt" || c.ws.Subprotocol() != "mqtt" {
					t.Fatalf("offered %v: node selected subprotocol %q, want mqtt", offer, got)
				}
				_ = c.Close()
			}

			topic := uniq(t, "ws")
			c, _ := dialWSConn(t, wsAddr(1), "mqtt")
			r := newRawc(t, c, v)
			b := r.bytes(connectPk(uniq(t, "c"), true))
			r.write(b[:1])
			r.write(b[1:5])
			r.write(b[5:])
			if ca := r.read(); ca.FixedHeader.Type != packets.Connack || ca.ReasonCode != 0 {
				t.Fatalf("CONNACK: %+v", ca)
			}
			var one []byte
			one = append(one, r.bytes(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1,
				Filters: packets.Subscriptions{{Filter: topic, Qos: 1}}})...)
			one = append(one, r.bytes(pubPk(topic, 1, 2, "one frame"))...)
			one = append(one, r.bytes(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}})...)
			r.write(one)
			if sa := r.readType(packets.Suback); sa.PacketID != 1 || len(sa.ReasonCodes) != 1 || sa.ReasonCodes[0] != 1 {
				t.Fatalf("SUBACK %+v", sa)
			}
			if a := r.readType(packets.Puback); a.PacketID != 2 {
				t.Fatalf("PUBACK %+v", a)
			}
			r.readType(packets.Pingresp)
			r.ack(r.expect(topic, []byte("one frame")))

			split := append(r.bytes(pubPk(topic, 1, 3, "split")), r.bytes(pubPk(topic, 0, 0, "tail"))...)
			r.write(split[:1])
			r.write(split[1:9])
			r.write(split[9:])
			if a := r.readType(packets.Puback); a.PacketID != 3 {
				t.Fatalf("PUBACK %+v", a)
			}
			r.ack(r.expect(topic, []byte("split")))
			r.expect(topic, []byte("tail"))

			// One frame holding more than the largest packet's worth of
			// packets: 100 QoS 0 PUBLISHes of 1 KB each.
			var many []byte
			for i := range 100 {
				many = append(many, r.bytes(pubPk(topic, 0, 0, fmt.Sprintf("%04d", i)+strings.Repeat("x", 1020)))...)
			}
			if len(many) <= maxPacketSize {
				t.Fatalf("frame of %d bytes, want more than %d", len(many), maxPacketSize)
			}
			r.write(many)
			for i := range 100 {
				r.expect(topic, []byte(fmt.Sprintf("%04d", i)+strings.Repeat("x", 1020)))
			}

			// A text frame ends the connection.
			c.texts = true
			r.write(r.bytes(pubPk(topic, 0, 0, "text")))
			for _, pk := range r.closed() {
				if pk.FixedHeader.Type != packets.Disconnect {
					t.Fatalf("after a text frame: %+v", pk)
				}
			}
			t2, _ := dialWSConn(t, wsAddr(2), "mqtt")
			t2.texts = true
			r2 := newRawc(t, t2, v)
			r2.send(connectPk(uniq(t, "t"), true))
			if got := r2.closed(); len(got) != 0 {
				t.Fatalf("CONNECT in a text frame answered: %+v", got)
			}
		})
	}
}

// TestOrderedLosslessTransport: over each transport the node offers (TCP
// and WebSocket), a long run of QoS 1 messages from a publisher on one node
// reaches a subscriber on another, every message once and in order, each
// acknowledged to the publisher in order.
// [MQTT-7.1.1-1] (3.1.1) [MQTT-4.2-1] (5.0)
func TestOrderedLosslessTransport(t *testing.T) {
	t.Parallel()
	const n = 2000
	for _, v := range versions {
		for _, c := range []struct {
			name     string
			pub, sub func(t *testing.T, id string) *rawc
			subNode  int
		}{
			{"tcp to websocket", func(t *testing.T, id string) *rawc { return connectID(t, addr(0), v, id) },
				func(t *testing.T, id string) *rawc { return connectWS(t, wsAddr(1), v, id) }, 1},
			{"websocket to tcp", func(t *testing.T, id string) *rawc { return connectWS(t, wsAddr(2), v, id) },
				func(t *testing.T, id string) *rawc { return connectID(t, addr(0), v, id) }, 0},
		} {
			t.Run(fmt.Sprintf("v%d %s", v, c.name), func(t *testing.T) {
				t.Parallel()
				topic := uniq(t, "seq")
				s := c.sub(t, uniq(t, "s"))
				s.sub(topic, 1)
				waitRoute(t, topic, c.subNode)
				p := c.pub(t, uniq(t, "p"))
				errs := make(chan error, 1)
				go func() { errs <- publishSeq(p, topic, n, 64) }()
				for i := 1; i <= n; i++ {
					m := s.readType(packets.Publish)
					if got := seqOf(m.Payload); got != i {
						t.Fatalf("message %d: got %d", i, got)
					}
					s.ack(m)
				}
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
				s.quiet(300 * time.Millisecond) // and no more
			})
		}
	}
}

func seqOf(b []byte) int {
	if len(b) != 8 {
		return -1
	}
	return int(binary.BigEndian.Uint64(b))
}

// publishSeq publishes QoS 1 messages 1..n on topic with up to window
// unacknowledged and checks the PUBACKs come in the order sent. It runs on
// its own goroutine: it returns what went wrong.
func publishSeq(p *rawc, topic string, n, window int) error {
	acked := make(chan error, 1)
	sent := make(chan uint16, window)
	go func() {
		for i := 1; i <= n; i++ {
			want := <-sent
			pk, err := p.next(wait)
			if err != nil {
				acked <- fmt.Errorf("PUBACK %d: %w", i, err)
				return
			}
			if pk.FixedHeader.Type != packets.Puback || pk.PacketID != want {
				acked <- fmt.Errorf("message %d: got packet type %d id %d, want PUBACK %d", i, pk.FixedHeader.Type, pk.PacketID, want)
				return
			}
		}
		acked <- nil
	}()
	for i := 1; i <= n; i++ {
		id := uint16(i%60000 + 1)
		b, err := encode(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: topic, PacketID: id,
			Payload: binary.BigEndian.AppendUint64(nil, uint64(i))}, p.v)
		if err != nil {
			return err
		}
		select {
		case sent <- id:
		case err := <-acked:
			return err
		}
		p.write(b)
	}
	return <-acked
}
