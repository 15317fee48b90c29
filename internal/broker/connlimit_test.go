package broker

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/gorilla/websocket"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"emqxgo/internal/config"
	"emqxgo/internal/testutil"
)

// startBrokerLogged is startBroker with the broker's log lines kept.
func startBrokerLogged(t *testing.T, cfg *config.Config) (*Broker, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	return startBrokerWith(t, cfg, zap.New(core)), logs
}

// dialFrom opens a TCP connection to addr from the local address from
// ("" for any; Linux routes all of 127/8 to lo).
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// connectOver runs an MQTT 5 CONNECT as clientID over c (which may have
// sent a PROXY header already); the client disconnects when the test ends.
func connectOver(t *testing.T, c net.Conn, clientID string) (*paho.Client, error) {
	t.Helper()
	pc := paho.NewClient(paho.ClientConfig{ClientID: clientID, Conn: c, OnClientError: func(error) {}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := pc.Connect(ctx, &paho.Connect{ClientID: clientID, CleanStart: true, KeepAlive: 30}); err != nil {
		_ = c.Close()
		return nil, err
	}
	t.Cleanup(func() { _ = pc.Disconnect(&paho.Disconnect{}) })
	return pc, nil
}

// remoteOf is the client's address as the broker has it (mochi's
// cl.Net.Remote: what the ACL's %a and the hooks see).
func remoteOf(t *testing.T, b *Broker, clientID string) string {
	t.Helper()
	cl, ok := b.Server().Clients.Get(clientID)
	if !ok {
		t.Fatalf("client %q not known to the broker", clientID)
	}
	return cl.Net.Remote
}

// refusedAtAccept: the broker closed c without sending anything (no
// CONNACK even for a CONNECT).
func refusedAtAccept(t *testing.T, c net.Conn) {
	t.Helper()
	_, _ = c.Write(testutil.ConnectPacket("refused", 5)) // may fail: the broker closed it
	if got := readUntilClosed(t, c, 5*time.Second); len(got) != 0 {
		t.Fatalf("a refused connection got %x, want nothing", got)
	}
}

func refusalLines(logs *observer.ObservedLogs, reason string) int {
	n := 0
	for _, e := range logs.FilterMessageSnippet("connections refused").All() {
		if e.ContextMap()["reason"] == reason {
			n++
		}
	}
	return n
}

// TestMaxConnections: with max_connections = 2 the third connection is
// closed at accept while the first two work on; refusals are counted and
// logged once per burst; a closed connection frees its place.
func TestMaxConnections(t *testing.T) {
	b, logs := startBrokerLogged(t, testConfig("listener.tcp.external.max_connections = 2"))
	addr := b.Addrs()["tcp"]
	sub := testutil.DialV5(t, addr, "one")
	pub := testutil.DialV5(t, addr, "two")
	if v, err := testutil.TryDialV5(addr, "three", true); err == nil {
		_ = v.Disconnect(&paho.Disconnect{})
		t.Fatal("a third connection was accepted with max_connections = 2")
	}
	for i := 0; i < 10; i++ {
		refusedAtAccept(t, dialFrom(t, "", addr))
	}
	sub.Sub(t, "max/t", 1)
	pub.Pub(t, "max/t", 1, []byte("still working"))
	sub.Expect(t, "max/t", []byte("still working"))

	st := b.ListenerStats()["tcp:external"]
	if st.RefusedMax != 11 || st.Open != 2 {
		t.Fatalf("stats %+v, want 11 refused over max_connections and 2 open", st)
	}
	if n := refusalLines(logs, "max_connections"); n != 1 {
		t.Fatalf("%d log lines for 11 refusals, want 1", n)
	}

	_ = pub.Disconnect(&paho.Disconnect{})
	testutil.Eventually(t, 10*time.Second, "the closed connection's place freed", func() bool {
		return b.ListenerStats()["tcp:external"].Open == 1
	})
	testutil.DialV5(t, addr, "four")
}

// TestMaxConnRate: max_conn_rate = 5 lets 5 connections in at once and 5
// a second after: 15 connects take about 2 s (the clients wait in the
// backlog, none is refused).
func TestMaxConnRate(t *testing.T) {
	b := startBroker(t, testConfig("listener.tcp.external.max_conn_rate = 5"))
	addr := b.Addrs()["tcp"]
	start := time.Now()
	for i := 0; i < 15; i++ {
		testutil.DialV5(t, addr, fmt.Sprintf("rate-%d", i))
	}
	// 15 tokens: at most 5 in the bucket plus one the accept loop may
	// have taken early, the 9 others at 5 a second: 1.8 s at least.
	if d := time.Since(start); d < 1700*time.Millisecond || d > 30*time.Second {
		t.Fatalf("15 connects at max_conn_rate = 5 took %s, want about 2 s", d)
	}
	if st := b.ListenerStats()["tcp:external"]; st.RefusedMax+st.RefusedAccess != 0 || st.Open != 15 {
		t.Fatalf("stats %+v, want 15 open and none refused", st)
	}
}

// TestAccessRules: deny 127.0.0.1, allow all: a client from 127.0.0.1 is
// closed at accept, one from 127.0.0.2 connects.
func TestAccessRules(t *testing.T) {
	b, logs := startBrokerLogged(t, testConfig("listener.tcp.external.access.1 = deny 127.0.0.1",
		"listener.tcp.external.access.2 = allow all"))
	addr := b.Addrs()["tcp"]
	if _, err := connectOver(t, dialFrom(t, "127.0.0.1", addr), "denied"); err == nil {
		t.Fatal("a client from 127.0.0.1 connected past deny 127.0.0.1")
	}
	for i := 0; i < 5; i++ {
		refusedAtAccept(t, dialFrom(t, "127.0.0.1", addr))
	}
	if _, err := connectOver(t, dialFrom(t, "127.0.0.2", addr), "allowed"); err != nil {
		t.Fatalf("a client from 127.0.0.2: %v", err)
	}
	if r := remoteOf(t, b, "allowed"); !strings.HasPrefix(r, "127.0.0.2:") {
		t.Fatalf("remote %s, want 127.0.0.2", r)
	}
	if st := b.ListenerStats()["tcp:external"]; st.RefusedAccess != 6 {
		t.Fatalf("stats %+v, want 6 refused by the access rules", st)
	}
	if n := refusalLines(logs, "access"); n != 1 {
		t.Fatalf("%d log lines for 6 refusals, want 1", n)
	}
}

func proxyV1(src string, sport int) []byte {
	return []byte(fmt.Sprintf("PROXY TCP4 %s 127.0.0.1 %d 1883\r\n", src, sport))
}

// proxyV2 is a v2 header: PROXY TCP4 or TCP6 (by src), or LOCAL when src
// is "".
func proxyV2(src string, sport int) []byte {
	b := append([]byte{}, proxyV2Sig...)
	if src == "" {
		return append(b, 0x20, 0x00, 0, 0)
	}
	ip := net.ParseIP(src)
	if ip4 := ip.To4(); ip4 != nil {
		b = append(b, 0x21, 0x11, 0, 12)
		b = append(b, ip4...)
		b = append(b, 127, 0, 0, 1)
	} else {
		b = append(b, 0x21, 0x21, 0, 36)
		b = append(b, ip.To16()...)
		b = append(b, net.IPv6loopback...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(sport))
	return binary.BigEndian.AppendUint16(b, 1883)
}

// TestProxyProtocol: the source of a v1 or v2 header is the client's
// address as the broker sees it; a v2 LOCAL header keeps the connection's
// own; the header may come in the same segment as the CONNECT.
func TestProxyProtocol(t *testing.T) {
	b := startBroker(t, testConfig("listener.tcp.external.proxy_protocol = on"))
	addr := b.Addrs()["tcp"]
	for _, tc := range []struct {
		id     string
		header []byte
		want   string
	}{
		{"v1", proxyV1("10.1.2.3", 40001), "10.1.2.3:40001"},
		{"v2", proxyV2("10.1.2.3", 40002), "10.1.2.3:40002"},
		{"v2-tcp6", proxyV2("2001:db8::7", 40003), "[2001:db8::7]:40003"},
		{"v1-unknown", []byte("PROXY UNKNOWN\r\n"), "127.0.0.1:"},
		{"v2-local", proxyV2("", 0), "127.0.0.1:"},
	} {
		c := dialFrom(t, "", addr)
		if _, err := c.Write(tc.header); err != nil {
			t.Fatal(err)
		}
		if _, err := connectOver(t, c, tc.id); err != nil {
			t.Fatalf("%s: %v", tc.id, err)
		}
		if r := remoteOf(t, b, tc.id); !strings.HasPrefix(r, tc.want) {
			t.Fatalf("%s: remote %s, want %s", tc.id, r, tc.want)
		}
	}
	// Header and CONNECT in one write: the bytes read with the header are
	// the MQTT stream's first.
	c := dialFrom(t, "", addr)
	_, _ = c.Write(append(proxyV1("10.1.2.3", 40009), testutil.ConnectPacket("one-write", 5)...))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	ack := make([]byte, 4)
	if n, err := c.Read(ack); err != nil || n < 4 || ack[0] != 0x20 || ack[3] != 0 {
		t.Fatalf("header and CONNECT in one write: got %x (%v), want CONNACK 0", ack[:n], err)
	}
	if r := remoteOf(t, b, "one-write"); r != "10.1.2.3:40009" {
		t.Fatalf("remote %s", r)
	}
	if st := b.ListenerStats()["tcp:external"]; st.RefusedProxy != 0 {
		t.Fatalf("stats %+v, want no proxy refusals", st)
	}
}

// TestProxyProtocolRefusals: a connection without a header is closed after
// proxy_protocol_timeout, one with a malformed header at once (an MQTT
// CONNECT where the header should be is one).
func TestProxyProtocolRefusals(t *testing.T) {
	b, logs := startBrokerLogged(t, testConfig("listener.tcp.external.proxy_protocol = on",
		"listener.tcp.external.proxy_protocol_timeout = 300ms"))
	addr := b.Addrs()["tcp"]

	silent := dialFrom(t, "", addr)
	start := time.Now()
	if got := readUntilClosed(t, silent, 10*time.Second); len(got) != 0 {
		t.Fatalf("got %x", got)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("closed after %s, before proxy_protocol_timeout = 300ms", d)
	}

	for _, garbage := range [][]byte{
		[]byte("PROXY TCP4 banana 127.0.0.1 1 2\r\n"),
		[]byte("PROXY TCP4 10.1.2.3 127.0.0.1 99999 1883\r\n"),
		[]byte("PROXY TCP6 10.1.2.3 127.0.0.1 1 1883\r\n"),
		[]byte("PROXY " + strings.Repeat("A", 200)),
		[]byte("GET / HTTP/1.1\r\n\r\n"),
		testutil.ConnectPacket("no-header", 5),
		append(append([]byte{}, proxyV2Sig...), 0x21, 0x11, 0xff, 0xff), // length over the cap
		append(append([]byte{}, proxyV2Sig...), 0x31, 0x11, 0, 12),      // version 3
	} {
		c := dialFrom(t, "", addr)
		_, _ = c.Write(garbage)
		start := time.Now()
		if got := readUntilClosed(t, c, 10*time.Second); len(got) != 0 {
			t.Fatalf("%q: got %x", garbage, got)
		}
		if d := time.Since(start); d > 250*time.Millisecond && !strings.HasPrefix(string(garbage), "PROXY TCP") {
			t.Logf("%q closed after %s", garbage, d) // not a failure: the host may be slow
		}
	}
	if st := b.ListenerStats()["tcp:external"]; st.RefusedProxy != 9 {
		t.Fatalf("stats %+v, want 9 proxy refusals", st)
	}
	if n := refusalLines(logs, "proxy_protocol"); n != 1 {
		t.Fatalf("%d log lines for 9 refusals, want 1", n)
	}
	testutil.Eventually(t, 10*time.Second, "refused connections closed", func() bool {
		return b.ListenerStats()["tcp:external"].Open == 0
	})
}

// TestProxyProtocolAccess: with the PROXY protocol the access rules apply
// to the address the header names, not to the proxy's.
func TestProxyProtocolAccess(t *testing.T) {
	b := startBroker(t, testConfig("listener.tcp.external.proxy_protocol = on",
		"listener.tcp.external.access.1 = deny 10.1.2.3", "listener.tcp.external.access.2 = allow all"))
	addr := b.Addrs()["tcp"]
	for _, h := range [][]byte{proxyV1("10.1.2.3", 1000), proxyV2("10.1.2.3", 1001)} {
		c := dialFrom(t, "", addr)
		_, _ = c.Write(h)
		if _, err := connectOver(t, c, "denied"); err == nil {
			t.Fatalf("a client proxied from 10.1.2.3 connected past deny 10.1.2.3 (%q)", h)
		}
	}
	c := dialFrom(t, "", addr)
	_, _ = c.Write(proxyV2("10.9.9.9", 1002))
	if _, err := connectOver(t, c, "allowed"); err != nil {
		t.Fatalf("a client proxied from 10.9.9.9: %v", err)
	}
	if r := remoteOf(t, b, "allowed"); r != "10.9.9.9:1002" {
		t.Fatalf("remote %s", r)
	}
	if st := b.ListenerStats()["tcp:external"]; st.RefusedAccess != 2 {
		t.Fatalf("stats %+v, want 2 refused by the access rules", st)
	}
}

// TestProxyProtocolTLSAndWebSocket: on ssl, ws and wss listeners the
// header comes first, before TLS and HTTP.
func TestProxyProtocolTLSAndWebSocket(t *testing.T) {
	certs := testutil.WriteCerts(t, t.TempDir())
	var lines []string
	for _, p := range []string{"ssl", "ws", "wss"} {
		lines = append(lines, "listener."+p+".external = 127.0.0.1:0", "listener."+p+".external.proxy_protocol = on")
		if p != "ws" {
			lines = append(lines, "listener."+p+".external.certfile = "+certs.CertFile, "listener."+p+".external.keyfile = "+certs.KeyFile)
		}
	}
	b := startBroker(t, testConfig(lines...))
	a := b.Addrs()
	tc := &tls.Config{RootCAs: certs.Pool, ServerName: "127.0.0.1"}

	c := tls.Client(dialFrom(t, "", a["ssl"]), tc)
	if _, err := c.NetConn().Write(proxyV1("10.1.2.3", 5001)); err != nil {
		t.Fatal(err)
	}
	if _, err := connectOver(t, c, "ssl"); err != nil {
		t.Fatalf("ssl: %v", err)
	}
	if r := remoteOf(t, b, "ssl"); r != "10.1.2.3:5001" {
		t.Fatalf("ssl: remote %s", r)
	}

	for i, url := range []string{"ws://" + a["ws"] + "/mqtt", "wss://" + a["wss"] + "/mqtt"} {
		id := strings.SplitN(url, ":", 2)[0]
		port := 5002 + i
		d := websocket.Dialer{Subprotocols: []string{"mqtt"}, TLSClientConfig: tc,
			NetDial: func(network, addr string) (net.Conn, error) {
				nc, err := net.DialTimeout(network, addr, 5*time.Second)
				if err == nil {
					_, err = nc.Write(proxyV2("10.1.2.3", port))
				}
				return nc, err
			}}
		ws, _, err := d.Dial(url, nil)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		_ = ws.WriteMessage(websocket.BinaryMessage, testutil.ConnectPacket(id, 5))
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, m, err := ws.ReadMessage(); err != nil || len(m) < 4 || m[0] != 0x20 || m[3] != 0 {
			t.Fatalf("%s: CONNACK %x, %v", id, m, err)
		}
		if r := remoteOf(t, b, id); r != fmt.Sprintf("10.1.2.3:%d", port) {
			t.Fatalf("%s: remote %s", id, r)
		}
		_ = ws.Close()
	}
}

// TestListenerConnCloseTwice: closing an admitted connection twice frees
// its place once.
func TestListenerConnCloseTwice(t *testing.T) {
	l := &listener{done: make(chan struct{})}
	a, other := net.Pipe()
	defer other.Close()
	l.open.Store(1)
	lc := &lconn{Conn: a, l: l}
	if err := lc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := lc.Close(); err == nil {
		t.Fatal("second Close reported success")
	}
	if n := l.open.Load(); n != 0 {
		t.Fatalf("open %d after two Closes of one connection, want 0", n)
	}
}

// TestStopClosesPendingProxyHeader: Stop does not wait out the
// proxy_protocol_timeout of a connection still sending its header.
func TestStopClosesPendingProxyHeader(t *testing.T) {
	b := startBroker(t, testConfig("listener.tcp.external.proxy_protocol = on",
		"listener.tcp.external.proxy_protocol_timeout = 60s"))
	c := dialFrom(t, "", b.Addrs()["tcp"])
	_, _ = c.Write([]byte("PROXY TCP4 "))
	testutil.Eventually(t, 10*time.Second, "the connection accepted", func() bool {
		return b.ListenerStats()["tcp:external"].Open == 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("stop took %s", d)
	}
	readUntilClosed(t, c, 5*time.Second)
	if st := b.ListenerStats()["tcp:external"]; st.RefusedProxy != 0 || st.Open != 0 {
		t.Fatalf("stats %+v: a connection closed by Stop is no proxy refusal, and none is open", st)
	}
}
