// Package static is the static-seeds autocluster strategy: the node names
// of cluster.static.seeds (the list may contain the node itself).
package static

import (
	"context"
	"errors"
	"fmt"

	"emqxgo/internal/nodename"
)

// Strategy returns the configured seeds.
type Strategy struct{ seeds []string }

// New validates the seeds.
func New(seeds []string) (*Strategy, error) {
	if len(seeds) == 0 {
		return nil, errors.New("cluster.static.seeds is empty: list the node names, e.g. emqx1@127.0.0.1,emqx2@127.0.0.1")
	}
	for _, s := range seeds {
		if _, err := nodename.Parse(s); err != nil {
			return nil, fmt.Errorf("cluster.static.seeds: %w", err)
		}
	}
	return &Strategy{seeds: append([]string(nil), seeds...)}, nil
}

// Name is "static".
func (s *Strategy) Name() string { return "static" }

// Discover returns the seeds.
func (s *Strategy) Discover(context.Context) ([]string, error) { return s.seeds, nil }
