package acl

import (
	"fmt"
	"testing"
	"time"

	"emqxgo/internal/access"
)

type fakeClock struct{ t time.Time }

func (f *fakeClock) now() time.Time { return f.t }

func newTestCache(max int, ttl time.Duration) (*Cache, *fakeClock) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	c := NewCache(max, ttl)
	c.SetClock(clk.now)
	return c, clk
}

func mustGet(t *testing.T, c *Cache, a access.Action, topic string, gen uint64, want access.Result) {
	t.Helper()
	r, ok := c.Get(a, topic, gen)
	if !ok || r != want {
		t.Fatalf("Get(%v, %q) = %v, %v; want %v, true", a, topic, r, ok, want)
	}
}

func mustMiss(t *testing.T, c *Cache, a access.Action, topic string, gen uint64) {
	t.Helper()
	if r, ok := c.Get(a, topic, gen); ok {
		t.Fatalf("Get(%v, %q) = %v, hit; want a miss", a, topic, r)
	}
}

func TestCacheDefaults(t *testing.T) {
	if !DefaultCacheEnabled || DefaultCacheMaxSize != 32 || DefaultCacheTTL != time.Minute {
		t.Fatal("EMQX 4.4 defaults: enable_acl_cache = on, acl_cache_max_size = 32, acl_cache_ttl = 1m")
	}
}

func TestCacheGetPut(t *testing.T) {
	c, _ := newTestCache(4, time.Minute)
	g := Generation()
	mustMiss(t, c, pub, "t", g)
	c.Put(pub, "t", A, g)
	c.Put(sub, "t", D, g)
	mustGet(t, c, pub, "t", g, A)
	mustGet(t, c, sub, "t", g, D) // the action is part of the key
	c.Put(pub, "t", D, g)         // an update
	mustGet(t, c, pub, "t", g, D)
	if c.Len() != 2 {
		t.Fatalf("len %d", c.Len())
	}
}

func TestCacheEvictsOldest(t *testing.T) {
	c, clk := newTestCache(3, time.Minute)
	g := Generation()
	for i := range 3 {
		c.Put(pub, fmt.Sprint(i), A, g)
		clk.t = clk.t.Add(time.Second)
	}
	c.Put(pub, "0", D, g) // an update makes "0" the newest
	c.Put(pub, "3", A, g) // full: "1", now the oldest, goes
	if c.Len() != 3 {
		t.Fatalf("len %d", c.Len())
	}
	mustMiss(t, c, pub, "1", g)
	mustGet(t, c, pub, "0", g, D)
	mustGet(t, c, pub, "2", g, A)
	mustGet(t, c, pub, "3", g, A)
	c.Put(pub, "4", A, g)
	mustMiss(t, c, pub, "2", g)
	es := c.Entries(g)
	var got []string
	for _, e := range es {
		got = append(got, e.Topic)
	}
	if fmt.Sprint(got) != "[0 3 4]" {
		t.Fatalf("entries oldest first: %v", got)
	}
}

func TestCacheTTL(t *testing.T) {
	c, clk := newTestCache(3, time.Minute)
	g := Generation()
	c.Put(pub, "a", A, g)
	clk.t = clk.t.Add(30 * time.Second)
	c.Put(pub, "b", A, g)
	clk.t = clk.t.Add(30*time.Second - time.Millisecond)
	mustGet(t, c, pub, "a", g, A)
	clk.t = clk.t.Add(time.Millisecond) // a's ttl is up: a + ttl <= now
	mustMiss(t, c, pub, "a", g)
	if c.Len() != 1 {
		t.Fatalf("the expired entry was kept: len %d", c.Len())
	}
	mustGet(t, c, pub, "b", g, A)

	// Full, with even the newest entry expired: a Put empties the cache.
	c.Put(pub, "c", A, g)
	c.Put(pub, "d", A, g)
	clk.t = clk.t.Add(2 * time.Minute)
	c.Put(pub, "e", D, g)
	if c.Len() != 1 {
		t.Fatalf("len %d after a put into an all-expired cache", c.Len())
	}
	mustGet(t, c, pub, "e", g, D)
	clk.t = clk.t.Add(time.Minute)
	if len(c.Entries(g)) != 0 || c.Len() != 0 {
		t.Fatal("Entries kept an expired entry")
	}

	// ttl 0: nothing is ever a hit.
	z, _ := newTestCache(3, 0)
	z.Put(pub, "a", A, g)
	mustMiss(t, z, pub, "a", g)
}

func TestCacheGeneration(t *testing.T) {
	c, _ := newTestCache(8, time.Minute)
	g := Generation()
	c.Put(pub, "a", A, g)
	c.Put(sub, "b", D, g)
	InvalidateCaches()
	g2 := Generation()
	if g2 == g {
		t.Fatal("InvalidateCaches kept the generation")
	}
	mustMiss(t, c, sub, "b", g2)
	if c.Len() != 0 {
		t.Fatalf("a new generation kept %d entries", c.Len())
	}
	c.Put(pub, "a", D, g2)
	mustGet(t, c, pub, "a", g2, D)
	// A File's successful reload starts a generation.
	var f File
	f.Set(nil)
	mustMiss(t, c, pub, "a", Generation())
}

func TestCacheDisabledAndClear(t *testing.T) {
	var c *Cache = NewCache(0, time.Minute)
	if c != nil {
		t.Fatal("max size 0 is a disabled (nil) cache")
	}
	c.Put(pub, "a", A, 0)
	if _, ok := c.Get(pub, "a", 0); ok || c.Len() != 0 || c.Entries(0) != nil {
		t.Fatal("a nil cache holds entries")
	}
	c.Clear()
	c.SetClock(time.Now)

	d, _ := newTestCache(2, time.Minute)
	g := Generation()
	d.Put(pub, "a", A, g)
	d.Put(pub, "b", A, g)
	d.Clear()
	mustMiss(t, d, pub, "a", g)
	for i := range 10 { // the slots are reusable after a clear
		d.Put(pub, fmt.Sprint(i), A, g)
	}
	if d.Len() != 2 {
		t.Fatalf("len %d", d.Len())
	}
	mustGet(t, d, pub, "9", g, A)
}

func TestCacheHitDoesNotAllocate(t *testing.T) {
	c := NewCache(DefaultCacheMaxSize, DefaultCacheTTL)
	g := Generation()
	topics := make([]string, 64)
	for i := range topics {
		topics[i] = fmt.Sprintf("devices/%d/telemetry", i)
	}
	for _, tp := range topics[:32] {
		c.Put(pub, tp, A, g)
	}
	n := testing.AllocsPerRun(100, func() {
		for _, tp := range topics[:32] {
			if _, ok := c.Get(pub, tp, g); !ok {
				panic("miss")
			}
		}
	})
	if n != 0 {
		t.Errorf("hits: %v allocations", n)
	}
	// Misses and the puts that replace the oldest entry, round and round.
	for _, tp := range topics {
		c.Put(sub, tp, D, g)
	}
	n = testing.AllocsPerRun(100, func() {
		for _, tp := range topics {
			if _, ok := c.Get(sub, tp, g); !ok {
				c.Put(sub, tp, D, g)
			}
		}
	})
	if n > 1 { // the map may now and then rehash its tombstones away
		t.Errorf("misses and puts: %v allocations", n)
	}
}

func BenchmarkCacheHit(b *testing.B) {
	c := NewCache(DefaultCacheMaxSize, DefaultCacheTTL)
	g := Generation()
	c.Put(pub, "a/b/c/d/e/f/g/h", A, g)
	b.ReportAllocs()
	for b.Loop() {
		c.Get(pub, "a/b/c/d/e/f/g/h", g)
	}
}

// TestCacheGrowsToMax: the entries are allocated as they are needed; a
// cache of the default size filled past it keeps the newest 32, in order,
// after growing through its steps, and a new cache holds no entries.
func TestCacheGrowsToMax(t *testing.T) {
	c, clk := newTestCache(DefaultCacheMaxSize, time.Minute)
	if len(c.ents) != 0 || c.idx != nil {
		t.Fatalf("a new cache allocated %d entries", len(c.ents))
	}
	gen := Generation()
	for i := range 40 {
		clk.t = clk.t.Add(time.Millisecond)
		c.Put(access.Publish, fmt.Sprint("t/", i), access.Allow, gen)
		if want := min(i+1, DefaultCacheMaxSize); c.Len() != want {
			t.Fatalf("after %d puts: %d entries, want %d", i+1, c.Len(), want)
		}
	}
	if len(c.ents) != DefaultCacheMaxSize {
		t.Fatalf("%d entries allocated, want %d", len(c.ents), DefaultCacheMaxSize)
	}
	for i := range 8 {
		mustMiss(t, c, access.Publish, fmt.Sprint("t/", i), gen)
	}
	es := c.Entries(gen)
	for i, e := range es {
		if e.Topic != fmt.Sprint("t/", i+8) {
			t.Fatalf("entry %d is %s, want t/%d", i, e.Topic, i+8)
		}
	}
	c.Clear()
	c.Put(access.Subscribe, "again", access.Deny, gen)
	mustGet(t, c, access.Subscribe, "again", gen, access.Deny)
}

// TestCacheExpiresOnTheRealClock: without SetClock an entry expires by the
// monotonic clock, and a Get past its time drops it.
func TestCacheExpiresOnTheRealClock(t *testing.T) {
	c := NewCache(4, 30*time.Millisecond)
	g := Generation()
	c.Put(pub, "a", A, g)
	mustGet(t, c, pub, "a", g, A)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := c.Get(pub, "a", g); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an entry of a 30ms cache still served after 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if c.Len() != 0 {
		t.Fatalf("%d entries held after the expired one was found", c.Len())
	}
}
