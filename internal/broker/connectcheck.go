package broker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"unicode/utf8"
)

// The checks of an MQTT 5 CONNECT's properties that mochi's decoder does
// not make (it keeps the last of a repeated property and takes a Receive
// Maximum of 0 as "none given"). A CONNECT that breaks one is answered with
// CONNACK 0x82 (Protocol Error) and the connection is closed (MQTT 5.0
// section 3.1.2.11: it is a Protocol Error to include a property other
// than a User Property more than once, a Receive Maximum or Maximum Packet
// Size of 0, or a Request Problem/Response Information other than 0 or 1).

// connackProtocolError is an MQTT 5 CONNACK: no session, reason 0x82, no properties.
var connackProtocolError = []byte{0x20, 0x03, 0x00, 0x82, 0x00}

// errConnectProperties ends a connection whose CONNECT properties break the rules.
var errConnectProperties = errors.New("mqtt 5 CONNECT: protocol error in properties")

// maxConnectHead bounds the bytes kept to check a CONNECT's properties;
// properties beyond it (huge user properties) are not checked here.
const maxConnectHead = 8 << 10

// connectVerdict says whether the CONNECT at the start of head breaks a
// property rule (bad), or cannot be told yet (more: head ends too soon).
func connectVerdict(head []byte) (bad, more bool) {
	if len(head) < 2 {
		return false, true
	}
	if head[0] != 0x10 {
		return false, false // not a CONNECT: mochi refuses it
	}
	i := 1
	for k := 0; ; k++ { // remaining length varint
		if i >= len(head) {
			return false, true
		}
		if head[i]&0x80 == 0 || k == 3 {
			i++
			break
		}
		i++
	}
	// protocol name, level, flags, keep alive
	if i+2 > len(head) {
		return false, true
	}
	nameLen := int(binary.BigEndian.Uint16(head[i:]))
	i += 2 + nameLen
	if i+4 > len(head) {
		return false, true
	}
	if head[i] != 5 {
		return false, false // not MQTT 5: no properties
	}
	i += 4
	plen, n := binary.Uvarint(head[i:])
	if n == 0 {
		return false, true
	}
	if n < 0 {
		return false, false // malformed: mochi refuses it
	}
	i += n
	end := i + int(plen)
	if end > len(head) {
		return false, true
	}
	seen := map[byte]bool{}
	for i < end {
		id := head[i]
		i++
		size := 0
		switch id {
		case 0x17, 0x19: // request problem / response information: 0 or 1
			size = 1
			if i < end && head[i] > 1 {
				return true, false
			}
		case 0x21, 0x22: // receive maximum, topic alias maximum
			size = 2
			if id == 0x21 && i+2 <= end && binary.BigEndian.Uint16(head[i:]) == 0 {
				return true, false
			}
		case 0x11, 0x27: // session expiry interval, maximum packet size
			size = 4
			if id == 0x27 && i+4 <= end && binary.BigEndian.Uint32(head[i:]) == 0 {
				return true, false
			}
		case 0x15, 0x16: // authentication method, data
			if i+2 > end {
				return false, false
			}
			size = 2 + int(binary.BigEndian.Uint16(head[i:]))
		case 0x26: // user property: may repeat
			if i+2 > end {
				return false, false
			}
			k := 2 + int(binary.BigEndian.Uint16(head[i:]))
			if i+k+2 > end {
				return false, false
			}
			size = k + 2 + int(binary.BigEndian.Uint16(head[i+k:]))
		default:
			return false, false // unknown: mochi refuses it as malformed
		}
		if id != 0x26 {
			if seen[id] {
				return true, false
			}
			seen[id] = true
		}
		i += size
	}
	return false, false
}

// connackMalformed is an MQTT 5 CONNACK: no session, reason 0x81, no properties.
var connackMalformed = []byte{0x20, 0x03, 0x00, 0x81, 0x00}

// connectFlagsVerdict checks the CONNECT flags that mochi does not: without
// the Will Flag, Will QoS and Will Retain are 0 [MQTT-3.1.2-11]
// [MQTT-3.1.2-13] [MQTT-3.1.2-15] (3.1.1; the same numbers less two in
// 5.0); Will QoS is never 3 [MQTT-3.1.2-14]; in 3.1.1 a password needs a
// user name [MQTT-3.1.2-22]. A CONNECT that breaks one is malformed: an
// MQTT 5 client gets CONNACK 0x81 (answer), a 3.1.1 one a closed
// connection (answer nil).
func connectFlagsVerdict(head []byte) (bad, more bool, answer []byte) {
	if len(head) < 2 || head[0] != 0x10 {
		return false, len(head) < 2, nil
	}
	i := 1
	for k := 0; ; k++ { // remaining length varint
		if i >= len(head) {
			return false, true, nil
		}
		if head[i]&0x80 == 0 || k == 3 {
			i++
			break
		}
		i++
	}
	if i+2 > len(head) {
		return false, true, nil
	}
	i += 2 + int(binary.BigEndian.Uint16(head[i:]))
	if i+2 > len(head) {
		return false, true, nil
	}
	level, flags := head[i], head[i+1]
	if level != 4 && level != 5 {
		return false, false, nil // mochi answers other levels
	}
	will, wqos, wretain := flags&0x04 != 0, flags>>3&0x03, flags&0x20 != 0
	switch {
	case !will && (wqos != 0 || wretain), wqos == 3:
	case level == 4 && flags&0x40 != 0 && flags&0x80 == 0:
	case flags&0x80 != 0:
		ok, known := userNameValid(head, i+4, level == 5, will)
		if !known {
			return false, true, nil
		}
		if ok {
			return false, false, nil
		}
	default:
		return false, false, nil
	}
	if level == 5 {
		return true, false, connackMalformed
	}
	return true, false, nil
}

// userNameValid reports whether the user name of the CONNECT in head, whose
// properties (MQTT 5) or payload start at i, is a well-formed UTF-8 string
// without U+0000 [MQTT-1.5.4-1] [MQTT-1.5.4-2] [MQTT-3.1.3-12] (mochi
// takes it as bytes). known is false while head ends before it; a CONNECT
// too long to keep is not judged (ok).
func userNameValid(head []byte, i int, v5, will bool) (ok, known bool) {
	skipProps := func() bool {
		n, k := binary.Uvarint(head[min(i, len(head)):])
		if k <= 0 {
			return false
		}
		i += k + int(n)
		return true
	}
	field := func() ([]byte, bool) {
		if i+2 > len(head) {
			return nil, false
		}
		n := int(binary.BigEndian.Uint16(head[i:]))
		if i+2+n > len(head) {
			return nil, false
		}
		b := head[i+2 : i+2+n]
		i += 2 + n
		return b, true
	}
	if v5 && !skipProps() {
		return true, len(head) >= maxConnectHead
	}
	if _, ok := field(); !ok { // client id
		return true, len(head) >= maxConnectHead
	}
	if will {
		if v5 && !skipProps() {
			return true, len(head) >= maxConnectHead
		}
		for k := 0; k < 2; k++ { // will topic, will payload
			if _, ok := field(); !ok {
				return true, len(head) >= maxConnectHead
			}
		}
	}
	name, ok := field()
	if !ok {
		return true, len(head) >= maxConnectHead
	}
	return utf8.Valid(name) && bytes.IndexByte(name, 0) < 0, true
}
