package config

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestLightDependencies: programs that only read the configuration (the
// emqx_ctl CLI) import this package; it must not pull in the node, the
// cluster layer, the MQTT server, serf/memberlist or the etcd client.
func TestLightDependencies(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []string{"go.etcd.io", "github.com/hashicorp", "github.com/mochi-mqtt", "emqxgo/internal/cluster", "emqxgo/internal/node"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("internal/config depends on %s", dep)
			}
		}
	}
}
