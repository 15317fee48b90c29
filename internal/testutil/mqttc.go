// Package testutil holds helpers shared by tests: real MQTT clients (paho
// for MQTT 5 and 3.1.1), raw MQTT packet bytes, waiting on conditions with a
// deadline, and test certificates. Only tests import it.
package testutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/mochi-mqtt/server/v2/packets"
)

// V5 is a connected MQTT 5 client whose received messages arrive on Msgs.
type V5 struct {
	*paho.Client
	Msgs        chan *paho.Publish
	Disconnects chan *paho.Disconnect
	Connack     *paho.Connack
	Conn        net.Conn // the TCP connection: closing it drops the client without DISCONNECT
}

// DialV5 connects an MQTT 5 client to addr (host:port) with clean start.
// The client is disconnected when the test ends.
func DialV5(t testing.TB, addr, clientID string) *V5 {
	t.Helper()
	c, err := TryDialV5(addr, clientID, true)
	if err != nil {
		t.Fatalf("mqtt5 connect %s as %q: %v", addr, clientID, err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{ReasonCode: 0}) })
	return c
}

// TryDialV5 connects and returns the error instead of failing the test; the
// caller disconnects. clean=false asks for a session kept 5 minutes.
func TryDialV5(addr, clientID string, clean bool) (*V5, error) {
	cp := &paho.Connect{ClientID: clientID, CleanStart: clean, KeepAlive: 30}
	if !clean { // a persistent session: keep it for 5 minutes after disconnect
		expiry := uint32(300)
		cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: &expiry}
	}
	return TryConnectV5(addr, cp)
}

// ConnackCode connects an MQTT 5 client to addr with cp and returns the
// CONNACK reason code (0: accepted, then disconnected again; 0xff: no
// CONNACK came).
func ConnackCode(addr string, cp *paho.Connect) byte {
	v, err := TryConnectV5(addr, cp)
	if err != nil {
		if v != nil && v.Connack != nil {
			return v.Connack.ReasonCode
		}
		return 0xff
	}
	_ = v.Disconnect(&paho.Disconnect{})
	return 0
}

// TryConnectV5 connects an MQTT 5 client to addr with the CONNECT cp (its
// client id, will and properties as given); the caller disconnects. On a
// refused CONNECT the client is returned with the error (Connack set).
func TryConnectV5(addr string, cp *paho.Connect) (*V5, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	v := &V5{Msgs: make(chan *paho.Publish, 100000), Disconnects: make(chan *paho.Disconnect, 1), Conn: conn}
	v.Client = paho.NewClient(paho.ClientConfig{
		ClientID: cp.ClientID,
		Conn:     conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(r paho.PublishReceived) (bool, error) {
			v.Msgs <- r.Packet
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) {
			select {
			case v.Disconnects <- d:
			default:
			}
		},
		OnClientError: func(error) {},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ca, err := v.Connect(ctx, cp)
	v.Connack = ca
	if err != nil {
		_ = conn.Close()
		return v, err
	}
	return v, nil
}

// Sub subscribes to filter at qos or fails the test.
func (v *V5) Sub(t testing.TB, filter string, qos byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sa, err := v.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}})
	if err != nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
	if len(sa.Reasons) != 1 || sa.Reasons[0] != qos {
		t.Fatalf("subscribe %s: granted %v, want qos %d", filter, sa.Reasons, qos)
	}
}

// Pub publishes or fails the test (QoS 1/2 wait for the acknowledgement).
func (v *V5) Pub(t testing.TB, topic string, qos byte, payload []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := v.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Payload: payload}); err != nil {
		t.Fatalf("publish %s qos %d: %v", topic, qos, err)
	}
}

// Expect waits for the next message and checks topic and payload.
func (v *V5) Expect(t testing.TB, topic string, payload []byte) *paho.Publish {
	t.Helper()
	select {
	case m := <-v.Msgs:
		if m.Topic != topic || !bytes.Equal(m.Payload, payload) {
			t.Fatalf("got %s %q, want %s %q", m.Topic, m.Payload, topic, payload)
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("no message on %s within 10s", topic)
	}
	return nil
}

// ExpectAfterTakeover is Expect for the first message a connection gets
// after it took a session over: the message the old connection had received
// but not yet acknowledged when it was taken over is owed again, and may come
// first, marked DUP [MQTT-4.4.0-1]. Only that one (same topic, payload resent)
// is let through ahead of the wanted one.
func (v *V5) ExpectAfterTakeover(t testing.TB, topic string, payload, resent []byte) *paho.Publish {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-v.Msgs:
			if m.Topic == topic && bytes.Equal(m.Payload, payload) {
				return m
			}
			if m.Topic != topic || !bytes.Equal(m.Payload, resent) || !m.Duplicate() {
				t.Fatalf("after the takeover: got %s %q (DUP %v), want %s %q", m.Topic, m.Payload, m.Duplicate(), topic, payload)
			}
		case <-deadline:
			t.Fatalf("no message on %s within 10s of the takeover", topic)
			return nil
		}
	}
}

// Eventually polls cond every 20ms until it holds or d passes.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ConnectPacket returns the bytes of a CONNECT packet (version 4 or 5).
func ConnectPacket(clientID string, version byte) []byte {
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Connect},
		ProtocolVersion: version,
		Connect: packets.ConnectParams{
			ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 30, ClientIdentifier: clientID,
		},
	}
	var b bytes.Buffer
	if err := pk.ConnectEncode(&b); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// Dial311 connects to addr as the MQTT 3.1.1 client id (clean session)
// and reads its CONNACK (within 10 s): the connection and the return code.
func Dial311(addr, id string) (net.Conn, byte, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, 0, err
	}
	ack := make([]byte, 4)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err = c.Write(ConnectPacket(id, 4)); err == nil {
		_, err = io.ReadFull(c, ack)
	}
	if err == nil && (ack[0] != 0x20 || ack[1] != 2) {
		err = fmt.Errorf("not a CONNACK: % x", ack)
	}
	if err != nil {
		c.Close()
		return nil, 0, err
	}
	_ = c.SetDeadline(time.Time{})
	return c, ack[3], nil
}

// StalledSubscriber is an MQTT 3.1.1 client id subscribed to filter at
// QoS 0 that reads nothing after its SUBACK, with a small receive buffer:
// its socket soon fills with what is sent to it. Closed with the test.
func StalledSubscriber(t testing.TB, addr, id, filter string) net.Conn {
	t.Helper()
	c, code, err := Dial311(addr, id)
	if err != nil || code != 0 {
		t.Fatalf("stalled subscriber %s: CONNACK %d %v", id, code, err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.(*net.TCPConn).SetReadBuffer(4096)
	var sb bytes.Buffer
	sp := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1, ProtocolVersion: 4,
		Filters: packets.Subscriptions{{Filter: filter, Qos: 0}}}
	if err := sp.SubscribeEncode(&sb); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 5)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(sb.Bytes()); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, ack); err != nil || ack[0] != 0x90 || ack[4] != 0 {
		t.Fatalf("stalled subscriber %s not subscribed: % x %v", id, ack, err)
	}
	_ = c.SetDeadline(time.Time{})
	return c
}

// Each calls fn for every message received, in a goroutine that ends with the test.
func (v *V5) Each(t testing.TB, fn func(*paho.Publish)) {
	ctx := t.Context()
	go func() {
		for {
			select {
			case m := <-v.Msgs:
				fn(m)
			case <-ctx.Done():
				return
			}
		}
	}()
}

// ConnRefused fails unless a TCP connect to addr is refused (nothing
// listens there).
func ConnRefused(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		_ = c.Close()
		t.Fatalf("%s still accepts connections", addr)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: %v, want connection refused", addr, err)
	}
}
