package acl

import (
	"time"

	"emqxgo/internal/access"
)

// Defaults of EMQX 4.4's enable_acl_cache, acl_cache_max_size and
// acl_cache_ttl.
const (
	DefaultCacheEnabled = true
	DefaultCacheMaxSize = 32
	DefaultCacheTTL     = time.Minute
)

// Cache is one client's ACL cache, as EMQX keeps in each channel process:
// (action, topic) -> the final allow or deny, at most maxSize entries,
// each good for ttl after it was put. When full, a Put first empties the
// cache if even its newest entry has expired, else drops the oldest entry
// (oldest by when it was last put). A Get that finds an expired entry also
// drops every expired entry.
//
// A Cache is not safe for concurrent use: it belongs to one connection's
// goroutine. Get and Put take the current Generation(); a generation other
// than the cache's empties it first, which is how a reload of the rules
// reaches every client without a lock on the check path. A nil *Cache is
// a disabled cache: Get misses and Put does nothing.
type Cache struct {
	max int
	ttl time.Duration
	now func() time.Time
	// clock: now was set (SetClock); else Get reads time.Since.
	clock bool
	gen   uint64
	idx   map[cacheKey]int32
	ents  []cacheEntry
	// A doubly linked list through ents, oldest (head) to newest (tail),
	// and a singly linked free list; -1 ends them.
	head, tail, free int32
	n                int
}

type cacheKey struct {
	action access.Action
	topic  string
}

type cacheEntry struct {
	key        cacheKey
	res        access.Result
	at         time.Time
	prev, next int32
}

// CacheEntry is one cached answer, for listing (EMQX's acl_cache API).
type CacheEntry struct {
	Action   access.Action
	Topic    string
	Result   access.Result
	CachedAt time.Time
}

// NewCache returns a cache of at most maxSize entries that live for ttl
// (0: every entry is expired as soon as it is put, as in EMQX). A maxSize
// below 1 returns nil, a disabled cache.
func NewCache(maxSize int, ttl time.Duration) *Cache {
	if maxSize < 1 {
		return nil
	}
	// The entries are allocated as they are first needed (grow): most
	// connections stay idle, and their caches cost only this struct.
	c := &Cache{max: maxSize, ttl: ttl, now: time.Now, gen: Generation()}
	c.reset()
	return c
}

// SetClock replaces the clock (time.Now), for tests.
func (c *Cache) SetClock(now func() time.Time) {
	if c != nil {
		c.now, c.clock = now, true
	}
}

// Len is the number of entries held, expired ones included.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	return c.n
}

// Get returns the cached result of a on topic, if there is one and it has
// not expired.
func (c *Cache) Get(a access.Action, topic string, gen uint64) (access.Result, bool) {
	if c == nil {
		return access.Ignore, false
	}
	c.sync(gen)
	i, ok := c.idx[cacheKey{a, topic}]
	if !ok {
		return access.Ignore, false
	}
	if c.clock {
		if now := c.now(); c.expired(i, now) {
			c.cleanup(now)
			return access.Ignore, false
		}
	} else if time.Since(c.ents[i].at) >= c.ttl { // the monotonic clock alone: half the cost of time.Now
		c.cleanup(time.Now())
		return access.Ignore, false
	}
	return c.ents[i].res, true
}

// Put caches r for a on topic. The topic string is kept.
func (c *Cache) Put(a access.Action, topic string, r access.Result, gen uint64) {
	if c == nil {
		return
	}
	c.sync(gen)
	now := c.now()
	if c.n >= c.max {
		if c.expired(c.tail, now) {
			c.Clear()
		} else {
			c.remove(c.head)
		}
	}
	k := cacheKey{a, topic}
	if i, ok := c.idx[k]; ok {
		c.ents[i].res, c.ents[i].at = r, now
		c.unlink(i)
		c.link(i)
		return
	}
	if c.free < 0 {
		c.grow()
	}
	i := c.free
	c.free = c.ents[i].next
	c.ents[i] = cacheEntry{key: k, res: r, at: now}
	c.link(i)
	c.idx[k] = i
	c.n++
}

// Clear drops every entry (EMQX's empty_acl_cache).
func (c *Cache) Clear() {
	if c == nil {
		return
	}
	clear(c.idx)
	clear(c.ents) // let go of the topics
	c.reset()
}

// Entries lists the unexpired entries, oldest first, dropping the expired
// ones as EMQX's list_acl_cache does.
func (c *Cache) Entries(gen uint64) []CacheEntry {
	if c == nil {
		return nil
	}
	c.sync(gen)
	c.cleanup(c.now())
	out := make([]CacheEntry, 0, c.n)
	for i := c.head; i >= 0; i = c.ents[i].next {
		e := &c.ents[i]
		out = append(out, CacheEntry{Action: e.key.action, Topic: e.key.topic, Result: e.res, CachedAt: e.at})
	}
	return out
}

func (c *Cache) sync(gen uint64) {
	if gen != c.gen {
		c.Clear()
		c.gen = gen
	}
}

func (c *Cache) reset() {
	c.head, c.tail, c.n, c.free = -1, -1, 0, -1
	for i := len(c.ents) - 1; i >= 0; i-- {
		c.ents[i].next, c.free = c.free, int32(i)
	}
}

// grow adds free entries (every one is in use, and there are fewer than
// max): 4 at first, then twice as many, up to max.
func (c *Cache) grow() {
	if c.idx == nil {
		c.idx = make(map[cacheKey]int32)
	}
	old := len(c.ents)
	c.ents = append(c.ents, make([]cacheEntry, min(c.max, max(4, 2*old))-old)...)
	for i := len(c.ents) - 1; i >= old; i-- {
		c.ents[i].next, c.free = c.free, int32(i)
	}
}

// expired: an entry put at t is good while t + ttl is after now.
func (c *Cache) expired(i int32, now time.Time) bool {
	return !now.Before(c.ents[i].at.Add(c.ttl))
}

// cleanup drops the expired entries, which are the oldest.
func (c *Cache) cleanup(now time.Time) {
	for c.head >= 0 && c.expired(c.head, now) {
		c.remove(c.head)
	}
}

func (c *Cache) remove(i int32) {
	c.unlink(i)
	delete(c.idx, c.ents[i].key)
	c.ents[i] = cacheEntry{next: c.free}
	c.free = i
	c.n--
}

func (c *Cache) link(i int32) {
	e := &c.ents[i]
	e.prev, e.next = c.tail, -1
	if c.tail >= 0 {
		c.ents[c.tail].next = i
	} else {
		c.head = i
	}
	c.tail = i
}

func (c *Cache) unlink(i int32) {
	e := &c.ents[i]
	if e.prev >= 0 {
		c.ents[e.prev].next = e.next
	} else {
		c.head = e.next
	}
	if e.next >= 0 {
		c.ents[e.next].prev = e.prev
	} else {
		c.tail = e.prev
	}
}
