package fabric

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// peersFor is a test helper: the nodes with a plain route matching topic.
func (r *routes) peersFor(topic string) []string {
	mt := getMatches()
	defer putMatches(mt)
	r.index.match(topic, mt)
	return slices.Clone(mt.peers)
}

func TestIndexMatchesMQTTRules(t *testing.T) {
	var x routeIndex
	for _, f := range []string{"a/b", "a/+", "a/#", "#", "+/b", "+", "a/+/c", "$SYS/#", "/x", "+/+", "a//c", "+/#"} {
		x.add("n:"+f, f)
	}
	cases := map[string][]string{
		"a/b":       {"a/b", "a/+", "a/#", "#", "+/b", "+/+", "+/#"},
		"a":         {"a/#", "#", "+"}, // not "+/#": mochi does not deliver that either
		"a/b/c":     {"a/#", "#", "a/+/c", "+/#"},
		"$SYS/x":    {"$SYS/#"},
		"/x":        {"/x", "#", "+/+", "+/#"},
		"a//c":      {"a//c", "a/#", "#", "a/+/c", "+/#"},
		"b":         {"#", "+"},
		"$other":    nil,
		"a/b/c/d/e": {"a/#", "#", "+/#"},
	}
	for topic, want := range cases {
		mt := getMatches()
		x.match(topic, mt)
		got := slices.Clone(mt.peers)
		putMatches(mt)
		for i := range got {
			got[i] = strings.TrimPrefix(got[i], "n:")
		}
		sort.Strings(got)
		w := slices.Clone(want)
		sort.Strings(w)
		if !slices.Equal(got, w) {
			t.Errorf("%q: got %v, want %v", topic, got, w)
		}
	}
}

// TestIndexAgreesWithMochi: random filters, shared members, removals and
// topics; the index must say what mochi's own topic index says.
func TestIndexAgreesWithMochi(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		indexAgainstMochi(t, rand.New(rand.NewPCG(seed, 2)))
	}
}

func indexAgainstMochi(t *testing.T, rng *rand.Rand) {
	levels := []string{"a", "b", "c", "+", "#", ""}
	randFilter := func() string {
		n := 1 + rng.IntN(4)
		var parts []string
		for i := 0; i < n; i++ {
			l := levels[rng.IntN(len(levels))]
			if l == "#" {
				parts = append(parts, l)
				break
			}
			parts = append(parts, l)
		}
		f := strings.Join(parts, "/")
		if rng.IntN(4) == 0 {
			f = fmt.Sprintf("$share/g%d/%s", rng.IntN(2), f)
		}
		return f
	}
	randTopic := func() string {
		n := 1 + rng.IntN(4)
		var parts []string
		for i := 0; i < n; i++ {
			parts = append(parts, []string{"a", "b", "c", ""}[rng.IntN(4)])
		}
		if rng.IntN(8) == 0 {
			parts[0] = "$s"
		}
		if t := strings.Join(parts, "/"); t != "" {
			return t
		}
		return "a" // a topic name is never empty
	}
	var x routeIndex
	oracle := mqtt.NewTopicsIndex()
	type entry struct{ key, filter string }
	var live []entry
	for step := 0; step < 20000; step++ {
		if len(live) > 0 && rng.IntN(3) == 0 {
			i := rng.IntN(len(live))
			e := live[i]
			live = slices.Delete(live, i, i+1)
			if got, want := x.remove(e.key, e.filter), oracle.Unsubscribe(e.filter, e.key); got != want {
				t.Fatalf("remove %v: index %v, mochi %v", e, got, want)
			}
		} else {
			f := randFilter()
			key := fmt.Sprintf("node%d", rng.IntN(3))
			if isShared(f) {
				key = memberKey(key, fmt.Sprintf("c%d", rng.IntN(3)))
			}
			added := x.add(key, f)
			if added != oracle.Subscribe(key, packets.Subscription{Filter: f}) {
				t.Fatalf("add %s %s: index and mochi disagree", key, f)
			}
			if added {
				live = append(live, entry{key, f})
			}
		}
		topic := randTopic()
		mt := getMatches()
		x.match(topic, mt)
		subs := oracle.Subscribers(topic)
		var want []string
		for k := range subs.Subscriptions {
			want = append(want, k)
		}
		sort.Strings(want)
		got := slices.Clone(mt.peers)
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Fatalf("step %d topic %q: peers %v, mochi %v", step, topic, got, want)
		}
		if len(mt.groups) != len(subs.Shared) {
			t.Fatalf("step %d topic %q: groups %v, mochi %v", step, topic, mt.groups, subs.Shared)
		}
		for _, g := range mt.groups {
			var wm []string
			for k := range subs.Shared[g.filter] {
				wm = append(wm, k)
			}
			sort.Strings(wm)
			if !slices.Equal(g.members, wm) {
				t.Fatalf("step %d topic %q group %s: members %v, mochi %v", step, topic, g.filter, g.members, wm)
			}
		}
		putMatches(mt)
	}
	if len(live) == 0 {
		t.Fatal("the random walk left nothing to check against")
	}
	for _, e := range live {
		x.remove(e.key, e.filter)
	}
	if !x.root.empty() {
		t.Fatal("removing every entry left branches in the trie")
	}
}

// TestIndexMatchDoesNotAllocate: the publish path's lookup reuses its buffers.
func TestIndexMatchDoesNotAllocate(t *testing.T) {
	var x routeIndex
	x.add("n1", "a/+/c")
	x.add("n2", "a/#")
	x.add(memberKey("n1", "c1"), "$share/g/a/b/c")
	x.add(memberKey("n2", "c2"), "$share/g/a/b/c")
	mt := new(matches) // reused as the pool would (the race detector makes sync.Pool drop items)
	allocs := testing.AllocsPerRun(1000, func() {
		x.match("a/b/c", mt)
		if len(mt.peers) != 2 || len(mt.groups) != 1 {
			t.Fatalf("peers %v groups %v", mt.peers, mt.groups)
		}
		mt.reset()
	})
	if allocs > 0 {
		t.Fatalf("a lookup allocates %.1f times", allocs)
	}
}
