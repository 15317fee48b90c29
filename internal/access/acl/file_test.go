package acl

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"emqxgo/internal/access"
)

func write(t *testing.T, path, src string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFileLoadReload(t *testing.T) {
	var f File
	var _ access.ACLChecker = &f
	if f.Name() != "emqx_mod_acl_internal" {
		t.Fatalf("name %q", f.Name())
	}
	c := client("u", "c", "10.0.0.1")
	if r, err := f.CheckACL(context.Background(), c, pub, "t"); r != I || err != nil {
		t.Fatalf("unloaded: %v %v", r, err)
	}
	if err := f.Reload(); err == nil {
		t.Fatal("reload before any load")
	}

	path := filepath.Join(t.TempDir(), "acl.conf")
	if err := f.Load(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	write(t, path, `{deny, all, publish, ["t"]}.`)
	if err := f.Reload(); err != nil { // Reload retries the path a failed Load was given
		t.Fatal(err)
	}
	if f.Path() != path || f.Rules().Len() != 1 {
		t.Fatalf("path %q, %d rules", f.Path(), f.Rules().Len())
	}
	if r, _ := f.CheckACL(context.Background(), c, pub, "t"); r != D {
		t.Fatalf("got %v", r)
	}

	gen := Generation()
	write(t, path, "{allow, all, publish, [\"t\"]}.\n{allow, all, pub, [\"x\"]}.\n")
	err := f.Reload()
	var pe *Error
	if !errors.As(err, &pe) || pe.File != path || pe.Line != 2 || !strings.Contains(err.Error(), "expected access") {
		t.Fatalf("bad file: %v", err)
	}
	if r := f.Check(c, pub, "t"); r != D {
		t.Fatalf("a bad file replaced the rules: %v", r)
	}
	if Generation() != gen {
		t.Fatal("a failed reload invalidated the caches")
	}

	write(t, path, `{allow, all, publish, ["t"]}.`)
	if err := f.Reload(); err != nil {
		t.Fatal(err)
	}
	if r := f.Check(c, pub, "t"); r != A {
		t.Fatalf("after reload: %v", r)
	}
	if Generation() == gen {
		t.Fatal("a reload did not invalidate the caches")
	}

	// Load switches files; a bad one keeps the old rules.
	other := filepath.Join(t.TempDir(), "other.conf")
	write(t, other, `{deny, all}`)
	if err := f.Load(other); err == nil || f.Check(c, pub, "t") != A {
		t.Fatalf("load of a bad file: %v, %v", err, f.Check(c, pub, "t"))
	}
	write(t, other, `{deny, all}.`)
	if err := f.Reload(); err != nil || f.Check(c, pub, "t") != D {
		t.Fatalf("reload of the fixed file: %v", err)
	}
	f.Set(nil)
	if f.Check(c, pub, "t") != I {
		t.Fatal("Set(nil) left rules")
	}
}

func TestFileTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acl.conf")
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := fh.Truncate(MaxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	if _, err := ParseFile(path); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("got %v", err)
	}
}

func TestShippedFileLoads(t *testing.T) {
	var f File
	if err := f.Load(shippedFile(t)); err != nil {
		t.Fatal(err)
	}
	if f.Check(client("", "c", "10.0.0.1"), sub, "#") != D {
		t.Fatal("subscribing # from 10.0.0.1 is not denied")
	}
}

// TestFileConcurrentReload runs checks against reloads under -race.
func TestFileConcurrentReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acl.conf")
	write(t, path, `{allow, all}.`)
	var f File
	if err := f.Load(path); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			c := client("u", "c", "127.0.0.1")
			for {
				select {
				case <-stop:
					return
				default:
				}
				if r := f.Check(c, pub, "a/b"); r != A && r != D {
					t.Errorf("got %v", r)
					return
				}
			}
		})
	}
	for i := range 50 {
		src := `{allow, all}.`
		if i%2 == 1 {
			src = `{deny, all}.`
		}
		write(t, path, src)
		if err := f.Reload(); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
}
