package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// client is a minimal MQTT 3.1.1 client: the load generator must cost as
// little CPU as possible on a 2-core machine, and the same for every broker.
type client struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

func dial(addr, id string) (*client, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	cl := &client{c: c, r: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 64<<10)}
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 120, ClientIdentifier: id}}
	var b bytes.Buffer
	if err := pk.ConnectEncode(&b); err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(b.Bytes()); err != nil {
		c.Close()
		return nil, err
	}
	typ, body, err := cl.read()
	if err != nil || typ != packets.Connack || len(body) < 2 || body[1] != 0 {
		c.Close()
		return nil, fmt.Errorf("connack: type %d %x %v", typ, body, err)
	}
	_ = c.SetDeadline(time.Time{})
	return cl, nil
}

func (cl *client) close() { _ = cl.c.Close() }

// read returns the next packet's type and body.
func (cl *client) read() (byte, []byte, error) {
	h, err := cl.r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, err := binary.ReadUvarint(cl.r) // MQTT's remaining length is a uvarint
	if err != nil {
		return 0, nil, err
	}
	if n >= 1<<28 {
		return 0, nil, errors.New("malformed remaining length")
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(cl.r, body); err != nil {
		return 0, nil, err
	}
	return h >> 4, append([]byte{h & 0x0f}, body...), nil
}

func (cl *client) subscribe(filter string, qos byte) error {
	var b bytes.Buffer
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1, ProtocolVersion: 4,
		Filters: packets.Subscriptions{{Filter: filter, Qos: qos}}}
	if err := pk.SubscribeEncode(&b); err != nil {
		return err
	}
	if _, err := cl.c.Write(b.Bytes()); err != nil {
		return err
	}
	_ = cl.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	defer cl.c.SetReadDeadline(time.Time{})
	for {
		typ, body, err := cl.read()
		if err != nil {
			return err
		}
		if typ == packets.Suback {
			if len(body) < 4 || body[3] >= 0x80 {
				return errors.New("subscribe refused")
			}
			return nil
		}
	}
}

// publish buffers a PUBLISH (flush to send).
func (cl *client) publish(topic string, payload []byte, qos byte, id uint16) error {
	n := 2 + len(topic) + len(payload)
	if qos > 0 {
		n += 2
	}
	var head [5]byte // first byte, remaining length (a uvarint)
	head[0] = byte(packets.Publish<<4) | qos<<1
	_, _ = cl.w.Write(binary.AppendUvarint(head[:1], uint64(n)))
	_ = binary.Write(cl.w, binary.BigEndian, uint16(len(topic)))
	_, _ = cl.w.WriteString(topic)
	if qos > 0 {
		_ = binary.Write(cl.w, binary.BigEndian, id)
	}
	_, err := cl.w.Write(payload)
	return err
}

func (cl *client) flush() error { return cl.w.Flush() }

// ack answers a received QoS 1 PUBLISH (body from read, flags first).
func (cl *client) ackIfNeeded(body []byte) {
	flags := body[0]
	if (flags>>1)&3 != 1 {
		return
	}
	tl := int(binary.BigEndian.Uint16(body[1:3]))
	id := body[3+tl : 5+tl]
	_, _ = cl.w.Write([]byte{packets.Puback << 4, 2, id[0], id[1]})
}

// payloadOf returns a received PUBLISH's payload.
func payloadOf(body []byte) []byte {
	flags := body[0]
	tl := int(binary.BigEndian.Uint16(body[1:3]))
	off := 3 + tl
	if (flags>>1)&3 > 0 {
		off += 2
	}
	return body[off:]
}

// subscribeNoWait buffers a SUBSCRIBE without waiting for SUBACK.
func (cl *client) subscribeNoWait(filter string, id uint16) error {
	var b bytes.Buffer
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: id, ProtocolVersion: 4,
		Filters: packets.Subscriptions{{Filter: filter, Qos: 0}}}
	if err := pk.SubscribeEncode(&b); err != nil {
		return err
	}
	_, err := cl.w.Write(b.Bytes())
	return err
}
