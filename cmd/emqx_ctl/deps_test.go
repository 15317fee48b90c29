package main

import (
	"testing"

	"emqxgo/internal/testutil"
)

// emqx_ctl is a thin client of the ctl socket: it must not link the node,
// the cluster, the MQTT engine, serf or the etcd client.
func TestCtlDoesNotLinkTheNode(t *testing.T) {
	testutil.ForbidDeps(t, "./cmd/emqx_ctl", "emqxgo/internal/node", "emqxgo/internal/cluster", "emqxgo/internal/peerlink",
		"emqxgo/internal/fabric", "github.com/mochi-mqtt", "github.com/hashicorp/serf", "go.etcd.io")
}
