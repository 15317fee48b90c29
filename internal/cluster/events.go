package cluster

import (
	"context"
	"errors"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/hashicorp/serf/serf"
	"go.uber.org/zap"
)

// eventLoop applies one serf instance's events until it shuts down.
func (c *Cluster) eventLoop(s *serf.Serf, events chan serf.Event) {
	defer c.wg.Done()
	for {
		select {
		case e := <-events:
			c.apply(s, e)
		case <-s.ShutdownCh():
			return
		}
	}
}

func (c *Cluster) apply(s *serf.Serf, e serf.Event) {
	var drop, prune, gone []string
	c.mu.Lock()
	if c.serf != s {
		c.mu.Unlock()
		return
	}
	switch ev := e.(type) {
	case serf.MemberEvent:
		for _, m := range ev.Members {
			if m.Name == c.self {
				continue
			}
			if c.forgotten[m.Name] {
				switch ev.Type {
				case serf.EventMemberFailed:
					prune = append(prune, m.Name)
				}
				continue // forgotten until an explicit join lets it in again
			}
			switch ev.Type {
			case serf.EventMemberJoin, serf.EventMemberUpdate:
				rpc := net.JoinHostPort(m.Addr.String(), m.Tags["rpc"])
				c.rec.Members[m.Name] = &member{Gossip: net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port))), RPC: rpc}
				delete(c.down, m.Name)
				c.joined = true
				if ev.Type == serf.EventMemberJoin {
					c.log.Info("node is running in the cluster", zap.String("node", m.Name))
				}
			case serf.EventMemberFailed:
				if r := c.rec.Members[m.Name]; r != nil && r.StoppedAt.IsZero() {
					r.StoppedAt = time.Now()
				}
				c.log.Warn("node stopped or unreachable", zap.String("node", m.Name))
				drop = append(drop, m.Name)
				gone = append(gone, m.Name)
			case serf.EventMemberLeave, serf.EventMemberReap:
				delete(c.rec.Members, m.Name)
				delete(c.down, m.Name)
				delete(c.retry, m.Name)
				c.log.Info("node removed from the cluster", zap.String("node", m.Name), zap.String("event", ev.Type.String()))
				drop = append(drop, m.Name)
				gone = append(gone, m.Name)
			}
		}
		c.saveLocked()
	case serf.UserEvent:
		name := string(ev.Payload)
		switch {
		case name == c.self:
		case ev.Name == eventForget && !c.forgotten[name]:
			c.forgotten[name] = true
			delete(c.rec.Members, name)
			delete(c.down, name)
			c.saveLocked()
			drop = append(drop, name)
			prune = append(prune, name)
			gone = append(gone, name)
			c.log.Info("node removed from the cluster by force-leave", zap.String("node", name))
		case ev.Name == eventUnforget:
			delete(c.forgotten, name)
		}
	}
	c.mu.Unlock()
	for _, n := range drop {
		c.links.Drop(n)
	}
	for _, n := range prune {
		_ = s.RemoveFailedNodePrune(n)
	}
	for _, n := range gone {
		c.links.h.PeerGone(n)
	}
}

// handler wraps the node's LinkHandler with the cluster's own operations.
type handler struct {
	c    *Cluster
	next LinkHandler
}

func (h *handler) Request(peer, op string, body []byte) ([]byte, error) {
	if op == opLeave {
		h.c.wg.Add(1)
		go func() {
			defer h.c.wg.Done()
			h.c.log.Warn("removed from the cluster by force-leave", zap.String("by", peer))
			h.c.opMu.Lock()
			defer h.c.opMu.Unlock()
			select {
			case <-h.c.stop:
				return
			default:
			}
			_ = h.c.leaveCurrent("")
		}()
		return nil, nil
	}
	if h.next == nil {
		return nil, errors.New("unknown request " + op)
	}
	return h.next.Request(peer, op, body)
}

func (h *handler) Notify(peer, op string, body []byte) {
	if h.next != nil {
		h.next.Notify(peer, op, body)
	}
}

func (h *handler) LinkUp(peer string, epoch int64) {
	h.c.mu.Lock()
	delete(h.c.down, peer)
	delete(h.c.retry, peer)
	h.c.mu.Unlock()
	if h.next != nil {
		h.next.LinkUp(peer, epoch)
	}
}

func (h *handler) PeerGone(peer string) {
	if h.next != nil {
		h.next.PeerGone(peer)
	}
}

func (h *handler) LinkDown(peer string) {
	select {
	case <-h.c.stop:
	default:
		h.c.wg.Add(1)
		go h.c.probeDown(peer)
	}
	if h.next != nil {
		h.next.LinkDown(peer)
	}
}

// probeDown: a peer whose link broke and whose RPC port now refuses
// connections has stopped; show it as stopped before gossip notices.
func (c *Cluster) probeDown(peer string) {
	defer c.wg.Done()
	c.mu.Lock()
	r := c.rec.Members[peer]
	c.mu.Unlock()
	if r == nil || r.RPC == "" {
		return
	}
	conn, err := net.DialTimeout("tcp", r.RPC, time.Second)
	if err == nil {
		_ = conn.Close()
		return
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		c.markDown(peer)
	}
}

// markDown lists a member whose RPC port refuses connections as stopped at
// once (before gossip notices) and drops its routes.
func (c *Cluster) markDown(peer string) {
	c.mu.Lock()
	r := c.rec.Members[peer]
	if r == nil || c.down[peer] || c.links.get(peer) != nil {
		c.mu.Unlock()
		return
	}
	c.down[peer] = true
	if r.StoppedAt.IsZero() {
		r.StoppedAt = time.Now() // autoclean counts from here
		c.saveLocked()
	}
	c.mu.Unlock()
	c.log.Warn("node stopped (its RPC port refuses connections)", zap.String("node", peer))
	c.links.h.PeerGone(peer)
}

// maintain keeps links to running members, rejoins stopped members of the
// record, and runs autoclean.
func (c *Cluster) maintain() {
	defer c.wg.Done()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
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

func (c *Cluster) ctx() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
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
		err := c.links.Dial(ctx, m.Name, net.JoinHostPort(m.Addr.String(), m.Tags["rpc"]), wantMember)
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
		err := c.links.Dial(ctx, p.name, p.rpc, wantMember)
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
		case ReasonOf(err) == ReasonNotMember:
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
