package plugins

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.uber.org/zap"

	"emqxgo/internal/access"
)

// named is a backend that only has a name (what the manager passes on).
type named string

func (n named) Name() string { return string(n) }
func (n named) Authenticate(context.Context, *access.Client) (access.Result, error) {
	return access.Ignore, nil
}
func (n named) CheckACL(context.Context, *access.Client, access.Action, string) (access.Result, error) {
	return access.Ignore, nil
}

type instance struct {
	name    string
	acl     bool
	stopped *int
}

func (i instance) Auth() access.Authenticator { return named(i.name) }
func (i instance) ACL() access.ACLChecker {
	if i.acl {
		return named(i.name)
	}
	return nil
}
func (i instance) Stop() { *i.stopped++ }

type rig struct {
	m       *Manager
	dir     string
	auth    []string
	acls    []string
	stops   int
	failing bool
}

func newRig(t *testing.T) *rig {
	r := &rig{dir: t.TempDir()}
	kind := func(name, descr string, acl bool) Kind {
		return Kind{Name: name, Description: descr, Start: func() (Instance, error) {
			if r.failing {
				return nil, errors.New("bad settings")
			}
			return instance{name: name, acl: acl, stopped: &r.stops}, nil
		}}
	}
	r.m = New(r.dir, []Kind{kind("emqx_auth_mnesia", "mnesia", true), kind("emqx_auth_http", "http", true),
		kind("emqx_auth_jwt", "jwt", false)}, func(a []access.Authenticator, c []access.ACLChecker) {
		r.auth, r.acls = nil, nil
		for _, x := range a {
			r.auth = append(r.auth, x.Name())
		}
		for _, x := range c {
			r.acls = append(r.acls, x.Name())
		}
	}, zap.NewNop())
	return r
}

func (r *rig) file(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(r.dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLoadUnloadPersist(t *testing.T) {
	r := newRig(t)
	r.m.Boot(nil)
	if got := r.file(t); got != "" {
		t.Fatalf("a missing file is created empty, got %q", got)
	}
	if err := r.m.Load("emqx_auth_http"); err != nil {
		t.Fatal(err)
	}
	if err := r.m.Load("emqx_auth_jwt"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.auth, []string{"emqx_auth_http", "emqx_auth_jwt"}) || !slices.Equal(r.acls, []string{"emqx_auth_http"}) {
		t.Fatalf("backends in load order: auth %v acl %v", r.auth, r.acls)
	}
	if got := r.file(t); got != "emqx_auth_http.\nemqx_auth_jwt.\n" {
		t.Fatalf("file %q", got)
	}
	if err := r.m.Load("emqx_auth_http"); !errors.Is(err, ErrAlreadyStarted) {
		t.Fatalf("second load: %v", err)
	}
	if err := r.m.Load("emqx_nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	if err := r.m.Unload("emqx_auth_mnesia"); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("unload of a stopped plugin: %v", err)
	}
	if err := r.m.Unload("emqx_auth_http"); err != nil {
		t.Fatal(err)
	}
	if got := r.file(t); got != "emqx_auth_jwt.\n" || r.stops != 1 || !slices.Equal(r.auth, []string{"emqx_auth_jwt"}) {
		t.Fatalf("after unload: file %q, stops %d, auth %v", got, r.stops, r.auth)
	}
	want := []Info{{"emqx_auth_http", "http", false}, {"emqx_auth_jwt", "jwt", true}, {"emqx_auth_mnesia", "mnesia", false}}
	if got := r.m.List(); !slices.Equal(got, want) {
		t.Fatalf("list %v", got)
	}
	r.m.Stop()
	r.m.Stop()
	if r.stops != 2 {
		t.Fatalf("stop stops what runs, once: %d", r.stops)
	}
	if err := r.m.Load("emqx_auth_http"); err == nil {
		t.Fatal("a stopped manager loads nothing")
	}
}

// Boot reads EMQX's file forms and keeps names this node lacks.
func TestBootReadsEMQXFile(t *testing.T) {
	r := newRig(t)
	content := "%% EMQX's\n{emqx_management, true}.\n{emqx_auth_http, true}.\nemqx_auth_mnesia.\n{emqx_auth_mnesia, false}.\nemqx_dashboard.\n"
	if err := os.WriteFile(filepath.Join(r.dir, FileName), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	r.m.Boot([]string{"emqx_auth_jwt"})
	if !slices.Equal(r.auth, []string{"emqx_auth_http", "emqx_auth_jwt"}) {
		t.Fatalf("booted %v", r.auth)
	}
	if got := r.file(t); got != content {
		t.Fatal("boot rewrote the file")
	}
	if err := r.m.Load("emqx_auth_mnesia"); err != nil {
		t.Fatal(err)
	}
	if got := r.file(t); got != "emqx_management.\nemqx_auth_http.\nemqx_dashboard.\nemqx_auth_mnesia.\n" {
		t.Fatalf("rewritten: %q", got)
	}
}

// Reload restarts with the settings in force; failing settings leave the
// plugin stopped; reload of a stopped plugin loads it.
func TestReload(t *testing.T) {
	r := newRig(t)
	r.m.Boot(nil)
	if err := r.m.Reload("emqx_auth_http"); err != nil || !r.m.Active("emqx_auth_http") {
		t.Fatalf("reload of a stopped plugin loads it: %v", err)
	}
	if err := r.m.Reload("emqx_auth_http"); err != nil || r.stops != 1 {
		t.Fatalf("reload: %v, stops %d", err, r.stops)
	}
	r.failing = true
	if err := r.m.Reload("emqx_auth_http"); err == nil || r.m.Active("emqx_auth_http") || len(r.auth) != 0 {
		t.Fatalf("bad settings: %v, active %v, auth %v", err, r.m.Active("emqx_auth_http"), r.auth)
	}
	if err := r.m.Reload("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

func TestBadFileReported(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, FileName)
	if err := os.WriteFile(p, []byte("emqx_auth_http.\n{oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	names, err := readLoaded(p)
	if err == nil || !slices.Equal(names, []string{"emqx_auth_http"}) {
		t.Fatalf("%v %v", names, err)
	}
}
