package config

import (
	"testing"

	"emqxgo/internal/testutil"
)

// TestLightDependencies: programs that only read the configuration (the
// emqx_ctl CLI) import this package; it must not pull in the node, the
// cluster layer, the MQTT server, serf/memberlist or the etcd client.
func TestLightDependencies(t *testing.T) {
	testutil.ForbidDeps(t, "./internal/config", "go.etcd.io", "github.com/hashicorp", "github.com/mochi-mqtt",
		"emqxgo/internal/cluster", "emqxgo/internal/node")
}
