package testutil

import (
	"slices"
	"sync"
)

// MemTable is a one-node key/value table with the contract of the
// cluster's replicated tables (fabric.Table: OnChange for every change),
// for unit tests of the packages that keep their data in one (banned,
// authmnesia, admins); their cluster-wide behaviour is tested with real nodes.
type MemTable struct {
	mu sync.Mutex
	m  map[string][]byte
	fn []func(string, []byte, bool)
}

// NewMemTable returns an empty MemTable.
func NewMemTable() *MemTable { return &MemTable{m: map[string][]byte{}} }

func (t *MemTable) Put(k string, v []byte) error {
	t.mu.Lock()
	t.m[k] = slices.Clone(v)
	fns := t.fn
	t.mu.Unlock()
	for _, f := range fns {
		f(k, v, false)
	}
	return nil
}

func (t *MemTable) Delete(k string) {
	t.mu.Lock()
	_, had := t.m[k]
	delete(t.m, k)
	fns := t.fn
	t.mu.Unlock()
	if had {
		for _, f := range fns {
			f(k, nil, true)
		}
	}
}

func (t *MemTable) Get(k string) ([]byte, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.m[k]
	return v, ok
}

func (t *MemTable) Range(fn func(string, []byte) bool) {
	t.mu.Lock()
	c := make(map[string][]byte, len(t.m))
	for k, v := range t.m {
		c[k] = v
	}
	t.mu.Unlock()
	for k, v := range c {
		if !fn(k, v) {
			return
		}
	}
}

func (t *MemTable) OnChange(fn func(string, []byte, bool)) {
	t.mu.Lock()
	t.fn = append(t.fn, fn)
	t.mu.Unlock()
}

// Seed sets k to v when the table holds nothing for it (fabric.Table's
// Seed, without versions: any later write replaces it); true: it was set.
func (t *MemTable) Seed(k string, v []byte) (bool, error) {
	t.mu.Lock()
	if _, ok := t.m[k]; ok {
		t.mu.Unlock()
		return false, nil
	}
	t.m[k] = slices.Clone(v)
	fns := t.fn
	t.mu.Unlock()
	for _, f := range fns {
		f(k, v, false)
	}
	return true, nil
}
