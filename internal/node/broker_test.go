package node_test

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"emqxgo/internal/testutil"
	"emqxgo/internal/testutil/testnode"
)

// values parses `name : value` lines as emqx_mgmt_cli prints them
// ("~-30s: ~w~n"), checking the padding and the order.
func values(t *testing.T, out string) map[string]uint64 {
	t.Helper()
	line := regexp.MustCompile(`^(.{30}): (\d+)$`)
	m := map[string]uint64{}
	var names []string
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		g := line.FindStringSubmatch(l)
		if g == nil {
			t.Fatalf("line %q is not \"~-30s: ~w\"", l)
		}
		name := strings.TrimRight(g[1], " ")
		v, _ := strconv.ParseUint(g[2], 10, 64)
		m[name] = v
		names = append(names, name)
	}
	if !slices.IsSorted(names) {
		t.Fatalf("not sorted: %v", names)
	}
	return m
}

// TestBrokerMetrics: after two clients connect, one subscribes and the
// other publishes 10 QoS 1 messages to it, `emqx_ctl broker metrics`
// shows exactly that exchange, `broker stats` the two sessions and the
// route, and `broker` the node's description, version, uptime and time.
func TestBrokerMetrics(t *testing.T) {
	n := testnode.Start(t, fmt.Sprintf("emqx1@127.0.%d.1", testutil.Subnet(t)))
	testnode.WaitRunning(t, 20*time.Second, n)

	sub := testutil.DialV5(t, n.Addr, "sub")
	sub.Sub(t, "m/1", 1)
	pub := testutil.DialV5(t, n.Addr, "pub")
	for i := range 10 {
		pub.Pub(t, "m/1", 1, []byte{byte(i)})
	}
	for i := range 10 {
		sub.Expect(t, "m/1", []byte{byte(i)})
	}
	var m map[string]uint64
	testutil.Eventually(t, 5*time.Second, "the subscriber's acknowledgements counted", func() bool {
		m = values(t, ctl(t, n, "broker metrics"))
		return m["packets.puback.received"] == 10
	})
	if len(m) != 84 {
		t.Errorf("%d metrics, want EMQX 4.4's 84", len(m))
	}
	want := map[string]uint64{
		"packets.connect.received": 2, "packets.connack.sent": 2, "packets.connack.error": 0,
		"packets.subscribe.received": 1, "packets.suback.sent": 1,
		"packets.publish.received": 10, "packets.publish.sent": 10,
		"packets.puback.sent": 10, "packets.puback.received": 10,
		// paho pings as it connects
		"packets.received":  2 + 1 + 10 + 10 + m["packets.pingreq.received"],
		"packets.sent":      2 + 1 + 10 + 10 + m["packets.pingresp.sent"],
		"messages.received": 10, "messages.qos1.received": 10, "messages.qos0.received": 0,
		"messages.sent": 10, "messages.qos1.sent": 10,
		"messages.publish": 10, "messages.delivered": 10, "messages.acked": 10,
		"messages.dropped":               0,
		"messages.dropped.no_subscriber": 0, // cut at 30 columns, as EMQX prints it
		"client.connect":                 2, "client.connack": 2, "client.connected": 2, "client.subscribe": 1,
		"client.check_acl": 11, "client.acl.allow": 11,
		"client.authenticate": 2, "client.auth.success.anonymous": 2,
		"session.created": 2, "session.resumed": 0, "client.disconnected": 0,
	}
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %d (listed %t), want %d", k, got, ok, v)
		}
	}
	if m["bytes.received"] == 0 || m["bytes.sent"] == 0 {
		t.Errorf("bytes.received %d, bytes.sent %d", m["bytes.received"], m["bytes.sent"])
	}

	st := values(t, ctl(t, n, "broker stats"))
	if len(st) != 22 {
		t.Errorf("%d stats, want 22", len(st))
	}
	for k, v := range map[string]uint64{"connections.count": 2, "connections.max": 2, "live_connections.count": 2,
		"sessions.count": 2, "channels.count": 2, "subscriptions.count": 1, "subscribers.count": 1, "suboptions.count": 1,
		"subscriptions.shared.count": 0, "topics.count": 1, "routes.count": 1, "retained.count": 0} {
		if got, ok := st[k]; !ok || got != v {
			t.Errorf("%s = %d (listed %t), want %d", k, got, ok, v)
		}
	}

	b := strings.Split(ctl(t, n, "broker"), "\n")
	if len(b) != 5 || b[0] != "sysdescr  : EMQX" || !strings.HasPrefix(b[1], "version   : ") ||
		!regexp.MustCompile(`^uptime    : (\d+ (days|hours|minutes|seconds)(, )?)*$`).MatchString(b[2]) ||
		!regexp.MustCompile(`^datetime  : \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`).MatchString(b[3]) {
		t.Errorf("broker:\n%s", strings.Join(b, "\n"))
	}
	if got := ctl(t, n, "broker nothing"); got != "broker                                                                # Show broker version, uptime and description\n"+
		"broker stats                                                          # Show broker statistics of clients, topics, subscribers\n"+
		"broker metrics                                                        # Show broker metrics\n" {
		t.Errorf("usage:\n%s", got)
	}
}

// TestSysStatsAndMetrics: at broker.sys_interval the node publishes its
// stats and metrics under $SYS/brokers/<node>/stats/ and /metrics/ (a
// metric's dots are levels), with the figures `emqx_ctl broker` shows.
func TestSysStatsAndMetrics(t *testing.T) {
	name := fmt.Sprintf("emqx1@127.0.%d.1", testutil.Subnet(t))
	n := testnode.Start(t, name, "EMQX_BROKER__SYS_INTERVAL=1s")
	testnode.WaitRunning(t, 20*time.Second, n)
	w := testutil.DialV5(t, n.Addr, "sys-watch")
	w.Sub(t, "$SYS/brokers/"+name+"/stats/connections.count", 0)
	w.Sub(t, "$SYS/brokers/"+name+"/metrics/packets/subscribe/received", 0)
	got := map[string]string{}
	deadline := time.After(15 * time.Second)
	for got["stats"] != "1" || got["metrics"] != "2" {
		select {
		case m := <-w.Msgs:
			if strings.Contains(m.Topic, "/stats/") {
				got["stats"] = string(m.Payload)
			} else {
				got["metrics"] = string(m.Payload)
			}
		case <-deadline:
			t.Fatalf("$SYS stats and metrics seen: %v; want connections.count 1 and 2 SUBSCRIBEs received", got)
		}
	}
}

// TestListenersCmd: `emqx_ctl listeners` lists each listener as
// emqx_mgmt_cli does: its EMQX id, then `  ~-16s: ~w` lines with the bound
// address, the connection limit and the connections open now.
func TestListenersCmd(t *testing.T) {
	host := fmt.Sprintf("127.0.%d.1", testutil.Subnet(t))
	n := testnode.Start(t, "emqx1@"+host, "EMQX_LISTENER__TCP__INTERNAL="+host+":0",
		"EMQX_LISTENER__TCP__EXTERNAL__MAX_CONNECTIONS=100")
	testnode.WaitRunning(t, 20*time.Second, n)
	c := testutil.DialV5(t, n.Addr, "ls-client")
	defer c.Conn.Close()
	addrs := n.N.Broker().Addrs()
	want := "mqtt:tcp:external\n" +
		"  listen_on       : " + addrs["tcp:external"] + "\n" +
		"  acceptors       : 1\n" +
		"  max_conns       : 100\n" +
		"  current_conn    : 1\n" +
		"  shutdown_count  : []\n" +
		"mqtt:tcp:internal\n" +
		"  listen_on       : " + addrs["tcp:internal"] + "\n" +
		"  acceptors       : 1\n" +
		"  max_conns       : 1024000\n" +
		"  current_conn    : 0\n" +
		"  shutdown_count  : []\n"
	if got := ctl(t, n, "listeners"); got != want {
		t.Fatalf("emqx_ctl listeners:\n%s\nwant:\n%s", got, want)
	}
	if got := ctl(t, n, "listeners what"); !strings.HasPrefix(got, "listeners") || !strings.Contains(got, "# List listeners\n") {
		t.Fatalf("usage: %q", got)
	}
}
