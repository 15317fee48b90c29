package broker

import (
	"strings"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// The properties of an MQTT 5 will. A client gives its will message
// properties in the CONNECT (MQTT 5.0 section 3.1.3.2): Payload Format
// Indicator, Message Expiry Interval, Content Type, Response Topic,
// Correlation Data and User Properties, which are sent with the will when
// the server publishes it; a will without a Message Expiry Interval is
// published without one. mochi keeps of a will only its topic, payload,
// QoS, retain flag, delay and user properties (mqtt.Will), and builds the
// will's PUBLISH from those alone, where the node cannot add to it (in
// sendLWT for an immediate will, when it is scheduled for a delayed one).
//
// So the node keeps the CONNECT's will properties on the connection
// (nodeHook.OnConnect: conn.will) and puts them on the will's PUBLISH
// wherever that packet passes a hook: delivery to this node's subscribers
// (deliverHook.OnSelectSubscribers), the retained copy
// (nodeHook.OnRetainMessage), and, in the cluster layer, the copies
// forwarded to other nodes and their retained copies (CompleteWill).
//
// A will's PUBLISH is told from every other PUBLISH by what mochi puts on
// it: the client's id as Origin and no protocol version (a client's
// PUBLISH is decoded with its connection's version; one injected by the
// cluster layer has its inline client's id as Origin), the will topic, and
// the will payload itself: the same bytes, not a copy, as they came in the
// CONNECT (an empty payload is told by the rest). Where a hook is not
// given the client (OnSelectSubscribers), the will's owner is found by its
// id: for an immediate will, the client whose will is being sent (noted
// from OnWill to OnWillSent, on the client's own goroutine; another
// connection with that id may have taken the client's place meanwhile);
// for a delayed will, the client of that id (a new connection of it
// cancels the will).

// willProps is the will of a connection, as its MQTT 5 CONNECT gave it.
type willProps struct {
	topic   string
	payload []byte // the CONNECT's own bytes (mochi's will shares them)
	props   packets.Properties
}

// captureWill keeps the will properties of an MQTT 5 CONNECT pk on cl's connection.
func captureWill(cl *mqtt.Client, pk packets.Packet) {
	c, ok := cl.Net.Conn.(*conn)
	if !ok || !pk.Connect.WillFlag || cl.Properties.ProtocolVersion != 5 {
		return
	}
	wp := &pk.Connect.WillProperties
	w := &willProps{topic: pk.Connect.WillTopic, payload: pk.Connect.WillPayload}
	w.props.PayloadFormat, w.props.PayloadFormatFlag = wp.PayloadFormat, wp.PayloadFormatFlag
	w.props.MessageExpiryInterval = wp.MessageExpiryInterval
	w.props.ContentType, w.props.ResponseTopic = wp.ContentType, wp.ResponseTopic
	w.props.CorrelationData = wp.CorrelationData
	w.props.User = wp.User
	c.will.Store(w)
}

// willOf is the will cl's connection captured, if pk is that will's PUBLISH.
func willOf(cl *mqtt.Client, pk *packets.Packet) *willProps {
	if cl == nil || pk.ProtocolVersion != 0 || pk.Origin != cl.ID {
		return nil
	}
	c, ok := cl.Net.Conn.(*conn)
	if !ok {
		return nil
	}
	w := c.will.Load()
	if w == nil || w.topic != pk.TopicName || len(w.payload) != len(pk.Payload) ||
		len(w.payload) > 0 && &w.payload[0] != &pk.Payload[0] {
		return nil
	}
	return w
}

// apply gives pk the will's properties; its message expiry runs from now.
func (w *willProps) apply(pk *packets.Packet) {
	p := &pk.Properties
	p.PayloadFormat, p.PayloadFormatFlag = w.props.PayloadFormat, w.props.PayloadFormatFlag
	p.MessageExpiryInterval = w.props.MessageExpiryInterval
	p.ContentType, p.ResponseTopic = w.props.ContentType, w.props.ResponseTopic
	p.CorrelationData = w.props.CorrelationData
	p.User = w.props.User
	pk.Expiry = 0
	if e := p.MessageExpiryInterval; e > 0 {
		pk.Expiry = time.Now().Unix() + int64(e)
	}
}

// CompleteWill gives pk, if it is the PUBLISH mochi built for cl's will
// (or a copy of it made by the cluster layer with the same topic and
// payload), the properties of the will from cl's CONNECT, and reports
// whether it did. Its Expiry is the will's own message expiry from now (0:
// none).
func CompleteWill(cl *mqtt.Client, pk *packets.Packet) bool {
	w := willOf(cl, pk)
	if w == nil {
		return false
	}
	w.apply(pk)
	return true
}

// willOwner is the client whose will pk may be, found by pk's Origin (see
// above), or nil.
func (b *Broker) willOwner(pk *packets.Packet) *mqtt.Client {
	if pk.ProtocolVersion != 0 || pk.Origin == "" || strings.HasPrefix(pk.Origin, ReservedClientIDPrefix) {
		return nil // a client's PUBLISH, or one the cluster layer injected
	}
	if pk.Connect.WillProperties.WillDelayInterval == 0 {
		if v, ok := b.sendingWill.Load(pk.Origin); ok {
			return v.(*mqtt.Client)
		}
		return nil
	}
	cl, _ := b.srv.Clients.Get(pk.Origin)
	return cl
}

// OnWill notes the client whose immediate will mochi is about to publish
// (until OnWillSent, deliverHook), so that its PUBLISH can be told.
func (h *nodeHook) OnWill(cl *mqtt.Client, will mqtt.Will) (mqtt.Will, error) {
	h.b.armWill(cl.ID) // mochi publishes it itself (deliver.go)
	if c, ok := cl.Net.Conn.(*conn); ok && c.will.Load() != nil && will.WillDelayInterval == 0 {
		h.b.sendingWill.Store(cl.ID, cl)
	}
	return will, nil
}

// OnWillSent: the will of cl is out (deliverHook is the last hook, after
// the cluster's, which still looks the will up).
func (h *deliverHook) OnWillSent(cl *mqtt.Client, _ packets.Packet) {
	h.b.sendingWill.CompareAndDelete(cl.ID, cl)
	h.b.disarmWill(cl.ID)
}

// OnRetainMessage gives a retained will its properties: mochi stored a
// copy of the PUBLISH it built. It is replaced, unless another message was
// retained on the topic since.
func (h *nodeHook) OnRetainMessage(cl *mqtt.Client, pk packets.Packet, _ int64) {
	if len(pk.Payload) == 0 || !CompleteWill(cl, &pk) {
		return
	}
	topics := h.b.srv.Topics
	cur, ok := topics.Retained.Get(pk.TopicName)
	if !ok || cur.Origin != pk.Origin || cur.Created != pk.Created || cur.ProtocolVersion != 0 {
		return
	}
	out := pk.Copy(false)
	out.ProtocolVersion = 5 // its message expiry applies to the retained copy too
	topics.RetainMessage(out)
}
