package broker

import (
	"context"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/testutil"
)

// TestAckCarriesNoPublishProperties: PUBACK and PUBREC/PUBCOMP carry the
// server's properties only; the PUBLISH's user properties used to come back
// in them. The subscriber still gets them.
func TestAckCarriesNoPublishProperties(t *testing.T) {
	b := startBroker(t, testConfig())
	addr := b.Addrs()["tcp"]
	sub := testutil.DialV5(t, addr, "sub")
	sub.Sub(t, "props/#", 2)
	pub := testutil.DialV5(t, addr, "pub")
	for qos := byte(1); qos <= 2; qos++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r, err := pub.Publish(ctx, &paho.Publish{Topic: "props/x", QoS: qos, Payload: []byte("p"),
			Properties: &paho.PublishProperties{User: paho.UserProperties{{Key: "echo", Value: "me"}}}})
		cancel()
		if err != nil {
			t.Fatalf("qos %d: %v", qos, err)
		}
		if r.Properties != nil && len(r.Properties.User) > 0 {
			t.Fatalf("qos %d acknowledgement carries the PUBLISH's user properties %v", qos, r.Properties.User)
		}
		m := sub.Expect(t, "props/x", []byte("p"))
		if m.Properties == nil || m.Properties.User.Get("echo") != "me" {
			t.Fatalf("qos %d: the subscriber lost the user properties: %+v", qos, m.Properties)
		}
	}
}
