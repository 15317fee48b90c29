package banned

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"emqxgo/internal/broker"
	"emqxgo/internal/config"
	"emqxgo/internal/testutil"
)

// startBroker runs an in-process broker with the defaults, a TCP listener
// on a free loopback port and lines (emqx.conf syntax) over them, with the
// hook over a one-node list.
func startBroker(t *testing.T, lines ...string) (addr string, l *List, logs *observer.ObservedLogs) {
	t.Helper()
	cfg := config.MustFromLines(os.TempDir(), append([]string{"listener.tcp.external = 127.0.0.1:0"}, lines...)...)
	core, logs := observer.New(zapcore.InfoLevel)
	log := zap.New(core)
	b, err := broker.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHook(b.Server(), b.Zone, cfg.Flapping, log)
	if err := b.Server().AddHook(h, nil); err != nil {
		t.Fatal(err)
	}
	l = Open(newMem())
	h.SetList(l)
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return b.Addrs()["tcp"], l, logs
}

// connect tries an MQTT 5 client: the CONNACK reason code (0: accepted,
// then disconnected again; 0xff: no CONNACK).
func connect(addr, id string) byte {
	return testutil.ConnackCode(addr, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30})
}

// connect3 sends an MQTT 3.1.1 CONNECT: the CONNACK return code (0xff: no CONNACK).
func connect3(t *testing.T, addr, id string) byte {
	t.Helper()
	c, code, err := testutil.Dial311(addr, id)
	if err != nil {
		return 0xff
	}
	c.Close()
	return code
}

// TestFlappingBansClient: with flapping detection on, the 4th rapid
// connection of a client id with policy "3, 10s, 2s" is refused (0x8A),
// the ban is on the list with its reason, another client id still
// connects, one WARN line says so, and once the ban time is over the
// client connects again.
func TestFlappingBansClient(t *testing.T) {
	addr, l, logs := startBroker(t, `flapping_detect_policy = "3, 10s, 2s"`, "zone.external.enable_flapping_detect = on")
	for i := 1; i <= 3; i++ {
		if got := connect(addr, "f"); got != 0 {
			t.Fatalf("connect %d: CONNACK %#x, want accepted", i, got)
		}
	}
	banned := time.Now()
	if got := connect(addr, "f"); got != 0x8A {
		t.Fatalf("4th connect: CONNACK %#x, want 0x8A banned", got)
	}
	if got := connect3(t, addr, "f"); got != 0x05 {
		t.Fatalf("4th connect, MQTT 3.1.1: CONNACK %#x, want 0x05 not authorized", got)
	}
	if got := connect(addr, "other"); got != 0 {
		t.Fatalf("another client id: CONNACK %#x, want accepted", got)
	}
	es := l.List()
	if len(es) != 1 || es[0].Who != ClientID || es[0].Value != "f" || es[0].By != "flapping detector" ||
		es[0].Until.Sub(es[0].At) != 2*time.Second {
		t.Fatalf("banned list: %+v", es)
	}
	if n := logs.FilterMessage("flapping detected").FilterField(zap.String("client", "f")).Len(); n != 1 {
		t.Fatalf("%d 'flapping detected' lines, want 1", n)
	}
	testutil.Eventually(t, 10*time.Second, "f connects once its ban is over", func() bool { return connect(addr, "f") == 0 })
	if d := time.Since(banned); d < 1500*time.Millisecond {
		t.Fatalf("f connected again %s after its ban of 2 s", d)
	}
}

// TestFlappingOffByDefault: without enable_flapping_detect, rapid
// reconnects are not banned.
func TestFlappingOffByDefault(t *testing.T) {
	addr, l, _ := startBroker(t, `flapping_detect_policy = "3, 10s, 2s"`)
	for i := 1; i <= 5; i++ {
		if got := connect(addr, "f"); got != 0 {
			t.Fatalf("connect %d: CONNACK %#x, want accepted", i, got)
		}
	}
	if es := l.List(); len(es) != 0 {
		t.Fatalf("banned list: %+v", es)
	}
}

// TestBannedRefused: a client id, user name or peer host on the list is
// refused (MQTT 5 0x8A, 3.1.1 0x05); a lifted ban lets the client in; a
// zone with enable_ban off does not check.
func TestBannedRefused(t *testing.T) {
	addr, l, _ := startBroker(t)
	if _, err := l.Add(Entry{Who: ClientID, Value: "bad", Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	if got := connect(addr, "bad"); got != 0x8A {
		t.Fatalf("banned client id: CONNACK %#x, want 0x8A", got)
	}
	if got := connect3(t, addr, "bad"); got != 0x05 {
		t.Fatalf("banned client id, MQTT 3.1.1: CONNACK %#x, want 0x05", got)
	}
	if got := connect(addr, "good"); got != 0 {
		t.Fatalf("other client id: CONNACK %#x", got)
	}
	cp := &paho.Connect{ClientID: "u1", CleanStart: true, KeepAlive: 30, Username: "mallory", UsernameFlag: true}
	if _, err := l.Add(Entry{Who: Username, Value: "mallory"}); err != nil {
		t.Fatal(err)
	}
	if v, err := testutil.TryConnectV5(addr, cp); err == nil || v.Connack == nil || v.Connack.ReasonCode != 0x8A {
		t.Fatalf("banned user name: %v", err)
	}
	if err := l.Delete(ClientID, "bad"); err != nil {
		t.Fatal(err)
	}
	if got := connect(addr, "bad"); got != 0 {
		t.Fatalf("lifted ban: CONNACK %#x", got)
	}
	if _, err := l.Add(Entry{Who: PeerHost, Value: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	if got := connect(addr, "anyone"); got != 0x8A {
		t.Fatalf("banned peer host: CONNACK %#x, want 0x8A", got)
	}

	off, l2, _ := startBroker(t, "zone.external.enable_ban = off")
	if _, err := l2.Add(Entry{Who: ClientID, Value: "bad"}); err != nil {
		t.Fatal(err)
	}
	if got := connect(off, "bad"); got != 0 {
		t.Fatalf("enable_ban = off: CONNACK %#x, want accepted", got)
	}
}
