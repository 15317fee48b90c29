package broker

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// connect5 builds an MQTT 5 CONNECT (clean start, keep alive 30) with the
// given raw properties.
func connect5(id string, props ...byte) []byte {
	var body []byte
	body = append(body, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 30)
	body = append(body, byte(len(props))) // properties shorter than 128 bytes here
	body = append(body, props...)
	body = append(body, 0, byte(len(id)))
	body = append(body, id...)
	return append([]byte{0x10, byte(len(body))}, body...)
}

func TestConnectVerdict(t *testing.T) {
	user := []byte{0x26, 0, 1, 'k', 0, 1, 'v'}
	for _, c := range []struct {
		what  string
		props []byte
		bad   bool
	}{
		{"none", nil, false},
		{"receive maximum 10", []byte{0x21, 0, 10}, false},
		{"receive maximum 0", []byte{0x21, 0, 0}, true},
		{"receive maximum twice", []byte{0x21, 0, 10, 0x21, 0, 20}, true},
		{"session expiry twice", []byte{0x11, 0, 0, 0, 5, 0x11, 0, 0, 0, 6}, true},
		{"maximum packet size 0", []byte{0x27, 0, 0, 0, 0}, true},
		{"request problem information 2", []byte{0x17, 2}, true},
		{"user property twice is allowed", append(append([]byte{}, user...), user...), false},
		{"authentication method twice", []byte{0x15, 0, 1, 'a', 0x15, 0, 1, 'b'}, true},
	} {
		raw := connect5("c", c.props...)
		if bad, more := connectVerdict(raw); bad != c.bad || more {
			t.Errorf("%s: bad %v more %v, want bad %v", c.what, bad, more, c.bad)
		}
		for k := 0; k < len(raw); k++ { // a prefix of a valid CONNECT is never refused
			if bad, _ := connectVerdict(raw[:k]); bad && !c.bad {
				t.Errorf("%s: prefix of %d bytes refused", c.what, k)
			}
		}
	}
	if bad, _ := connectVerdict([]byte{0x10, 0x0c, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 30, 0, 0}); bad {
		t.Error("an MQTT 3.1.1 CONNECT has no properties to refuse")
	}
}

// TestConnectPropertyErrors: CONNECT with a Receive Maximum of 0 or a
// repeated property gets CONNACK 0x82 and a close, also when it arrives a
// byte at a time; a valid one with repeated user properties is accepted.
func TestConnectPropertyErrors(t *testing.T) {
	b := startBroker(t, testConfig())
	addr := b.Addrs()["tcp"]
	for _, c := range []struct {
		raw     []byte
		trickle bool
		want    []byte
	}{
		{connect5("rm0", 0x21, 0, 0), false, connackProtocolError},
		{connect5("twice", 0x11, 0, 0, 0, 5, 0x11, 0, 0, 0, 6), true, connackProtocolError},
		{connect5("ok", 0x26, 0, 1, 'k', 0, 1, 'v', 0x26, 0, 1, 'k', 0, 1, 'w'), true, nil},
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if c.trickle {
			for _, x := range c.raw {
				_, _ = conn.Write([]byte{x})
				time.Sleep(time.Millisecond) // separate reads on the server side
			}
		} else {
			_, _ = conn.Write(c.raw)
		}
		if c.want != nil {
			if got := readUntilClosed(t, conn, 5*time.Second); !bytes.Equal(got, c.want) {
				t.Errorf("%x: got %x, want %x then close", c.raw, got, c.want)
			}
		} else {
			hdr := make([]byte, 4)
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(conn, hdr); err != nil || hdr[0] != 0x20 || hdr[3] != 0 {
				t.Errorf("valid CONNECT: %x %v, want CONNACK 0x00", hdr, err)
			}
		}
		conn.Close()
	}
}

// TestConnectFlagsVerdict: the flag rules and the user name's UTF-8, on
// CONNECTs encoded by the engine's own encoder, whole and cut short.
func TestConnectFlagsVerdict(t *testing.T) {
	connect := func(v byte, user string, will bool, mod func(*packets.Packet)) []byte {
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: v,
			Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 30, ClientIdentifier: "c"}}
		if user != "" {
			pk.Connect.UsernameFlag, pk.Connect.Username = true, []byte(user)
		}
		if will {
			pk.Connect.WillFlag, pk.Connect.WillTopic, pk.Connect.WillPayload = true, "w/t", []byte("gone")
			if v == 5 {
				pk.Connect.WillProperties = packets.Properties{ContentType: "text/plain"}
			}
		}
		if mod != nil {
			mod(&pk)
		}
		b, err := encodePacket(pk)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, c := range []struct {
		name string
		raw  []byte
		bad  bool
	}{
		{"v5 good user name", connect(5, "alice", false, nil), false},
		{"v5 good user name after a will", connect(5, "alice", true, nil), false},
		{"v3 good user name after a will", connect(4, "bob", true, nil), false},
		{"v5 user name not UTF-8", connect(5, "al\xc3ice", false, nil), true},
		{"v3 user name not UTF-8 after a will", connect(4, "b\xffob", true, nil), true},
		{"v5 user name with U+0000", connect(5, "a\x00b", false, nil), true},
		{"no user name", connect(5, "", true, nil), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad, more, _ := connectFlagsVerdict(c.raw)
			if bad != c.bad || more {
				t.Fatalf("bad %v more %v, want bad %v", bad, more, c.bad)
			}
			for k := 1; k < len(c.raw); k++ { // cut short: never judged bad early unless it is bad
				if bad, _, _ := connectFlagsVerdict(c.raw[:k]); bad && !c.bad {
					t.Fatalf("judged bad on its first %d bytes", k)
				}
			}
		})
	}
	willQoS := connect(4, "", false, nil)
	willQoS[9] |= 0x08 // connect flags of a 3.1.1 CONNECT: Will QoS 1 without the Will Flag
	if bad, _, answer := connectFlagsVerdict(willQoS); !bad || answer != nil {
		t.Fatalf("3.1.1 Will QoS without Will Flag: bad %v answer %v, want bad and no answer", bad, answer)
	}
}

// TestEmptyPassword: a CONNECT with the password flag and a password of
// zero bytes is accepted (Binary Data may be empty; mochi said 0x82), with
// or without a user name, MQTT 5 and 3.1.1.
func TestEmptyPassword(t *testing.T) {
	b := startBroker(t, testConfig())
	for _, v := range []byte{5, 4} {
		dialRaw(t, b.Addrs()["tcp"], v, packets.ConnectParams{ClientIdentifier: "ep1", Clean: true, UsernameFlag: true, PasswordFlag: true}, packets.Properties{})
		dialRaw(t, b.Addrs()["tcp"], v, packets.ConnectParams{ClientIdentifier: "ep2", Clean: true, UsernameFlag: true,
			Username: []byte("u"), PasswordFlag: true}, packets.Properties{})
	}
}
