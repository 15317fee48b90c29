//go:build conformance_gaps

package conformance_test

import (
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

// The tests in this file assert what the specifications require where the
// node does something else today (README.md lists these as known gaps).
// They run only with -tags conformance_gaps, so the default run stays green.

// TestWillPropertiesGap: the properties a 5.0 client gives its will
// (Payload Format Indicator, Content Type, Response Topic, Correlation
// Data, Message Expiry Interval) are the properties of the published will
// message (section 3.1.3.2 of MQTT 5.0; no numbered statement). The node
// publishes the will with its user properties only.
func TestWillPropertiesGap(t *testing.T) {
	t.Parallel()
	topic := uniq(t, "wp")
	s := connectID(t, addr(1), 5, uniq(t, "s"))
	s.sub(topic, 1)
	waitRoute(t, topic, 1)
	w := willPk(uniq(t, "w"), topic, "props", 1, false)
	w.Connect.WillProperties = packets.Properties{PayloadFormat: 1, PayloadFormatFlag: true, ContentType: "text/plain",
		ResponseTopic: topic + "/reply", CorrelationData: []byte{1, 2, 3}, MessageExpiryInterval: 100}
	wc, _ := connect(t, addr(2), 5, w)
	_ = wc.c.Close()
	m := s.expect(topic, []byte("props"))
	p := m.Properties
	if !p.PayloadFormatFlag || p.PayloadFormat != 1 || p.ContentType != "text/plain" || p.ResponseTopic != topic+"/reply" ||
		string(p.CorrelationData) != "\x01\x02\x03" || p.MessageExpiryInterval == 0 || p.MessageExpiryInterval > 100 {
		t.Fatalf("will properties: %+v", p)
	}
	s.ack(m)
	s.disconnect()
}
