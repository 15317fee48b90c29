package cluster

import (
	"errors"
	"net"
	"strconv"
	"syscall"
	"time"

	"emqxgo/internal/peerlink"

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
		c.h.PeerGone(n)
	}
}

// handler wraps the node's peerlink.Handler with the cluster's own operations.
type handler struct {
	c    *Cluster
	next peerlink.Handler
}

func (h *handler) Request(peer, op string, body []byte) ([]byte, error) {
	if op == opLeave {
		h.c.wg.Add(1)
		go func() {
			defer h.c.wg.Done()
			h.c.log.Warn("removed from the cluster by force-leave", zap.String("by", peer))
			h.c.opMu.Lock()
			defer h.c.opMu.Unlock()
			if h.c.stopping() {
				return
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

func (h *handler) Notify(peer, op string, body []byte, behind bool) {
	if h.next != nil {
		h.next.Notify(peer, op, body, behind)
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
	if !h.c.stopping() {
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
	if r == nil || c.down[peer] || c.links.Has(peer) {
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
	c.h.PeerGone(peer)
}
