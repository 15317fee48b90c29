package node

import (
	"errors"
	"net"
	"net/http"
	"strings"

	"emqxgo/internal/mgmt"
)

// The HTTP API's listeners (emqx_mgmt_api_listeners): each node's MQTT
// listeners as emqx_mgmt:list_listeners gives them, and restarting one on
// a node or on every node.

// ListenerRow is one listener as GET /api/v4/listeners lists it. A tcp or
// ssl listener is esockd's ({"protocol":"mqtt:tcp","identifier":...}); a
// ws or wss listener is cowboy's, named by its port ("mqtt:ws:8083"),
// without identifier. max_conns is a number or "infinity";
// shutdown_count is [] or an object of the refusals at accept by reason.
type ListenerRow struct {
	Acceptors     int    `json:"acceptors"`
	CurrentConns  int64  `json:"current_conns"`
	Identifier    string `json:"identifier,omitempty"`
	ListenOn      string `json:"listen_on"`
	MaxConns      any    `json:"max_conns"`
	Protocol      string `json:"protocol"`
	ShutdownCount any    `json:"shutdown_count"`
}

func (n *Node) listenerRows() []ListenerRow {
	out := []ListenerRow{}
	for _, l := range n.broker.Listeners() {
		proto, _, _ := strings.Cut(l.ID, ":")
		r := ListenerRow{Acceptors: 1, CurrentConns: l.Open, ListenOn: listenOn(l.Addr), MaxConns: "infinity", ShutdownCount: []any{}}
		if l.MaxConns > 0 {
			r.MaxConns = l.MaxConns
		}
		if proto == "ws" || proto == "wss" {
			_, port, _ := net.SplitHostPort(l.Addr)
			r.Protocol = "mqtt:" + proto + ":" + port
		} else {
			r.Protocol, r.Identifier = "mqtt:"+proto, "mqtt:"+l.ID
			if sc := shutdownCounts(l); len(sc) > 0 {
				m := map[string]int64{}
				for _, s := range sc {
					m[s.reason] = s.n
				}
				r.ShutdownCount = m
			}
		}
		out = append(out, r)
	}
	return out
}

// restartReply is a restart's result on one node: Reason is the failure
// as EMQX prints it ("" when it restarted).
type restartReply struct {
	Reason string `json:"reason,omitempty"`
}

func init() {
	registerOp("listeners.list", func(n *Node, _ []byte) (any, error) { return n.listenerRows(), nil })
	registerOp("listeners.restart", opOf(func(n *Node, id string) (any, error) {
		if err := n.restartListener(id); err != nil {
			return restartReply{Reason: listenerErrTerm(err, erlBinary)}, nil
		}
		return restartReply{}, nil
	}))

	registerAPI("GET /listeners", func(n *Node, _ *mgmt.Request) (any, error) {
		ctx, cancel := apiCtx()
		defer cancel()
		var out []any
		for _, r := range callAll[[]ListenerRow](ctx, n, "listeners.list", struct{}{}) {
			if r.Err != nil {
				// format({error, Reason}): the error in place of the list
				out = append(out, map[string]any{"node": r.Node, "listeners": map[string]string{"error": badRPC(r.Err)}})
				continue
			}
			out = append(out, map[string]any{"node": r.Node, "listeners": r.Result})
		}
		return out, nil
	})
	registerAPI("GET /nodes/{node}/listeners", func(n *Node, r *mgmt.Request) (any, error) {
		rows, err := onNodePath[[]ListenerRow](n, r, "listeners.list", nil)
		if err != nil {
			return map[string]string{"error": badRPC(err)}, nil
		}
		return rows, nil
	})
	registerAPI("PUT /listeners/{identifier}/restart", func(n *Node, r *mgmt.Request) (any, error) {
		id := r.Path("identifier")
		if strings.HasPrefix(id, "http") {
			return jsonBody(http.StatusForbidden, "http_listener_restart_unsupported"), nil
		}
		ctx, cancel := apiCtx()
		defer cancel()
		var fails []string
		for _, node := range n.allNodes() {
			var rep restartReply
			if err := n.callNode(ctx, node, "listeners.restart", id, &rep); err != nil {
				rep.Reason = badRPC(err)
			}
			if rep.Reason != "" {
				fails = append(fails, "{"+erlAtom(node)+",{error,"+rep.Reason+"}}")
			}
		}
		if len(fails) > 0 {
			return messageOnly("{restart,[" + strings.Join(fails, ",") + "]}"), nil
		}
		return nil, nil
	})
	registerAPI("PUT /nodes/{node}/listeners/{identifier}/restart", func(n *Node, r *mgmt.Request) (any, error) {
		rep, err := onNodePath[restartReply](n, r, "listeners.restart", r.Path("identifier"))
		if err != nil {
			rep.Reason = badRPC(err)
		}
		if rep.Reason != "" {
			return messageOnly(rep.Reason), nil
		}
		return "Listener restarted.", nil
	})
}

// allNodes are the cluster's nodes as emqx_mgmt:list_nodes() has them:
// the running ones, then the stopped ones.
func (n *Node) allNodes() []string {
	return append(n.runningNodes(), n.cluster.Status().Stopped...)
}

// badRPC is an error of a call to a node as emqx_mgmt's rpc_call gives it
// ({badrpc, Reason} -> Reason): nodedown for a node that does not answer.
func badRPC(err error) string {
	var me *mgmt.Error
	if errors.As(err, &me) && me.Code == mgmt.CodeRPC {
		return "nodedown"
	}
	return errTerm(err)
}

// messageOnly is minirest's answer to {error, Message}: HTTP 200 with
// {"message":Message} and no code.
func messageOnly(msg string) mgmt.Raw {
	return jsonBody(http.StatusOK, map[string]string{"message": msg})
}
