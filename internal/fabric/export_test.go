package fabric

import "slices"

// Tombstones counts the deletes the table remembers (tests).
func (t *Table) Tombstones() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.tombs
}

// VersionOf is the version key holds here and whether it is a tombstone
// (tests).
func (t *Table) VersionOf(key string) (ts int64, node string, deleted, ok bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	e, ok := t.m[key]
	return e.ver.ts, e.ver.node, e.del, ok
}

// RetainedTable is the table of retained messages (tests).
func (f *Fabric) RetainedTable() *Table { return f.retained.t }

func (t *Table) lookup(key string) (val []byte, deleted, ok bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	e, ok := t.m[key]
	return e.val, e.del, ok
}

// Batched counts the messages forwarded to peer in frames of more than
// one (tests).
func (f *Fabric) Batched(peer string) uint64 {
	o := f.outbox(peer)
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.batched
}

// HoldOutbox keeps what is forwarded to peer in its outbox, as a link that
// is down would, until the returned release is called (tests).
func (f *Fabric) HoldOutbox(peer string) (release func()) {
	o := f.outbox(peer)
	o.mu.Lock()
	o.synced-- // not the link's generation: nothing is sent (ready, sendNow)
	o.mu.Unlock()
	return func() {
		o.mu.Lock()
		o.synced = o.f.links.Gen(o.peer)
		o.mu.Unlock()
		o.signal()
	}
}

// RoutesByScan lists the records of the route table by a pass over the
// local filters and every peer's routes, as Routes did before they were
// counted (tests: the kept records must be these).
func (f *Fabric) RoutesByScan() []Route {
	r := f.routes
	seen := map[Route]struct{}{}
	r.mu.Lock()
	for filter := range r.local {
		seen[routeOf(filter, f.self)] = struct{}{}
	}
	for peer, rs := range r.peer {
		for rt := range rs {
			seen[routeOf(rt.Filter, peer)] = struct{}{}
		}
	}
	r.mu.Unlock()
	out := make([]Route, 0, len(seen))
	for rt := range seen {
		out = append(out, rt)
	}
	slices.SortFunc(out, compareRoutes)
	return out
}
