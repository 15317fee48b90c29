package node

import (
	"testing"
	"time"
)

// SetMonitorEvery makes the nodes started after it sample every d (the
// dashboard's charts; 5 s otherwise) until t ends.
func SetMonitorEvery(t *testing.T, d time.Duration) {
	old := monitorEvery.Swap(int64(d))
	t.Cleanup(func() { monitorEvery.Store(old) })
}
