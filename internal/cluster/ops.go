package cluster

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"emqxgo/internal/emqxterm"
	"emqxgo/internal/nodename"
	"emqxgo/internal/peerlink"
)

func sortStrings(s []string) { sort.Strings(s) }

// target qualifies and validates a node name typed by an operator; this
// node's own name is ErrIgnored (join self, force-leave self).
func (c *Cluster) target(s string) (string, error) {
	name := nodename.Qualify(strings.TrimSpace(s), c.cfg.Name)
	if _, err := nodename.Parse(name); err != nil {
		return "", &emqxterm.Error{Reason: emqxterm.ReasonInvalidNodeName, Node: name, Err: err}
	}
	if name == c.self {
		return "", ErrIgnored
	}
	return name, nil
}

// Join makes this node a member of target's cluster, leaving its current
// cluster first. MQTT clients of this node are not touched.
func (c *Cluster) Join(ctx context.Context, target string) error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	name, err := c.target(target)
	if err != nil {
		return err
	}
	st := c.Status()
	if slices.Contains(st.Running, name) {
		return &emqxterm.Error{Reason: emqxterm.ReasonAlreadyInCluster, Node: name}
	}
	gossip, rpc, err := c.peerAddrs(name)
	if err != nil {
		return err
	}
	c.unforget(name, false)
	c.mu.Lock()
	c.blocked = map[string]bool{} // an explicit join overrides earlier refusals
	c.mu.Unlock()
	// Checks cookie, cluster name and reachability before anything changes here.
	if err := c.links.Dial(ctx, name, rpc, peerlink.WantJoin); err != nil {
		return err
	}
	if len(st.Running) > 1 || len(st.Stopped) > 0 {
		c.log.Info("leaving the current cluster to join another", zap.String("target", name))
		if err := c.leaveCurrent(name); err != nil {
			return err
		}
	}
	c.mu.Lock()
	s := c.serf
	c.open = true
	c.mu.Unlock()
	if _, err := s.Join([]string{gossip}, true); err != nil {
		c.links.Drop(name)
		return &emqxterm.Error{Reason: emqxterm.ReasonNodeDown, Node: name, Err: err}
	}
	c.mu.Lock()
	c.joined, c.left = true, false
	if c.rec.Members[name] == nil {
		c.rec.Members[name] = &member{Gossip: gossip, RPC: rpc}
	}
	c.saveLocked()
	c.mu.Unlock()
	c.log.Info("joined the cluster", zap.String("via", name))
	return nil
}

// Leave leaves the cluster; peers remove this node. It needs a running peer.
func (c *Cluster) Leave(ctx context.Context) error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if len(c.Status().Running) < 2 {
		return &emqxterm.Error{Reason: emqxterm.ReasonNotInCluster}
	}
	if err := c.leaveCurrent(""); err != nil {
		return err
	}
	c.mu.Lock()
	c.left = true
	c.mu.Unlock()
	c.log.Info("left the cluster")
	return nil
}

// leaveCurrent leaves (announcing it when peers run), forgets the record and
// starts a fresh standalone serf. The link to keep, if any, survives.
func (c *Cluster) leaveCurrent(keep string) error {
	c.mu.Lock()
	old := c.serf
	c.serf = nil // events of the old instance are ignored from here on
	c.mu.Unlock()
	if old != nil {
		if old.NumNodes() > 1 {
			if err := old.Leave(); err != nil {
				c.log.Warn("leave broadcast incomplete", zap.Error(err))
			}
		}
		_ = old.Shutdown()
	}
	for _, p := range c.links.Peers() {
		if p != keep {
			c.h.PeerGone(p)
		}
	}
	c.links.DropAll(keep)
	s, err := c.newSerf()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rec.Members = map[string]*member{}
	c.down = map[string]bool{}
	c.retry = map[string]*attempts{}
	c.open = false // standalone now: stray gossip must not pull it back
	c.saveLocked()
	if err != nil {
		c.log.Error("cannot restart membership after leaving", zap.Error(err))
		return err
	}
	c.serf = s
	return nil
}

// ForceLeave removes another node: a running one is told to leave, a
// stopped one is dropped from membership everywhere.
func (c *Cluster) ForceLeave(ctx context.Context, target string) error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	name, err := c.target(target)
	if err != nil {
		return err
	}
	st := c.Status()
	switch {
	case slices.Contains(st.Running, name):
		if !c.links.Has(name) {
			_, rpc, err := c.peerAddrs(name)
			if err == nil {
				err = c.links.Dial(ctx, name, rpc, peerlink.WantMember)
			}
			if emqxterm.ReasonOf(err) == emqxterm.ReasonNodeDown {
				// Gossip has not noticed yet, but nothing answers: it is stopped.
				c.forget(name)
				return nil
			}
			if err != nil {
				return err
			}
		}
		// The link may close under the call: the node answers and then
		// leaves, dropping its links, and its answer may not get out first;
		// or the link was replaced meanwhile (both nodes dialed at once, as
		// after a rejoin). The wait below tells which: a node still there a
		// second later, on a live link, is asked once more.
		_, err := c.links.Call(ctx, name, opLeave, []byte(c.self))
		if err != nil && !errors.Is(err, peerlink.ErrLinkClosed) {
			return &emqxterm.Error{Reason: emqxterm.ReasonNodeDown, Node: name, Err: err}
		}
		askAgain := time.Time{}
		if err != nil {
			askAgain = time.Now().Add(time.Second)
		}
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			st := c.Status()
			if !slices.Contains(st.Running, name) && !slices.Contains(st.Stopped, name) {
				return nil
			}
			if !askAgain.IsZero() && time.Now().After(askAgain) && c.links.Has(name) {
				askAgain = time.Time{}
				if _, err := c.links.Call(ctx, name, opLeave, []byte(c.self)); err != nil && !errors.Is(err, peerlink.ErrLinkClosed) {
					return &emqxterm.Error{Reason: emqxterm.ReasonNodeDown, Node: name, Err: err}
				}
			}
			if time.Now().After(deadline) {
				return &emqxterm.Error{Reason: emqxterm.ReasonNodeDown, Node: name, Err: errors.New("did not leave within 15s")}
			}
		}
	case slices.Contains(st.Stopped, name):
		c.forget(name)
		return nil
	}
	return &emqxterm.Error{Reason: emqxterm.ReasonNotInCluster}
}

// forget drops a stopped member here and tells every member to do the same.
func (c *Cluster) forget(name string) {
	c.mu.Lock()
	s := c.serf
	delete(c.rec.Members, name)
	delete(c.down, name)
	delete(c.retry, name)
	c.forgotten[name] = true
	c.saveLocked()
	c.mu.Unlock()
	if s != nil {
		_ = s.RemoveFailedNodePrune(name)
		if err := s.UserEvent(eventForget, []byte(name), false); err != nil {
			c.log.Warn("cannot broadcast removal", zap.String("node", name), zap.Error(err))
		}
	}
	c.links.Drop(name)
	c.h.PeerGone(name)
	c.log.Info("removed node from the cluster", zap.String("node", name))
}

const (
	opLeave       = "leave"    // request: the caller force-leaves us
	eventForget   = "forget"   // serf user event: payload is a removed node's name
	eventUnforget = "unforget" // serf user event: a removed node was let in by an explicit join
)

// unforget lets a force-left node in again (an explicit join); broadcast
// tells the other members.
func (c *Cluster) unforget(name string, broadcast bool) {
	c.mu.Lock()
	was := c.forgotten[name]
	delete(c.forgotten, name)
	s := c.serf
	c.mu.Unlock()
	if was && broadcast && s != nil {
		_ = s.UserEvent(eventUnforget, []byte(name), false)
	}
}

func (c *Cluster) saveLocked() {
	if err := c.rec.save(); err != nil {
		c.log.Error("cannot persist the member record", zap.String("file", c.rec.path), zap.Error(err))
	}
}

// admit decides whether a dialer that passed the cookie and cluster-name
// checks may open a link: a join is always admitted; a member link only
// while this node's record still lists the dialer. The record, not gossip,
// decides: force-leave removes a node from every record, so a removed node
// that restarts with stale state is refused (sticky) even while gossip has
// not caught up.
func (c *Cluster) admit(peer, want string) error {
	if want == peerlink.WantProbe {
		return nil
	}
	if want == peerlink.WantJoin {
		c.unforget(peer, true)
		c.mu.Lock()
		delete(c.blocked, peer)
		c.open = true
		c.mu.Unlock()
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.rec.Members[peer]; ok && !c.forgotten[peer] {
		c.open = true
		return nil
	}
	return &emqxterm.Error{Reason: emqxterm.ReasonNotMember, Node: peer}
}
