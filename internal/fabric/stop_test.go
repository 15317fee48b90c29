package fabric_test

import (
	"fmt"
	"testing"

	"emqxgo/internal/testutil"
)

// TestStopTwice: Fabric.Stop is safe twice, and the node's own stop after
// it (a third) too.
func TestStopTwice(t *testing.T) {
	t.Parallel()
	n := start(t, fmt.Sprintf("emqx@127.0.%d.1", testutil.Subnet(t)))
	n.N.Fabric().Stop()
	n.N.Fabric().Stop()
	n.Halt()
}
