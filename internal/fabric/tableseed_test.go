package fabric_test

import (
	"fmt"
	"testing"
	"time"

	"emqxgo/internal/fabric"
	"emqxgo/internal/testutil"
	"emqxgo/internal/testutil/testnode"
)

// TestTableSeed: a seed reaches the peers like a put; a node that joins
// with its own seed of a key the cluster changed or deleted takes the
// cluster's; a seed where the node holds the key (or its tombstone) does
// nothing.
func TestTableSeed(t *testing.T) {
	t.Parallel()
	net := testutil.Subnet(t)
	a := start(t, fmt.Sprintf("emqx1@127.0.%d.1", net))
	b := start(t, fmt.Sprintf("emqx2@127.0.%d.2", net))
	join(t, b, a)
	testnode.WaitRunning(t, 10*time.Second, a, b)
	ta, tb := tableOf(a, "seeded", false), tableOf(b, "seeded", false)
	both := map[string]*fabric.Table{a.Name: ta, b.Name: tb}

	if ok, err := ta.Seed("d", []byte("default")); !ok || err != nil {
		t.Fatalf("seed: %v %v", ok, err)
	}
	waitValue(t, "d", []byte("default"), both)
	if ok, _ := tb.Seed("d", []byte("other")); ok {
		t.Fatal("seed over a value: set")
	}
	if err := ta.Put("changed", []byte("by-operator")); err != nil {
		t.Fatal(err)
	}
	ta.Put("deleted", []byte("x"))
	ta.Delete("deleted")
	// A write after the delete: once b has it, it has the tombstone too
	// (a table's changes reach a peer in order); "no value" alone would
	// also hold before anything arrived.
	ta.Put("after-delete", []byte("x"))
	waitValue(t, "changed", []byte("by-operator"), both)
	waitValue(t, "after-delete", []byte("x"), both)
	waitValue(t, "deleted", nil, both)
	if ok, _ := tb.Seed("deleted", []byte("default")); ok {
		t.Fatal("seed over a tombstone: set")
	}

	// A fresh node seeds both keys before it joins: the cluster's stand.
	c := start(t, fmt.Sprintf("emqx3@127.0.%d.3", net))
	tc := tableOf(c, "seeded", false)
	for _, k := range []string{"changed", "deleted"} {
		if ok, _ := tc.Seed(k, []byte("default")); !ok {
			t.Fatalf("seed %s on a fresh node: not set", k)
		}
	}
	join(t, c, a)
	testnode.WaitRunning(t, 10*time.Second, a, b, c)
	all := map[string]*fabric.Table{a.Name: ta, b.Name: tb, c.Name: tc}
	waitValue(t, "changed", []byte("by-operator"), all)
	waitValue(t, "deleted", nil, all)
	waitValue(t, "d", []byte("default"), all)
}
