package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// The MQTT 3.1.1 the tool needs, written by hand: an idle connection
// costs the tool one socket and no buffers (tens of thousands of them
// must fit in the tool's memory), and subscribing pipelines packets of
// many filters.

// connectPacket is a CONNECT: clean session, keepalive 0 (no PINGREQ
// while the connections idle), client id id.
func connectPacket(id string) []byte {
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0}
	body = binary.BigEndian.AppendUint16(body, uint16(len(id)))
	body = append(body, id...)
	return append(fixedHeader(0x10, len(body)), body...)
}

// fixedHeader is a packet's first byte h and its remaining length n (MQTT's
// variable byte integer is a uvarint).
func fixedHeader(h byte, n int) []byte { return binary.AppendUvarint([]byte{h}, uint64(n)) }

// maxRemaining is the largest remaining length (four bytes of it).
const maxRemaining = 1<<28 - 1

// readPacket reads one packet: its first byte and its body.
func readPacket(r io.ByteReader, rd io.Reader) (byte, []byte, error) {
	h, err := r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return 0, nil, err
	}
	if n > maxRemaining {
		return 0, nil, errors.New("malformed remaining length")
	}
	body := make([]byte, n)
	_, err = io.ReadFull(rd, body)
	return h, body, err
}

// connect opens an MQTT connection and waits for a successful CONNACK.
func connect(addr, id string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(connectPacket(id)); err != nil {
		c.Close()
		return nil, err
	}
	var ack [4]byte
	if _, err := io.ReadFull(c, ack[:]); err != nil || ack[0] != 0x20 || ack[3] != 0 {
		c.Close()
		return nil, fmt.Errorf("connack %x: %v", ack, err)
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// openConns opens n idle connections to addr with par dialers at a time;
// it stops at the first failure and returns what it opened.
func openConns(addr, prefix string, n, par int) ([]net.Conn, error) {
	out := make([]net.Conn, n)
	var next atomic.Int64
	var failed atomic.Bool
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for w := 0; w < par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				c, err := connect(addr, fmt.Sprintf("%s-%d", prefix, i))
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("connection %d: %w", i, err)
					}
					mu.Unlock()
					failed.Store(true)
					return
				}
				out[i] = c
			}
		}()
	}
	wg.Wait()
	opened := out[:0]
	for _, c := range out {
		if c != nil {
			opened = append(opened, c)
		}
	}
	return opened, first
}

// subscribeMany subscribes one connection to filters (QoS 0), per
// SUBSCRIBE packets of `per` filters with at most `window` packets
// unacknowledged; it returns when the last SUBACK has arrived.
func subscribeMany(c net.Conn, filters []string, per, window int) error {
	_ = c.SetDeadline(time.Now().Add(3 * time.Minute))
	defer c.SetDeadline(time.Time{})
	packets := (len(filters) + per - 1) / per
	credit := make(chan struct{}, window)
	errc := make(chan error, 1)
	go func() {
		r := bufio.NewReader(c)
		for got := 0; got < packets; got++ {
			h, body, err := readPacket(r, r)
			if err != nil {
				errc <- err
				return
			}
			if h>>4 != 9 {
				got--
				continue
			}
			for _, rc := range body[2:] {
				if rc >= 0x80 {
					errc <- errors.New("a subscription was refused")
					return
				}
			}
			<-credit
		}
		errc <- nil
	}()
	w := bufio.NewWriterSize(c, 64<<10)
	for p := 0; p < packets; p++ {
		select {
		case credit <- struct{}{}:
		case err := <-errc:
			if err == nil {
				err = errors.New("reader ended early")
			}
			return err
		}
		var body []byte
		body = binary.BigEndian.AppendUint16(body, uint16(p%65535+1))
		for _, f := range filters[p*per : min((p+1)*per, len(filters))] {
			body = binary.BigEndian.AppendUint16(body, uint16(len(f)))
			body = append(body, f...)
			body = append(body, 0)
		}
		_, _ = w.Write(fixedHeader(0x82, len(body)))
		_, _ = w.Write(body)
		if len(credit) == cap(credit) || p == packets-1 {
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
	return <-errc
}
