package fabric

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// A Table is a named map from string keys to opaque values, replicated to
// every node of the cluster (tablesync.go) and optionally persisted under
// the node's data dir (tablefile.go). It is what everything replicated
// cluster-wide rides: retained messages (retained.go), and the built-in
// auth database, ACL rules and the like.
//
// Every entry carries a version: when it was written (unix nanos) and by
// which node. The newest version wins, the node name breaks ties; a local
// write always supersedes what the node holds (its version is at least one
// nanosecond past it, whatever the clocks say). A delete leaves a tombstone
// with its version, so that an older copy arriving later (a stale node
// rejoining, a sync crossing a delete) cannot resurrect the key. When a
// value and a tombstone carry the same version, the tombstone wins (only a
// local expiry, TableOptions.Expired, makes one from the other).
//
// Tombstones are kept for TableOptions.TombstoneTTL (default 24 h, the
// default cluster.autoclean), counted from their version's time, and never
// more than max(live entries, minTombstones): beyond that the oldest are
// forgotten first. A node that held a deleted key and comes back after its
// tombstone was forgotten brings the key back.
//
// Changes reach every peer with a live link; a link that comes up gets the
// whole table. Values are never modified in place: what Get, Range and
// OnChange hand out is shared and must not be modified by the caller.
type Table struct {
	f    *Fabric
	name string
	// carried: local changes are sent to peers by the table's owner, not
	// the table's sender (retained messages go in the forward outbox,
	// behind the forwarded copies); nor are remote changes passed on.
	carried bool

	// wmu serializes changes with their OnChange calls, so callbacks see
	// the changes of a key in the order they won. Lock order: wmu, then mu.
	wmu      sync.Mutex
	onChange []func(key string, value []byte, deleted bool) // guarded by wmu

	mu         sync.RWMutex
	m          map[string]entry
	live       int    // entries that are not tombstones
	tombs      int    // tombstones
	gen        uint64 // bumped by every change (persistence compares it)
	opts       TableOptions
	registered bool       // opened by Fabric.Table (not only created by a peer's sync)
	file       *tableFile // guarded by wmu
}

// TableOptions configures a table when it is first opened.
type TableOptions struct {
	// Persist keeps the table under the node's data dir
	// (<data_dir>/tables/<name>.tbl): loaded when the table is opened,
	// written at most every 100 ms after a change and when the fabric
	// stops.
	Persist bool
	// TombstoneTTL is how long a delete is remembered; 0: 24 hours.
	TombstoneTTL time.Duration
	// Expired, if set, tells a value that has run out (a ban's end, a
	// message's expiry). Such a value becomes a tombstone of the same
	// version on each node by itself (checked when a value arrives or is
	// loaded, and every sweepEvery); it is not a replicated delete.
	// It must be a pure function of its arguments.
	Expired func(value []byte, now time.Time) bool
}

const (
	defaultTombstoneTTL = 24 * time.Hour
	// minTombstones is how many tombstones a table may keep whatever its
	// size: beyond max(live entries, minTombstones) the oldest go.
	minTombstones = 16384
	// MaxTableKey and MaxTableValue bound what Put accepts, so that any
	// entry fits a peer link's frame.
	MaxTableKey   = 64 << 10
	MaxTableValue = 64 << 20
)

// ErrTooLarge is returned by Put for a key or value beyond MaxTableKey or
// MaxTableValue.
var ErrTooLarge = errors.New("table entry too large")

// version orders the writes of one key: newest wins, the node name breaks
// ties.
type version struct {
	ts   int64
	node string
}

func (v version) newer(o version) bool {
	return v.ts > o.ts || (v.ts == o.ts && v.node > o.node)
}

// entry is what a table holds for a key: a value or a tombstone.
type entry struct {
	val []byte
	ver version
	del bool
}

// beats reports whether e replaces old.
func (e entry) beats(old entry) bool {
	if e.ver.newer(old.ver) {
		return true
	}
	return e.ver == old.ver && e.del && !old.del
}

// change is one change that won, for the callbacks.
type change struct {
	key     string
	val     []byte
	del     bool
	visible bool // the key's value changed (tombstone over tombstone: not)
}

func newTable(f *Fabric, name string) *Table {
	return &Table{f: f, name: name, m: map[string]entry{}, opts: TableOptions{TombstoneTTL: defaultTombstoneTTL}}
}

func (o TableOptions) withDefaults() TableOptions {
	if o.TombstoneTTL <= 0 {
		o.TombstoneTTL = defaultTombstoneTTL
	}
	return o
}

// Name is the table's name.
func (t *Table) Name() string { return t.name }

// Put sets key to value cluster-wide. The value is copied.
func (t *Table) Put(key string, value []byte) error {
	if len(key) > MaxTableKey || len(value) > MaxTableValue {
		return fmt.Errorf("%w: key %d bytes, value %d bytes", ErrTooLarge, len(key), len(value))
	}
	t.write(key, append(make([]byte, 0, len(value)), value...), false)
	return nil
}

// Delete removes key cluster-wide (a tombstone, also where this node has
// no value for it: a peer may have one).
func (t *Table) Delete(key string) { t.write(key, nil, true) }

// Get returns key's value (shared: do not modify it).
func (t *Table) Get(key string) ([]byte, bool) {
	t.mu.RLock()
	e, ok := t.m[key]
	t.mu.RUnlock()
	if !ok || e.del {
		return nil, false
	}
	return e.val, true
}

// Len is the number of keys with a value.
func (t *Table) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.live
}

// Range calls fn for every key with a value, until fn returns false, on a
// snapshot taken first: fn may call any method of the table.
func (t *Table) Range(fn func(key string, value []byte) bool) {
	type kv struct {
		k string
		v []byte
	}
	t.mu.RLock()
	all := make([]kv, 0, t.live)
	for k, e := range t.m {
		if !e.del {
			all = append(all, kv{k, e.val})
		}
	}
	t.mu.RUnlock()
	for _, x := range all {
		if !fn(x.k, x.v) {
			return
		}
	}
}

// OnChange registers fn, called once for every change of a key's value
// that won on this node, local or from a peer (deleted: the key has no
// value any more; a delete where there was no value calls nothing). Calls
// for one table come one at a time, in the order the changes won, on the
// goroutine that made the change (a writer, a peer link, the expiry sweep);
// fn may read the table but must not write it, and should be quick.
func (t *Table) OnChange(fn func(key string, value []byte, deleted bool)) {
	t.wmu.Lock()
	t.onChange = append(t.onChange, fn)
	t.wmu.Unlock()
}

// write applies a local change and sends it to the peers (unless the
// table is carried); it returns the version it got.
func (t *Table) write(key string, val []byte, del bool) version {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	v := version{ts: time.Now().UnixNano(), node: t.f.self}
	t.mu.Lock()
	old, had := t.m[key]
	if had && !v.newer(old.ver) {
		v.ts = old.ver.ts + 1 // clocks differ between nodes; a local write still supersedes what we hold
	}
	e := entry{val: val, ver: v, del: del}
	t.set(key, old, had, e)
	t.mu.Unlock()
	if t.carried {
		t.f.tables.start()
	} else {
		t.f.tables.changed(t, []string{key}, "")
	}
	t.after([]change{{key: key, val: val, del: del, visible: !del || (had && !old.del)}})
	return v
}

// apply merges entries from a peer (or a file) and returns the keys whose
// entry changed here.
func (t *Table) apply(es []wireEntry) []string {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	now := time.Now()
	var chs []change
	t.mu.Lock()
	for _, w := range es {
		e := w.e
		if !e.del && t.opts.Expired != nil && t.opts.Expired(e.val, now) {
			e.val, e.del = nil, true
		}
		old, had := t.m[w.key]
		if had && !e.beats(old) {
			continue
		}
		if !had && e.del && t.forgotten(e, now) {
			continue // a tombstone this node would drop at once
		}
		t.set(w.key, old, had, e)
		chs = append(chs, change{key: w.key, val: e.val, del: e.del, visible: !e.del || (had && !old.del)})
	}
	t.mu.Unlock()
	t.after(chs)
	keys := make([]string, len(chs))
	for i, c := range chs {
		keys[i] = c.key
	}
	return keys
}

// expire turns key's value into a tombstone of the same version if it is
// still the one expired reports true for (nothing is sent: every node
// expires it by itself). It reports whether it did.
func (t *Table) expire(key string, expired func(value []byte) bool) bool {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.mu.Lock()
	old, had := t.m[key]
	if !had || old.del || !expired(old.val) {
		t.mu.Unlock()
		return false
	}
	t.set(key, old, had, entry{ver: old.ver, del: true})
	t.mu.Unlock()
	t.after([]change{{key: key, del: true, visible: true}})
	return true
}

// sweep expires every value TableOptions.Expired reports run out.
func (t *Table) sweep(now time.Time) {
	var keys []string
	t.mu.RLock()
	expired := t.opts.Expired
	if expired != nil {
		for k, e := range t.m {
			if !e.del && expired(e.val, now) {
				keys = append(keys, k)
			}
		}
	}
	t.mu.RUnlock()
	for _, k := range keys {
		t.expire(k, func(v []byte) bool { return expired(v, now) })
	}
}

// set stores e for key over old (had: there was one). t.mu held.
func (t *Table) set(key string, old entry, had bool, e entry) {
	if had {
		if old.del {
			t.tombs--
		} else {
			t.live--
		}
	}
	if e.del {
		t.tombs++
	} else {
		t.live++
	}
	t.m[key] = e
	t.gen++
	if t.tombs > t.tombLimit()*5/4 {
		t.dropTombs(time.Now())
	}
}

// after records the changes for persistence and calls the callbacks. t.wmu held.
func (t *Table) after(chs []change) {
	if len(chs) == 0 {
		return
	}
	if t.file != nil {
		t.file.poke()
	}
	for _, c := range chs {
		if !c.visible {
			continue
		}
		for _, fn := range t.onChange {
			fn(c.key, c.val, c.del)
		}
	}
}

// forgotten reports whether tombstone e is past its lifetime. t.mu held.
func (t *Table) forgotten(e entry, now time.Time) bool {
	return e.ver.ts < now.Add(-t.opts.TombstoneTTL).UnixNano()
}

func (t *Table) tombLimit() int { return max(t.live, minTombstones) }

// dropTombs forgets tombstones past their lifetime, then the oldest beyond
// tombLimit. t.mu held.
func (t *Table) dropTombs(now time.Time) {
	before := t.tombs
	for k, e := range t.m {
		if e.del && t.forgotten(e, now) {
			delete(t.m, k)
			t.tombs--
		}
	}
	if extra := t.tombs - t.tombLimit(); extra > 0 {
		type tomb struct {
			k  string
			ts int64
		}
		all := make([]tomb, 0, t.tombs)
		for k, e := range t.m {
			if e.del {
				all = append(all, tomb{k, e.ver.ts})
			}
		}
		slices.SortFunc(all, func(a, b tomb) int { return cmp.Compare(a.ts, b.ts) })
		for _, x := range all[:extra] {
			delete(t.m, x.k)
		}
		t.tombs -= extra
	}
	if t.tombs != before {
		t.gen++
	}
}

// gc forgets old tombstones (the housekeeping loop calls it).
func (t *Table) gc(now time.Time) {
	t.mu.Lock()
	gen := t.gen
	t.dropTombs(now)
	changed := t.gen != gen
	t.mu.Unlock()
	if changed && t.file != nil {
		t.file.poke()
	}
}

// entries returns the entries (tombstones too) of keys this node holds.
func (t *Table) entries(keys []string) []wireEntry {
	out := make([]wireEntry, 0, len(keys))
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, k := range keys {
		if e, ok := t.m[k]; ok {
			out = append(out, wireEntry{key: k, e: e})
		}
	}
	return out
}

// keys lists every key, tombstones too.
func (t *Table) keys() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]string, 0, len(t.m))
	for k := range t.m {
		out = append(out, k)
	}
	return out
}
