package broker

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	pahov3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"emqxgo/internal/config"
	"emqxgo/internal/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testConfig is the defaults with a TCP listener on a free loopback port,
// and lines (emqx.conf syntax) over them.
func testConfig(lines ...string) *config.Config {
	return config.MustFromLines(os.TempDir(), append([]string{"listener.tcp.external = 127.0.0.1:0"}, lines...)...)
}

func startBroker(t testing.TB, cfg *config.Config) *Broker {
	t.Helper()
	return startBrokerWith(t, cfg, zap.NewNop())
}

// startBrokerWith starts a broker logging to log, stopped when the test
// ends.
func startBrokerWith(t testing.TB, cfg *config.Config, log *zap.Logger) *Broker {
	t.Helper()
	b, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return b
}

func TestPubSubAllQoS(t *testing.T) {
	b := startBroker(t, testConfig())
	addr := b.Addrs()["tcp"]
	sub := testutil.DialV5(t, addr, "sub")
	pub := testutil.DialV5(t, addr, "pub")
	for qos := byte(0); qos <= 2; qos++ {
		topic := fmt.Sprintf("t/%d", qos)
		sub.Sub(t, "t/+", qos)
		payload := []byte(fmt.Sprintf("hello qos %d", qos))
		pub.Pub(t, topic, qos, payload)
		m := sub.Expect(t, topic, payload)
		if m.QoS != qos {
			t.Fatalf("delivered at qos %d, want %d", m.QoS, qos)
		}
	}
}

func TestMQTT311Client(t *testing.T) {
	b := startBroker(t, testConfig())
	got := make(chan string, 10)
	opts := pahov3.NewClientOptions().AddBroker("tcp://" + b.Addrs()["tcp"]).SetClientID("v3").SetAutoReconnect(false)
	c := pahov3.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	for qos := byte(0); qos <= 2; qos++ {
		topic := fmt.Sprintf("v3/%d", qos)
		if tok := c.Subscribe(topic, qos, func(_ pahov3.Client, m pahov3.Message) { got <- string(m.Payload()) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe: %v", tok.Error())
		}
		if tok := c.Publish(topic, qos, false, "m"+topic); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
		select {
		case p := <-got:
			if p != "m"+topic {
				t.Fatalf("got %q", p)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no message")
		}
	}
}

// readUntilClosed reads everything until the server closes the connection.
func readUntilClosed(t *testing.T, c net.Conn, within time.Duration) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	b, err := io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection still open after %s", within)
	}
	return b
}

func TestIdleConnectionClosed(t *testing.T) {
	cfg := testConfig()
	cfg.ZoneOf("external").IdleTimeout = 300 * time.Millisecond
	b := startBroker(t, cfg)
	c, err := net.Dial("tcp", b.Addrs()["tcp"])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	readUntilClosed(t, c, 5*time.Second)
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Fatalf("closed after %s, before the idle timeout", el)
	}
	// A client that does send CONNECT in time is not cut by the idle timeout.
	v := testutil.DialV5(t, b.Addrs()["tcp"], "alive")
	time.Sleep(2 * cfg.ZoneOf("external").IdleTimeout) // the point is that time passes beyond the CONNECT deadline
	v.Sub(t, "still/here", 1)
}

func TestGarbageClosesOnlyThatConnection(t *testing.T) {
	b := startBroker(t, testConfig())
	addr := b.Addrs()["tcp"]
	good := testutil.DialV5(t, addr, "good")
	good.Sub(t, "g", 1)
	for _, junk := range [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		{0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		append(testutil.ConnectPacket("j", 5), 0x00, 0x00, 0x00), // reserved packet type 0 after CONNECT
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write(junk)
		readUntilClosed(t, c, 5*time.Second)
		c.Close()
	}
	good.Pub(t, "g", 1, []byte("ok"))
	good.Expect(t, "g", []byte("ok"))
}

func TestOversizedPacket(t *testing.T) {
	cfg := testConfig()
	cfg.ZoneOf("external").MaxPacketSize = 1024
	b := startBroker(t, cfg)
	addr := b.Addrs()["tcp"]
	for _, version := range []byte{5, 4} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write(testutil.ConnectPacket(fmt.Sprintf("big%d", version), version))
		ack := make([]byte, 4)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, ack[:2]); err != nil || ack[0] != 0x20 {
			t.Fatalf("v%d: no CONNACK: %v %x", version, err, ack)
		}
		rest := make([]byte, ack[1])
		_, _ = io.ReadFull(c, rest)
		// PUBLISH QoS 0 claiming 200 MB: refused from the header alone.
		_, _ = c.Write([]byte{0x30, 0x80, 0x80, 0x80, 0x64, 0x00, 0x01, 't'})
		got := readUntilClosed(t, c, 5*time.Second)
		if version == 5 && !bytes.Equal(got, disconnectFor(0x95)) {
			t.Fatalf("v5: got %x before close, want DISCONNECT 0x95 %x", got, disconnectFor(0x95))
		}
		if version == 4 && len(got) != 0 {
			t.Fatalf("v3.1.1: got %x, want a plain close", got)
		}
		c.Close()
	}
	// An MQTT 5 client sees the limit in CONNACK and the broker keeps serving.
	v := testutil.DialV5(t, addr, "after")
	if v.Connack.Properties == nil || v.Connack.Properties.MaximumPacketSize == nil || *v.Connack.Properties.MaximumPacketSize != 1024 {
		t.Fatalf("CONNACK does not advertise maximum packet size 1024: %+v", v.Connack.Properties)
	}
	v.Sub(t, "a", 0)
	v.Pub(t, "a", 0, bytes.Repeat([]byte("x"), 900))
	v.Expect(t, "a", bytes.Repeat([]byte("x"), 900))
}

func TestRefusedClientIDs(t *testing.T) {
	cfg := testConfig()
	cfg.ZoneOf("external").MaxClientIDLen = 30
	b := startBroker(t, cfg)
	for _, id := range []string{ReservedClientIDPrefix + "peer", strings.Repeat("x", 31)} {
		v, err := testutil.TryDialV5(b.Addrs()["tcp"], id, true)
		if err == nil {
			v.Disconnect(&paho.Disconnect{})
			t.Fatalf("client id %q accepted", id)
		}
		if v == nil || v.Connack == nil || v.Connack.ReasonCode != 0x85 {
			t.Fatalf("client id %q: want CONNACK 0x85, got %+v (%v)", id, v, err)
		}
	}
}

func TestTLSAndWebSocketListeners(t *testing.T) {
	certs := testutil.WriteCerts(t, t.TempDir())
	var lines []string
	for _, p := range []string{"ssl", "ws", "wss"} {
		lines = append(lines, "listener."+p+".external = 127.0.0.1:0")
		if p != "ws" {
			lines = append(lines, "listener."+p+".external.certfile = "+certs.CertFile, "listener."+p+".external.keyfile = "+certs.KeyFile,
				"listener."+p+".external.cacertfile = "+certs.CAFile)
		}
	}
	cfg := testConfig(lines...)
	b := startBroker(t, cfg)
	a := b.Addrs()
	for _, url := range []string{"ssl://" + a["ssl"], "ws://" + a["ws"] + "/mqtt", "wss://" + a["wss"] + "/mqtt"} {
		t.Run(strings.SplitN(url, ":", 2)[0], func(t *testing.T) {
			got := make(chan string, 1)
			opts := pahov3.NewClientOptions().AddBroker(url).SetClientID("c-" + url[:3]).
				SetAutoReconnect(false).SetTLSConfig(&tls.Config{RootCAs: certs.Pool})
			c := pahov3.NewClient(opts)
			if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("connect %s: %v", url, tok.Error())
			}
			defer c.Disconnect(100)
			if tok := c.Subscribe("x", 1, func(_ pahov3.Client, m pahov3.Message) { got <- string(m.Payload()) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatal(tok.Error())
			}
			c.Publish("x", 1, false, url)
			select {
			case p := <-got:
				if p != url {
					t.Fatalf("got %q", p)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no message")
			}
		})
	}
}

func TestStopUnderConnectChurn(t *testing.T) {
	cfg := testConfig()
	b, err := New(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	addr := b.Addrs()["tcp"]
	v5 := testutil.DialV5(t, addr, "watcher")
	churn := testutil.StartChurn(t, addr, 4, 100000) // bounded; ends when the broker is gone
	testutil.Eventually(t, 10*time.Second, "clients churning", func() bool { return churn.Connects() > 50 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := b.Stop(ctx); err != nil {
		t.Fatalf("stop under churn: %v", err)
	}
	churn.Stop()
	t.Logf("stopped in %s after %d connects", time.Since(start), churn.Connects())
	select {
	case d := <-v5.Disconnects:
		if d.ReasonCode != 0x8B {
			t.Fatalf("DISCONNECT reason %#x, want 0x8B", d.ReasonCode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("MQTT 5 client got no DISCONNECT 0x8B")
	}
	if n := b.connectedClients(); n != 0 {
		t.Fatalf("%d clients still connected after stop", n)
	}
}

// TestWebSocketPacketSize: over WebSocket the size limit holds per packet,
// not per message: a message with many small packets, larger than the
// limit in all, is read [MQTT-6.0.0-2]; a packet over the limit gets
// DISCONNECT 0x95 and the connection closes.
func TestWebSocketPacketSize(t *testing.T) {
	cfg := testConfig("listener.ws.external = 127.0.0.1:0")
	cfg.ZoneOf("external").MaxPacketSize = 1024
	b := startBroker(t, cfg)
	ws, _, err := (&websocket.Dialer{Subprotocols: []string{"mqtt"}}).Dial("ws://"+b.Addrs()["ws"]+"/mqtt", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	read := func() []byte {
		t.Helper()
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, m, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	_ = ws.WriteMessage(websocket.BinaryMessage, testutil.ConnectPacket("wsmax", 5))
	if m := read(); m[0] != 0x20 || m[3] != 0 {
		t.Fatalf("CONNACK %x", m)
	}
	var many []byte
	for i := 0; i < 20; i++ {
		many = append(many, 0xC0, 0x00) // PINGREQ
		many = append(many, encode(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: "t",
			Payload: bytes.Repeat([]byte("x"), 200), ProtocolVersion: 5})...)
	}
	_ = ws.WriteMessage(websocket.BinaryMessage, many)
	got := 0
	for got < 20 {
		m := read()
		for i := 0; i+1 < len(m); i += 2 {
			if m[i] != 0xD0 || m[i+1] != 0 {
				t.Fatalf("got %x, want PINGRESPs", m)
			}
			got++
		}
	}
	_ = ws.WriteMessage(websocket.BinaryMessage, []byte{0x30, 0x80, 0x80, 0x80, 0x64, 0x00, 0x01, 't'})
	if m := read(); !bytes.Equal(m, disconnectFor(0x95)) {
		t.Fatalf("got %x, want DISCONNECT 0x95", m)
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := ws.ReadMessage(); err == nil {
		t.Fatal("connection still open")
	}
}
