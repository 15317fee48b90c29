package node

import (
	"testing"
)

// TestPad: Erlang's "~-30s", which cuts a longer name (the uptime text is
// sys.Uptime's, tested there).
func TestPad(t *testing.T) {
	if got := pad("messages.dropped.await_pubrel_timeout", 30); got != "messages.dropped.await_pubrel_" {
		t.Errorf("pad cut: %q", got)
	}
	if got := pad("version", 10); got != "version   " {
		t.Errorf("pad: %q", got)
	}
}
