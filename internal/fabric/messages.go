package fabric

import (
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// Peer link operations.
const (
	opRoutes   = "routes"   // notify: routeUpdate
	opForward  = "fwd"      // notify: fwdBatch
	opAck      = "fwd_ack"  // notify: fwdAck
	opTakeover = "takeover" // request: takeoverReq -> takeoverResp
	opClients  = "clients"  // notify: clientList, when a link comes up
	opDirect   = "direct"   // notify: directMsg, for a session that moved to the receiver
	// opTable (tablesync.go) is a request: a batch of table entries.
)

// directMsg is a message delivered on a node for a session that has moved
// to the receiver, as prepared for its subscription there.
type directMsg struct {
	Client string `codec:"c"`
	Msg    []byte `codec:"m,omitempty"` // appendMessage
	SubIDs []int  `codec:"s,omitempty"`
	// Marker: not a message but the marker of this node for the session
	// (see flushReq), passed on behind what was forwarded before it.
	Marker string `codec:"k,omitempty"`
}

// flushReq asks a peer, in a route update after the routes of a session
// that has just moved to the sender, to send its marker for Client through
// Via (the node the session left) behind everything it forwarded there:
// the sender holds what is routed to it for the session until then.
type flushReq struct {
	Client string `codec:"c"`
	Via    string `codec:"v"`
}

// clientList is who is connected here and since when (unix nanos), so
// that the same client id on both sides of a healed partition is settled:
// the newest connection wins.
type clientList struct {
	Since map[string]int64 `codec:"s"`
}

// route is one advertised subscription. Client is set for shared
// subscriptions only (each member is advertised); plain filters are
// advertised once per node.
type route struct {
	Filter string `codec:"f"`
	Client string `codec:"c,omitempty"`
}

type routeUpdate struct {
	Full  bool       `codec:"full,omitempty"` // replaces everything the sender advertised before
	Add   []route    `codec:"add,omitempty"`
	Del   []route    `codec:"del,omitempty"`
	Flush []flushReq `codec:"flush,omitempty"`
}

// message is a PUBLISH as it crosses a link, in the binary form of
// codec.go (appendMessage, readMessage).
type message struct {
	Seq     uint64 // per sender epoch, QoS 1/2 only
	ID      uint64 // cluster-wide id given where the message entered (0: none)
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
	Expiry  uint32 // remaining message expiry interval, seconds
	// expireAt: when the message expires (Unix seconds, 0: never), so
	// that what is left is counted again as it is sent (encodeBatch):
	// the time it waits in an outbox counts [MQTT-3.3.2-6]. Not sent.
	expireAt int64
	// expired: it ran out before it was sent; the receiver only notes
	// its seq (readMessage: an Expiry of 0 with the flag set).
	expired bool
	PFI     byte // payload format indicator, present when HasPFI
	HasPFI  bool
	CT      string      // content type
	Resp    string      // response topic
	Corr    []byte      // correlation data
	User    [][2]string // user properties, in order
	From    string      // publishing client id
	// Groups: shared filter -> member client chosen on this peer.
	Groups map[string]string
	// SharedOnly: deliver to Groups only (a group message re-sent after
	// the node first chosen went away; plain subscribers had it already).
	SharedOnly bool
	// TS set: not a message but a change of the retained table
	// (retained.go), versioned by TS and Node: Topic is the key, Payload
	// the value (none: cleared).
	TS   int64
	Node string
	// Marker: not a message but a marker (flushReq) of node From for the
	// session of client Topic, through the receiver to the node Node.
	Marker bool
}

type fwdBatch struct {
	Epoch int64 // sender's start time: seqs restart with it
	At    int64 // when it was encoded, Unix seconds by the sender's clock (0: not said)
	Msgs  []*message
}

// age takes off each message's expiry the whole seconds that passed
// between the batch's encoding and now (Unix seconds): a batch that waited
// in a link's queue, the socket or a reader that did not run carried what
// was left when it was encoded, and the receiver's copy must not outlive the
// sender's [MQTT-3.3.2-5]. One whose expiry ran out meanwhile is marked
// expired. The sender's clock is trusted as EMQX trusts a message's
// timestamp across nodes; a receiver whose clock is behind takes nothing off.
func (b *fwdBatch) age(now int64) {
	lag := now - b.At
	if b.At == 0 || lag <= 0 {
		return
	}
	for _, m := range b.Msgs {
		m.age(lag)
	}
}

// age takes lag seconds off a message's expiry, if it has one (a retained
// table change keeps its own: retained.go); false: it ran out.
func (m *message) age(lag int64) bool {
	if m.Expiry == 0 || m.expired || m.TS != 0 || lag <= 0 {
		return !m.expired
	}
	if int64(m.Expiry) <= lag {
		m.Expiry, m.expired = 0, true
		return false
	}
	m.Expiry -= uint32(lag)
	return true
}

type fwdAck struct {
	Epoch int64  `codec:"e"`
	Seq   uint64 `codec:"q"` // every seq up to this one was delivered
}

// fromPacket captures what must survive the hop. It returns nil for a
// message whose expiry has run out.
func fromPacket(pk packets.Packet, now time.Time) *message {
	m := &message{Topic: pk.TopicName, Payload: pk.Payload, QoS: pk.FixedHeader.Qos, Retain: pk.FixedHeader.Retain, From: pk.Origin}
	p := pk.Properties
	if pk.Expiry > 0 && p.MessageExpiryInterval > 0 { // mochi gives an Expiry to messages without one
		left := pk.Expiry - now.Unix()
		if left <= 0 {
			return nil
		}
		m.Expiry, m.expireAt = uint32(left), pk.Expiry
	} else if p.MessageExpiryInterval > 0 {
		m.Expiry, m.expireAt = p.MessageExpiryInterval, now.Unix()+int64(p.MessageExpiryInterval)
	}
	if p.PayloadFormatFlag {
		m.PFI, m.HasPFI = p.PayloadFormat, true
	}
	m.CT, m.Resp, m.Corr = p.ContentType, p.ResponseTopic, p.CorrelationData
	for _, u := range p.User {
		m.User = append(m.User, [2]string{u.Key, u.Val})
	}
	return m
}

// toPacket rebuilds a PUBLISH for injection (retain flag as given).
func (m *message) toPacket(retain bool) packets.Packet {
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: m.QoS, Retain: retain},
		TopicName:   m.Topic,
		Payload:     m.Payload,
		Created:     time.Now().Unix(),
	}
	if m.QoS > 0 {
		pk.PacketID = 1 // PublishValidate wants one; inline clients never ack
	}
	p := &pk.Properties
	p.MessageExpiryInterval = m.Expiry
	p.PayloadFormat, p.PayloadFormatFlag = m.PFI, m.HasPFI
	p.ContentType, p.ResponseTopic, p.CorrelationData = m.CT, m.Resp, m.Corr
	for _, u := range m.User {
		p.User = append(p.User, packets.UserProperty{Key: u[0], Val: u[1]})
	}
	if m.Expiry > 0 {
		pk.Expiry = pk.Created + int64(m.Expiry)
	}
	return pk
}
