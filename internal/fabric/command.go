package fabric

import (
	"context"
	"errors"
	"sync/atomic"
)

// opCommand runs an operator's command on a peer: request commandReq ->
// commandResp (emqx_ctl's cluster-wide commands, such as clearing every
// node's ACL caches).
const opCommand = "command"

type commandReq struct {
	Args []string `codec:"a"`
}

type commandResp struct {
	Output string `codec:"o"`
}

// CommandHandler answers a command a peer sent.
type CommandHandler func(args []string) (output string)

type commands struct {
	h atomic.Pointer[CommandHandler]
}

// SetCommandHandler makes h answer the commands peers send.
func (f *Fabric) SetCommandHandler(h CommandHandler) { f.cmds.h.Store(&h) }

func (f *Fabric) runCommand(body []byte) ([]byte, error) {
	var req commandReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	h := f.cmds.h.Load()
	if h == nil {
		return nil, errors.New("no command handler")
	}
	return encode(commandResp{Output: (*h)(req.Args)})
}

// Command runs args on peer and returns its output.
func (f *Fabric) Command(ctx context.Context, peer string, args []string) (string, error) {
	body, err := encode(commandReq{Args: args})
	if err != nil {
		return "", err
	}
	b, err := f.links.Call(ctx, peer, opCommand, body)
	if err != nil {
		return "", err
	}
	var resp commandResp
	if err := decode(b, &resp); err != nil {
		return "", err
	}
	return resp.Output, nil
}

// Peers are the nodes this node has links to.
func (f *Fabric) Peers() []string { return f.links.Peers() }
