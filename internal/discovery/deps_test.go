package discovery_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestDependencies: the loop does not depend on the cluster layer (the
// node adapts it), and no strategy depends on the loop's package.
func TestDependencies(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(gobin, "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const self = "emqxgo/internal/discovery"
	seen := 0
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		pkg, deps := f[0], f[1:]
		seen++
		for _, d := range deps {
			if d == "emqxgo/internal/cluster" || d == "emqxgo/internal/node" || (pkg != self && d == self) {
				t.Errorf("%s depends on %s", pkg, d)
			}
		}
	}
	if seen < 7 { // discovery, static, dns, etcd, etcd/etcdv3, k8s, mcast
		t.Fatalf("go list found %d packages:\n%s", seen, out)
	}
}
