package node_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"emqxgo/internal/testutil"
	"emqxgo/internal/testutil/testnode"
)

// TestCtlJSON: --json on a node command prints its rows as JSON (broker,
// broker stats, plugins list, listeners), and a command without rows of its
// own (a usage) prints its lines as a JSON list.
func TestCtlJSON(t *testing.T) {
	n := testnode.Start(t, fmt.Sprintf("emqx1@127.0.%d.1", testutil.Subnet(t)))
	testnode.WaitRunning(t, 20*time.Second, n)
	_ = testutil.DialV5(t, n.Addr, "one")

	var info map[string]string
	mustJSON(t, ctl(t, n, "broker --json"), &info)
	if info["node"] != n.Name || info["version"] == "" || info["sysdescr"] == "" {
		t.Errorf("broker --json: %v", info)
	}
	var stats map[string]int64
	testutil.Eventually(t, 5*time.Second, "connections.count 1 in broker stats --json", func() bool {
		mustJSON(t, ctl(t, n, "broker stats --json"), &stats)
		return stats["connections.count"] == 1
	})
	var plugins []map[string]any
	mustJSON(t, ctl(t, n, "plugins list --json"), &plugins)
	if len(plugins) == 0 || plugins[0]["Name"] == nil && plugins[0]["name"] == nil {
		t.Errorf("plugins list --json: %v", plugins)
	}
	var ls []map[string]any
	mustJSON(t, ctl(t, n, "listeners --json"), &ls)
	if len(ls) == 0 {
		t.Errorf("listeners --json: %v", ls)
	}
	var lines []string
	mustJSON(t, ctl(t, n, "broker nonsense --json"), &lines)
	if len(lines) != 3 {
		t.Errorf("usage as JSON: %q", lines)
	}
}

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
}
