package broker

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"emqxgo/internal/nowait"
)

// What each listener does at accept, as EMQX 4.4's esockd does:
//
//   - max_conn_rate: a token bucket of that many accepts per second (its
//     burst as large); beyond it the accept loop waits and clients wait in
//     the listen backlog.
//   - max_connections: a connection beyond that many open on the listener
//     is closed right after accept.
//   - access rules: a connection from an address they deny is closed right
//     after accept, before anything is read from it; with the PROXY
//     protocol, once its header has named the client's address.
//   - proxy_protocol: the connection starts with a PROXY header (v1 or v2,
//     proxyproto.go), read within proxy_protocol_timeout; its source is
//     the connection's RemoteAddr from then on (mochi's cl.Net.Remote, the
//     ACL's %a, the access rules, the logs).
//
// Refusals are counted (Broker.ListenerStats) and logged at most once per
// refusalLogWindow per listener and reason.

// refusalLogWindow: at most one log line per listener and reason in it.
const refusalLogWindow = 10 * time.Second

var (
	errAccessDenied = errors.New("connection refused by the listener's access rules")
	errConnClosed   = errors.New("connection closed")
)

// ListenerStats counts a listener's connections: open now, and refused
// since start by reason.
type ListenerStats struct {
	Open          int64
	RefusedMax    int64 // over max_connections
	RefusedAccess int64 // denied by the access rules
	RefusedProxy  int64 // PROXY header missing, late or malformed
}

// ListenerStats returns each running listener's connection counts by listener id
// ("tcp:external").
func (b *Broker) ListenerStats() map[string]ListenerStats {
	ls := b.running()
	m := make(map[string]ListenerStats, len(ls))
	for _, l := range ls {
		m[l.id] = l.stats()
	}
	return m
}

// guardLn is the listener's TCP listener with the checks at accept: it
// hands out only admitted connections, as *lconn.
type guardLn struct {
	net.Listener
	l *listener
}

func (g guardLn) Accept() (net.Conn, error) {
	for {
		if err := g.l.waitRate(); err != nil {
			return nil, err
		}
		c, err := g.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if lc := g.l.admit(c); lc != nil {
			return lc, nil
		}
	}
}

// waitRate takes a token of max_conn_rate, waiting for it if need be; it
// fails once the listener is closed.
func (l *listener) waitRate() error {
	if l.rate == nil {
		return nil
	}
	r := l.rate.Reserve()
	d := r.Delay()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	select {
	case <-t.C:
		return nil
	case <-l.done:
		t.Stop()
		r.Cancel()
		return net.ErrClosed
	}
}

// admit applies max_connections and, without the PROXY protocol, the
// access rules to a connection just accepted: nil if it was refused (and
// closed).
func (l *listener) admit(c net.Conn) *lconn {
	if m := l.conf.MaxConnections; m > 0 && l.open.Load() >= int64(m) {
		l.refused(&l.refusedMax, "max_connections", c.RemoteAddr(), nil) // counted before the client sees the close
		_ = c.Close()
		return nil
	}
	if !l.conf.ProxyProtocol && !l.allows(c.RemoteAddr()) {
		l.refused(&l.refusedAccess, "access", c.RemoteAddr(), nil)
		_ = c.Close()
		return nil
	}
	l.open.Add(1)
	lc := &lconn{Conn: c, l: l, proxy: l.conf.ProxyProtocol, rd: nowait.NewReader(c)}
	if lc.proxy {
		// Until its header is read the connection is the listener's to
		// close on Stop (closeConns).
		l.mu.Lock()
		if l.pending == nil {
			l.pending = map[*lconn]struct{}{}
		}
		l.pending[lc] = struct{}{}
		l.mu.Unlock()
	}
	return lc
}

// allows applies the access rules to addr (allowed when it is no IP address).
func (l *listener) allows(addr net.Addr) bool {
	if len(l.conf.Access) == 0 {
		return true
	}
	a, ok := addr.(*net.TCPAddr)
	if !ok {
		return true
	}
	return l.conf.Allows(a.IP)
}

// refused counts a refusal and logs it, once per refusalLogWindow for the
// listener and reason, with the count so far.
func (l *listener) refused(n *atomic.Int64, reason string, remote net.Addr, err error) {
	total := n.Add(1)
	if !l.rlog.First(reason) {
		return
	}
	fields := []zap.Field{zap.String("listener", l.id), zap.String("reason", reason), zap.Int64("refused_total", total)}
	if remote != nil {
		fields = append(fields, zap.String("remote", remote.String()))
	}
	if err != nil {
		fields = append(fields, zap.Error(err))
	}
	l.log.Warn("connections refused (logged once per 10s per listener and reason)", fields...)
}

// lconn is an admitted connection: it counts as open on its listener until
// closed, and with the PROXY protocol it reads the header first (handshake)
// and gives the client's address as RemoteAddr. The hot path is one
// sync.Once check and a length test per Read.
type lconn struct {
	net.Conn
	l      *listener
	proxy  bool
	closed atomic.Bool

	hsOnce sync.Once
	hsErr  error
	remote net.Addr // from the PROXY header; nil: the connection's own
	rest   []byte   // bytes read with the header, served first
	// rd reads a plain TCP socket without the scheduler's system-call
	// bookkeeping (not Usable: c.Conn's own Read).
	rd nowait.Reader
}

// handshake reads the PROXY header (on first need: Read, RemoteAddr, or
// the listener before serving) and applies the access rules to the address
// it names. On failure the connection is closed.
func (c *lconn) handshake() error {
	if c.proxy {
		c.hsOnce.Do(c.readHeader)
	}
	return c.hsErr
}

func (c *lconn) readHeader() {
	l := c.l
	defer func() {
		l.mu.Lock()
		delete(l.pending, c)
		l.mu.Unlock()
	}()
	timeout := l.conf.ProxyProtocolTimeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	_ = c.Conn.SetReadDeadline(time.Now().Add(timeout))
	h, rest, err := readProxyHeader(c.Conn, make([]byte, proxyBufSize))
	if err != nil {
		c.hsErr = err
		if !l.isClosed() {
			l.refused(&l.refusedProxy, "proxy_protocol", c.Conn.RemoteAddr(), err)
		}
		_ = c.Close()
		return
	}
	// Callers set their own deadlines after the handshake (the TCP loop
	// before serving; net/http asks RemoteAddr first thing, before any).
	_ = c.Conn.SetReadDeadline(time.Time{})
	if len(rest) > 0 {
		c.rest = rest
	}
	if h.src != nil {
		c.remote = h.src
	}
	addr := c.Conn.RemoteAddr()
	if h.src != nil {
		addr = h.src
	}
	if !l.allows(addr) { // (not c.RemoteAddr: it waits for this handshake)
		c.hsErr = errAccessDenied
		l.refused(&l.refusedAccess, "access", addr, nil)
		_ = c.Close()
	}
}

func (c *lconn) Read(p []byte) (int, error) {
	if c.proxy {
		if err := c.handshake(); err != nil {
			return 0, err
		}
		if len(c.rest) > 0 {
			n := copy(p, c.rest)
			c.rest = c.rest[n:]
			if len(c.rest) == 0 {
				c.rest = nil
			}
			return n, nil
		}
	}
	return nowait.ReadConn(&c.rd, c.Conn, p)
}

// RemoteAddr is the client's address: the PROXY header's source, if any.
func (c *lconn) RemoteAddr() net.Addr {
	if c.proxy {
		_ = c.handshake()
		if c.remote != nil {
			return c.remote
		}
	}
	return c.Conn.RemoteAddr()
}

// Close closes the connection and frees its place on the listener; safe
// to call more than once.
func (c *lconn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return errConnClosed
	}
	c.l.open.Add(-1)
	return c.Conn.Close()
}

// newRate is max_conn_rate's bucket, nil when unlimited.
func newRate(perSecond int) *rate.Limiter {
	if perSecond <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(perSecond), perSecond)
}

// ListenerInfo is one listener as `emqx_ctl listeners` shows it.
type ListenerInfo struct {
	ID       string // "tcp:external"
	Addr     string // bound address
	MaxConns int    // 0: no limit
	ListenerStats
}

// Listeners returns every running listener (not those stopped:
// listenerctl.go) in the order of the configuration.
func (b *Broker) Listeners() []ListenerInfo {
	ls := b.running()
	out := make([]ListenerInfo, 0, len(ls))
	for _, l := range ls {
		out = append(out, ListenerInfo{ID: l.id, Addr: l.Address(), MaxConns: l.conf.MaxConnections, ListenerStats: l.stats()})
	}
	return out
}

// stats are l's counts now.
func (l *listener) stats() ListenerStats {
	return ListenerStats{Open: l.open.Load(), RefusedMax: l.refusedMax.Load(),
		RefusedAccess: l.refusedAccess.Load(), RefusedProxy: l.refusedProxy.Load()}
}
