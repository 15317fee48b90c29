package discovery_test

import (
	"slices"
	"testing"

	"emqxgo/internal/testutil"
)

// TestDependencies: the loop does not depend on the cluster layer (the
// node adapts it), and no strategy depends on the loop's package.
func TestDependencies(t *testing.T) {
	const self = "emqxgo/internal/discovery"
	testutil.ForbidDeps(t, "./internal/discovery/...", "emqxgo/internal/cluster", "emqxgo/internal/node")
	all := testutil.Deps(t, "./internal/discovery/...")
	if len(all) < 7 { // discovery, static, dns, etcd, etcd/etcdv3, k8s, mcast
		t.Fatalf("go list found %d packages: %v", len(all), all)
	}
	for pkg, deps := range all {
		if pkg != self && slices.Contains(deps, self) {
			t.Errorf("%s depends on %s", pkg, self)
		}
	}
}
