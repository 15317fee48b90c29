package broker

import (
	"bytes"

	"github.com/mochi-mqtt/server/v2/packets"
)

// What mochi's encoder leaves out of a packet, and where that differs
// from the specifications.
//
// For a client that set Request Problem Information to 0, mochi leaves the
// Reason String and the User Properties out of every packet. A PUBLISH
// keeps its User Properties all the same: the server forwards them
// unaltered [MQTT-3.3.2-17], and Request Problem Information concerns the
// other packets only [MQTT-3.1.2-29].
//
// For a client with a Maximum Packet Size, mochi leaves out a Reason String
// or User Properties that would make the packet too large, by an estimate
// that does not count the fixed header, the property length and, for a
// PUBLISH, the other properties:
//   - a PUBLISH that its User Properties would make too large went out
//     without them; it is too large to send and is discarded instead, as
//     if sent [MQTT-3.1.2-24] [MQTT-3.1.2-25];
//   - another packet that the estimate let keep them was too large and
//     was not sent at all (a PUBCOMP, a DISCONNECT); they are left out by
//     the real size instead, and the packet goes [MQTT-3.1.2-24]
//     [MQTT-3.14.2-3] (and the like for CONNACK and the acknowledgements).

// publishFits prepares a PUBLISH for encoding (see above).
func publishFits(pk packets.Packet) packets.Packet {
	pk.Mods.DisallowProblemInfo = false
	if max := pk.Mods.MaxSize; max > 0 && len(pk.Properties.User) > 0 && pk.ProtocolVersion == 5 {
		n := 2 + len(pk.TopicName) + len(pk.Payload)
		if pk.FixedHeader.Qos > 0 {
			n += 2
		}
		for _, u := range pk.Properties.User {
			n += 5 + len(u.Key) + len(u.Val)
		}
		if uint32(n+1) >= max { // mochi's test for leaving them out
			// Too large with them: a maximum no packet fits makes
			// WritePacket refuse it (packets.ErrPacketTooLarge), which
			// the session takes as sent.
			pk.Mods.MaxSize = 1
		}
	}
	return pk
}

// problemInfoFits leaves out the User Properties, then the Reason String,
// of a packet other than PUBLISH while it is larger than the client
// accepts (see above).
func problemInfoFits(pk packets.Packet) packets.Packet {
	max := pk.Mods.MaxSize
	if max == 0 || pk.ProtocolVersion != 5 || pk.Mods.DisallowProblemInfo || pk.Properties.ReasonString == "" && len(pk.Properties.User) == 0 {
		return pk
	}
	if encodedSize(pk) <= max {
		return pk
	}
	pk.Properties.User = nil
	if encodedSize(pk) <= max {
		return pk
	}
	pk.Properties.ReasonString = ""
	return pk
}

// encodedSize is the size of pk as mochi encodes it with no size limit.
func encodedSize(pk packets.Packet) uint32 {
	pk.Mods.MaxSize = 0
	var b bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackEncode(&b)
	case packets.Puback:
		err = pk.PubackEncode(&b)
	case packets.Pubrec:
		err = pk.PubrecEncode(&b)
	case packets.Pubrel:
		err = pk.PubrelEncode(&b)
	case packets.Pubcomp:
		err = pk.PubcompEncode(&b)
	case packets.Suback:
		err = pk.SubackEncode(&b)
	case packets.Unsuback:
		err = pk.UnsubackEncode(&b)
	case packets.Disconnect:
		err = pk.DisconnectEncode(&b)
	case packets.Auth:
		err = pk.AuthEncode(&b)
	default:
		return 0
	}
	if err != nil {
		return 0
	}
	return uint32(b.Len())
}
