package peerlink

import (
	"net"
	"strconv"
	"sync"
)

// What a connection that has not proved the cookie may cost. Whoever can
// reach the cluster port gets at most a nonce, maxHandshakeFrame bytes read
// per frame, handshakeTimeout of time, one of maxUnproven places (at most
// maxUnprovenPerSource of them per source), and a log line per source and
// window with every value it supplied cut to maxLogValue bytes.
const (
	maxUnproven          = 64
	maxUnprovenPerSource = 8
	// maxName bounds node names and cluster.name in a handshake (an Erlang
	// atom, hence a node name in EMQX, has at most 255 characters).
	maxName     = 255
	maxWant     = 16 // the longest intent is "member"
	nonceLen    = 32
	maxLogValue = 64  // a peer-supplied string in a log line
	maxLogError = 160 // an error text, which may quote the peer
)

// gate counts the connections in their handshake, in total and per source.
type gate struct {
	mu    sync.Mutex
	total int
	per   map[string]int
}

// enter takes a place for a connection from src, or reports false when
// there is none: the connection is then closed without a byte read.
func (g *gate) enter(src string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.total >= maxUnproven || g.per[src] >= maxUnprovenPerSource {
		return false
	}
	if g.per == nil {
		g.per = map[string]int{}
	}
	g.total++
	g.per[src]++
	return true
}

// leave gives back the place taken by enter.
func (g *gate) leave(src string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.total--
	if g.per[src]--; g.per[src] <= 0 {
		delete(g.per, src)
	}
}

// sourceOf is who a connection counts against: its IPv4 address, or the
// /64 of an IPv6 one (a single host usually holds a whole /64).
func sourceOf(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		if a == nil {
			return ""
		}
		host, _, err := net.SplitHostPort(a.String())
		if err != nil {
			return a.String()
		}
		return host
	}
	if v4 := ta.IP.To4(); v4 != nil {
		return v4.String()
	}
	return ta.IP.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// clip renders a peer-supplied string for a log line: quoted (control
// characters escaped), at most n bytes of it, with "..." when cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:n]) + "..."
}
