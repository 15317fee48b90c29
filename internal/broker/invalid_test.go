package broker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/mochi-mqtt/server/v2/packets"

	"emqxgo/internal/testutil"
)

// session connects raw with a clean session and reads the CONNACK.
func rawSession(t *testing.T, addr string, version byte, id string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_, _ = c.Write(testutil.ConnectPacket(id, version))
	hdr := make([]byte, 2)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, hdr); err != nil || hdr[0] != 0x20 {
		t.Fatalf("no CONNACK: %v %x", err, hdr)
	}
	_, _ = io.ReadFull(c, make([]byte, hdr[1]))
	return c
}

func encode(t *testing.T, pk packets.Packet) []byte {
	t.Helper()
	b, err := encodePacket(pk)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reply writes raw and reads one packet back (type byte, body).
func reply(t *testing.T, c net.Conn, raw []byte) (byte, []byte) {
	t.Helper()
	_, _ = c.Write(raw)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(c, hdr); err != nil {
		t.Fatalf("no answer: %v", err)
	}
	body := make([]byte, hdr[1])
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatal(err)
	}
	return hdr[0], body
}

// TestInvalidTopicsAnswered: invalid topic names and filters get the
// codes the specifications give, in both versions.
func TestInvalidTopicsAnswered(t *testing.T) {
	b := startBroker(t, testConfig())
	addr := b.Addrs()["tcp"]
	for _, v := range []byte{4, 5} {
		// PUBLISH to a topic name with a wildcard [MQTT-3.3.2-2]: 5.0 DISCONNECT
		// 0x90, 3.1.1 a plain close.
		c := rawSession(t, addr, v, fmt.Sprint("pub", v))
		_, _ = c.Write(encode(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: "a/+", Payload: []byte("x"), ProtocolVersion: v}))
		got := readUntilClosed(t, c, 5*time.Second)
		if v == 5 && (len(got) < 3 || got[0] != 0xE0 || got[2] != 0x90) {
			t.Errorf("v5 PUBLISH a/+: got %x, want DISCONNECT 0x90", got)
		}
		if v == 4 && len(got) != 0 {
			t.Errorf("v3.1.1 PUBLISH a/+: got %x, want a plain close", got)
		}
		// SUBSCRIBE with an invalid and a valid filter: 0x8F / 0x80 and the QoS.
		c = rawSession(t, addr, v, fmt.Sprint("sub", v))
		typ, body := reply(t, c, encode(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 3, ProtocolVersion: v,
			Filters: packets.Subscriptions{{Filter: "a/#/b", Qos: 1}, {Filter: "ok/#", Qos: 1}}}))
		codes := body[len(body)-2:]
		want := []byte{0x80, 0x01}
		if v == 5 {
			want[0] = 0x8F
		}
		if typ != 0x90 || !bytes.Equal(codes, want) {
			t.Errorf("v%d SUBSCRIBE a/#/b, ok/#: %x %x, want SUBACK %x", v, typ, body, want)
		}
		// UNSUBSCRIBE: 5.0 gives 0x8F for the invalid filter, 0x11 for one
		// that had no subscription, 0x00 for a real one.
		typ, body = reply(t, c, encode(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Unsubscribe, Qos: 1}, PacketID: 4, ProtocolVersion: v,
			Filters: packets.Subscriptions{{Filter: "a/#/b"}, {Filter: "none/x"}, {Filter: "ok/#"}}}))
		if typ != 0xB0 || (v == 5 && !bytes.Equal(body[len(body)-3:], []byte{0x8F, 0x11, 0x00})) {
			t.Errorf("v%d UNSUBSCRIBE: %x %x", v, typ, body)
		}
		// A will topic is a topic name [MQTT-3.1.3-11]: 5.0 CONNACK 0x90,
		// 3.1.1 closed without CONNACK.
		w, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(encode(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: v,
			Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 30, ClientIdentifier: fmt.Sprint("will", v),
				WillFlag: true, WillTopic: "w/#", WillPayload: []byte("x")}}))
		got = readUntilClosed(t, w, 5*time.Second)
		w.Close()
		if v == 5 && (len(got) < 4 || got[0] != 0x20 || got[3] != 0x90) {
			t.Errorf("v5 will topic w/#: got %x, want CONNACK 0x90", got)
		}
		if v == 4 && len(got) != 0 {
			t.Errorf("v3.1.1 will topic w/#: got %x, want a close without CONNACK", got)
		}
	}
}

// TestSubackCarriesNoRequestProperties: SUBACK and UNSUBACK do not echo
// the request's user properties.
func TestSubackCarriesNoRequestProperties(t *testing.T) {
	b := startBroker(t, testConfig())
	v := testutil.DialV5(t, b.Addrs()["tcp"], "subprops")
	user := paho.UserProperties{{Key: "echo", Value: "me"}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sa, err := v.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "x", QoS: 1}}, Properties: &paho.SubscribeProperties{User: user}})
	if err != nil {
		t.Fatal(err)
	}
	if sa.Properties != nil && len(sa.Properties.User) > 0 {
		t.Errorf("SUBACK echoes %v", sa.Properties.User)
	}
	ua, err := v.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{"x"}, Properties: &paho.UnsubscribeProperties{User: user}})
	if err != nil {
		t.Fatal(err)
	}
	if ua.Properties != nil && len(ua.Properties.User) > 0 {
		t.Errorf("UNSUBACK echoes %v", ua.Properties.User)
	}
}
