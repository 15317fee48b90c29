package broker

import (
	"bytes"
	"net"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

// connectBytes encodes a CONNECT; level is the protocol level byte.
func connectBytes(t *testing.T, level byte, clientID string, clean bool) []byte {
	t.Helper()
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: level,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: clean, Keepalive: 30, ClientIdentifier: clientID}}
	if level != 5 {
		pk.ProtocolVersion = 4 // encode in 3.1.1 form, then set the level byte
	}
	var b bytes.Buffer
	if err := pk.ConnectEncode(&b); err != nil {
		t.Fatal(err)
	}
	out := b.Bytes()
	if level != 5 {
		out[8] = level // fixed header (2), name length (2), "MQTT" (4), level
	}
	return out
}

// connack sends raw on a new connection and returns the CONNACK's
// return/reason code and whether it came in MQTT 5 form (with properties).
func connack(t *testing.T, addr string, raw []byte) (code byte, v5 bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	typ, body := reply(t, c, raw)
	if typ != 0x20 || len(body) < 2 {
		t.Fatalf("no CONNACK: %x %x", typ, body)
	}
	return body[1], len(body) > 2
}

// TestConnectRefusalCodes: a refused CONNECT gets the code its protocol
// version defines: 3.1.1 has return codes 0x00-0x05 only.
func TestConnectRefusalCodes(t *testing.T) {
	b := startBroker(t, testConfig())
	addr := b.Addrs()["tcp"]
	for _, c := range []struct {
		what     string
		raw      []byte
		code     byte
		v5Form   bool
		accepted bool
	}{
		{"unsupported protocol level 6 [MQTT-3.1.2-2]", connectBytes(t, 6, "lvl6", true), 0x01, false, false},
		{"unsupported protocol level 2", connectBytes(t, 2, "lvl2", true), 0x01, false, false},
		{"3.1.1 empty client id, clean session 0 [MQTT-3.1.3-8]", connectBytes(t, 4, "", false), 0x02, false, false},
		{"5.0 empty client id, clean start 0", connectBytes(t, 5, "", false), 0x85, true, false},
		{"3.1.1 empty client id, clean session 1 [MQTT-3.1.3-6]", connectBytes(t, 4, "", true), 0x00, false, true},
		{"5.0 empty client id, clean start 1: an id is assigned", connectBytes(t, 5, "", true), 0x00, true, true},
	} {
		code, v5 := connack(t, addr, c.raw)
		if code != c.code || v5 != c.v5Form {
			t.Errorf("%s: CONNACK code %#x (v5 form %v), want %#x (v5 form %v)", c.what, code, v5, c.code, c.v5Form)
		}
	}
}
