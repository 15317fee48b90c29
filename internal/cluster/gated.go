package cluster

import (
	"net"
	"sync"

	"github.com/hashicorp/memberlist"
)

// gatedTransport drops incoming gossip until Open: serf.Create starts
// memberlist before it sets the fields that answering a peer reads (serf
// v0.11 assigns its key manager after memberlist.Create, and a ping that
// arrives in between is answered with broadcasts that read it: a data race
// the race detector caught when a peer pinged a restarting node at once).
// Gossip is best effort: a peer whose ping or push-pull is dropped in those
// milliseconds tries again.
type gatedTransport struct {
	memberlist.Transport
	packets  chan *memberlist.Packet
	streams  chan net.Conn
	open     chan struct{}
	done     chan struct{}
	openOnce sync.Once
	stopOnce sync.Once
	wg       sync.WaitGroup
}

func newGatedTransport(inner memberlist.Transport) *gatedTransport {
	g := &gatedTransport{Transport: inner, packets: make(chan *memberlist.Packet), streams: make(chan net.Conn),
		open: make(chan struct{}), done: make(chan struct{})}
	g.wg.Add(1)
	go g.forward()
	return g
}

func (g *gatedTransport) PacketCh() <-chan *memberlist.Packet { return g.packets }
func (g *gatedTransport) StreamCh() <-chan net.Conn           { return g.streams }

// Open lets gossip through.
func (g *gatedTransport) Open() { g.openOnce.Do(func() { close(g.open) }) }

func (g *gatedTransport) isOpen() bool {
	select {
	case <-g.open:
		return true
	default:
		return false
	}
}

// forward always drains the inner transport (its listeners block until
// someone reads, also while it shuts down).
func (g *gatedTransport) forward() {
	defer g.wg.Done()
	for {
		select {
		case p := <-g.Transport.PacketCh():
			if !g.isOpen() {
				continue
			}
			select {
			case g.packets <- p:
			case <-g.done:
				return
			}
		case c := <-g.Transport.StreamCh():
			if !g.isOpen() {
				_ = c.Close()
				continue
			}
			select {
			case g.streams <- c:
			case <-g.done:
				_ = c.Close()
				return
			}
		case <-g.done:
			return
		}
	}
}

// Shutdown stops the inner transport (memberlist still reads while it
// does), then the forwarding.
func (g *gatedTransport) Shutdown() error {
	err := g.Transport.Shutdown()
	g.stopOnce.Do(func() { close(g.done) })
	g.wg.Wait()
	return err
}
