package fabric

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
)

func bareTable(name string) *Table {
	f := &Fabric{self: "emqx@self", log: zap.NewNop(), stop: make(chan struct{})}
	f.tables = newTableSet(f)
	return newTable(f, name)
}

func val(v string, ts int64, node string) wireEntry {
	return wireEntry{key: "k", e: entry{val: []byte(v), ver: version{ts: ts, node: node}}}
}

func tomb(key string, ts int64, node string) wireEntry {
	return wireEntry{key: key, e: entry{ver: version{ts: ts, node: node}, del: true}}
}

// TestTableNewestWins: the newest version wins whatever the order entries
// arrive in; the node name breaks a tie; a tombstone beats a value of the
// same version.
func TestTableNewestWins(t *testing.T) {
	now := time.Now().UnixNano()
	cases := []struct {
		name  string
		in    []wireEntry
		value string // "" : no value
	}{
		{"newer value", []wireEntry{val("old", now, "a"), val("new", now+1, "a")}, "new"},
		{"older arrives later", []wireEntry{val("new", now+1, "a"), val("old", now, "b")}, "new"},
		{"node breaks the tie", []wireEntry{val("b", now, "b"), val("a", now, "a")}, "b"},
		{"node breaks the tie, other order", []wireEntry{val("a", now, "a"), val("b", now, "b")}, "b"},
		{"tombstone newer", []wireEntry{val("v", now, "a"), tomb("k", now+1, "a")}, ""},
		{"stale value after tombstone", []wireEntry{tomb("k", now+1, "a"), val("v", now, "z")}, ""},
		{"tombstone of the same version wins", []wireEntry{val("v", now, "a"), tomb("k", now, "a")}, ""},
		{"tombstone of the same version wins, other order", []wireEntry{tomb("k", now, "a"), val("v", now, "a")}, ""},
		{"value after tombstone", []wireEntry{tomb("k", now, "a"), val("v", now+1, "a")}, "v"},
	}
	for _, c := range cases {
		tb := bareTable("t")
		for _, e := range c.in {
			tb.apply([]wireEntry{e})
		}
		got, ok := tb.Get("k")
		if c.value == "" && ok || c.value != "" && string(got) != c.value {
			t.Errorf("%s: got %q %v, want %q", c.name, got, ok, c.value)
		}
	}
}

// TestTableOnChangeOnlyForVisibleChanges: a tombstone over nothing or over
// a tombstone calls nothing; a change that loses calls nothing.
func TestTableOnChangeOnlyForVisibleChanges(t *testing.T) {
	tb := bareTable("t")
	var calls []string
	tb.OnChange(func(k string, v []byte, del bool) { calls = append(calls, fmt.Sprintf("%s=%s %v", k, v, del)) })
	now := time.Now().UnixNano()
	tb.apply([]wireEntry{tomb("k", now, "a")})
	tb.apply([]wireEntry{tomb("k", now+1, "a")})
	tb.apply([]wireEntry{val("v", now+2, "a")})
	tb.apply([]wireEntry{val("stale", now+1, "a")})
	tb.apply([]wireEntry{tomb("k", now+3, "a")})
	if want := "[k=v false k= true]"; fmt.Sprint(calls) != want {
		t.Fatalf("calls %v, want %s", calls, want)
	}
}

// TestTableTombstoneLifetime: tombstones past their lifetime are forgotten
// (and not taken from peers); beyond max(live, minTombstones) the oldest go.
func TestTableTombstoneLifetime(t *testing.T) {
	tb := bareTable("t")
	tb.opts.TombstoneTTL = time.Hour
	now := time.Now()
	old := now.Add(-2 * time.Hour).UnixNano()
	tb.apply([]wireEntry{tomb("ancient", old, "a")})
	if tb.size() != 0 {
		t.Fatal("a tombstone past its lifetime was taken")
	}
	tb.apply([]wireEntry{{key: "ancient", e: entry{val: []byte("v"), ver: version{ts: old - 1, node: "a"}}}})
	tb.apply([]wireEntry{tomb("ancient", old, "a")}) // deletes the older value: kept until gc
	tb.apply([]wireEntry{tomb("recent", now.UnixNano(), "a")})
	tb.gc(now)
	if _, _, ok := tb.lookup("ancient"); ok {
		t.Fatal("old tombstone not forgotten")
	}
	if _, del, ok := tb.lookup("recent"); !ok || !del {
		t.Fatal("recent tombstone forgotten")
	}

	tb = bareTable("t")
	const extra = 5000
	var es []wireEntry
	for i := range minTombstones + extra {
		es = append(es, tomb(fmt.Sprint("t", i), now.UnixNano()+int64(i), "a"))
	}
	tb.apply(es)
	tb.gc(now)
	if tb.tombs != minTombstones || len(tb.m) != minTombstones {
		t.Fatalf("%d tombstones (%d entries), want %d", tb.tombs, len(tb.m), minTombstones)
	}
	if _, _, ok := tb.lookup("t0"); ok {
		t.Fatal("the oldest tombstone was kept")
	}
	if _, _, ok := tb.lookup(fmt.Sprint("t", minTombstones+extra-1)); !ok {
		t.Fatal("the newest tombstone was dropped")
	}
}

// TestTableExpired: a value TableOptions.Expired reports run out arrives as
// a tombstone of its version; the sweep expires held ones without a new
// version.
func TestTableExpired(t *testing.T) {
	tb := bareTable("t")
	tb.opts.Expired = func(v []byte, _ time.Time) bool { return bytes.HasPrefix(v, []byte("x")) }
	now := time.Now().UnixNano()
	tb.apply([]wireEntry{val("xgone", now, "a")})
	if v, del, ok := tb.lookup("k"); !ok || !del {
		t.Fatalf("expired value stored as %q %v %v", v, del, ok)
	}
	tb = bareTable("t")
	tb.apply([]wireEntry{val("xlater", now, "a")})
	var deleted int
	tb.OnChange(func(_ string, _ []byte, del bool) {
		if del {
			deleted++
		}
	})
	tb.opts.Expired = func(v []byte, _ time.Time) bool { return bytes.HasPrefix(v, []byte("x")) }
	tb.sweep(time.Now())
	if _, del, ok := tb.lookup("k"); !ok || !del || deleted != 1 || tb.m["k"].ver.ts != now {
		t.Fatalf("sweep: del %v ok %v calls %d version %v", del, ok, deleted, tb.m["k"].ver)
	}
}

// TestTableCodec: entries survive a batch and a file; damaged input is an
// error, not a panic.
func TestTableCodec(t *testing.T) {
	s := bareTable("t").f.tables
	es := []wireEntry{
		{key: "a", e: entry{val: []byte("1"), ver: version{ts: 5, node: "n1"}}},
		{key: "", e: entry{val: []byte{}, ver: version{ts: -1, node: ""}}},
		{key: "gone", e: entry{ver: version{ts: 1 << 62, node: "n2"}, del: true}},
	}
	x := &tableSender{s: s}
	n, body := x.encodeBatch("users", flagSync, es)
	if n != len(es) {
		t.Fatalf("batch took %d of %d", n, len(es))
	}
	name, flags, got, err := s.decodeBatch(body)
	if err != nil || name != "users" || flags != flagSync || fmt.Sprint(got) != fmt.Sprint(es) {
		t.Fatalf("batch: %q %d %v %v", name, flags, got, err)
	}
	for i := range len(body) {
		_, _, _, _ = s.decodeBatch(body[:i])
	}
	path := filepath.Join(t.TempDir(), "tables", "users.tbl")
	if err := writeTableFile(path, "users", es); err != nil {
		t.Fatal(err)
	}
	name, got, err = s.readFile(path)
	if err != nil || name != "users" || fmt.Sprint(got) != fmt.Sprint(es) {
		t.Fatalf("file: %q %v %v", name, got, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode: %v %v", fi, err)
	}
}

// TestTableBatchBounds: a batch holds at most tableBatchEntries entries and
// about tableBatchBytes; a large entry goes alone.
func TestTableBatchBounds(t *testing.T) {
	x := &tableSender{s: bareTable("t").f.tables}
	small := make([]wireEntry, 3000)
	for i := range small {
		small[i] = wireEntry{key: fmt.Sprint(i), e: entry{val: []byte("v")}}
	}
	if n, _ := x.encodeBatch("t", 0, small); n != tableBatchEntries {
		t.Fatalf("batch of %d small entries", n)
	}
	big := []wireEntry{{key: "a", e: entry{val: make([]byte, 200<<10)}}, {key: "b", e: entry{val: make([]byte, 200<<10)}}}
	if n, b := x.encodeBatch("t", 0, big); n != 1 || len(b) > tableBatchBytes {
		t.Fatalf("two large entries: batch of %d, %d bytes", n, len(b))
	}
}
