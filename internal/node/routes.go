package node

import (
	"strings"

	"emqxgo/internal/fabric"
	"emqxgo/internal/mgmt"
)

// The cluster's routes, as EMQX 4.4's emqx_mgmt_cli (routes list, routes
// show <Topic>: "<topic> -> <node>") and emqx_mgmt_api_routes (GET
// /routes, paged; GET /routes/{topic}) show its emqx_route table: one
// route per topic filter and node holding a subscription to it, a shared
// subscription's by its plain filter (one per group). Every node knows
// them all (its own subscriptions and what its peers advertised), so
// they are read where asked.

// APIRoute is a route as the HTTP API and --json show it.
type APIRoute struct {
	Topic string `json:"topic"`
	Node  string `json:"node"`
}

func routeRows(rs []fabric.Route) []APIRoute {
	out := make([]APIRoute, 0, len(rs))
	for _, r := range rs {
		out = append(out, APIRoute{Topic: r.Topic, Node: r.Node})
	}
	return out
}

var routesUsage = []usageLine{{"routes list", "List all routes"}, {"routes show <Topic>", "Show a route"}}

func (n *Node) routesCmd(c *call) string {
	args := c.args
	var rs []fabric.Route
	switch {
	case len(args) == 1 && args[0] == "list":
		rs = n.fabric.Routes()
	case len(args) == 2 && args[0] == "show":
		rs = n.fabric.RoutesOf(args[1])
	default:
		return usage(routesUsage...)
	}
	return c.out(routeRows(rs), func() string {
		var b strings.Builder
		for _, r := range rs {
			b.WriteString(r.Topic + " -> " + r.Node + "\n")
		}
		return b.String()
	})
}

func init() {
	registerCmd(ctlCommand{name: "routes", run: func(n *Node, c *call) string { return n.routesCmd(c) }, usage: routesUsage})

	// emqx_mgmt_api:paginate: count is every route.
	registerAPI("GET /routes", func(n *Node, r *mgmt.Request) (any, error) {
		page, limit, skip, err := pageParams(r)
		if err != nil {
			return nil, err
		}
		rs := n.fabric.Routes()
		lo, hi := min(skip, len(rs)), min(skip+limit, len(rs))
		return mgmt.Paged{Data: routeRows(rs[lo:hi]),
			Meta: mgmt.Meta{Page: page, Limit: limit, Count: len(rs), HasNext: hi < len(rs)}}, nil
	})
	registerAPI("GET /routes/{topic}", func(n *Node, r *mgmt.Request) (any, error) {
		return routeRows(n.fabric.RoutesOf(r.Path("topic"))), nil
	})
}
