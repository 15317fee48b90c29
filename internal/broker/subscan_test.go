package broker

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"emqxgo/internal/testutil"
)

// subscribeBody is the body of an MQTT 5 SUBSCRIBE with id 7, the given
// properties (already encoded, without their length) and filters, each
// followed by its options byte.
func subscribeBody(props []byte, filters []string, opts []byte) []byte {
	b := []byte{0, 7}
	b = append(b, encodeVarint(len(props))...)
	b = append(b, props...)
	for i, f := range filters {
		b = append(b, byte(len(f)>>8), byte(len(f)))
		b = append(b, f...)
		if i < len(opts) {
			b = append(b, opts[i])
		}
	}
	return b
}

func encodeVarint(n int) []byte { return binary.AppendUvarint(nil, uint64(n)) } // MQTT's variable byte integer

func TestSubScan(t *testing.T) {
	userProp := append([]byte{0x26, 0, 1, 'k', 0, 1, 'v'}, 0x0B, 0x81, 0x01) // user property, subscription id 129
	for _, c := range []struct {
		name string
		body []byte
		want byte
	}{
		{"plain", subscribeBody(nil, []string{"a/b"}, []byte{0x01}), 0},
		{"every valid option", subscribeBody(userProp, []string{"a", "$share/g/b", "c/#"}, []byte{0x2E, 0x02, 0x1D}), 0},
		{"empty filter", subscribeBody(nil, []string{""}, []byte{0x00}), 0}, // mochi refuses the filter itself
		{"bit 6", subscribeBody(nil, []string{"a/b"}, []byte{0x41}), 0x81},
		{"bit 7", subscribeBody(userProp, []string{"a", "b"}, []byte{0x01, 0x80}), 0x81},
		{"retain handling 3", subscribeBody(nil, []string{"a", "b"}, []byte{0x00, 0x31}), 0x82},
		{"no options byte", subscribeBody(nil, []string{"a/b"}, nil), 0x81},
		{"second filter without options", subscribeBody(nil, []string{"a", "b"}, []byte{0x01}), 0x81},
		{"filter longer than the body", append(subscribeBody(nil, nil, nil), 0, 9, 'a'), 0}, // mochi: malformed topic
		{"malformed property length", []byte{0, 7, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}, 0},
	} {
		for _, step := range []int{1, 2, 3, len(c.body)} {
			s := newSubScan()
			got := byte(0)
			for i := 0; i < len(c.body) && got == 0; i += step {
				got = s.feed(c.body[i:min(i+step, len(c.body))])
			}
			if got == 0 {
				got = s.end()
			}
			if got != c.want {
				t.Errorf("%s (fed %d at a time): got %#x, want %#x", c.name, step, got, c.want)
			}
		}
	}
}

func TestConnectLevel(t *testing.T) {
	for _, v := range []byte{3, 4, 5} {
		b := testutil.ConnectPacket("lvl", v)
		if got := connectLevel(b); got != v && !(v == 3 && got == 0) {
			t.Errorf("level %d: got %d", v, got)
		}
		for i := 0; i < 8; i++ {
			if got := connectLevel(b[:i]); got != 0 {
				t.Errorf("level %d cut at %d: got %d", v, i, got)
			}
		}
	}
}

// TestSubscribeOptionsRefused: an MQTT 5 SUBSCRIBE with reserved option
// bits set is malformed (DISCONNECT 0x81) [MQTT-3.8.3-5], one with Retain
// Handling 3 a protocol error (0x82), one whose filter lacks its options
// byte malformed (mochi's decoder would index past it and end the
// process). Packets before it in the same segment are answered first; the
// same bytes from an MQTT 3.1.1 client are mochi's to judge; a valid
// SUBSCRIBE sent a byte at a time is granted.
func TestSubscribeOptionsRefused(t *testing.T) {
	b := startBroker(t, testConfig())
	addr := b.Addrs()["tcp"]
	sub := func(body []byte) []byte {
		return append(append([]byte{0x82}, encodeVarint(len(body))...), body...)
	}
	for _, c := range []struct {
		name string
		pk   []byte
		want byte
	}{
		{"reserved bits", sub(subscribeBody(nil, []string{"a/b"}, []byte{0xC1})), 0x81},
		{"retain handling 3", sub(subscribeBody(nil, []string{"a/b"}, []byte{0x31})), 0x82},
		{"no options byte", sub(subscribeBody(nil, []string{"a/b"}, nil)), 0x81},
	} {
		c5 := rawSession(t, addr, 5, "opts-"+c.name)
		// a QoS 1 PUBLISH in the same write: its PUBACK comes first
		pub := encode(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, PacketID: 9, TopicName: "x", Payload: []byte("p"), ProtocolVersion: 5})
		_, _ = c5.Write(append(pub, c.pk...))
		got := readUntilClosed(t, c5, 5*time.Second)
		if len(got) < 4 || got[0] != 0x40 || got[2] != 0 || got[3] != 9 || int(got[1])+2+4 != len(got) || !bytes.HasSuffix(got, disconnectFor(c.want)) {
			t.Errorf("%s: got %x, want PUBACK then DISCONNECT %#x", c.name, got, c.want)
		}
	}
	// CONNECT and the bad SUBSCRIBE in one write: CONNACK, then DISCONNECT.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write(append(testutil.ConnectPacket("opts-pipelined", 5), sub(subscribeBody(nil, []string{"a"}, []byte{0x40}))...))
	got := readUntilClosed(t, c, 5*time.Second)
	if len(got) < 4 || got[0] != 0x20 || !bytes.HasSuffix(got, disconnectFor(0x81)) || int(got[1])+2+4 != len(got) {
		t.Errorf("pipelined: got %x, want CONNACK then DISCONNECT 0x81", got)
	}
	// MQTT 3.1.1: the options byte is the QoS byte; mochi refuses 0x41 itself.
	c4 := rawSession(t, addr, 4, "opts-v4")
	_, _ = c4.Write([]byte{0x82, 0x06, 0x00, 0x07, 0x00, 0x01, 'a', 0x41})
	if got := readUntilClosed(t, c4, 5*time.Second); len(got) != 0 {
		t.Errorf("v3.1.1: got %x, want a plain close", got)
	}
	// A valid SUBSCRIBE with properties, a byte per write, is granted.
	ok := rawSession(t, addr, 5, "opts-ok")
	pk := sub(subscribeBody([]byte{0x0B, 0x05}, []string{"a/+", "b/#"}, []byte{0x2E, 0x1D}))
	for i := range pk {
		if _, err := ok.Write(pk[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	typ, body := reply(t, ok, nil)
	if typ != 0x90 || !bytes.Equal(body[len(body)-2:], []byte{0x02, 0x01}) {
		t.Errorf("valid SUBSCRIBE: %x %x, want SUBACK 02 01", typ, body)
	}
}
