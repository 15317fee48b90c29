package conformance_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// wait bounds every read of a test client.
const wait = 5 * time.Second

// rawc is a bare MQTT client over TCP: the test decides every byte it
// sends and sees every packet the node answers with.
type rawc struct {
	t   testing.TB
	c   net.Conn
	r   *bufio.Reader
	v   byte
	wmu sync.Mutex
	// pending holds packets readType passed over, for the next reads.
	pending []packets.Packet
}

// dial opens a TCP connection speaking protocol version v (4 or 5) and
// sends nothing yet.
func dial(t testing.TB, addr string, v byte) *rawc {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return newRawc(t, c, v)
}

func newRawc(t testing.TB, c net.Conn, v byte) *rawc {
	return &rawc{t: t, c: c, r: bufio.NewReaderSize(c, 64<<10), v: v}
}

// connectPk is a CONNECT packet for client id with clean start/session clean.
func connectPk(id string, clean bool) packets.Packet {
	return packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect},
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: id, Clean: clean, Keepalive: 60}}
}

// connect dials and sends CONNECT pk, returning the client and the
// CONNACK; it fails the test unless the node accepts.
func connect(t testing.TB, addr string, v byte, pk packets.Packet) (*rawc, packets.Packet) {
	t.Helper()
	r := dial(t, addr, v)
	r.send(pk)
	ca := r.read()
	if ca.FixedHeader.Type != packets.Connack || ca.ReasonCode != 0 {
		t.Fatalf("CONNACK: %+v", ca)
	}
	return r, ca
}

// connectID connects a clean client id with default settings.
func connectID(t testing.TB, addr string, v byte, id string) *rawc {
	t.Helper()
	r, _ := connect(t, addr, v, connectPk(id, true))
	return r
}

func encode(pk packets.Packet, v byte) ([]byte, error) {
	pk.ProtocolVersion = v
	pk.Mods.AllowResponseInfo = true // else mochi's encoder leaves out Response Topic and Correlation Data
	var b bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&b)
	case packets.Publish:
		err = pk.PublishEncode(&b)
	case packets.Puback:
		err = pk.PubackEncode(&b)
	case packets.Pubrec:
		err = pk.PubrecEncode(&b)
	case packets.Pubrel:
		err = pk.PubrelEncode(&b)
	case packets.Pubcomp:
		err = pk.PubcompEncode(&b)
	case packets.Subscribe:
		err = pk.SubscribeEncode(&b)
	case packets.Unsubscribe:
		err = pk.UnsubscribeEncode(&b)
	case packets.Pingreq:
		err = pk.PingreqEncode(&b)
	case packets.Disconnect:
		err = pk.DisconnectEncode(&b)
	case packets.Auth:
		err = pk.AuthEncode(&b)
	default:
		err = errors.New("cannot encode this type")
	}
	return b.Bytes(), err
}

// bytes returns the encoding of pk for this client's version.
func (r *rawc) bytes(pk packets.Packet) []byte {
	r.t.Helper()
	b, err := encode(pk, r.v)
	if err != nil {
		r.t.Fatalf("encode %v: %v", pk.FixedHeader.Type, err)
	}
	return b
}

func (r *rawc) send(pk packets.Packet) { r.t.Helper(); r.write(r.bytes(pk)) }

// write sends raw bytes; a write error after the node closed is ignored
// (the reads that follow tell what happened).
func (r *rawc) write(b []byte) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	_ = r.c.SetWriteDeadline(time.Now().Add(wait))
	_, _ = r.c.Write(b)
}

// next reads one packet within d.
func (r *rawc) next(d time.Duration) (packets.Packet, error) {
	if len(r.pending) > 0 {
		pk := r.pending[0]
		r.pending = r.pending[1:]
		return pk, nil
	}
	_ = r.c.SetReadDeadline(time.Now().Add(d))
	b0, err := r.r.ReadByte()
	if err != nil {
		return packets.Packet{}, err
	}
	n, err := binary.ReadUvarint(r.r)
	if err != nil {
		return packets.Packet{}, err
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r.r, body); err != nil {
		return packets.Packet{}, err
	}
	pk := packets.Packet{ProtocolVersion: r.v}
	if err := pk.FixedHeader.Decode(b0); err != nil {
		return pk, err
	}
	pk.FixedHeader.Remaining = int(n)
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	case packets.Puback:
		err = pk.PubackDecode(body)
	case packets.Pubrec:
		err = pk.PubrecDecode(body)
	case packets.Pubrel:
		err = pk.PubrelDecode(body)
	case packets.Pubcomp:
		err = pk.PubcompDecode(body)
	case packets.Suback:
		err = pk.SubackDecode(body)
	case packets.Unsuback:
		err = pk.UnsubackDecode(body)
	case packets.Disconnect:
		err = pk.DisconnectDecode(body)
	case packets.Auth:
		err = pk.AuthDecode(body)
	}
	return pk, err
}

// read reads one packet or fails the test.
func (r *rawc) read() packets.Packet {
	r.t.Helper()
	pk, err := r.next(wait)
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return pk
}

// readType reads packets until one of type typ arrives or fails the
// test; packets of other types read meanwhile are kept for later reads.
func (r *rawc) readType(typ byte) packets.Packet {
	r.t.Helper()
	for i, pk := range r.pending {
		if pk.FixedHeader.Type == typ {
			r.pending = slices.Delete(r.pending, i, i+1)
			return pk
		}
	}
	held := r.pending
	r.pending = nil
	defer func() { r.pending = append(held, r.pending...) }()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		pk, err := r.next(time.Until(deadline))
		if err != nil {
			r.t.Fatalf("waiting for packet type %d: %v", typ, err)
		}
		if pk.FixedHeader.Type == typ {
			return pk
		}
		held = append(held, pk)
	}
	r.t.Fatalf("no packet type %d within %s", typ, wait)
	return packets.Packet{}
}

// closed reads until the node closes the connection (within wait) and
// returns the packets it sent before; it fails the test if the connection
// stays open.
func (r *rawc) closed() []packets.Packet {
	r.t.Helper()
	var got []packets.Packet
	deadline := time.Now().Add(wait)
	for {
		pk, err := r.next(time.Until(deadline))
		if err == nil {
			got = append(got, pk)
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			r.t.Fatalf("connection still open after %s (got %d packets)", wait, len(got))
		}
		return got // EOF, reset, or a malformed tail: the node hung up
	}
}

// quiet checks that nothing arrives within d (a bounded negative check).
func (r *rawc) quiet(d time.Duration) {
	r.t.Helper()
	pk, err := r.next(d)
	if err == nil {
		r.t.Fatalf("unexpected packet type %d: %+v", pk.FixedHeader.Type, pk)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		r.t.Fatalf("connection closed: %v", err)
	}
}

// subscribe sends one SUBSCRIBE with the given subscriptions and returns
// the SUBACK's reason codes.
func (r *rawc) subscribe(id uint16, props packets.Properties, subs ...packets.Subscription) []byte {
	r.t.Helper()
	r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: id, Filters: subs, Properties: props})
	sa := r.readType(packets.Suback)
	if sa.PacketID != id {
		r.t.Fatalf("SUBACK id %d, want %d", sa.PacketID, id)
	}
	return sa.ReasonCodes
}

// sub subscribes to one filter at qos and checks it is granted.
func (r *rawc) sub(filter string, qos byte) {
	r.t.Helper()
	if rc := r.subscribe(1, packets.Properties{}, packets.Subscription{Filter: filter, Qos: qos}); len(rc) != 1 || rc[0] != qos {
		r.t.Fatalf("SUBACK %s: %v", filter, rc)
	}
}

// publish sends a PUBLISH and, for QoS 1 and 2, completes the flow.
func (r *rawc) publish(topic string, qos byte, retain bool, payload []byte) {
	r.t.Helper()
	r.publishProps(topic, qos, retain, payload, packets.Properties{})
}

func (r *rawc) publishProps(topic string, qos byte, retain bool, payload []byte, props packets.Properties) {
	r.t.Helper()
	var id uint16
	if qos > 0 {
		id = 77
	}
	r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos, Retain: retain},
		TopicName: topic, PacketID: id, Payload: payload, Properties: props})
	switch qos {
	case 1:
		if pk := r.readType(packets.Puback); pk.PacketID != id {
			r.t.Fatalf("PUBACK id %d", pk.PacketID)
		}
	case 2:
		if pk := r.readType(packets.Pubrec); pk.PacketID != id {
			r.t.Fatalf("PUBREC id %d", pk.PacketID)
		}
		r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrel, Qos: 1}, PacketID: id})
		if pk := r.readType(packets.Pubcomp); pk.PacketID != id {
			r.t.Fatalf("PUBCOMP id %d", pk.PacketID)
		}
	}
}

// ack acknowledges a received PUBLISH according to its QoS.
func (r *rawc) ack(pk packets.Packet) {
	r.t.Helper()
	switch pk.FixedHeader.Qos {
	case 1:
		r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: pk.PacketID})
	case 2:
		r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrec}, PacketID: pk.PacketID})
		if rel := r.readType(packets.Pubrel); rel.PacketID != pk.PacketID {
			r.t.Fatalf("PUBREL id %d, want %d", rel.PacketID, pk.PacketID)
		}
		r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubcomp}, PacketID: pk.PacketID})
	}
}

// expect reads the next PUBLISH and checks topic and payload.
func (r *rawc) expect(topic string, payload []byte) packets.Packet {
	r.t.Helper()
	pk := r.readType(packets.Publish)
	if pk.TopicName != topic || !bytes.Equal(pk.Payload, payload) {
		r.t.Fatalf("got PUBLISH %s %q, want %s %q", pk.TopicName, pk.Payload, topic, payload)
	}
	return pk
}

// disconnect sends a normal DISCONNECT and waits for the node to close
// the connection.
func (r *rawc) disconnect() {
	r.t.Helper()
	r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
	// Wait for the node to hang up: until then it may still send on this
	// connection what a test means for the offline session (a message
	// sent there is in flight, owed whatever its expiry [MQTT-3.3.2-5]).
	r.closed()
	_ = r.c.Close()
}
