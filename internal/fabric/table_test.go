package fabric_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"emqxgo/internal/fabric"
	"emqxgo/internal/testutil"
)

// changes records a table's OnChange calls on one node.
type changes struct {
	mu  sync.Mutex
	got map[string][]string // key -> values in call order ("<deleted>" for deletes)
}

func watch(t *fabric.Table) *changes {
	c := &changes{got: map[string][]string{}}
	t.OnChange(func(key string, value []byte, deleted bool) {
		v := string(value)
		if deleted {
			v = "<deleted>"
		}
		c.mu.Lock()
		c.got[key] = append(c.got[key], v)
		c.mu.Unlock()
	})
	return c
}

func (c *changes) of(key string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.got[key]...)
}

func tableOf(n *tnode, name string, persist bool) *fabric.Table {
	return n.N.Fabric().Table(name, fabric.TableOptions{Persist: persist})
}

// waitValue waits until every table holds value for key (nil: no value).
func waitValue(t *testing.T, key string, value []byte, tables map[string]*fabric.Table) {
	t.Helper()
	for name, tb := range tables {
		testutil.Eventually(t, 10*time.Second, fmt.Sprintf("%s holds %s=%q", name, key, value), func() bool {
			got, ok := tb.Get(key)
			if value == nil {
				return !ok
			}
			return ok && bytes.Equal(got, value)
		})
	}
}

// TestTableReplicates: a put on one node is read on the others, so is a
// delete, and OnChange fires once per change that won on every node (a
// delete of a key nobody holds fires nothing).
func TestTableReplicates(t *testing.T) {
	t.Parallel()
	ns := cluster(t, 3)
	tables := map[string]*fabric.Table{}
	seen := map[string]*changes{}
	for _, n := range ns {
		tables[n.Name] = tableOf(n, "users", false)
		seen[n.Name] = watch(tables[n.Name])
	}
	a := tables[ns[0].Name]
	for i := range 50 {
		if err := a.Put(fmt.Sprint("k", i), []byte(fmt.Sprint("v", i))); err != nil {
			t.Fatal(err)
		}
	}
	waitValue(t, "k49", []byte("v49"), tables)
	if err := tables[ns[1].Name].Put("k1", []byte("v1-b")); err != nil {
		t.Fatal(err)
	}
	waitValue(t, "k1", []byte("v1-b"), tables)
	a.Delete("k2")
	a.Delete("nobody")
	if err := tables[ns[2].Name].Put("end", []byte("x")); err != nil {
		t.Fatal(err)
	}
	waitValue(t, "k2", nil, tables)
	waitValue(t, "end", []byte("x"), tables)
	for name, tb := range tables {
		if tb.Len() != 50 { // k0..k49 less k2, plus end
			t.Fatalf("%s holds %d keys, want 50", name, tb.Len())
		}
		n := 0
		tb.Range(func(key string, value []byte) bool {
			n++
			return true
		})
		if n != 50 {
			t.Fatalf("%s ranges over %d keys, want 50", name, n)
		}
	}
	// Every node also passed what it got on to the others: by now, with a
	// last round through every node, those copies arrived and lost.
	for i, n := range ns {
		if err := tables[n.Name].Put("round", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		waitValue(t, "round", []byte(fmt.Sprint(i)), tables)
	}
	for name, c := range seen {
		want := map[string][]string{"k1": {"v1", "v1-b"}, "k2": {"v2", "<deleted>"}, "k3": {"v3"}, "nobody": nil, "end": {"x"}, "round": {"0", "1", "2"}}
		for key, w := range want {
			if got := c.of(key); fmt.Sprint(got) != fmt.Sprint(w) {
				t.Errorf("%s: OnChange for %s: %q, want %q", name, key, got, w)
			}
		}
		for i := 4; i < 50; i++ {
			if got := c.of(fmt.Sprint("k", i)); len(got) != 1 {
				t.Errorf("%s: OnChange for k%d: %q, want one call", name, i, got)
			}
		}
	}
}

// TestTableConcurrentPutsSettle: two nodes writing one key at once end with
// the same value everywhere, the newest: the last write of one of them.
func TestTableConcurrentPutsSettle(t *testing.T) {
	t.Parallel()
	ns := cluster(t, 3)
	tables := map[string]*fabric.Table{}
	for _, n := range ns {
		tables[n.Name] = tableOf(n, "race", false)
	}
	const writes = 200
	var wg sync.WaitGroup
	for _, n := range ns[:2] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range writes {
				_ = tables[n.Name].Put("k", fmt.Appendf(nil, "%s-%d", n.Name, i))
			}
		}()
	}
	wg.Wait()
	var final string
	testutil.Eventually(t, 10*time.Second, "one value of k everywhere", func() bool {
		var vals, vers []string
		for _, n := range ns {
			v, _ := tables[n.Name].Get("k")
			ts, node, _, _ := tables[n.Name].VersionOf("k")
			vals, vers = append(vals, string(v)), append(vers, fmt.Sprint(ts, node))
		}
		final = vals[0]
		return vals[0] == vals[1] && vals[1] == vals[2] && vers[0] == vers[1] && vers[1] == vers[2]
	})
	if final != fmt.Sprintf("%s-%d", ns[0].Name, writes-1) && final != fmt.Sprintf("%s-%d", ns[1].Name, writes-1) {
		t.Fatalf("settled on %q, not the last write of a node", final)
	}
}

// TestTableLateJoinerGetsEverything: a node started after the writes gets
// every key and every tombstone, in batches (20000 entries).
func TestTableLateJoinerGetsEverything(t *testing.T) {
	t.Parallel()
	net := testutil.Subnet(t)
	a := start(t, fmt.Sprintf("emqx1@127.0.%d.1", net))
	b := start(t, fmt.Sprintf("emqx2@127.0.%d.2", net))
	join(t, b, a)
	ta := tableOf(a, "big", false)
	const total, deleted = 20000, 1000
	value := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 100+i%200) }
	for i := range total {
		if err := ta.Put(fmt.Sprint("key/", i), value(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range deleted {
		ta.Delete(fmt.Sprint("key/", i*7))
	}
	tb := tableOf(b, "big", false)
	testutil.Eventually(t, 30*time.Second, "b has the table", func() bool {
		return tb.Len() == total-deleted && tb.Tombstones() == deleted
	})
	c := start(t, fmt.Sprintf("emqx3@127.0.%d.3", net))
	join(t, c, b)
	tc := tableOf(c, "big", false)
	testutil.Eventually(t, 30*time.Second, "the late node has the table", func() bool {
		return tc.Len() == total-deleted && tc.Tombstones() == deleted
	})
	for i := range total {
		got, ok := tc.Get(fmt.Sprint("key/", i))
		if i%7 == 0 && i/7 < deleted {
			if ok {
				t.Fatalf("deleted key/%d has a value on the late node", i)
			}
			continue
		}
		if !ok || !bytes.Equal(got, value(i)) {
			t.Fatalf("key/%d on the late node: %v %d bytes", i, ok, len(got))
		}
	}
}

// TestTableStaleNodeDoesNotResurrect: a node that was down while a key was
// deleted comes back with the key in its file; the delete stands
// everywhere, the stale copy is replaced.
func TestTableStaleNodeDoesNotResurrect(t *testing.T) {
	t.Parallel()
	ns := cluster(t, 3)
	a, b, c := ns[0], ns[1], ns[2]
	tables := map[string]*fabric.Table{}
	for _, n := range ns {
		tables[n.Name] = tableOf(n, "acl", true)
	}
	if err := tables[a.Name].Put("gone", []byte("v")); err != nil {
		t.Fatal(err)
	}
	waitValue(t, "gone", []byte("v"), tables)
	c.Halt() // its file holds gone=v
	tables[a.Name].Delete("gone")
	delete(tables, c.Name)
	waitValue(t, "gone", nil, tables)
	seenA := watch(tables[a.Name])
	seenB := watch(tables[b.Name])
	c.Run()
	tables[c.Name] = tableOf(c, "acl", true)
	// c's whole table goes to a and b before what c writes next.
	if err := tables[c.Name].Put("back", []byte("c")); err != nil {
		t.Fatal(err)
	}
	waitValue(t, "back", []byte("c"), tables)
	waitValue(t, "gone", nil, tables)
	for name, s := range map[string]*changes{a.Name: seenA, b.Name: seenB} {
		if got := s.of("gone"); len(got) != 0 {
			t.Fatalf("%s saw gone change again: %q", name, got)
		}
	}
}

// TestTablePersists: a persisted table survives a restart of its node,
// deletes too; the file is under data/tables.
func TestTablePersists(t *testing.T) {
	t.Parallel()
	n := start(t, fmt.Sprintf("emqx1@127.0.%d.1", testutil.Subnet(t)))
	tb := tableOf(n, "authn", true)
	for i := range 100 {
		if err := tb.Put(fmt.Sprint("user", i), []byte(fmt.Sprint("hash", i))); err != nil {
			t.Fatal(err)
		}
	}
	tb.Delete("user7")
	file := filepath.Join(n.Home, "data", "tables", "authn.tbl")
	testutil.Eventually(t, 5*time.Second, "the table written within the debounce", func() bool {
		_, err := os.Stat(file)
		return err == nil
	})
	if err := tb.Put("last", []byte("before stop")); err != nil { // written by Stop at the latest
		t.Fatal(err)
	}
	n.Halt()
	n.Run()
	tb = tableOf(n, "authn", true)
	if tb.Len() != 100 || tb.Tombstones() != 1 {
		t.Fatalf("after restart: %d keys, %d tombstones; want 100, 1", tb.Len(), tb.Tombstones())
	}
	if v, ok := tb.Get("last"); !ok || string(v) != "before stop" {
		t.Fatalf("last = %q %v", v, ok)
	}
	if _, ok := tb.Get("user7"); ok {
		t.Fatal("deleted user7 came back")
	}
	if v, _ := tb.Get("user42"); string(v) != "hash42" {
		t.Fatalf("user42 = %q", v)
	}
}

// TestTableCorruptFile: an unreadable file is logged and moved aside; the
// table starts empty and is written anew.
func TestTableCorruptFile(t *testing.T) {
	t.Parallel()
	net := testutil.Subnet(t)
	for i, bad := range map[string]func(good []byte) []byte{
		"garbage":   func([]byte) []byte { return []byte("not a table at all") },
		"truncated": func(good []byte) []byte { return good[:len(good)-3] },
		"flipped":   func(good []byte) []byte { b := bytes.Clone(good); b[len(b)/2] ^= 0x40; return b },
		"empty":     func([]byte) []byte { return nil },
	} {
		t.Run(i, func(t *testing.T) {
			n := start(t, fmt.Sprintf("emqx1@127.0.%d.1", net))
			tb := tableOf(n, "t", true)
			if err := tb.Put("k", []byte("a value long enough to be damaged")); err != nil {
				t.Fatal(err)
			}
			n.Halt()
			file := filepath.Join(n.Home, "data", "tables", "t.tbl")
			good, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, bad(good), 0o600); err != nil {
				t.Fatal(err)
			}
			n.Run()
			tb = tableOf(n, "t", true)
			if tb.Len() != 0 {
				t.Fatalf("%d keys from a damaged file", tb.Len())
			}
			aside, _ := filepath.Glob(file + ".corrupt-*")
			if len(aside) != 1 {
				t.Fatalf("damaged file not moved aside: %v", aside)
			}
			if logged := n.Logs.FilterMessage("table file unreadable; the table starts empty").FilterLevelExact(zapcore.ErrorLevel).Len(); logged != 1 {
				t.Fatalf("logged %d times", logged)
			}
			if err := tb.Put("k2", []byte("v2")); err != nil {
				t.Fatal(err)
			}
			n.Halt()
			n.Run()
			if v, ok := tableOf(n, "t", true).Get("k2"); !ok || string(v) != "v2" {
				t.Fatalf("after the damaged file, k2 = %q %v", v, ok)
			}
		})
	}
}
