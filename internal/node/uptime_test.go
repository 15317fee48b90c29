package node

import (
	"testing"
	"time"
)

// TestUptimeAndPad: emqx_sys:uptime's units, leading zeros left out, and
// Erlang's "~-30s", which cuts a longer name.
func TestUptimeAndPad(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                    "",
		5 * time.Second:                      "5 seconds",
		time.Hour + 2*time.Second:            "1 hours, 0 minutes, 2 seconds",
		49*time.Hour + 61*time.Second:        "2 days, 1 hours, 1 minutes, 1 seconds",
		3*time.Minute + 999*time.Millisecond: "3 minutes, 0 seconds",
	} {
		if got := uptime(d); got != want {
			t.Errorf("uptime(%s) = %q, want %q", d, got, want)
		}
	}
	if got := pad("messages.dropped.await_pubrel_timeout", 30); got != "messages.dropped.await_pubrel_" {
		t.Errorf("pad cut: %q", got)
	}
	if got := pad("version", 10); got != "version   " {
		t.Errorf("pad: %q", got)
	}
}
