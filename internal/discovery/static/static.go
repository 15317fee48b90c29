// Package static is the static-seeds autocluster strategy: the node names
// of cluster.static.seeds (the list may contain the node itself). It owns
// the key: its Config, default and rules (Validate).
package static

import (
	"context"
	"slices"
	"strings"

	"emqxgo/internal/nodename"
)

// Config is the cluster.static.* keys.
type Config struct {
	Seeds []string // cluster.static.seeds: node names (name@host)
}

// Defaults is the built-in value of every key: no seeds.
func Defaults() Config { return Config{} }

// CheckKeys reports, as report(key, problem), each value of c that breaks
// its key's rule, the problem saying what is allowed. Keys left empty are
// not checked here (see Validate).
func (c Config) CheckKeys(report func(key, problem string)) {
	var bad []string
	for _, s := range c.Seeds {
		if _, err := nodename.Parse(s); err != nil {
			bad = append(bad, err.Error())
		}
	}
	if len(bad) > 0 {
		report("cluster.static.seeds", strings.Join(bad, "; "))
	}
}

// Validate reports every problem that keeps the strategy from running with
// c: those of CheckKeys, and a missing seed list, reported at
// cluster.discovery (the key that made it required). New assumes c passed.
func (c Config) Validate(report func(key, problem string)) {
	c.CheckKeys(report)
	if len(c.Seeds) == 0 {
		report("cluster.discovery", "cluster.static.seeds is required when cluster.discovery = static")
	}
}

// Strategy returns the configured seeds.
type Strategy struct{ seeds []string }

// New returns the strategy of a validated Config.
func New(c Config) *Strategy { return &Strategy{seeds: slices.Clone(c.Seeds)} }

// Name is "static".
func (s *Strategy) Name() string { return "static" }

// Discover returns the seeds.
func (s *Strategy) Discover(context.Context) ([]string, error) { return s.seeds, nil }
