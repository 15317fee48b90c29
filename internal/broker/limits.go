package broker

import (
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"go.uber.org/zap"

	"emqxgo/internal/config"
	"emqxgo/internal/topic"
)

// The mqtt.* limits mochi does not enforce itself (EMQX's):
// mqtt.max_topic_levels, mqtt.max_qos_allowed on PUBLISH, mqtt.retain_available
// on PUBLISH, and mqtt.wildcard_subscription / mqtt.shared_subscription on
// SUBSCRIBE; MQTT 5 clients are told them in CONNACK (connackLimits).

// levels is the number of levels of a topic name or filter.
func levels(t string) int { return strings.Count(t, "/") + 1 }

// OnPacketRead refuses a PUBLISH over the node's limits before mochi
// handles it (mochi would lower its QoS): MQTT 5 DISCONNECT 0x9B (QoS not
// supported), 0x9A (retain not supported) or 0x90 (too many levels: not a
// valid topic name here); MQTT 3.1.1 clients are disconnected.
func (h *nodeHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type == packets.Connect && pk.Connect.PasswordFlag && len(pk.Connect.Password) == 0 {
		// A password of zero bytes is a password (Binary Data may be
		// empty): mochi refuses it with 0x82; EMQX takes it. The flag is
		// cleared for mochi's check and the gate is told (EmptyPassword).
		pk.Connect.PasswordFlag = false
		if c, ok := cl.Net.Conn.(*conn); ok {
			c.emptyPassword = true
		}
	}
	if pk.FixedHeader.Type == packets.Disconnect && pk.Properties.SessionExpiryIntervalFlag {
		capDisconnectExpiry(h.b.Zone(cl), &pk) // zonesession.go
	}
	if pk.FixedHeader.Type == packets.Pubrel {
		if c, ok := cl.Net.Conn.(*conn); ok && c.sess != nil {
			c.relFree, c.relPid = relFreeing(cl, pk.PacketID), pk.PacketID // retry.go
		}
		return pk, nil
	}
	if pk.FixedHeader.Type != packets.Publish || cl.Net.Inline {
		return pk, nil
	}
	m := h.b.Zone(cl)
	var code packets.Code
	switch {
	case int(pk.FixedHeader.Qos) > m.MaxQoSAllowed:
		code = packets.ErrQosNotSupported
	case pk.FixedHeader.Retain && !m.RetainAvailable:
		code = packets.ErrRetainNotSupported
	case m.MaxTopicLevels > 0 && pk.TopicName != "" && levels(pk.TopicName) > m.MaxTopicLevels:
		code = packets.ErrTopicNameInvalid
	case pk.Properties.TopicAliasFlag && int(pk.Properties.TopicAlias) > m.MaxTopicAlias:
		code = packets.ErrTopicAliasInvalid // 0x94: above the zone's Topic Alias Maximum (mochi's cap is the widest zone's)
	default:
		if pk.FixedHeader.Qos == 2 {
			return h.awaitingRel(cl, m, pk)
		}
		return pk, nil
	}
	h.b.refusedPublish.Add(1)
	_ = h.b.srv.DisconnectClient(cl, code)
	return pk, packets.ErrRejectPacket
}

// awaitingRel refuses a QoS 2 PUBLISH over zone.<name>.max_awaiting_rel
// as EMQX 4.4 does (emqx_channel:do_publish): the message is dropped and
// the client disconnected, MQTT 5 with DISCONNECT 0x93 (Receive Maximum
// exceeded), MQTT 3.1.1 by closing the connection (retry.go).
func (h *nodeHook) awaitingRel(cl *mqtt.Client, m *config.Zone, pk packets.Packet) (packets.Packet, error) {
	c, ok := cl.Net.Conn.(*conn)
	if !ok || c.sess == nil || c.sess.awaitRel(cl, c, pk.PacketID, m.MaxAwaitingRel) {
		return pk, nil
	}
	h.b.sessions.relFull.Add(1)
	h.b.log.Warn("dropped a QoS 2 PUBLISH: awaiting_rel is full", zap.String("client", cl.ID),
		zap.Uint16("packet_id", pk.PacketID), zap.Int("max_awaiting_rel", m.MaxAwaitingRel))
	if cl.Properties.ProtocolVersion == 5 {
		_ = h.b.srv.DisconnectClient(cl, packets.ErrReceiveMaximum)
	} else {
		cl.Stop(packets.ErrReceiveMaximum)
	}
	return pk, packets.ErrRejectPacket
}

// subRefusal is the SUBACK code for filter f under the node's limits, or
// 0 when it passes.
func (b *Broker) subRefusal(m *config.Zone, f string) byte {
	shared := mqtt.IsSharedFilter(f)
	plain := f
	if shared {
		plain = topic.Plain(f)
	}
	switch {
	case shared && !m.SharedSubscription:
		return packets.ErrSharedSubscriptionsNotSupported.Code // 0x9E
	case !m.WildcardSubscription && strings.ContainsAny(plain, "+#"):
		return packets.ErrWildcardSubscriptionsNotSupported.Code // 0xA2
	case m.MaxTopicLevels > 0 && levels(plain) > m.MaxTopicLevels:
		return packets.ErrTopicFilterInvalid.Code // 0x8F
	}
	return 0
}

// connackLimits tells an MQTT 5 client what the node does not support.
func (h *nodeHook) connackLimits(m *config.Zone, pk *packets.Packet) {
	if !m.RetainAvailable {
		pk.Properties.RetainAvailable, pk.Properties.RetainAvailableFlag = 0, true
	}
	if !m.WildcardSubscription {
		pk.Properties.WildcardSubAvailable, pk.Properties.WildcardSubAvailableFlag = 0, true
	}
	if !m.SharedSubscription {
		pk.Properties.SharedSubAvailable, pk.Properties.SharedSubAvailableFlag = 0, true
	}
}

// LimitRefusals counts what the zones' limits refused: PUBLISHes (QoS,
// retain, topic levels, topic alias), SUBSCRIBE filters (wildcard, shared,
// topic levels, max_subscriptions) and CONNECTs (client id).
type LimitRefusals struct{ Publish, Subscribe, Connect int64 }

// Refusals returns the limit refusal counters.
func (b *Broker) Refusals() LimitRefusals {
	return LimitRefusals{b.refusedPublish.Load(), b.refusedSubscribe.Load(), b.refusedConnect.Load()}
}
