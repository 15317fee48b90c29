package testutil

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Deps runs `go list` from the module root on pattern (such as
// ./cmd/emqx_ctl or ./internal/discovery/...) and returns each matched
// package's import path with every package it depends on.
func Deps(t testing.TB, pattern string) map[string][]string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	list := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, pattern)
	list.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pattern, err)
	}
	deps := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) > 0 {
			deps[f[0]] = f[1:]
		}
	}
	if len(deps) == 0 {
		t.Fatalf("go list %s matched no package", pattern)
	}
	return deps
}

// ForbidDeps fails t for every package of pattern that depends on one of
// forbidden or on a package below one (forbidden "go.etcd.io" covers
// "go.etcd.io/etcd/client/v3").
func ForbidDeps(t testing.TB, pattern string, forbidden ...string) {
	t.Helper()
	for pkg, deps := range Deps(t, pattern) {
		for _, d := range deps {
			for _, f := range forbidden {
				if d == f || strings.HasPrefix(d, f+"/") {
					t.Errorf("%s depends on %s", pkg, d)
				}
			}
		}
	}
}
