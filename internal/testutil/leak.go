package testutil

import "go.uber.org/goleak"

// IgnoreSerf lists goroutines that memberlist and serf leave winding down
// for a moment after Shutdown (a probe in flight, a delayed prune).
func IgnoreSerf() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreTopFunction("github.com/hashicorp/memberlist.(*Memberlist).probeNode"),
		goleak.IgnoreAnyFunction("github.com/hashicorp/serf/serf.(*Serf).handlePrune.func1"),
	}
}
