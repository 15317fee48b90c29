package fabric

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// keySep joins node and client in the cluster index key of a shared member.
const keySep = "\x00"

func memberKey(node, client string) string { return node + keySep + client }

func splitKey(k string) (node, client string) {
	node, client, _ = strings.Cut(k, keySep)
	return
}

func isShared(filter string) bool {
	return len(filter) > 7 && strings.EqualFold(filter[:7], "$share/")
}

// routes is this node's subscription table and the cluster index.
type routes struct {
	f  *Fabric
	mu sync.Mutex // routeMu: local changes and their announcement stay in order

	local map[string]map[string]struct{} // filter -> local client ids
	index routeIndex                     // remote plain routes by node; shared members of all nodes by node|client
	peer  map[string]map[route]struct{}  // what each peer advertised, to drop it at once
	outq  map[string]*routeQueue         // updates waiting to be sent, per peer
	full  map[string]bool                // peers whose full route set was applied in this run
	// entries counts what the index holds: with none, a publish needs no
	// lookup at all (a lone node pays nothing for being clusterable).
	entries atomic.Int64
	count   routeCount // RouteCounts' figures, kept as the table changes
}

// routeCount counts the records of EMQX's route table as local filters
// and peer routes come and go, so that reading it (the stats' tick every
// second, emqx_ctl broker stats) costs nothing whatever the table's size.
// It had been a pass over every route building a set each second: 10% of
// a core on each node at 100k routes, holding routeMu meanwhile.
//
// A record is a Route (mgmt.go: topic, node, shared group), present while
// at least one entry maps to it (a local filter, a peer's plain route or
// shared member; several members of a group are one record). The local
// node is "".
type routeCount struct {
	held map[Route]int32 // entries per record
	ver  uint64          // changes as a record comes or goes
	// listed: the records sorted (Fabric.Routes) while ver is listedVer:
	// GET /routes reads the list page by page.
	listed    []Route
	listedVer uint64
}

func (c *routeCount) inc(node, filter string) {
	if c.held == nil {
		c.held = map[Route]int32{}
	}
	k := routeOf(filter, node)
	n := c.held[k]
	if n == 0 {
		c.ver++
	}
	c.held[k] = n + 1
}

func (c *routeCount) dec(node, filter string) {
	k := routeOf(filter, node)
	switch n := c.held[k]; {
	case n > 1:
		c.held[k] = n - 1
	case n == 1:
		delete(c.held, k)
		c.ver++
		if len(c.held) == 0 {
			c.listed = nil
		}
	}
}

func (r *routes) sub(key, filter string) {
	if r.index.add(key, filter) {
		r.entries.Add(1)
	}
}

func (r *routes) unsub(key, filter string) {
	if r.index.remove(key, filter) {
		r.entries.Add(-1)
	}
}

// routeQueue holds encoded updates for one peer; a goroutine sends them, so
// nobody holds routeMu while a link is slow.
type routeQueue struct {
	mu      sync.Mutex
	pending [][]byte
	wake    chan struct{}
}

func newRoutes(f *Fabric) *routes {
	return &routes{f: f, local: map[string]map[string]struct{}{},
		peer: map[string]map[route]struct{}{}, outq: map[string]*routeQueue{}}
}

// add records a local subscription and announces what changed.
func (r *routes) add(filter, client string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.local[filter]
	if set == nil {
		set = map[string]struct{}{}
		r.local[filter] = set
		r.count.inc("", filter)
	}
	if _, ok := set[client]; ok {
		return
	}
	set[client] = struct{}{}
	switch {
	case isShared(filter):
		r.sub(memberKey(r.f.self, client), filter)
		r.announce(routeUpdate{Add: []route{{Filter: filter, Client: client}}})
	case len(set) == 1:
		r.announce(routeUpdate{Add: []route{{Filter: filter}}})
	}
}

// remove drops a local subscription and announces what changed.
func (r *routes) remove(filter, client string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.local[filter]
	if _, ok := set[client]; !ok {
		return
	}
	delete(set, client)
	if len(set) == 0 {
		delete(r.local, filter)
		r.count.dec("", filter)
	}
	switch {
	case isShared(filter):
		r.unsub(memberKey(r.f.self, client), filter)
		r.announce(routeUpdate{Del: []route{{Filter: filter, Client: client}}})
	case len(set) == 0:
		r.announce(routeUpdate{Del: []route{{Filter: filter}}})
	}
}

// announce queues an update for every linked peer (routeMu held).
func (r *routes) announce(u routeUpdate) {
	b, err := encode(&u)
	if err != nil {
		return
	}
	for _, p := range r.f.links.Peers() {
		r.queue(p, b, false)
	}
}

// announceTo queues an update for peers, behind their route updates.
func (r *routes) announceTo(peers []string, u routeUpdate) {
	b, err := encode(&u)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range peers {
		r.queue(p, b, false)
	}
}

// queue adds an update to a peer's queue; reset drops what is queued first
// (a full set supersedes it). routeMu held.
func (r *routes) queue(peer string, b []byte, reset bool) {
	q := r.outq[peer]
	if q == nil {
		q = &routeQueue{wake: make(chan struct{}, 1)}
		r.outq[peer] = q
		r.f.wg.Add(1)
		go r.sender(peer, q)
	}
	q.mu.Lock()
	if reset {
		q.pending = nil
	}
	q.pending = append(q.pending, b)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (r *routes) sender(peer string, q *routeQueue) {
	defer r.f.wg.Done()
	for {
		select {
		case <-q.wake:
		case <-r.f.stop:
			return
		}
		for {
			q.mu.Lock()
			if len(q.pending) == 0 {
				q.mu.Unlock()
				break
			}
			b := q.pending[0]
			q.pending = q.pending[1:]
			q.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := r.f.links.Notify(ctx, peer, opRoutes, b)
			cancel()
			if err != nil {
				r.f.log.Debug("route update not sent; the full set follows when the link is back", zap.String("peer", peer), zap.Error(err))
			}
		}
	}
}

// sendFull queues the whole local table for a peer whose link just came up.
func (r *routes) sendFull(peer string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	u := routeUpdate{Full: true}
	for filter, set := range r.local {
		if isShared(filter) {
			for c := range set {
				u.Add = append(u.Add, route{Filter: filter, Client: c})
			}
		} else {
			u.Add = append(u.Add, route{Filter: filter})
		}
	}
	if b, err := encode(&u); err == nil {
		r.queue(peer, b, true)
	}
}

// apply takes a peer's update into the cluster index.
func (r *routes) apply(peer string, u *routeUpdate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.peer[peer]
	if set == nil {
		set = map[route]struct{}{}
		r.peer[peer] = set
	}
	if u.Full {
		if r.full == nil {
			r.full = map[string]bool{}
		}
		r.full[peer] = true
		// Replace by difference: a route present before and after is never
		// missing from the index, so a publish racing a reconnect still finds it.
		keep := make(map[route]struct{}, len(u.Add))
		for _, rt := range u.Add {
			keep[rt] = struct{}{}
		}
		for rt := range set {
			if _, ok := keep[rt]; !ok {
				delete(set, rt)
				r.unsub(r.key(peer, rt), rt.Filter)
				r.count.dec(peer, rt.Filter)
			}
		}
	}
	for _, rt := range u.Del {
		if _, ok := set[rt]; ok {
			delete(set, rt)
			r.unsub(r.key(peer, rt), rt.Filter)
			r.count.dec(peer, rt.Filter)
		}
	}
	for _, rt := range u.Add {
		if _, ok := set[rt]; !ok {
			set[rt] = struct{}{}
			r.sub(r.key(peer, rt), rt.Filter)
			r.count.inc(peer, rt.Filter)
		}
	}
}

func (r *routes) key(peer string, rt route) string {
	if rt.Client != "" {
		return memberKey(peer, rt.Client)
	}
	return peer
}

// drop forgets every route of a peer (it stopped or left).
func (r *routes) drop(peer string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropLocked(peer)
}

func (r *routes) dropLocked(peer string) {
	for rt := range r.peer[peer] {
		r.unsub(r.key(peer, rt), rt.Filter)
		r.count.dec(peer, rt.Filter)
	}
	delete(r.peer, peer)
}

// RouteCount is the cluster's routes.count and topics.count, as EMQX
// 4.4 sets both: the size of its route table, one record per topic filter
// and node holding a subscription to it, and per shared group on that node
// (emqx_router_helper's stats_fun).
func (f *Fabric) RouteCount() int {
	r := f.routes
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.count.held)
}

// RetainedCount is how many retained messages the cluster's table holds.
func (f *Fabric) RetainedCount() int { return f.retained.t.Len() }
