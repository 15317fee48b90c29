package broker

import (
	"encoding/binary"
	"errors"
)

// The checks of an MQTT 5 SUBSCRIBE's subscription options that mochi's
// decoder does not make. It ignores bits 6-7 of the options byte, which
// are reserved: a SUBSCRIBE with either set is malformed [MQTT-3.8.3-5]; it
// takes a Retain Handling of 3, which is a Protocol Error (MQTT 5.0 section
// 3.8.3.1); and a SUBSCRIBE whose last filter has no options byte makes
// it index past the packet (a panic that ends the whole process). The
// connection (conn.track) walks each SUBSCRIBE body as it streams in, in
// constant memory, and such a SUBSCRIBE never reaches mochi: the client
// gets DISCONNECT 0x81 (malformed) or 0x82 (protocol error) and the
// connection is closed.

// errSubscribeOptions ends a connection whose SUBSCRIBE broke an options rule.
var errSubscribeOptions = errors.New("mqtt 5 SUBSCRIBE: invalid subscription options")

// subScan states: the field of the SUBSCRIBE body the next byte belongs to.
const (
	subPacketID  = iota // 2 bytes
	subPropLen          // variable byte integer
	subProps            // skipped by count
	subFilterLen        // 2 bytes
	subFilter           // skipped by count
	subOptions          // 1 byte
	subIgnore           // the rest is mochi's to judge
)

// subScan follows one SUBSCRIBE body.
type subScan struct {
	state byte
	need  uint32 // bytes of the current field still to come
	acc   uint32 // the number being read (property length, filter length)
	shift uint8
}

func newSubScan() subScan { return subScan{state: subPacketID, need: 2} }

// to enters state; a field to skip that is empty is passed at once.
func (s *subScan) to(state byte, need uint32) {
	s.state, s.need, s.acc, s.shift = state, need, 0, 0
	switch {
	case state == subProps && need == 0:
		s.to(subFilterLen, 2)
	case state == subFilter && need == 0:
		s.to(subOptions, 1)
	}
}

// feed takes the next bytes of the body; it returns the DISCONNECT reason
// for a broken rule, or 0.
func (s *subScan) feed(b []byte) byte {
	for i := 0; i < len(b); {
		switch s.state {
		case subPacketID, subProps, subFilter:
			k := min(uint32(len(b)-i), s.need)
			s.need -= k
			i += int(k)
			if s.need > 0 {
				continue
			}
			switch s.state {
			case subPacketID:
				s.to(subPropLen, 0)
			case subProps:
				s.to(subFilterLen, 2)
			default:
				s.to(subOptions, 1)
			}
		case subPropLen:
			v := b[i]
			i++
			s.acc |= uint32(v&0x7f) << s.shift
			if v&0x80 == 0 {
				s.to(subProps, s.acc)
			} else if s.shift += 7; s.shift >= 28 {
				s.state = subIgnore // malformed length: mochi refuses it
			}
		case subFilterLen:
			s.acc = s.acc<<8 | uint32(b[i])
			i++
			if s.need--; s.need == 0 {
				s.to(subFilter, s.acc)
			}
		case subOptions:
			o := b[i]
			i++
			switch {
			case o&0xC0 != 0:
				return 0x81 // reserved bits set [MQTT-3.8.3-5]
			case o>>4&0x03 == 3:
				return 0x82 // Retain Handling 3
			}
			s.to(subFilterLen, 2)
		default:
			return 0
		}
	}
	return 0
}

// end is called when the body is complete: a filter without its options
// byte is malformed.
func (s *subScan) end() byte {
	if s.state == subOptions {
		return 0x81
	}
	return 0
}

// disconnectFor is an MQTT 5 DISCONNECT with the given reason, no properties.
func disconnectFor(reason byte) []byte { return []byte{0xE0, 0x02, reason, 0x00} }

// connectLevel is the protocol level of the CONNECT at the start of head,
// or 0 while head ends before it (or holds no CONNECT).
func connectLevel(head []byte) byte {
	if len(head) < 2 || head[0] != 0x10 {
		return 0
	}
	i := 1
	for k := 0; ; k++ { // remaining length varint
		if i >= len(head) {
			return 0
		}
		if head[i]&0x80 == 0 || k == 3 {
			i++
			break
		}
		i++
	}
	if i+2 > len(head) {
		return 0
	}
	i += 2 + int(binary.BigEndian.Uint16(head[i:]))
	if i >= len(head) {
		return 0
	}
	return head[i]
}
