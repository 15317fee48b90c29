// Package metrics keeps EMQX 4.4's metrics (emqx_metrics: counters that
// only grow) and stats (emqx_stats: gauges with the highest value seen),
// as `emqx_ctl broker metrics` and `broker stats` print them.
//
// A metric is an ID into an array of counters, each alone on its cache
// line: counting is one atomic add, with no lock, map or allocation. Some
// metrics are not counted at all but derived when read (packets.received
// is the sum of the received packets by type, messages.received that of
// the QoS 0, 1 and 2 PUBLISHes received, ...), so that the publish path
// pays one add per packet; others are read from counters the node keeps
// anyway (SetSource).
package metrics

import (
	"sort"
	"sync"
	"sync/atomic"
)

// ID names one metric.
type ID uint8

// EMQX 4.4's metrics, in emqx_metrics' order.
const (
	BytesReceived ID = iota
	BytesSent

	PacketsReceived // derived: the sum of the packets.*.received
	PacketsSent     // derived: the sum of the packets.*.sent
	PacketsConnectReceived
	PacketsConnackSent
	PacketsConnackError
	PacketsConnackAuthError
	PacketsPublishReceived // derived: messages.received
	PacketsPublishSent     // derived: messages.sent
	PacketsPublishInuse
	PacketsPublishError
	PacketsPublishAuthError
	PacketsPublishDropped
	PacketsPubackReceived
	PacketsPubackSent
	PacketsPubackInuse
	PacketsPubackMissed
	PacketsPubrecReceived
	PacketsPubrecSent
	PacketsPubrecInuse
	PacketsPubrecMissed
	PacketsPubrelReceived
	PacketsPubrelSent
	PacketsPubrelMissed
	PacketsPubcompReceived
	PacketsPubcompSent
	PacketsPubcompInuse
	PacketsPubcompMissed
	PacketsSubscribeReceived
	PacketsSubscribeError
	PacketsSubscribeAuthError
	PacketsSubackSent
	PacketsUnsubscribeReceived
	PacketsUnsubscribeError
	PacketsUnsubackSent
	PacketsPingreqReceived
	PacketsPingrespSent
	PacketsDisconnectReceived
	PacketsDisconnectSent
	PacketsAuthReceived
	PacketsAuthSent

	MessagesReceived // derived: the sum of messages.qos*.received
	MessagesSent     // derived: the sum of messages.qos*.sent
	MessagesQoS0Received
	MessagesQoS0Sent
	MessagesQoS1Received
	MessagesQoS1Sent
	MessagesQoS2Received
	MessagesQoS2Sent
	MessagesPublish
	MessagesDropped // derived: the sum of messages.dropped.*
	MessagesDroppedAwaitPubrelTimeout
	MessagesDroppedNoSubscribers
	MessagesForward
	MessagesRetained
	MessagesDelayed
	MessagesDelivered // derived: messages.sent
	MessagesAcked     // derived: packets.puback.received + packets.pubrec.received

	DeliveryDropped // derived: the sum of delivery.dropped.*
	DeliveryDroppedNoLocal
	DeliveryDroppedTooLarge
	DeliveryDroppedQoS0Msg
	DeliveryDroppedQueueFull
	DeliveryDroppedExpired

	ClientConnect
	ClientConnack // derived: packets.connack.sent
	ClientConnected
	ClientAuthenticate
	ClientCheckACL
	ClientSubscribe
	ClientUnsubscribe
	ClientDisconnected

	SessionCreated
	SessionResumed
	SessionTakeovered
	SessionDiscarded
	SessionTerminated

	ClientAuthSuccess
	ClientAuthSuccessAnonymous
	ClientAuthFailure

	ClientACLAllow
	ClientACLDeny
	ClientACLCacheHit

	NumIDs // how many metrics there are
)

var names = [NumIDs]string{
	"bytes.received", "bytes.sent",
	"packets.received", "packets.sent",
	"packets.connect.received", "packets.connack.sent", "packets.connack.error", "packets.connack.auth_error",
	"packets.publish.received", "packets.publish.sent", "packets.publish.inuse", "packets.publish.error",
	"packets.publish.auth_error", "packets.publish.dropped",
	"packets.puback.received", "packets.puback.sent", "packets.puback.inuse", "packets.puback.missed",
	"packets.pubrec.received", "packets.pubrec.sent", "packets.pubrec.inuse", "packets.pubrec.missed",
	"packets.pubrel.received", "packets.pubrel.sent", "packets.pubrel.missed",
	"packets.pubcomp.received", "packets.pubcomp.sent", "packets.pubcomp.inuse", "packets.pubcomp.missed",
	"packets.subscribe.received", "packets.subscribe.error", "packets.subscribe.auth_error", "packets.suback.sent",
	"packets.unsubscribe.received", "packets.unsubscribe.error", "packets.unsuback.sent",
	"packets.pingreq.received", "packets.pingresp.sent",
	"packets.disconnect.received", "packets.disconnect.sent",
	"packets.auth.received", "packets.auth.sent",
	"messages.received", "messages.sent",
	"messages.qos0.received", "messages.qos0.sent", "messages.qos1.received", "messages.qos1.sent",
	"messages.qos2.received", "messages.qos2.sent",
	"messages.publish", "messages.dropped", "messages.dropped.await_pubrel_timeout",
	"messages.dropped.no_subscribers", "messages.forward", "messages.retained", "messages.delayed",
	"messages.delivered", "messages.acked",
	"delivery.dropped", "delivery.dropped.no_local", "delivery.dropped.too_large", "delivery.dropped.qos0_msg",
	"delivery.dropped.queue_full", "delivery.dropped.expired",
	"client.connect", "client.connack", "client.connected", "client.authenticate", "client.check_acl",
	"client.subscribe", "client.unsubscribe", "client.disconnected",
	"session.created", "session.resumed", "session.takeovered", "session.discarded", "session.terminated",
	"client.auth.success", "client.auth.success.anonymous", "client.auth.failure",
	"client.acl.allow", "client.acl.deny", "client.acl.cache_hit",
}

// String is the metric's name in EMQX.
func (id ID) String() string {
	if id < NumIDs {
		return names[id]
	}
	return "unknown"
}

// Received and Sent are the packets.<type>.received and .sent metrics by
// MQTT control packet type (0 where EMQX keeps none). PUBLISH is counted
// by QoS (messages.qos<n>.received, .sent): see PublishReceived.
var (
	Received = [16]ID{
		1: PacketsConnectReceived, 4: PacketsPubackReceived, 5: PacketsPubrecReceived,
		6: PacketsPubrelReceived, 7: PacketsPubcompReceived, 8: PacketsSubscribeReceived,
		10: PacketsUnsubscribeReceived, 12: PacketsPingreqReceived, 14: PacketsDisconnectReceived,
		15: PacketsAuthReceived,
	}
	Sent = [16]ID{
		2: PacketsConnackSent, 4: PacketsPubackSent, 5: PacketsPubrecSent, 6: PacketsPubrelSent,
		7: PacketsPubcompSent, 9: PacketsSubackSent, 11: PacketsUnsubackSent, 13: PacketsPingrespSent,
		14: PacketsDisconnectSent, 15: PacketsAuthSent,
	}
	// PublishReceived and PublishSent are messages.qos<n>.received and
	// .sent by QoS. QoS 3 is malformed (mochi closes the connection); its
	// slot is QoS 2's so that the lookup needs no branch.
	PublishReceived = [4]ID{MessagesQoS0Received, MessagesQoS1Received, MessagesQoS2Received, MessagesQoS2Received}
	PublishSent     = [4]ID{MessagesQoS0Sent, MessagesQoS1Sent, MessagesQoS2Sent, MessagesQoS2Sent}
)

// counter is one metric on its own cache line.
type counter struct {
	v atomic.Uint64
	_ [56]byte
}

// Metrics is a node's set of EMQX metrics. The zero value is ready.
type Metrics struct {
	c [NumIDs]counter

	mu      sync.Mutex
	sources map[ID]func() uint64
}

// Inc adds one to metric id.
func (m *Metrics) Inc(id ID) { m.c[id].v.Add(1) }

// Add adds n to metric id.
func (m *Metrics) Add(id ID, n uint64) { m.c[id].v.Add(n) }

// SetSource makes metric id read as f() (plus whatever was counted): for
// counts the node keeps elsewhere, read only when the metrics are.
func (m *Metrics) SetSource(id ID, f func() uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sources == nil {
		m.sources = map[ID]func() uint64{}
	}
	m.sources[id] = f
}

// Value is one metric or stat with its value.
type Value struct {
	Name  string
	Value uint64
}

// Snapshot reads every metric, derived ones included, in emqx_metrics'
// order (index by ID).
func (m *Metrics) Snapshot() [NumIDs]uint64 {
	var v [NumIDs]uint64
	for i := range v {
		v[i] = m.c[i].v.Load()
	}
	m.mu.Lock()
	for id, f := range m.sources {
		v[id] += f()
	}
	m.mu.Unlock()
	for _, id := range Received {
		if id != 0 {
			v[PacketsReceived] += v[id]
		}
	}
	for _, id := range Sent {
		if id != 0 {
			v[PacketsSent] += v[id]
		}
	}
	v[MessagesReceived] += v[MessagesQoS0Received] + v[MessagesQoS1Received] + v[MessagesQoS2Received]
	v[MessagesSent] += v[MessagesQoS0Sent] + v[MessagesQoS1Sent] + v[MessagesQoS2Sent]
	v[PacketsPublishReceived] += v[MessagesReceived]
	v[PacketsPublishSent] += v[MessagesSent]
	v[PacketsReceived] += v[PacketsPublishReceived]
	v[PacketsSent] += v[PacketsPublishSent]
	v[MessagesDropped] += v[MessagesDroppedAwaitPubrelTimeout] + v[MessagesDroppedNoSubscribers]
	v[DeliveryDropped] += v[DeliveryDroppedNoLocal] + v[DeliveryDroppedTooLarge] + v[DeliveryDroppedQoS0Msg] +
		v[DeliveryDroppedQueueFull] + v[DeliveryDroppedExpired]
	v[ClientConnack] += v[PacketsConnackSent]
	// each PUBLISH sent is a delivery (a resent one too), each PUBACK and
	// PUBREC received an acknowledgement
	v[MessagesDelivered] += v[MessagesSent]
	v[MessagesAcked] += v[PacketsPubackReceived] + v[PacketsPubrecReceived]
	return v
}

// Get reads metric id (derived ones included).
func (m *Metrics) Get(id ID) uint64 { return m.Snapshot()[id] }

// All is every metric sorted by name, as `emqx_ctl broker metrics` lists
// them.
func (m *Metrics) All() []Value {
	s := m.Snapshot()
	out := make([]Value, NumIDs)
	for i := range out {
		out[i] = Value{names[i], s[i]}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
