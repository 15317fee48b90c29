package fabric

import (
	"slices"
	"strings"
)

// PeerStats is what this node knows of its traffic with one peer, read
// when asked (Prometheus' emqx_cluster_* figures): the counters are kept
// under the outbox's lock the send path takes anyway.
type PeerStats struct {
	Peer   string
	Linked bool // a link to the peer is up
	// Queued waits to be sent; Unacked was sent (QoS 1/2, retained-store
	// replication) and awaits the peer's acknowledgement.
	Queued, Unacked int
	// Forwarded went on a link the first time, Resent again after a link
	// broke; Dropped was refused by a full outbox. Entries are forwarded
	// messages, retained-store replication and session-move markers.
	Forwarded, Resent, Dropped uint64
	// Routes is how many routes the peer advertised (its filters, and its
	// shared subscription members one each).
	Routes int
}

// countSent counts a batch run handed to the link (o.mu held).
func (o *outbox) countSent(n int, err error) {
	switch {
	case err != nil:
	case o.resending:
		o.resent += uint64(n)
	default:
		o.forwarded += uint64(n)
		if n > 1 {
			o.batched += uint64(n)
		}
	}
}

// PeerStats lists every peer this node has a link to, an outbox for or
// routes from, sorted by name.
func (f *Fabric) PeerStats() []PeerStats {
	byPeer := map[string]*PeerStats{}
	get := func(p string) *PeerStats {
		s := byPeer[p]
		if s == nil {
			s = &PeerStats{Peer: p}
			byPeer[p] = s
		}
		return s
	}
	for _, p := range f.links.Peers() {
		get(p).Linked = true
	}
	f.mu.Lock()
	outs := make([]*outbox, 0, len(f.out))
	for _, o := range f.out {
		outs = append(outs, o)
	}
	f.mu.Unlock()
	for _, o := range outs {
		s := get(o.peer)
		o.mu.Lock()
		s.Queued, s.Unacked = len(o.queue), len(o.pending)
		s.Forwarded, s.Resent, s.Dropped = o.forwarded, o.resent, o.dropped
		o.mu.Unlock()
	}
	f.routes.mu.Lock()
	for p, rs := range f.routes.peer {
		get(p).Routes = len(rs)
	}
	f.routes.mu.Unlock()
	out := make([]PeerStats, 0, len(byPeer))
	for _, s := range byPeer {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b PeerStats) int { return strings.Compare(a.Peer, b.Peer) })
	return out
}
