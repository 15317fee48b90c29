package static

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// problems collects what Validate reports, as "key: problem".
func problems(c Config) []string {
	var out []string
	c.Validate(func(key, problem string) { out = append(out, key+": "+problem) })
	return out
}

func TestValidate(t *testing.T) {
	if p := problems(Defaults()); len(p) != 1 || p[0] != "cluster.discovery: cluster.static.seeds is required when cluster.discovery = static" {
		t.Fatalf("no seeds: %q", p)
	}
	p := problems(Config{Seeds: []string{"emqx1@h", "emqx2", "em qx@h"}})
	if len(p) != 1 || !strings.HasPrefix(p[0], "cluster.static.seeds: ") ||
		!strings.Contains(p[0], `invalid node name "emqx2"`) || !strings.Contains(p[0], `; invalid node name "em qx@h"`) {
		t.Fatalf("bad seeds: %q", p)
	}
	if p := problems(Config{Seeds: []string{"emqx1@127.0.0.1", "emqx2@s2.emqx.io", "emqx3@::1"}}); p != nil {
		t.Fatalf("good seeds: %q", p)
	}
	var n int
	Defaults().CheckKeys(func(string, string) { n++ })
	if n != 0 {
		t.Fatal("CheckKeys reported an empty list: only Validate requires seeds")
	}
}

func TestDiscover(t *testing.T) {
	seeds := []string{"emqx1@h", "emqx2@h"}
	s := New(Config{Seeds: seeds})
	seeds[0] = "changed@h"
	got, err := s.Discover(context.Background())
	if err != nil || !slices.Equal(got, []string{"emqx1@h", "emqx2@h"}) || s.Name() != "static" {
		t.Fatalf("%s: %v %v", s.Name(), got, err)
	}
}
