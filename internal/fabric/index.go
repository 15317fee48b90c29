package fabric

import (
	"slices"
	"strings"
	"sync"
)

// routeIndex is the cluster index: for a topic, which peers hold a plain
// route matching it, and the members (node|client keys) of every shared
// group whose filter matches. It is a trie of topic levels built for the
// publish path: a lookup takes a read lock, allocates nothing once its
// result buffer has grown, and hands out member lists already sorted (the
// picker's strategies need one stable order). Writers copy a member list
// before changing it, so a list handed out stays valid after the lock.
type routeIndex struct {
	mu   sync.RWMutex
	root tnode
}

type tnode struct {
	kids   map[string]*tnode
	plus   *tnode                  // "+"
	hash   *tnode                  // "#"
	peers  []string                // nodes with a plain route ending here
	groups map[string]*sharedGroup // full shared filter -> its members here
}

type sharedGroup struct {
	filter  string
	members []string // sorted; replaced, never changed in place
}

// matches is a lookup result; reuse it (see getMatches) to avoid allocations.
type matches struct {
	peers  []string     // distinct nodes with a matching plain route
	groups []groupMatch // matching shared groups
}

type groupMatch struct {
	filter  string
	members []string
}

func (m *matches) reset() {
	clear(m.peers)
	m.peers = m.peers[:0]
	clear(m.groups)
	m.groups = m.groups[:0]
}

// members returns the members of the matching group filter, nil if none.
func (m *matches) members(filter string) []string {
	for _, g := range m.groups {
		if g.filter == filter {
			return g.members
		}
	}
	return nil
}

var matchPool = sync.Pool{New: func() any { return new(matches) }}

func getMatches() *matches { return matchPool.Get().(*matches) }

func putMatches(m *matches) {
	if cap(m.peers) > 64 || cap(m.groups) > 64 {
		return // an unusual lookup: let its buffers go
	}
	m.reset()
	matchPool.Put(m)
}

// splitShared splits "$share/group/filter" into the filter's topic part;
// ok is false for a plain filter.
func splitShared(filter string) (topic string, ok bool) {
	if !isShared(filter) {
		return filter, false
	}
	_, topic, ok = strings.Cut(filter[len("$share/"):], "/")
	if !ok {
		return filter, false // not a valid shared filter: index it as it is
	}
	return topic, true
}

// add records key (a node for a plain filter, node|client for a shared
// member) under filter; false if it was there already.
func (x *routeIndex) add(key, filter string) bool {
	path, shared := splitShared(filter)
	x.mu.Lock()
	defer x.mu.Unlock()
	n := &x.root
	for level := range strings.SplitSeq(path, "/") {
		n = n.child(level)
	}
	if !shared {
		if slices.Contains(n.peers, key) {
			return false
		}
		n.peers = append(n.peers, key)
		return true
	}
	if n.groups == nil {
		n.groups = map[string]*sharedGroup{}
	}
	g := n.groups[filter]
	if g == nil {
		g = &sharedGroup{filter: filter}
		n.groups[filter] = g
	}
	i, found := slices.BinarySearch(g.members, key)
	if found {
		return false
	}
	g.members = slices.Insert(slices.Clone(g.members), i, key)
	return true
}

func (n *tnode) child(level string) *tnode {
	switch level {
	case "+":
		if n.plus == nil {
			n.plus = &tnode{}
		}
		return n.plus
	case "#":
		if n.hash == nil {
			n.hash = &tnode{}
		}
		return n.hash
	}
	if n.kids == nil {
		n.kids = map[string]*tnode{}
	}
	c := n.kids[level]
	if c == nil {
		c = &tnode{}
		n.kids[level] = c
	}
	return c
}

// remove drops key from filter; false if it was not there. Emptied
// branches are pruned.
func (x *routeIndex) remove(key, filter string) bool {
	path, shared := splitShared(filter)
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.root.remove(path, key, filter, shared)
}

func (n *tnode) remove(path, key, filter string, shared bool) bool {
	level, rest, more := strings.Cut(path, "/")
	var c *tnode
	switch level {
	case "+":
		c = n.plus
	case "#":
		c = n.hash
	default:
		c = n.kids[level]
	}
	if c == nil {
		return false
	}
	var removed bool
	if more {
		removed = c.remove(rest, key, filter, shared)
	} else {
		removed = c.drop(key, filter, shared)
	}
	if removed && c.empty() {
		switch level {
		case "+":
			n.plus = nil
		case "#":
			n.hash = nil
		default:
			delete(n.kids, level)
		}
	}
	return removed
}

func (n *tnode) drop(key, filter string, shared bool) bool {
	if !shared {
		i := slices.Index(n.peers, key)
		if i < 0 {
			return false
		}
		n.peers = slices.Delete(slices.Clone(n.peers), i, i+1)
		return true
	}
	g := n.groups[filter]
	if g == nil {
		return false
	}
	i, found := slices.BinarySearch(g.members, key)
	if !found {
		return false
	}
	if len(g.members) == 1 {
		delete(n.groups, filter)
		return true
	}
	g.members = slices.Delete(slices.Clone(g.members), i, i+1)
	return true
}

func (n *tnode) empty() bool {
	return len(n.kids) == 0 && n.plus == nil && n.hash == nil && len(n.peers) == 0 && len(n.groups) == 0
}

// match fills m with what matches topic. It decides as mochi does when it
// delivers (a message forwarded to a node whose mochi would not deliver it
// is wasted, and a shared group must pick among members that would get it):
//   - a leading wildcard does not match a $-topic [MQTT-4.7.2-1], except in
//     a shared filter, which mochi matches against $-topics too;
//   - "+/#" does not match a one-level topic ("a/#" does match "a").
func (x *routeIndex) match(topic string, m *matches) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	x.root.match(topic, topic != "" && topic[0] == '$', false, m)
}

// match: dollar is set at the first level of a $-topic; sharedOnly below a
// wildcard that took such a level.
func (n *tnode) match(topic string, dollar, sharedOnly bool, m *matches) {
	level, rest, more := strings.Cut(topic, "/")
	if n.hash != nil {
		m.collect(n.hash, sharedOnly || dollar) // "#" matches this level and all below
	}
	if c := n.kids[level]; c != nil {
		if more {
			c.match(rest, false, sharedOnly, m)
		} else {
			m.collect(c, sharedOnly)
			if c.hash != nil {
				m.collect(c.hash, sharedOnly) // "a/#" also matches "a" [MQTT-4.7.1-2]
			}
		}
	}
	if c := n.plus; c != nil {
		if more {
			c.match(rest, false, sharedOnly || dollar, m)
		} else {
			m.collect(c, sharedOnly || dollar)
		}
	}
}

func (m *matches) collect(n *tnode, sharedOnly bool) {
	if !sharedOnly {
		for _, p := range n.peers {
			if !slices.Contains(m.peers, p) {
				m.peers = append(m.peers, p)
			}
		}
	}
	for _, g := range n.groups {
		m.groups = append(m.groups, groupMatch{filter: g.filter, members: g.members})
	}
}
