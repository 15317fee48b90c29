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
// group. The list is kept while no route comes or goes, for the next call
// (GET /routes, page by page): the caller must not change it.
func (f *Fabric) Routes() []Route {
	c := &f.routes.count
	f.routes.mu.Lock()
	if c.listed != nil && c.listedVer == c.ver {
		defer f.routes.mu.Unlock()
		return c.listed
	}
	ver := c.ver
	out := make([]Route, 0, len(c.held))
	for rt := range c.held {
		if rt.Node == "" {
			rt.Node = f.self
		}
		out = append(out, rt)
	}
	f.routes.mu.Unlock()
	slices.SortFunc(out, compareRoutes)
	f.routes.mu.Lock()
	if c.ver == ver && len(out) > 0 {
		c.listed, c.listedVer = out, ver
	}
	f.routes.mu.Unlock()
	return out
}

// compareRoutes orders routes by topic, node and group.
func compareRoutes(a, b Route) int {
	return cmp.Or(strings.Compare(a.Topic, b.Topic), strings.Compare(a.Node, b.Node), strings.Compare(a.Group, b.Group))
}

// RoutesOf lists the routes of topic (a filter, exactly; a shared
// subscription's by its plain filter), as Routes sorts them: from Routes'
// list if it is kept, else from a pass over the records (no sort of them
// all).
func (f *Fabric) RoutesOf(topic string) []Route {
	c := &f.routes.count
	f.routes.mu.Lock()
	if c.listed != nil && c.listedVer == c.ver {
		all := c.listed
		f.routes.mu.Unlock()
		i, _ := slices.BinarySearchFunc(all, topic, func(r Route, t string) int { return strings.Compare(r.Topic, t) })
		j := i
		for j < len(all) && all[j].Topic == topic {
			j++
		}
		return all[i:j:j]
	}
	var out []Route
	for rt := range c.held {
		if rt.Topic == topic {
			if rt.Node == "" {
				rt.Node = f.self
			}
			out = append(out, rt)
		}
	}
	f.routes.mu.Unlock()
	slices.SortFunc(out, compareRoutes)
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
