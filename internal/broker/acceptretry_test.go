package broker

import (
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"emqxgo/internal/testutil"
)

// TestAcceptSurvivesFDExhaustion: with the process out of file
// descriptors a listener's accept fails (EMFILE); it logs that once and
// keeps accepting, so a client that connects once descriptors are free
// again gets its CONNACK (before, the listener stopped for good).
func TestAcceptSurvivesFDExhaustion(t *testing.T) {
	core, logs := observer.New(zapcore.ErrorLevel)
	b := startBrokerWith(t, testConfig(), zap.New(core))
	addr := b.Addrs()["tcp"]

	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	// Room for the client's socket only: the node's accept gets EMFILE.
	low := old
	low.Cur = uint64(len(fds)) // the listing counted its own descriptor, closed since
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer restore()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		restore()
		t.Fatalf("dial with one descriptor free: %v", err)
	}
	testutil.Eventually(t, 5*time.Second, "accept failing with EMFILE logged", func() bool {
		return logs.FilterMessageSnippet("accept failed; retrying").Len() > 0
	})
	_ = c.Close()
	restore()

	if code := testutil.ConnackCode(addr, &paho.Connect{ClientID: "after-emfile", CleanStart: true, KeepAlive: 30}); code != 0 {
		t.Fatalf("CONNACK after the descriptors came back: %#x", code)
	}
	if n := logs.FilterMessageSnippet("accept failed").Len(); n != 1 {
		t.Errorf("%d accept failure lines, want 1 (once per 10 s)", n)
	}
}
