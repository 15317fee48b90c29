package guard

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/zap"

	"emqxgo/internal/access"
	"emqxgo/internal/access/authhttp"
	"emqxgo/internal/testutil"
)

// TestSlowACLBackendDoesNotHoldEarlierDeliveries: a publisher's two
// PUBLISHes arrive in one read; the second waits for an HTTP ACL backend
// that answers after 2 s. The first was already delivered to a subscriber
// on the publisher's goroutine (its write held until the publisher reads
// again): it goes out before the backend is asked, not 2 s later.
func TestSlowACLBackendDoesNotHoldEarlierDeliveries(t *testing.T) {
	const delay = 2 * time.Second
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Query().Get("t"), "slow/") {
			select {
			case <-time.After(delay):
			case <-release:
			}
		}
		w.WriteHeader(200)
	}))
	defer srv.Close()
	defer close(release)
	n := start(t, defaults(), false)
	hc := authhttp.Defaults()
	hc.ACLReq = authhttp.Request{URL: srv.URL, Method: "get", Params: "t=%t"}
	p, err := authhttp.New(hc, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	n.g.SetPlugins(nil, []access.ACLChecker{p})

	sub := dial5(t, n.addr, "hold-sub", "bob")
	sub.Sub(t, "fast/#", 0)
	got := make(chan time.Time, 1)
	sub.Each(t, func(m *paho.Publish) {
		if m.Topic == "fast/1" {
			got <- time.Now()
		}
	})

	pub, code, err := testutil.Dial311(n.addr, "hold-pub")
	if err != nil || code != 0 {
		t.Fatalf("CONNACK %d %v", code, err)
	}
	defer pub.Close()
	var both bytes.Buffer
	for _, topic := range []string{"fast/1", "slow/1"} {
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: topic, Payload: []byte("x"), ProtocolVersion: 4}
		if err := pk.PublishEncode(&both); err != nil {
			t.Fatal(err)
		}
	}
	sent := time.Now()
	if _, err := pub.Write(both.Bytes()); err != nil { // one write: one read on the broker's side
		t.Fatal(err)
	}
	select {
	case at := <-got:
		if d := at.Sub(sent); d >= delay/2 {
			t.Fatalf("fast/1 arrived after %s: held behind the ACL backend (%s)", d, delay)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("fast/1 never arrived")
	}
}
