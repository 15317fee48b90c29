package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// emqx_ctl is a thin client of the ctl socket: it must not link the node,
// the cluster, the MQTT engine, serf or the etcd client.
func TestCtlDoesNotLinkTheNode(t *testing.T) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	list := exec.Command("go", "list", "-deps", "./cmd/emqx_ctl")
	list.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/emqx_ctl: %v", err)
	}
	forbidden := []string{
		"emqxgo/internal/node",
		"emqxgo/internal/cluster",
		"emqxgo/internal/fabric",
		"github.com/mochi-mqtt",
		"github.com/hashicorp/serf",
		"go.etcd.io",
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, f+"/") {
				t.Errorf("emqx_ctl links %s", pkg)
			}
		}
	}
}
