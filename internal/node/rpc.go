package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"emqxgo/internal/mgmt"
)

// The management operations (emqx_ctl's and the HTTP API's) run on the
// node that has the data: a client on its node, a node's stats on it.
// One operation is one function registered by name; callNode runs it here
// or on a peer over the cluster's command channel, with the request and
// the result as JSON.

// mgmtOp runs one operation on this node.
type mgmtOp func(n *Node, req []byte) (any, error)

var mgmtOps = map[string]mgmtOp{}

// registerOp adds an operation (from an init func of the file that has it).
func registerOp(name string, f mgmtOp) {
	if _, dup := mgmtOps[name]; dup {
		panic("management operation registered twice: " + name)
	}
	mgmtOps[name] = f
}

// opReply is an operation's answer on the wire.
type opReply struct {
	Result json.RawMessage `json:"r,omitempty"`
	Code   int             `json:"c,omitempty"` // an *mgmt.Error's code
	Error  string          `json:"e,omitempty"`
}

// runOp runs an operation a peer asked for (peerCommand "$mgmt").
func (n *Node) runOp(name, req string) string {
	reply := func(r opReply) string { b, _ := json.Marshal(r); return string(b) }
	f, ok := mgmtOps[name]
	if !ok {
		return reply(opReply{Error: "unknown operation " + name})
	}
	v, err := f(n, []byte(req))
	if err != nil {
		var me *mgmt.Error
		if errors.As(err, &me) {
			return reply(opReply{Code: me.Code, Error: me.Message})
		}
		return reply(opReply{Error: err.Error()})
	}
	b, err := json.Marshal(v)
	if err != nil {
		return reply(opReply{Error: err.Error()})
	}
	return reply(opReply{Result: b})
}

// callNode runs operation op with req on node (this one or a running
// peer) and decodes its result into resp (a pointer; nil: ignored). A
// peer that does not answer is mgmt.CodeRPC, as EMQX's badrpc.
func (n *Node) callNode(ctx context.Context, node, op string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if node == n.name.String() {
		f, ok := mgmtOps[op]
		if !ok {
			return fmt.Errorf("unknown operation %s", op)
		}
		v, err := f(n, body)
		if err != nil {
			return err
		}
		if resp == nil {
			return nil
		}
		if raw, err = json.Marshal(v); err != nil {
			return err
		}
	} else {
		if !slices.Contains(n.fabric.Peers(), node) {
			return &mgmt.Error{Code: mgmt.CodeRPC, Message: "badrpc: nodedown " + node}
		}
		out, err := n.fabric.Command(ctx, node, []string{"$mgmt", op, string(body)})
		if err != nil {
			return &mgmt.Error{Code: mgmt.CodeRPC, Message: fmt.Sprintf("badrpc: %s: %v", node, err)}
		}
		var r opReply
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			return &mgmt.Error{Code: mgmt.CodeRPC, Message: fmt.Sprintf("badrpc: %s: %v", node, err)}
		}
		switch {
		case r.Code != 0:
			return &mgmt.Error{Code: r.Code, Message: r.Error}
		case r.Error != "":
			return errors.New(r.Error)
		}
		raw = r.Result
	}
	if resp == nil {
		return nil
	}
	return json.Unmarshal(raw, resp)
}

// runningNodes is the cluster's running members, sorted (this node too).
func (n *Node) runningNodes() []string {
	r := slices.Clone(n.cluster.Status().Running)
	if !slices.Contains(r, n.name.String()) {
		r = append(r, n.name.String())
	}
	slices.Sort(r)
	return r
}

// nodeResult is one node's answer to callAll.
type nodeResult[T any] struct {
	Node   string
	Result T
	Err    error
}

// callAll runs op on every running node at once; the answers come in the
// nodes' sorted order.
func callAll[T any](ctx context.Context, n *Node, op string, req any) []nodeResult[T] {
	nodes := n.runningNodes()
	out := make([]nodeResult[T], len(nodes))
	var wg sync.WaitGroup
	for i, node := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i].Node = node
			out[i].Err = n.callNode(ctx, node, op, req, &out[i].Result)
		}()
	}
	wg.Wait()
	return out
}

// opOf makes an operation of f, its request decoded from JSON.
func opOf[Req any](f func(n *Node, req Req) (any, error)) mgmtOp {
	return func(n *Node, b []byte) (any, error) {
		var req Req
		if err := json.Unmarshal(b, &req); err != nil {
			return nil, err
		}
		return f(n, req)
	}
}
