package fabric

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"emqxgo/internal/peerlink"
	"emqxgo/internal/wire"

	"go.uber.org/zap"
)

// Tables travel between nodes in requests "table" (opTable) whose body is
// a batch of entries of one table:
//
//	batch = version(1) flags(uvarint) table(str) count(uvarint) entry*
//	entry = key(str) ts(varint) node(str) kind(1: 0 value, 1 tombstone) [value(bytes)]
//
// One sender per peer (tableSender) sends them one at a time: the next
// batch waits for the peer's answer to the last, so a large table never
// fills the link's queue ahead of forwarded messages, and keys changed
// meanwhile are coalesced (a key's newest entry is sent once). When a link
// comes up the sender sends every table whole (flagSync), in batches of at
// most tableBatchEntries entries and about tableBatchBytes bytes; the peer
// keeps the newest of each key. A change from a peer that wins here (not
// one from a whole-table sync) is passed on to the other peers, so that it
// also reaches a node whose link to the writer was down. The retained table
// is carried: its own changes go in the forward outbox (retained.go) and
// are not passed on; only its whole-table syncs go this way.
const (
	opTable           = "table"
	tableBatchVersion = 1
	flagSync          = 1 // part of a whole-table sync
	tableBatchEntries = 1024
	tableBatchBytes   = 256 << 10
	// maxTableEntry bounds an entry that can be sent at all (retained
	// messages only: Put refuses what could not be).
	maxTableEntry = peerlink.MaxFrame - 1<<20
	// sweepEvery and gcEvery pace the housekeeping: expired values
	// (TableOptions.Expired), then forgotten tombstones.
	sweepEvery = 10 * time.Second
	gcEvery    = time.Minute
	// retainedTable names the table of retained messages; names starting
	// with $ are the fabric's own.
	retainedTable = "$retained"
)

// wireEntry is an entry with its key.
type wireEntry struct {
	key string
	e   entry
}

// tableSet is the fabric's tables and their senders.
type tableSet struct {
	f      *Fabric
	ctx    context.Context // cancelled by Fabric.Stop
	cancel context.CancelFunc

	openMu sync.Mutex // serializes open
	mu     sync.Mutex
	byName map[string]*Table
	send   map[string]*tableSender // per peer
	nodes  map[string]string       // interned node names of versions
	loop   atomic.Bool             // housekeeping started
}

func newTableSet(f *Fabric) *tableSet {
	ctx, cancel := context.WithCancel(context.Background())
	return &tableSet{f: f, ctx: ctx, cancel: cancel, byName: map[string]*Table{}, send: map[string]*tableSender{}, nodes: map[string]string{}}
}

// validTableName: letters, digits, '_', '-' and '.', not first, at most
// 64 (the name is a file name under the data dir).
func validTableName(name string) bool {
	if name == "" || len(name) > 64 || name[0] == '.' {
		return false
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Table opens the replicated table name (letters, digits, '_', '-', '.';
// not starting with '.'; at most 64 bytes: it panics on another), creating
// it empty. It may be called before the node starts or at any time; the
// options of the first call apply, later calls return the same table.
// Entries that peers sent before the table was opened here are kept and
// are part of it; with opts.Persist, what the file holds is merged in
// (newest wins) and sent to the peers.
func (f *Fabric) Table(name string, opts TableOptions) *Table {
	if !validTableName(name) {
		panic(fmt.Sprintf("fabric: invalid table name %q", name))
	}
	return f.tables.open(name, opts, false)
}

// open returns table name, registering it with opts on its first open.
func (s *tableSet) open(name string, opts TableOptions, carried bool) *Table {
	s.openMu.Lock()
	defer s.openMu.Unlock()
	s.mu.Lock()
	t := s.byName[name]
	if t == nil {
		t = newTable(s.f, name)
		t.carried = carried // before any peer can see the table
		s.byName[name] = t
	}
	s.mu.Unlock()
	if t.registered {
		return t
	}
	t.mu.Lock()
	t.registered, t.opts = true, opts.withDefaults()
	t.mu.Unlock()
	if opts.Persist {
		s.f.persist(t)
	}
	if t.size() > 0 {
		for _, p := range s.f.links.Peers() {
			s.sender(p).resync([]*Table{t})
		}
	}
	return t
}

// size counts entries and tombstones.
func (t *Table) size() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.m)
}

// remote returns the table a peer named, creating it unregistered (kept in
// memory, passed on in syncs, adopted by a later open); nil for a name
// that no open could give.
func (s *tableSet) remote(name string) *Table {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.byName[name]
	if t == nil {
		if !validTableName(name) {
			return nil
		}
		t = newTable(s.f, name)
		s.byName[name] = t
	}
	return t
}

func (s *tableSet) all() []*Table {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Table, 0, len(s.byName))
	for _, t := range s.byName {
		out = append(out, t)
	}
	return out
}

// intern returns one copy of a node name (every version names one).
func (s *tableSet) intern(node string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.nodes[node]; ok {
		return n
	}
	if len(s.nodes) < 4096 {
		s.nodes[node] = node
	}
	return node
}

// changed sends keys of t to every peer with a live link but except.
func (s *tableSet) changed(t *Table, keys []string, except string) {
	s.start()
	for _, p := range s.f.links.Peers() {
		if p != except {
			s.sender(p).mark(t, keys)
		}
	}
}

// linkUp sends every table whole to a peer whose link came up.
func (s *tableSet) linkUp(peer string) {
	s.start()
	s.sender(peer).resync(s.all())
}

// receive merges a batch from a peer (Request, opTable).
func (s *tableSet) receive(peer string, body []byte) error {
	name, flags, es, err := s.decodeBatch(body)
	if err != nil {
		s.f.log.Warn("malformed table batch from a peer; dropped", zap.String("peer", peer), zap.Error(err))
		return err
	}
	t := s.remote(name)
	if t == nil {
		return nil
	}
	won := t.apply(es)
	if len(won) > 0 {
		s.start()
		if flags&flagSync == 0 && !t.carried {
			s.changed(t, won, peer)
		}
	}
	return nil
}

// sender returns (creating) the sender of a peer.
func (s *tableSet) sender(peer string) *tableSender {
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.send[peer]
	if x == nil {
		x = &tableSender{s: s, peer: peer, wake: make(chan struct{}, 1), full: map[*Table]bool{}, dirty: map[*Table]map[string]struct{}{}}
		s.send[peer] = x
		if s.f.startGoroutine() {
			go x.run()
		}
	}
	return x
}

// start starts the housekeeping loop once, lazily (New starts nothing):
// with the first change or link.
func (s *tableSet) start() {
	if s.loop.Load() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loop.Load() && s.f.startGoroutine() {
		s.loop.Store(true)
		go s.housekeeping()
	}
}

// housekeeping expires values and forgets old tombstones.
func (s *tableSet) housekeeping() {
	defer s.f.wg.Done()
	sweep := time.NewTicker(sweepEvery)
	defer sweep.Stop()
	last := time.Now()
	for {
		select {
		case <-s.f.stop:
			return
		case now := <-sweep.C:
			gc := now.Sub(last) >= gcEvery
			if gc {
				last = now
			}
			for _, t := range s.all() {
				t.sweep(now)
				if gc {
					t.gc(now)
				}
			}
		}
	}
}

// tableSender sends one peer what changed in the tables, and whole tables
// when its link comes up.
type tableSender struct {
	s    *tableSet
	peer string
	wake chan struct{}

	mu    sync.Mutex
	full  map[*Table]bool                // tables to send whole
	dirty map[*Table]map[string]struct{} // keys changed since
}

func (x *tableSender) signal() {
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

func (x *tableSender) mark(t *Table, keys []string) {
	x.mu.Lock()
	d := x.dirty[t]
	if d == nil {
		d = map[string]struct{}{}
		x.dirty[t] = d
	}
	for _, k := range keys {
		d[k] = struct{}{}
	}
	x.mu.Unlock()
	x.signal()
}

// resync queues ts whole; with them, what was marked is sent anyway.
func (x *tableSender) resync(ts []*Table) {
	x.mu.Lock()
	for _, t := range ts {
		x.full[t] = true
		delete(x.dirty, t)
	}
	x.mu.Unlock()
	x.signal()
}

// take returns the next work: a whole table, or up to tableBatchEntries
// changed keys of one table.
func (x *tableSender) take() (t *Table, keys []string, whole bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for t := range x.full {
		delete(x.full, t)
		return t, nil, true
	}
	for t, d := range x.dirty {
		for k := range d {
			keys = append(keys, k)
			delete(d, k)
			if len(keys) == tableBatchEntries {
				break
			}
		}
		if len(d) == 0 {
			delete(x.dirty, t)
		}
		return t, keys, false
	}
	return nil, nil, false
}

func (x *tableSender) run() {
	defer x.s.f.wg.Done()
	for {
		select {
		case <-x.wake:
		case <-x.s.f.stop:
			return
		}
		for x.s.f.links.Has(x.peer) { // a link that comes up resyncs: nothing is lost by waiting for it
			t, keys, whole := x.take()
			if t == nil {
				break
			}
			var err error
			if whole {
				err = x.sendWhole(t)
			} else {
				err = x.sendEntries(t, t.entries(keys), 0)
			}
			if err == nil {
				continue
			}
			if whole {
				x.resync([]*Table{t})
			} else {
				x.mark(t, keys)
			}
			if errors.Is(err, context.Canceled) {
				return
			}
			x.s.f.log.Debug("table batch not delivered; retrying", zap.String("peer", x.peer), zap.String("table", t.name), zap.Error(err))
			select { // the link may be gone (then LinkUp resyncs) or the peer slow
			case <-time.After(time.Second):
			case <-x.s.f.stop:
				return
			}
		}
	}
}

// sendWhole sends every entry of t, tombstones too.
func (x *tableSender) sendWhole(t *Table) error {
	keys := t.keys()
	for len(keys) > 0 {
		n := min(len(keys), tableBatchEntries)
		if err := x.sendEntries(t, t.entries(keys[:n]), flagSync); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// sendEntries sends es in batches of bounded size, each acknowledged.
func (x *tableSender) sendEntries(t *Table, es []wireEntry, flags uint64) error {
	for len(es) > 0 {
		n, body := x.encodeBatch(t.name, flags, es)
		es = es[n:]
		if body == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(x.s.ctx, 30*time.Second)
		_, err := x.s.f.links.Call(ctx, x.peer, opTable, body)
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

func entrySize(w *wireEntry) int { return 24 + len(w.key) + len(w.e.ver.node) + len(w.e.val) }

// encodeBatch encodes a batch of the first entries of es (at least one
// entry considered) and reports how many it took; nil body: none fitted
// (an entry too large for a frame, logged and skipped).
func (x *tableSender) encodeBatch(table string, flags uint64, es []wireEntry) (int, []byte) {
	n, size := 0, 0
	for n < len(es) && n < tableBatchEntries {
		sz := entrySize(&es[n])
		if sz > maxTableEntry {
			if n == 0 {
				x.s.f.log.Error("table entry too large for a peer link; not sent", zap.String("table", table),
					zap.String("key", es[0].key), zap.Int("bytes", sz))
				return 1, nil
			}
			break
		}
		if n > 0 && size+sz > tableBatchBytes {
			break
		}
		size += sz
		n++
	}
	b := make([]byte, 0, size+16+len(table))
	b = append(b, tableBatchVersion)
	b = binary.AppendUvarint(b, flags)
	b = wire.AppendBytes(b, table)
	b = appendEntries(b, es[:n])
	return n, b
}

// appendEntries appends a count then the entries (the batch's and the
// file's form).
func appendEntries(b []byte, es []wireEntry) []byte {
	b = binary.AppendUvarint(b, uint64(len(es)))
	for i := range es {
		w := &es[i]
		b = wire.AppendBytes(b, w.key)
		b = binary.AppendVarint(b, w.e.ver.ts)
		b = wire.AppendBytes(b, w.e.ver.node)
		if w.e.del {
			b = append(b, 1)
			continue
		}
		b = append(b, 0)
		b = wire.AppendBytes(b, w.e.val)
	}
	return b
}

// readEntries reads appendEntries' form; values are copied out of r.
func (s *tableSet) readEntries(r *wire.Reader) []wireEntry {
	n := r.Count()
	out := make([]wireEntry, 0, n)
	for i := 0; i < n && r.Err == nil; i++ {
		w := wireEntry{key: r.Str()}
		w.e.ver.ts = r.Varint()
		w.e.ver.node = s.intern(string(r.Bytes()))
		switch r.Byte() {
		case 0:
			w.e.val = append([]byte{}, r.Bytes()...)
		case 1:
			w.e.del = true
		default:
			r.Err = wire.ErrMalformed
		}
		out = append(out, w)
	}
	return out
}

var errBadTableBatch = errors.New("malformed table batch")

func (s *tableSet) decodeBatch(b []byte) (name string, flags uint64, es []wireEntry, err error) {
	r := &wire.Reader{B: b}
	if r.Byte() != tableBatchVersion {
		return "", 0, nil, errBadTableBatch
	}
	flags = r.Uvarint()
	name = r.Str()
	es = s.readEntries(r)
	if r.Err != nil || len(r.B) != 0 {
		return "", 0, nil, errBadTableBatch
	}
	return name, flags, es, nil
}
