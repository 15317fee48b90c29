package node

import (
	"emqxgo/internal/banned"
	"emqxgo/internal/fabric"
)

// newBanHook adds the banned list's hook to the broker; it must come
// before the gate (a banned client is refused before it authenticates).
func (n *Node) newBanHook() error {
	n.bans = banned.NewHook(n.broker.Server(), n.broker.Zone, n.cfg.Flapping, n.log)
	return n.broker.Server().AddHook(n.bans, nil)
}

// openBanned opens the banned list's replicated table (after the fabric
// exists); entries past their end expire on each node by themselves.
func (n *Node) openBanned(fb *fabric.Fabric) {
	t := fb.Table(banned.TableName, fabric.TableOptions{Persist: true, Expired: banned.Expired})
	n.banned = banned.Open(t)
	n.bans.SetList(n.banned)
}

// Banned is the cluster's banned list (emqx_banned).
func (n *Node) Banned() *banned.List { return n.banned }
