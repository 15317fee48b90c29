package fabric

import (
	"cmp"
	"slices"
	"strings"

	"emqxgo/internal/topic"
)

// What the management (emqx_ctl routes, GET /api/v4/routes, and the
// subscriptions it makes for clients) needs of the routes.

// Route is one route as EMQX's emqx_route table holds it: a topic filter
// and the node holding a subscription to it. A shared subscription's
// route is its plain filter, one per group and node (EMQX's dest
// {Group, Node}); Group is "" for a plain route.
type Route struct {
	Topic, Node, Group string
}

// Routes lists the cluster's routes as this node knows them (its own
// subscriptions and what its peers advertised), sorted by topic, node and
// group.
func (f *Fabric) Routes() []Route {
	r := f.routes
	seen := map[Route]struct{}{}
	r.mu.Lock()
	for filter := range r.local {
		seen[routeOf(filter, f.self)] = struct{}{}
	}
	for peer, rs := range r.peer {
		for rt := range rs {
			seen[routeOf(rt.Filter, peer)] = struct{}{}
		}
	}
	r.mu.Unlock()
	out := make([]Route, 0, len(seen))
	for rt := range seen {
		out = append(out, rt)
	}
	slices.SortFunc(out, func(a, b Route) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), strings.Compare(a.Node, b.Node), strings.Compare(a.Group, b.Group))
	})
	return out
}

// routeOf is the route of a subscription to filter on node.
func routeOf(filter, node string) Route {
	pre, plain := topic.SplitShared(filter)
	rt := Route{Topic: plain, Node: node}
	switch {
	case pre == "$queue/":
		rt.Group = "$queue"
	case pre != "":
		rt.Group = pre[len("$share/") : len(pre)-1]
	}
	return rt
}

// AddRoute records a subscription the node made for a local client
// without its SUBSCRIBE (the management's; mochi fires no OnSubscribed
// for it) and announces it as the client's own would be.
func (f *Fabric) AddRoute(filter, clientID string) { f.routes.add(filter, clientID) }

// RemoveRoute is AddRoute undone (the management's unsubscribe).
func (f *Fabric) RemoveRoute(filter, clientID string) { f.routes.remove(filter, clientID) }
