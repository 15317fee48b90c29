package node_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/banned"
	"emqxgo/internal/testutil"
	"emqxgo/internal/testutil/testnode"
)

// TestBannedAcrossCluster: a ban added on one node refuses the client on
// the other (0x8A) within a second, a ban lifted on the other lets it in
// again everywhere, and a client id found flapping on one node is refused
// on the other.
func TestBannedAcrossCluster(t *testing.T) {
	sub := testutil.Subnet(t)
	env := []string{`EMQX_FLAPPING_DETECT_POLICY=3, 10s, 1m`, "EMQX_ZONE__EXTERNAL__ENABLE_FLAPPING_DETECT=on"}
	a := testnode.Start(t, fmt.Sprintf("emqx1@127.0.%d.1", sub), env...)
	b := testnode.Start(t, fmt.Sprintf("emqx2@127.0.%d.2", sub), env...)
	testnode.Join(t, b, a)
	testnode.WaitRunning(t, 20*time.Second, a, b)

	if got := connectID(b, "dev"); got != 0 {
		t.Fatalf("before the ban: CONNACK %#x", got)
	}
	if _, err := a.N.Banned().Add(banned.Entry{Who: banned.ClientID, Value: "dev", Reason: "test", By: "admin"}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, time.Second, "a ban added on one node refuses the client on the other",
		func() bool { return connectID(b, "dev") == 0x8A })
	if es := b.N.Banned().List(); len(es) != 1 || es[0].Value != "dev" || es[0].By != "admin" {
		t.Fatalf("list on the other node: %+v", es)
	}
	if err := b.N.Banned().Delete(banned.ClientID, "dev"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, time.Second, "a ban lifted on one node lets the client in on the other",
		func() bool { return connectID(a, "dev") == 0 })

	for i := 1; i <= 3; i++ {
		if got := connectID(a, "flap"); got != 0 {
			t.Fatalf("connect %d: CONNACK %#x", i, got)
		}
	}
	if got := connectID(a, "flap"); got != 0x8A {
		t.Fatalf("flapping client on its node: CONNACK %#x, want 0x8A", got)
	}
	testutil.Eventually(t, time.Second, "a client id flapping on one node is refused on the other",
		func() bool { return connectID(b, "flap") == 0x8A })
	if a.Logs.FilterMessage("flapping detected").Len() != 1 {
		t.Fatalf("flapping detected lines: %d, want 1", a.Logs.FilterMessage("flapping detected").Len())
	}
}

// connectID connects an MQTT 5 client with no user name to n: the CONNACK
// reason code (0: accepted, then disconnected again; 0xff: no CONNACK).
func connectID(n *testnode.Node, id string) byte {
	return testutil.ConnackCode(n.Addr, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30})
}
