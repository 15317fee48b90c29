package broker

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// raw is a bare MQTT client over TCP for tests that need control of every
// packet: when acknowledgements go out, what flags arrive.
type raw struct {
	t   testing.TB
	c   net.Conn
	r   *bufio.Reader
	v   byte
	wmu sync.Mutex
}

// dialRaw connects with CONNECT cp (protocol version v) and reads the
// CONNACK; it returns the session-present flag.
func dialRaw(t testing.TB, addr string, v byte, cp packets.ConnectParams, props packets.Properties) (*raw, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &raw{t: t, c: c, r: bufio.NewReaderSize(c, 64<<10), v: v}
	cp.ProtocolName = []byte("MQTT")
	if cp.Keepalive == 0 {
		cp.Keepalive = 60
	}
	r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: v, Connect: cp, Properties: props})
	pk := r.read(5 * time.Second)
	if pk.FixedHeader.Type != packets.Connack || pk.ReasonCode != 0 {
		t.Fatalf("CONNACK: %+v", pk)
	}
	return r, pk.SessionPresent
}

func (r *raw) send(pk packets.Packet) {
	r.t.Helper()
	if err := r.write(pk); err != nil {
		r.t.Fatal(err)
	}
}

func (r *raw) write(pk packets.Packet) error {
	pk.ProtocolVersion = r.v
	b, err := encodePacket(pk)
	if err != nil {
		return err
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	_, err = r.c.Write(b)
	return err
}

// encodePacket encodes the client-side packets the tests send.
func encodePacket(pk packets.Packet) ([]byte, error) {
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
	case packets.Disconnect:
		err = pk.DisconnectEncode(&b)
	default:
		err = fmt.Errorf("no encoder for packet type %d", pk.FixedHeader.Type)
	}
	return b.Bytes(), err
}

// next reads one packet, or returns an error (a timeout included).
func (r *raw) next(within time.Duration) (packets.Packet, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(within))
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
	case packets.Disconnect:
		err = pk.DisconnectDecode(body)
	}
	return pk, err
}

func (r *raw) read(within time.Duration) packets.Packet {
	r.t.Helper()
	pk, err := r.next(within)
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return pk
}

func (r *raw) subscribe(filter string, qos byte) {
	r.t.Helper()
	r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1,
		Filters: packets.Subscriptions{{Filter: filter, Qos: qos}}})
	if pk := r.read(5 * time.Second); pk.FixedHeader.Type != packets.Suback || len(pk.ReasonCodes) != 1 || pk.ReasonCodes[0] > 2 {
		r.t.Fatalf("SUBACK: %+v", pk)
	}
}

func (r *raw) ack(id uint16) error {
	return r.write(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: id})
}

func publishPacket(topic string, qos byte, id uint16, payload []byte) packets.Packet {
	return packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos}, TopicName: topic, PacketID: id, Payload: payload}
}

func seqPayload(i int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(i)) }

func seqOf(pk packets.Packet) int {
	if len(pk.Payload) != 8 {
		return -1
	}
	return int(binary.BigEndian.Uint64(pk.Payload))
}

// publishWindowed publishes n QoS 1 messages numbered 1..n on topic as fast
// as it can with up to window unacknowledged, and waits for every PUBACK.
func (r *raw) publishWindowed(topic string, n, window int) {
	r.t.Helper()
	slots := make(chan struct{}, window)
	done := make(chan error, 1)
	go func() {
		for got := 0; got < n; got++ {
			pk, err := r.next(30 * time.Second)
			if err != nil {
				done <- err
				return
			}
			if pk.FixedHeader.Type != packets.Puback {
				got--
				continue
			}
			<-slots
		}
		done <- nil
	}()
	for i := 1; i <= n; i++ {
		slots <- struct{}{}
		if err := r.write(publishPacket(topic, 1, uint16(i%65535+1), seqPayload(i))); err != nil {
			r.t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		r.t.Fatalf("PUBACKs: %v", err)
	}
}
