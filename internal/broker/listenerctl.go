package broker

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Stopping and restarting a listener while the node runs, as EMQX 4.4's
// emqx_listeners does with esockd (tcp, ssl) and cowboy (ws, wss): the
// listener's supervisor goes, and with it the connections it accepted
// (esockd's connection supervisor kills them; here they are closed, as a
// dropped network connection). A stopped listener is no longer listed
// (Listeners, Addrs) and its port is free; restarting binds again on the
// address it had, with fresh counts.

// ErrListenerNotFound: no such listener, or none running (esockd's
// not_found).
var ErrListenerNotFound = errors.New("not_found")

// errBrokerStopping: the broker is stopping; its listeners stay closed.
var errBrokerStopping = errors.New("node_stopping")

// listenerCtl is what the stops and restarts keep: which listeners are
// stopped, and the listeners closed by them (Stop waits for their
// connections' goroutines too). mu also guards Broker.listeners, whose
// slots restarts replace.
type listenerCtl struct {
	mu      sync.RWMutex
	stopped map[string]bool
	retired []*listener
	closing bool // Broker.Stop began
}

// current returns the listeners' slots in the order of the configuration
// (running and stopped).
func (b *Broker) current() []*listener {
	b.ctl.mu.RLock()
	defer b.ctl.mu.RUnlock()
	return slices.Clone(b.listeners)
}

// running returns the listeners that run now, in the order of the
// configuration.
func (b *Broker) running() []*listener {
	b.ctl.mu.RLock()
	defer b.ctl.mu.RUnlock()
	out := make([]*listener, 0, len(b.listeners))
	for _, l := range b.listeners {
		if !b.ctl.stopped[l.id] {
			out = append(out, l)
		}
	}
	return out
}

// closeAll closes every listener for Broker.Stop (no stop or restart
// after it) and returns them all, those that stops and restarts closed
// before included, for the drain.
func (b *Broker) closeAll() []*listener {
	b.ctl.mu.Lock()
	b.ctl.closing = true
	all := append(slices.Clone(b.listeners), b.ctl.retired...)
	b.ctl.mu.Unlock()
	for _, l := range all {
		l.Close(nil)
	}
	return all
}

// ListenerState tells of listener id ("tcp:external") whether the node
// has it, whether it runs, and the address it is (or was last) bound to.
func (b *Broker) ListenerState(id string) (addr string, running, ok bool) {
	b.ctl.mu.RLock()
	defer b.ctl.mu.RUnlock()
	for _, l := range b.listeners {
		if l.id == id {
			return l.Address(), !b.ctl.stopped[l.id], true
		}
	}
	return "", false, false
}

// StopListener stops listener id: its port is closed and the connections
// it accepted are closed. ErrListenerNotFound if it does not run.
func (b *Broker) StopListener(id string) error {
	b.ctl.mu.Lock()
	defer b.ctl.mu.Unlock()
	if b.ctl.closing {
		return errBrokerStopping
	}
	i := slices.IndexFunc(b.listeners, func(l *listener) bool { return l.id == id })
	if i < 0 || b.ctl.stopped[id] {
		return ErrListenerNotFound
	}
	b.closeLocked(b.listeners[i])
	if b.ctl.stopped == nil {
		b.ctl.stopped = map[string]bool{}
	}
	b.ctl.stopped[id] = true
	b.log.Info("listener stopped", zap.String("listener", id), zap.String("address", b.listeners[i].Address()))
	return nil
}

// closeLocked takes running listener l out of mochi's, closes it and the
// connections it accepted (under ctl.mu).
func (b *Broker) closeLocked(l *listener) {
	b.srv.Listeners.Delete(l.id)
	l.Close(nil)
	l.closeConns()
	b.ctl.retired = append(b.ctl.retired, l)
}

// RestartListener closes listener id if it runs (and the connections it
// accepted) and binds it again on the address it had, with the same
// settings. If binding fails the listener is left stopped and the error
// (a *ListenerError) returned. ErrListenerNotFound: the node has no
// listener id.
func (b *Broker) RestartListener(id string) error {
	b.ctl.mu.Lock()
	defer b.ctl.mu.Unlock()
	if b.ctl.closing {
		return errBrokerStopping
	}
	i := slices.IndexFunc(b.listeners, func(l *listener) bool { return l.id == id })
	if i < 0 {
		return ErrListenerNotFound
	}
	old := b.listeners[i]
	if !b.ctl.stopped[id] {
		b.closeLocked(old)
		if b.ctl.stopped == nil {
			b.ctl.stopped = map[string]bool{}
		}
		b.ctl.stopped[id] = true
	}
	nl := old.fresh()
	if err := b.srv.AddListener(nl); err != nil {
		return &ListenerError{Key: "listener." + strings.Replace(id, ":", ".", 1), Addr: nl.addr, Err: err}
	}
	b.listeners[i] = nl
	delete(b.ctl.stopped, id)
	b.srv.Listeners.Serve(id, b.srv.EstablishConnection)
	select {
	case <-nl.serving:
	case <-time.After(5 * time.Second): // mochi starts it at once; never wait unbounded
	}
	b.log.Info("listener restarted", zap.String("listener", id), zap.String("address", nl.Address()))
	return nil
}

// fresh is a new listener with l's settings on the address l was bound to
// (its real port where the configuration said 0), not bound yet.
func (l *listener) fresh() *listener {
	return &listener{id: l.id, addr: l.Address(), proto: l.proto, wsPath: l.wsPath, conf: l.conf, zone: l.zone, tls: l.tls,
		idle: l.idle, maxPacket: l.maxPacket, log: l.log, metrics: l.metrics, gate: l.gate, done: make(chan struct{}),
		serving: make(chan struct{})}
}
