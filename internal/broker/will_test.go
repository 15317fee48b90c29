package broker

import (
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// TestWillOfTellsTheWill: the PUBLISH mochi builds for a will (the client's
// id as Origin, no protocol version, the will topic, the CONNECT's own
// payload bytes) is told from a client's PUBLISH with the same topic and
// payload, and gets the will's properties; a 3.1.1 will is left alone.
func TestWillOfTellsTheWill(t *testing.T) {
	connect := packets.Packet{ProtocolVersion: 5, Connect: packets.ConnectParams{ClientIdentifier: "w", WillFlag: true,
		WillTopic: "t", WillPayload: []byte("bye"),
		WillProperties: packets.Properties{ContentType: "text/plain", MessageExpiryInterval: 9, PayloadFormat: 1, PayloadFormatFlag: true,
			ResponseTopic: "r", CorrelationData: []byte{1}, User: []packets.UserProperty{{Key: "k", Val: "v"}}}}}
	cl := &mqtt.Client{ID: "w"}
	cl.Net.Conn = &conn{}
	cl.Properties.ProtocolVersion = 5
	captureWill(cl, connect)

	will := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: "t", Payload: connect.Connect.WillPayload,
		Origin: "w", Properties: packets.Properties{User: connect.Connect.WillProperties.User}}
	if !CompleteWill(cl, &will) {
		t.Fatal("the will's PUBLISH was not told")
	}
	p := will.Properties
	if p.ContentType != "text/plain" || p.MessageExpiryInterval != 9 || !p.PayloadFormatFlag || p.ResponseTopic != "r" || len(p.CorrelationData) != 1 || will.Expiry == 0 {
		t.Fatalf("will properties %+v expiry %d", p, will.Expiry)
	}
	for name, pk := range map[string]packets.Packet{
		"same payload, copied": {TopicName: "t", Payload: []byte("bye"), Origin: "w"},
		"a client's PUBLISH":   {TopicName: "t", Payload: connect.Connect.WillPayload, Origin: "w", ProtocolVersion: 5},
		"another topic":        {TopicName: "u", Payload: connect.Connect.WillPayload, Origin: "w"},
		"another origin":       {TopicName: "t", Payload: connect.Connect.WillPayload, Origin: "x"},
	} {
		if CompleteWill(cl, &pk) {
			t.Errorf("%s: taken for the will", name)
		}
	}
	v3 := &mqtt.Client{ID: "w"}
	v3.Net.Conn = &conn{}
	v3.Properties.ProtocolVersion = 4
	captureWill(v3, connect)
	if w := will; CompleteWill(v3, &w) {
		t.Error("a 3.1.1 will got properties")
	}
}
