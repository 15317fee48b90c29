package cluster

import (
	"context"
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/hashicorp/serf/serf"
	"go.uber.org/zap"

	"emqxgo/internal/emqxterm"
	"emqxgo/internal/peerlink"
)

// maintain keeps links to running members, rejoins stopped members of the
// record, and runs autoclean.
func (c *Cluster) maintain() {
	defer c.wg.Done()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.base.Done():
			return
		case <-t.C:
		}
		c.linkRunning()
		c.rejoinStopped()
		c.autoclean()
	}
}

// due reports whether peer may be tried now and schedules the next try
// with exponential backoff (250ms .. 5s).
func (c *Cluster) due(peer string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.retry[peer]
	if a == nil {
		a = &attempts{}
		c.retry[peer] = a
	}
	if time.Now().Before(a.next) {
		return false
	}
	d := min(250*time.Millisecond<<min(a.n, 5), 5*time.Second)
	a.n++
	a.next = time.Now().Add(d)
	return true
}

// ctx bounds one dial of the loop; Stop cancels it.
func (c *Cluster) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.base, 5*time.Second)
}

// linkRunning dials running members that have no link. The smaller name
// dials; the larger one too once the first tries have failed.
func (c *Cluster) linkRunning() {
	c.mu.Lock()
	s := c.serf
	c.mu.Unlock()
	if s == nil {
		return
	}
	for _, m := range s.Members() {
		if m.Name == c.self || m.Status != serf.StatusAlive || c.links.Has(m.Name) {
			continue
		}
		c.mu.Lock()
		a := c.retry[m.Name]
		c.mu.Unlock()
		if c.self > m.Name && (a == nil || a.n < 2) {
			c.due(m.Name) // give the smaller side the first tries
			continue
		}
		if !c.due(m.Name) {
			continue
		}
		ctx, cancel := c.ctx()
		err := c.links.Dial(ctx, m.Name, net.JoinHostPort(m.Addr.String(), m.Tags["rpc"]), peerlink.WantMember)
		cancel()
		c.markTried(m.Name)
		if err != nil {
			c.log.Debug("peer link dial failed", zap.String("peer", m.Name), zap.Error(err))
			if errors.Is(err, syscall.ECONNREFUSED) {
				c.markDown(m.Name) // no link to lose, but nothing listens: it stopped
			}
		}
	}
}

// rejoinStopped tries members of the record that gossip does not show
// running: after this node restarts, and (autoheal) after a partition.
func (c *Cluster) rejoinStopped() {
	c.mu.Lock()
	s := c.serf
	if s == nil || (c.joined && !c.cfg.Autoheal) {
		c.mu.Unlock()
		return
	}
	type cand struct{ name, gossip, rpc string }
	var todo []cand
	for name, m := range c.rec.Members {
		todo = append(todo, cand{name, m.Gossip, m.RPC})
	}
	c.mu.Unlock()
	alive := map[string]bool{}
	for _, m := range s.Members() {
		if m.Status == serf.StatusAlive {
			alive[m.Name] = true
		}
	}
	for _, p := range todo {
		if alive[p.name] || !c.due("rejoin:"+p.name) {
			continue
		}
		ctx, cancel := c.ctx()
		err := c.links.Dial(ctx, p.name, p.rpc, peerlink.WantMember)
		cancel()
		c.markTried(p.name)
		switch {
		case err == nil:
			c.openGossip()
			if _, jerr := s.Join([]string{p.gossip}, true); jerr != nil {
				c.log.Debug("rejoin gossip failed", zap.String("peer", p.name), zap.Error(jerr))
				continue
			}
			c.mu.Lock()
			c.joined = true
			c.mu.Unlock()
			c.log.Info("rejoined the cluster", zap.String("via", p.name))
		case emqxterm.ReasonOf(err) == emqxterm.ReasonNotMember:
			c.mu.Lock()
			delete(c.rec.Members, p.name)
			c.blocked[p.name] = true
			c.saveLocked()
			alone := len(c.rec.Members) == 0
			c.mu.Unlock()
			c.log.Warn("peer no longer lists this node as a member (it was force-left or the peer left); dropping it",
				zap.String("peer", p.name))
			if alone && s.NumNodes() <= 1 {
				c.log.Warn("this node was removed from its cluster while it was stopped; running standalone. " +
					"Use `emqx_ctl cluster join <Node>` to join again.")
			}
		default:
			c.log.Debug("rejoin failed", zap.String("peer", p.name), zap.Error(err))
		}
	}
}

// autoclean force-leaves members stopped longer than cluster.autoclean.
func (c *Cluster) autoclean() {
	if c.cfg.Autoclean <= 0 || !c.opMu.TryLock() {
		return
	}
	defer c.opMu.Unlock()
	var expired []string
	c.mu.Lock()
	for name, m := range c.rec.Members {
		if !m.StoppedAt.IsZero() && time.Since(m.StoppedAt) > c.cfg.Autoclean {
			expired = append(expired, name)
		}
	}
	c.mu.Unlock()
	for _, name := range expired {
		c.log.Warn("autoclean: removing a node stopped longer than cluster.autoclean",
			zap.String("node", name), zap.Duration("autoclean", c.cfg.Autoclean))
		c.forget(name)
	}
}
