package acl

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"emqxgo/internal/access"
)

// Name is the ACL source's name: the EMQX 4 module that reads acl.conf
// (acl_order calls it "internal" or "file").
const Name = "emqx_mod_acl_internal"

// File is the acl.conf engine, an access.ACLChecker. The zero value has no
// rules and ignores every check; Load gives it a file. Checks may run
// concurrently with each other and with Load and Reload.
type File struct {
	mu    sync.Mutex // serialises Load and Reload
	path  string
	rules atomic.Pointer[Rules]
}

// Name implements access.ACLChecker.
func (f *File) Name() string { return Name }

// Load reads and compiles the file at path and, if it is good, makes its
// rules current and invalidates every client's ACL cache. On an error the
// rules in force stay (none before the first good load) and the error is
// returned: an *Error for a syntax or rule error, naming file, line and
// column. Reload reads path again, even after a failed Load.
func (f *File) Load(path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.path = path
	return f.load()
}

// Reload reads the file Load was last given again, as Load does.
func (f *File) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.path == "" {
		return errors.New("acl: no file loaded")
	}
	return f.load()
}

func (f *File) load() error {
	rs, err := ParseFile(f.path)
	if err != nil {
		return err
	}
	f.Set(rs)
	return nil
}

// Set makes rs current (nil: no rules) and invalidates every ACL cache.
func (f *File) Set(rs *Rules) {
	f.rules.Store(rs)
	InvalidateCaches()
}

// Path is the file Load was last given.
func (f *File) Path() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.path
}

// Rules returns the rules in force (nil before the first good load).
func (f *File) Rules() *Rules { return f.rules.Load() }

// Check is Rules().Check: the first matching rule's Allow or Deny, Ignore
// when none matches.
func (f *File) Check(c *access.Client, a access.Action, topic string) access.Result {
	return f.rules.Load().Check(c, a, topic)
}

// CheckACL implements access.ACLChecker; it never fails.
func (f *File) CheckACL(_ context.Context, c *access.Client, a access.Action, topic string) (access.Result, error) {
	return f.Check(c, a, topic), nil
}

var generation atomic.Uint64

// Generation is the ACL cache generation: a Cache drops what it holds when
// handed a generation other than the one its entries were put under.
func Generation() uint64 { return generation.Load() }

// InvalidateCaches starts a new generation, so every client's cache is
// emptied on its next use, as EMQX has every channel clean its ACL cache
// when the ACL module reloads (and on emqx_acl_cache:drain_cache/0).
func InvalidateCaches() { generation.Add(1) }
