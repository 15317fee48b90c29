package e2e

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/testutil"
)

func TestMQTTThroughNode(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	n.start()
	addr := n.info().Listeners["tcp"]
	sub := testutil.DialV5(t, addr, "sub")
	pub := testutil.DialV5(t, addr, "pub")
	sub.Sub(t, "sensors/#", 2)
	for qos := byte(0); qos <= 2; qos++ {
		topic := fmt.Sprintf("sensors/%d/temp", qos)
		pub.Pub(t, topic, qos, []byte{qos})
		if m := sub.Expect(t, topic, []byte{qos}); m.QoS != qos {
			t.Fatalf("qos %d delivered as %d", qos, m.QoS)
		}
	}
	// Bad input on one connection leaves the others alone.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Write([]byte("\xff\xff\xff\xff\xff garbage"))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("garbage connection got an answer")
	}
	c.Close()
	pub.Pub(t, "sensors/after", 1, []byte("still"))
	sub.Expect(t, "sensors/after", []byte("still"))
	_ = pub.Disconnect(&paho.Disconnect{})
	n.must(0, "ok\n", "emqx", "stop")
	// Client disconnects and bad connections never log a WARN with an empty message.
	b, _ := os.ReadFile(n.logFile())
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Split(l, "\t"); len(f) >= 3 && f[1] == "WARN" && strings.TrimSpace(f[2]) == "" {
			t.Fatalf("WARN with an empty message in the log: %q", l)
		}
	}
}

// TestStopWhileClientsChurn: `emqx stop` under connect/disconnect load is
// graceful (MQTT 5 clients get DISCONNECT 0x8B) and bounded in time.
func TestStopWhileClientsChurn(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	n.start()
	info := n.info()
	addr := info.Listeners["tcp"]
	watchers := make([]*testutil.V5, 5)
	for i := range watchers {
		watchers[i] = testutil.DialV5(t, addr, fmt.Sprintf("watch-%d", i))
	}
	churn := testutil.StartChurn(t, addr, 4, 20000) // bounded; the node going away ends it sooner
	testutil.Eventually(t, 20*time.Second, "churn under way", func() bool { return churn.Connects() > 100 })
	start := time.Now()
	n.must(0, "ok\n", "emqx", "stop")
	took := time.Since(start)
	churn.Stop()
	if took > 10*time.Second {
		t.Fatalf("stop took %s", took)
	}
	if alive(info.Pid) {
		t.Fatal("node process still alive after stop")
	}
	for i, w := range watchers {
		select {
		case d := <-w.Disconnects:
			if d.ReasonCode != 0x8B {
				t.Fatalf("watcher %d: reason %#x, want 0x8B", i, d.ReasonCode)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("watcher %d got no DISCONNECT", i)
		}
	}
	t.Logf("stop took %s with %d connects during the test", took, churn.Connects())
}
