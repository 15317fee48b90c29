package fabric

import "sync"

// syncMap is a sync.Map with its key and value types written down, so a
// reader never asserts what a writer stored.
type syncMap[K comparable, V any] struct{ m sync.Map }

func (s *syncMap[K, V]) Load(k K) (V, bool) {
	v, ok := s.m.Load(k)
	if !ok {
		var zero V
		return zero, false
	}
	return v.(V), true
}

func (s *syncMap[K, V]) Store(k K, v V) { s.m.Store(k, v) }

func (s *syncMap[K, V]) Delete(k K) { s.m.Delete(k) }

// LoadOrStore returns the value present, or stores and returns v.
func (s *syncMap[K, V]) LoadOrStore(k K, v V) V {
	got, _ := s.m.LoadOrStore(k, v)
	return got.(V)
}

// CompareAndDelete deletes k if its value is old (V must be comparable).
func (s *syncMap[K, V]) CompareAndDelete(k K, old V) bool { return s.m.CompareAndDelete(k, old) }

func (s *syncMap[K, V]) Range(f func(K, V) bool) {
	s.m.Range(func(k, v any) bool { return f(k.(K), v.(V)) })
}

func (s *syncMap[K, V]) LoadAndDelete(k K) (V, bool) {
	v, ok := s.m.LoadAndDelete(k)
	if !ok {
		var zero V
		return zero, false
	}
	return v.(V), true
}
