package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/listeners"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"emqxgo/internal/config"
	"emqxgo/internal/metrics"
	"emqxgo/internal/nowait"
	"emqxgo/internal/ratelog"
)

// listener implements mochi's listeners.Listener for tcp, ssl, ws and wss.
// Init binds (so port errors surface at start), Serve accepts, Close stops
// accepting; clients are drained by Broker.Stop.
type listener struct {
	id, addr, proto string // proto: tcp, ssl, ws, wss
	conf            config.Listener
	zone            *config.Zone
	tls             *tls.Config
	wsPath          string
	idle            time.Duration
	maxPacket       uint32
	log             *zap.Logger
	metrics         *metrics.Metrics       // the broker's (nil: not counted)
	gate            func() <-chan struct{} // accept once closed
	done            chan struct{}          // closed by Close
	// serving is closed when mochi's goroutine has entered Serve: Start
	// waits for it, so that a Stop right after Start does not race mochi's
	// start of the goroutine (seen by the race detector).
	serving     chan struct{}
	servingOnce sync.Once

	ln     net.Listener
	http   *http.Server
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
	conns  map[*conn]struct{} // open connections, so Stop can close those that never sent CONNECT

	// connlimit.go: max_conn_rate's bucket (nil: unlimited), connections
	// open, those still before their PROXY header (under mu), refusals.
	rate                                    *rate.Limiter
	open                                    atomic.Int64
	pending                                 map[*lconn]struct{}
	refusedMax, refusedAccess, refusedProxy atomic.Int64
	rlog                                    *ratelog.Limiter
}

var _ listeners.Listener = (*listener)(nil)

func (l *listener) ID() string       { return l.id }
func (l *listener) Protocol() string { return l.proto }

// Address is the bound address once Init has run (real port when configured as 0).
func (l *listener) Address() string {
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.addr
}

// Init binds the TCP listener; TLS is per connection (after a PROXY
// header, which comes before the handshake).
func (l *listener) Init(*slog.Logger) error {
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return err
	}
	l.ln = ln
	l.rate = newRate(l.conf.MaxConnRate)
	l.rlog = ratelog.New(refusalLogWindow)
	return nil
}

func (l *listener) Serve(establish listeners.EstablishFn) {
	l.servingOnce.Do(func() { close(l.serving) })
	if l.gate != nil {
		select {
		case <-l.gate():
		case <-l.done:
			return
		}
	}
	if l.proto == "ws" || l.proto == "wss" {
		l.serveWS(establish)
		return
	}
	g := guardLn{Listener: l.ln, l: l}
	var (
		wait     time.Duration // after a failed accept
		failures int64
	)
	for {
		c, err := g.Accept()
		if err != nil {
			if l.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors (EMFILE, ENFILE), or an aborted
			// connection: the listener keeps accepting, waiting a little
			// longer each time (5 ms up to 1 s), as EMQX's esockd does;
			// the waiting connections stay in the backlog.
			wait = min(max(2*wait, 5*time.Millisecond), time.Second)
			if failures++; l.rlog.First("accept_failed") {
				l.log.Error("accept failed; retrying (logged once per 10s)", zap.String("listener", l.id),
					zap.Int64("failures", failures), zap.Duration("in", wait), zap.Error(err))
			}
			select {
			case <-time.After(wait):
			case <-l.done:
				return
			}
			continue
		}
		wait = 0
		lc := c.(*lconn)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			if lc.handshake() != nil { // PROXY header (closed on failure)
				return
			}
			var nc net.Conn = lc
			if l.tls != nil {
				nc = tls.Server(lc, l.tls)
			}
			l.run(establish, l.newConn(nc))
		}()
	}
}

func (l *listener) run(establish listeners.EstablishFn, c *conn) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		_ = c.Close()
		return
	}
	if l.conns == nil {
		l.conns = map[*conn]struct{}{}
	}
	l.conns[c] = struct{}{}
	l.mu.Unlock()
	defer func() {
		c.subsChanged() // a connection that ended before its CONNACK, or its session with it
		l.mu.Lock()
		delete(l.conns, c)
		l.mu.Unlock()
	}()
	err := establish(l.id, c)
	if err != nil && !errors.Is(err, io.EOF) {
		l.log.Debug("client connection ended", zap.String("listener", l.id),
			zap.String("remote", c.RemoteAddr().String()), zap.Error(err))
	}
}

func (l *listener) serveWS(establish listeners.EstablishFn) {
	up := &websocket.Upgrader{
		Subprotocols:    []string{"mqtt", "mqttv3.1", "mqttv5"},
		CheckOrigin:     func(*http.Request) bool { return true },
		ReadBufferSize:  1024,
		WriteBufferSize: 1024,
	}
	mux := http.NewServeMux()
	mux.HandleFunc(l.wsPath, func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return // the upgrader already answered with an HTTP error
		}
		// No read limit on a message: one may hold several packets, or
		// parts of them [MQTT-6.0.0-2] (a limit of one packet's size
		// closed a connection that sent many small packets in one
		// message). Messages are read as a stream (wsConn), and the
		// connection checks each packet's size (conn.track).
		l.wg.Add(1)
		defer l.wg.Done()
		l.run(establish, l.newConn(&wsConn{Conn: ws.UnderlyingConn(), ws: ws}))
	})
	l.mu.Lock()
	l.http = &http.Server{Handler: mux, ReadHeaderTimeout: l.idle, ErrorLog: nil}
	srv := l.http
	l.mu.Unlock()
	// The checks at accept, then (wss) TLS; a PROXY header is read when
	// net/http first asks the connection's RemoteAddr, before it reads.
	var ln net.Listener = guardLn{Listener: l.ln, l: l}
	if l.tls != nil {
		ln = tls.NewListener(ln, l.tls)
	}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !l.isClosed() {
		l.log.Error("websocket listener stopped", zap.String("listener", l.id), zap.Error(err))
	}
}

func (l *listener) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// Close stops accepting. closeClients is not called: Broker.Stop drains
// clients itself before mochi's Close (mochi issue #488: closing clients per
// listener can deadlock against concurrent disconnects).
func (l *listener) Close(listeners.CloseFn) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	srv := l.http
	l.mu.Unlock()
	if l.done != nil {
		close(l.done)
	}
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = srv.Shutdown(ctx) // closes the listener; hijacked websockets are ours to drain
		cancel()
	}
	if l.ln != nil {
		_ = l.ln.Close()
	}
}

// closeConns closes every connection still open on this listener, and
// those still before their PROXY header.
func (l *listener) closeConns() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		_ = c.Close()
	}
	for c := range l.pending {
		_ = c.Close()
	}
}

// wsConn turns a websocket into a byte stream: binary messages in, one
// binary message per Write out.
type wsConn struct {
	net.Conn
	ws *websocket.Conn
	r  io.Reader
}

func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			op, r, err := c.ws.NextReader()
			if err != nil {
				return 0, err
			}
			if op != websocket.BinaryMessage {
				return 0, fmt.Errorf("websocket: MQTT needs binary frames, got type %d", op)
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (c *wsConn) Write(p []byte) (int, error) {
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *wsConn) Close() error { return c.ws.Close() }

// newConn wraps a client's connection with the listener's settings.
func (l *listener) newConn(nc net.Conn) *conn {
	c := newConn(nc, l.idle, l.maxPacket)
	if lc, ok := nc.(*lconn); ok {
		if tc, ok := lc.Conn.(*net.TCPConn); ok {
			c.raw = nowait.New(tc)
		}
	}
	c.m = l.metrics
	if l.zone != nil {
		c.backoff = l.zone.KeepaliveBackoff
	}
	return c
}
