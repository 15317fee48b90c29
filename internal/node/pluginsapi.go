package node

import (
	"encoding/json"

	"emqxgo/internal/mgmt"
)

// The HTTP API's plugins (emqx_mgmt_api_plugins) on each node's plugin
// manager, the one `emqx_ctl plugins` runs: the list per node, load,
// unload and reload on a node, and unload and reload on every node (EMQX
// 4.4 has no cluster-wide load). A failure is minirest's
// {"message":Reason} without a code: not_found, already_started,
// not_started, nodedown, or why the plugin did not start.

// PluginRow is one plugin as the API lists it.
type PluginRow struct {
	Active      bool   `json:"active"`
	Description string `json:"description"`
	Name        string `json:"name"`
	Type        string `json:"type"` // every plugin here authenticates: auth
}

func (n *Node) pluginRows() []PluginRow {
	out := []PluginRow{}
	for _, p := range n.access.plugins.List() {
		out = append(out, PluginRow{Name: p.Name, Description: p.Description, Active: p.Active, Type: "auth"})
	}
	return out
}

// pluginReply is a load, unload or reload on one node: Reason is the
// failure as EMQX prints it ("" when it went well).
type pluginReply struct {
	Reason string `json:"reason,omitempty"`
}

// pluginOp runs a load, unload or reload of a plugin on this node.
func pluginOp(do func(n *Node, name string) error) mgmtOp {
	return func(n *Node, req []byte) (any, error) {
		var name string
		if err := json.Unmarshal(req, &name); err != nil {
			return nil, err
		}
		if err := do(n, name); err != nil {
			return pluginReply{Reason: errTerm(err)}, nil
		}
		return pluginReply{}, nil
	}
}

func init() {
	registerOp("plugins.list", func(n *Node, _ []byte) (any, error) { return n.pluginRows(), nil })
	registerOp("plugins.load", pluginOp(func(n *Node, name string) error { return n.access.plugins.Load(name) }))
	registerOp("plugins.unload", pluginOp(func(n *Node, name string) error { return n.access.plugins.Unload(name) }))
	registerOp("plugins.reload", pluginOp(func(n *Node, name string) error { return n.access.plugins.Reload(name) }))

	registerAPI("GET /plugins", func(n *Node, _ *mgmt.Request) (any, error) {
		return perNode(n, "plugins.list", func(node string, v []PluginRow) any {
			return map[string]any{"node": node, "plugins": v}
		}), nil
	})
	registerAPI("GET /nodes/{node}/plugins", func(n *Node, r *mgmt.Request) (any, error) {
		rows, err := onNodePath[[]PluginRow](n, r, "plugins.list", nil)
		if err != nil {
			return messageOnly(badRPC(err)), nil
		}
		return rows, nil
	})
	for _, verb := range []string{"load", "unload", "reload"} {
		op := "plugins." + verb
		registerAPI("PUT /nodes/{node}/plugins/{plugin}/"+verb, func(n *Node, r *mgmt.Request) (any, error) {
			rep, err := onNodePath[pluginReply](n, r, op, r.Path("plugin"))
			if err != nil {
				rep.Reason = badRPC(err)
			}
			if rep.Reason != "" {
				return messageOnly(rep.Reason), nil
			}
			return nil, nil
		})
		if verb == "load" {
			continue // PUT /plugins/{plugin}/load: not in EMQX 4.4
		}
		registerAPI("PUT /plugins/{plugin}/"+verb, func(n *Node, r *mgmt.Request) (any, error) {
			// Every node, the stopped ones too; the last failure answers.
			ctx, cancel := apiCtx()
			defer cancel()
			last := ""
			for _, node := range n.allNodes() {
				var rep pluginReply
				if err := n.callNode(ctx, node, op, r.Path("plugin"), &rep); err != nil {
					rep.Reason = badRPC(err)
				}
				if rep.Reason != "" {
					last = rep.Reason
				}
			}
			if last != "" {
				return messageOnly(last), nil
			}
			return nil, nil
		})
	}
}
