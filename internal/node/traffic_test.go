package node_test

import (
	"strings"
	"testing"
	"time"

	"emqxgo/internal/testutil"
)

// TestClientTraffic: a client's own counts of packets, messages and bytes
// (EMQX's recv_*/send_* in the API, delivered_msgs in emqx_ctl's line):
// a publisher on one node sends three QoS 1 messages to a subscriber on
// another, and both nodes' answers show them on each client.
func TestClientTraffic(t *testing.T) {
	ns := cluster3(t)
	a, b := ns[0], ns[1]
	sub := testutil.DialV5(t, b.Addr, "traffic-sub")
	sub.Sub(t, "traffic/x", 1)
	pub := testutil.DialV5(t, a.Addr, "traffic-pub")
	testutil.Eventually(t, 10*time.Second, "the route on a", func() bool {
		return strings.Contains(ctl(t, a, "routes show traffic/x"), b.Name)
	})
	for range 3 {
		pub.Pub(t, "traffic/x", 1, []byte("12345"))
	}
	for range 3 {
		sub.Expect(t, "traffic/x", []byte("12345"))
	}

	type counts struct {
		RecvMsg     int `json:"recv_msg"`
		RecvMsgQoS1 int `json:"recv_msg.qos1"`
		RecvPkt     int `json:"recv_pkt"`
		RecvOct     int `json:"recv_oct"`
		RecvCnt     int `json:"recv_cnt"`
		SendMsg     int `json:"send_msg"`
		SendMsgQoS1 int `json:"send_msg.qos1"`
		SendPkt     int `json:"send_pkt"`
		SendOct     int `json:"send_oct"`
	}
	var p, s []counts
	testutil.Eventually(t, 5*time.Second, "the subscriber's acknowledgements counted", func() bool {
		b.Data("GET", "/clients/traffic-pub", nil, &p)
		a.Data("GET", "/clients/traffic-sub", nil, &s)
		// sub: CONNECT, SUBSCRIBE, 3 PUBACK (and the client's PINGREQs)
		return len(p) == 1 && len(s) == 1 && s[0].RecvPkt >= 5
	})
	// pub: CONNECT and 3 PUBLISH in; CONNACK and 3 PUBACK out (and pings)
	if c := p[0]; c.RecvMsg != 3 || c.RecvMsgQoS1 != 3 || c.RecvPkt < 4 || c.RecvOct < 3*5 || c.RecvCnt < 1 ||
		c.SendMsg != 0 || c.SendPkt < 4 || c.SendOct < 4*2 {
		t.Errorf("traffic-pub: %+v", c)
	}
	if c := s[0]; c.SendMsg != 3 || c.SendMsgQoS1 != 3 || c.SendPkt < 5 || c.SendOct < 3*5 || c.RecvMsg != 0 {
		t.Errorf("traffic-sub: %+v", c)
	}
	if line := ctl(t, a, "clients show traffic-sub"); !strings.Contains(line, ", delivered_msgs=3,") {
		t.Errorf("clients show traffic-sub: %s", line)
	}
}
