package fabric

// Seed sets key to value where the table holds nothing for it here (no
// value, no tombstone), with the oldest version there is: a default (the
// HTTP API's default application, the dashboard's default user) that any
// write or delete made anywhere in the cluster replaces, also one older
// than this node's start. A node that joins a cluster thus never brings
// back a default the cluster changed or deleted; two nodes' seeds of one
// key are ordered by node name. It reports whether it set the key.
func (t *Table) Seed(key string, value []byte) (bool, error) {
	if len(key) > MaxTableKey || len(value) > MaxTableValue {
		return false, ErrTooLarge
	}
	val := append(make([]byte, 0, len(value)), value...)
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.mu.Lock()
	if _, had := t.m[key]; had {
		t.mu.Unlock()
		return false, nil
	}
	t.set(key, entry{}, false, entry{val: val, ver: version{ts: 1, node: t.f.self}})
	t.mu.Unlock()
	if t.carried {
		t.f.tables.start()
	} else {
		t.f.tables.changed(t, []string{key}, "")
	}
	t.after([]change{{key: key, val: val, visible: true}})
	return true, nil
}
