package sys_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/goleak"

	"emqxgo/internal/sys"
	"emqxgo/internal/testutil"
	"emqxgo/internal/testutil/testnode"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testutil.IgnoreSerf()...) }

// fast: the $SYS timers every second.
var fast = []string{"EMQX_BROKER__SYS_HEARTBEAT=1s", "EMQX_BROKER__SYS_INTERVAL=1s"}

// watcher connects as user dashboard (the shipped acl.conf lets it
// subscribe $SYS/#) and subscribes filters at QoS 2.
func watcher(t *testing.T, addr, id string, filters ...string) *testutil.V5 {
	t.Helper()
	v, err := testutil.TryConnectV5(addr, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30,
		Username: "dashboard", UsernameFlag: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Disconnect(&paho.Disconnect{}) })
	for _, f := range filters {
		v.Sub(t, f, 2)
	}
	return v
}

// next waits for the next message on a topic that pass accepts.
func next(t *testing.T, v *testutil.V5, within time.Duration, what string, pass func(*paho.Publish) bool) *paho.Publish {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m := <-v.Msgs:
			if pass(m) {
				return m
			}
		case <-deadline:
			t.Fatalf("no %s within %s", what, within)
			return nil
		}
	}
}

func topicIs(topic string) func(*paho.Publish) bool {
	return func(m *paho.Publish) bool { return m.Topic == topic }
}

// TestHeartbeatAndTick: with broker.sys_heartbeat and sys_interval at 1s, a
// subscriber gets uptime and datetime every second (QoS 0, not retained),
// $SYS/brokers naming the node, version and sysdescr (retained), and the
// stats and metrics the node's functions return; mochi's own
// $SYS/broker/... tree is neither retained nor published.
func TestHeartbeatAndTick(t *testing.T) {
	name := fmt.Sprintf("emqx@127.0.%d.1", testutil.Subnet(t))
	n := testnode.Start(t, name, fast...)
	srv := n.N.Broker().Server()
	n.N.Sys().SetStats(func() map[string]int64 {
		return map[string]int64{"connections.count": atomic.LoadInt64(&srv.Info.ClientsConnected), "retained.count": int64(srv.Topics.Retained.Len())}
	})
	n.N.Sys().SetMetrics(func() map[string]uint64 {
		return map[string]uint64{"messages.received": uint64(atomic.LoadInt64(&srv.Info.MessagesReceived))}
	})
	for topic := range srv.Topics.Retained.GetAll() {
		if strings.HasPrefix(topic, "$SYS/broker/") {
			t.Errorf("mochi's %s is retained", topic)
		}
	}
	prefix := "$SYS/brokers/" + name + "/"
	v := watcher(t, n.Addr, "sys-watch", "$SYS/#")

	var ups []time.Time
	var upVals []string
	for len(ups) < 2 {
		m := next(t, v, 5*time.Second, "uptime", topicIs(prefix+"uptime"))
		if m.QoS != 0 || m.Retain {
			t.Errorf("uptime QoS %d retain %v, want 0, false", m.QoS, m.Retain)
		}
		ups, upVals = append(ups, time.Now()), append(upVals, string(m.Payload))
	}
	if d := ups[1].Sub(ups[0]); d < 500*time.Millisecond || d > 2*time.Second {
		t.Errorf("uptime every %s, want about 1s", d)
	}
	if !strings.HasSuffix(upVals[1], " seconds") {
		t.Errorf("uptime %q, want EMQX's text", upVals[1])
	}
	dt := next(t, v, 5*time.Second, "datetime", topicIs(prefix+"datetime"))
	if at, err := time.ParseInLocation(time.DateTime, string(dt.Payload), time.Local); err != nil || time.Since(at).Abs() > 5*time.Second {
		t.Errorf("datetime %q (%v), want the local time as YYYY-MM-DD HH:MM:SS", dt.Payload, err)
	}
	if m := next(t, v, 5*time.Second, "$SYS/brokers", topicIs("$SYS/brokers")); string(m.Payload) != name {
		t.Errorf("$SYS/brokers %q, want %q", m.Payload, name)
	}
	if m := next(t, v, 5*time.Second, "connections.count", topicIs(prefix+"stats/connections.count")); string(m.Payload) != "1" {
		t.Errorf("stats/connections.count %q, want 1", m.Payload)
	}
	next(t, v, 5*time.Second, "metrics/messages/received", topicIs(prefix+"metrics/messages/received"))
	v.Disconnect(&paho.Disconnect{})
	for {
		select {
		case m := <-v.Msgs:
			if strings.HasPrefix(m.Topic, "$SYS/broker/") {
				t.Errorf("mochi's %s published", m.Topic)
			}
			continue
		default:
		}
		break
	}

	// A late subscriber gets the retained ones at once.
	late := watcher(t, n.Addr, "sys-late", "$SYS/brokers/+/version", "$SYS/brokers/+/sysdescr", "$SYS/brokers")
	got := map[string]string{}
	for len(got) < 3 {
		m := next(t, late, 5*time.Second, "retained $SYS", func(*paho.Publish) bool { return true })
		if !m.Retain {
			t.Errorf("%s not retained", m.Topic)
		}
		got[m.Topic] = string(m.Payload)
	}
	if got[prefix+"sysdescr"] != "EMQX" || got[prefix+"version"] == "" || got["$SYS/brokers"] != name {
		t.Errorf("retained $SYS: %v", got)
	}
}

type presence struct {
	ClientID       string  `json:"clientid"`
	Username       string  `json:"username"`
	IPAddress      string  `json:"ipaddress"`
	SockPort       int     `json:"sockport"`
	ProtoName      string  `json:"proto_name"`
	ProtoVer       int     `json:"proto_ver"`
	ConnectedAt    int64   `json:"connected_at"`
	TS             int64   `json:"ts"`
	Connack        *int    `json:"connack"`
	Keepalive      *int    `json:"keepalive"`
	CleanStart     *bool   `json:"clean_start"`
	ExpiryInterval *int    `json:"expiry_interval"`
	Reason         *string `json:"reason"`
	DisconnectedAt int64   `json:"disconnected_at"`
}

func decode(t *testing.T, m *paho.Publish) presence {
	t.Helper()
	var p presence
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		t.Fatalf("%s: %q: %v", m.Topic, m.Payload, err)
	}
	return p
}

// checkConnected checks EMQX's connected event of a client that connected
// as alice with MQTT 5, keep alive 45, clean start, session expiry 60.
func checkConnected(t *testing.T, m *paho.Publish, id, host string) presence {
	t.Helper()
	p := decode(t, m)
	now := time.Now().UnixMilli()
	switch {
	case m.QoS != 1 || m.Retain:
		t.Errorf("connected QoS %d retain %v, want 1 (module.presence.qos), false", m.QoS, m.Retain)
	case p.ClientID != id || p.Username != "alice" || p.ProtoName != "MQTT" || p.ProtoVer != 5:
		t.Errorf("connected %s", m.Payload)
	case p.IPAddress == "" || strings.Contains(p.IPAddress, ":") || p.SockPort == 0 || !strings.HasSuffix(host, fmt.Sprintf(":%d", p.SockPort)):
		t.Errorf("connected address %s, listener %s", m.Payload, host)
	case p.Connack == nil || *p.Connack != 0 || p.Keepalive == nil || *p.Keepalive != 45 || p.CleanStart == nil || !*p.CleanStart ||
		p.ExpiryInterval == nil || *p.ExpiryInterval != 60:
		t.Errorf("connected %s: want connack 0, keepalive 45, clean_start true, expiry_interval 60", m.Payload)
	case p.ConnectedAt > now || now-p.ConnectedAt > 10000 || p.TS < p.ConnectedAt || p.Reason != nil:
		t.Errorf("connected %s", m.Payload)
	}
	return p
}

func checkDisconnected(t *testing.T, m *paho.Publish, id, reason string, conn presence) {
	t.Helper()
	p := decode(t, m)
	switch {
	case m.QoS != 1 || m.Retain:
		t.Errorf("disconnected QoS %d retain %v", m.QoS, m.Retain)
	case p.ClientID != id || p.Username != "alice" || p.IPAddress != conn.IPAddress || p.SockPort != conn.SockPort || p.ProtoVer != 5:
		t.Errorf("disconnected %s, connected had %+v", m.Payload, conn)
	case p.Reason == nil || *p.Reason != reason:
		t.Errorf("disconnected %s: want reason %q", m.Payload, reason)
	case p.ConnectedAt != conn.ConnectedAt || p.DisconnectedAt < p.ConnectedAt || p.TS < p.ConnectedAt || p.Connack != nil:
		t.Errorf("disconnected %s, connected at %d", m.Payload, conn.ConnectedAt)
	}
}

func alice(t *testing.T, addr, id string) *testutil.V5 {
	t.Helper()
	expiry := uint32(60)
	v, err := testutil.TryConnectV5(addr, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 45,
		Username: "alice", UsernameFlag: true, Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const (
	connectedF    = "$SYS/brokers/+/clients/+/connected"
	disconnectedF = "$SYS/brokers/+/clients/+/disconnected"
)

// TestPresence: a client's connect and disconnect (DISCONNECT: normal; the
// connection dropped: tcp_closed) publish EMQX's presence JSON.
func TestPresence(t *testing.T) {
	name := fmt.Sprintf("emqx@127.0.%d.1", testutil.Subnet(t))
	n := testnode.Start(t, name)
	w := watcher(t, n.Addr, "presence-watch", connectedF, disconnectedF)
	prefix := "$SYS/brokers/" + name + "/clients/"

	c := alice(t, n.Addr, "pc1")
	conn := checkConnected(t, next(t, w, 5*time.Second, "connected", topicIs(prefix+"pc1/connected")), "pc1", n.Addr)
	_ = c.Disconnect(&paho.Disconnect{})
	checkDisconnected(t, next(t, w, 5*time.Second, "disconnected", topicIs(prefix+"pc1/disconnected")), "pc1", "normal", conn)

	c = alice(t, n.Addr, "pc2")
	conn = checkConnected(t, next(t, w, 5*time.Second, "connected", topicIs(prefix+"pc2/connected")), "pc2", n.Addr)
	_ = c.Conn.Close()
	checkDisconnected(t, next(t, w, 5*time.Second, "disconnected", topicIs(prefix+"pc2/disconnected")), "pc2", "tcp_closed", conn)
}

// TestAcrossCluster: a subscriber on one node gets the presence events of
// a client of the other node, and $SYS/brokers lists both nodes.
func TestAcrossCluster(t *testing.T) {
	sub := testutil.Subnet(t)
	a := testnode.Start(t, fmt.Sprintf("emqx1@127.0.%d.1", sub), fast...)
	b := testnode.Start(t, fmt.Sprintf("emqx2@127.0.%d.2", sub), fast...)
	testnode.Join(t, b, a)
	testnode.WaitRunning(t, 20*time.Second, a, b)
	w := watcher(t, a.Addr, "cluster-watch", connectedF, disconnectedF, "$SYS/brokers")
	prefix := "$SYS/brokers/" + b.Name + "/clients/"
	testutil.Eventually(t, 10*time.Second, "the watcher's route on "+b.Name, func() bool {
		return slices.Contains(b.N.Fabric().RouteNodes(prefix+"x/connected"), a.Name)
	})
	all := strings.Join(testnode.Names(a, b), ",")
	next(t, w, 5*time.Second, "$SYS/brokers listing "+all, func(m *paho.Publish) bool {
		return m.Topic == "$SYS/brokers" && string(m.Payload) == all
	})

	c := alice(t, b.Addr, "remote1")
	conn := checkConnected(t, next(t, w, 5*time.Second, "connected from "+b.Name, topicIs(prefix+"remote1/connected")), "remote1", b.Addr)
	_ = c.Disconnect(&paho.Disconnect{})
	checkDisconnected(t, next(t, w, 5*time.Second, "disconnected from "+b.Name, topicIs(prefix+"remote1/disconnected")), "remote1", "normal", conn)
}

// TestStopTwice: Stop is safe twice, and before Start.
func TestStopTwice(t *testing.T) {
	n := testnode.Start(t, fmt.Sprintf("emqx@127.0.%d.1", testutil.Subnet(t)), fast...)
	n.N.Sys().Stop()
	n.N.Sys().Stop()
	n.N.Sys().Start() // after Stop: nothing
	n.Halt()
}

func TestUptime(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, ""}, {5 * time.Second, "5 seconds"}, {65 * time.Second, "1 minutes, 5 seconds"},
		{2*time.Hour + 5*time.Second, "2 hours, 0 minutes, 5 seconds"},
		{26*time.Hour + 3*time.Minute, "1 days, 2 hours, 3 minutes, 0 seconds"},
		{3*time.Minute + 999*time.Millisecond, "3 minutes, 0 seconds"},
	} {
		if got := sys.Uptime(c.d); got != c.want {
			t.Errorf("Uptime(%s) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestReason(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{packets.CodeDisconnect, "normal"}, {packets.CodeDisconnectWillMessage, "disconnect_with_will_message"},
		{io.EOF, "tcp_closed"}, {nil, "tcp_closed"}, {fmt.Errorf("read: %w", os.ErrDeadlineExceeded), "keepalive_timeout"},
		{packets.ErrSessionTakenOver, "takeovered"}, {packets.ErrAdministrativeAction, "kicked"},
		{packets.ErrServerShuttingDown, "server_shutting_down"}, {packets.ErrPacketTooLarge, "packet_too_large"},
		{errors.New("odd"), "internal_error"},
	} {
		if got := sys.Reason(c.err); got != c.want {
			t.Errorf("Reason(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
