package broker

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"emqxgo/internal/testutil"
)

// gone waits until the client id is no longer connected.
func gone(t *testing.T, b *Broker, id string) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, id+" disconnected", func() bool {
		cl, ok := b.srv.Clients.Get(id)
		return !ok || cl.Closed()
	})
}

// TestListenerStopRestart: a stopped listener closes its port and the
// connections it accepted, is no longer listed, and a second stop finds
// nothing; a restart binds the same address again (with fresh counts);
// restarting a running listener drops its connections too; a restart on a
// taken port fails and leaves the listener stopped; the other listeners
// carry on throughout, and Stop drains everything.
func TestListenerStopRestart(t *testing.T) {
	b := startBroker(t, testConfig("listener.ws.external = 127.0.0.1:0"))
	addr, wsAddr := b.Addrs()["tcp"], b.Addrs()["ws"]
	c1 := testutil.DialV5(t, addr, "c1")
	c1.Sub(t, "t", 1)

	if err := b.StopListener("tcp:external"); err != nil {
		t.Fatal(err)
	}
	if err := b.StopListener("tcp:external"); !errors.Is(err, ErrListenerNotFound) {
		t.Fatalf("second stop: %v, want not_found", err)
	}
	if err := b.StopListener("tcp:nope"); !errors.Is(err, ErrListenerNotFound) {
		t.Fatalf("stop of an unknown listener: %v", err)
	}
	gone(t, b, "c1")
	testutil.ConnRefused(t, addr)
	if _, ok := b.Addrs()["tcp"]; ok || len(b.Listeners()) != 1 || b.Listeners()[0].ID != "ws:external" {
		t.Fatalf("after stop: addrs %v, listeners %+v", b.Addrs(), b.Listeners())
	}
	if a, running, ok := b.ListenerState("tcp:external"); !ok || running || a != addr {
		t.Fatalf("state: %s %t %t", a, running, ok)
	}
	// the ws listener still serves
	ws, _, err := (&websocket.Dialer{Subprotocols: []string{"mqtt"}}).Dial("ws://"+wsAddr+"/mqtt", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = ws.Close()

	if err := b.RestartListener("tcp:external"); err != nil {
		t.Fatal(err)
	}
	if b.Addrs()["tcp"] != addr {
		t.Fatalf("restarted on %s, want %s", b.Addrs()["tcp"], addr)
	}
	c2 := testutil.DialV5(t, addr, "c2")
	c2.Sub(t, "t", 1)
	c2.Pub(t, "t", 1, []byte("again"))
	c2.Expect(t, "t", []byte("again"))
	if ls := b.Listeners(); len(ls) != 2 || ls[0].ID != "tcp:external" || ls[0].Open != 1 {
		t.Fatalf("listeners after restart: %+v", ls)
	}

	// restarting a running listener: its connections go, it accepts again
	if err := b.RestartListener("tcp:external"); err != nil {
		t.Fatal(err)
	}
	gone(t, b, "c2")
	testutil.DialV5(t, addr, "c3")

	// a restart that cannot bind leaves the listener stopped
	if err := b.StopListener("tcp:external"); err != nil {
		t.Fatal(err)
	}
	gone(t, b, "c3")
	squat, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	err = b.RestartListener("tcp:external")
	var le *ListenerError
	if !errors.As(err, &le) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("restart on a taken port: %v", err)
	}
	if _, running, _ := b.ListenerState("tcp:external"); running {
		t.Fatal("listener runs after a failed restart")
	}
	_ = squat.Close()
	if err := b.RestartListener("tcp:external"); err != nil {
		t.Fatal(err)
	}
	testutil.DialV5(t, addr, "c4")
	if err := b.RestartListener("tcp:nope"); !errors.Is(err, ErrListenerNotFound) {
		t.Fatalf("restart of an unknown listener: %v", err)
	}

	// the ws listener stops and restarts the same way
	if err := b.RestartListener("ws:external"); err != nil {
		t.Fatal(err)
	}
	ws, _, err = (&websocket.Dialer{Subprotocols: []string{"mqtt"}}).Dial("ws://"+wsAddr+"/mqtt", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = ws.WriteMessage(websocket.BinaryMessage, testutil.ConnectPacket("wsc", 5))
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, m, err := ws.ReadMessage(); err != nil || len(m) < 4 || m[0] != 0x20 || m[3] != 0 {
		t.Fatalf("CONNACK over the restarted ws listener: % x %v", m, err)
	}
	if err := b.StopListener("ws:external"); err != nil {
		t.Fatal(err)
	}
	gone(t, b, "wsc")
	_ = ws.Close()
	testutil.ConnRefused(t, wsAddr)
}
