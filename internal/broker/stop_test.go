package broker

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestStopTwice: a second Stop returns at once with the first one's result,
// and the listener stays closed.
func TestStopTwice(t *testing.T) {
	b := startBroker(t, testConfig()) // its cleanup stops it a third time
	addr := b.Addrs()["tcp"]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Stop(ctx); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("listener still accepts after Stop")
	}
}
