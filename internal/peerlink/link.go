package peerlink

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"emqxgo/internal/emqxterm"
	"emqxgo/internal/ratelog"
)

// ErrLinkClosed is returned for calls on a link that went away.
var ErrLinkClosed = errors.New("peer link closed")

// sendQueue bounds frames waiting to be written on one link; a full queue
// blocks the sender (back-pressure) instead of growing memory.
const sendQueue = 1024

// Handler receives what peers send.
type Handler interface {
	// Request answers a call; it runs in its own goroutine.
	Request(peer, op string, body []byte) ([]byte, error)
	// Notify handles a one-way message, in arrival order per link;
	// behind: the next frame, a one-way message too, was read already:
	// Notify is called again before the link waits for input (with op ""
	// and no body if the link ends first).
	Notify(peer, op string, body []byte, behind bool)
	// LinkUp and LinkDown report a peer's link coming and going; epoch is
	// the peer's start time, so a restarted peer is told from a reconnect.
	LinkUp(peer string, epoch int64)
	LinkDown(peer string)
	// PeerGone reports a peer that membership now lists as stopped or that
	// left the cluster: its routes go at once.
	PeerGone(peer string)
}

// Config is what the links of one node need.
type Config struct {
	Self        string // this node's name
	ClusterName string // cluster.name: peers of another are refused
	Cookie      string // node.cookie: both sides prove it, it never crosses the wire
	Epoch       int64  // when this node started (unix nanos), told to peers
	// LocalIP is the source address of dials (the node's own IP); nil: any.
	LocalIP net.IP
	// ServerTLS and ClientTLS put the links on mutual TLS (rpc.driver = ssl).
	ServerTLS *tls.Config
	ClientTLS func(peerHost string) *tls.Config
	// Admit decides whether a dialer that proved the cookie and the cluster
	// name may go on with its intent (WantJoin, WantMember, WantProbe); an
	// *emqxterm.Error refuses it with that reason. nil admits every dialer.
	Admit func(peer, want string) error
	Log   *zap.Logger
}

// Links owns the peer links of one node: the listener, the handshakes, and
// one live link per peer.
type Links struct {
	cfg       Config
	key       []byte
	log       *zap.Logger
	logged    *ratelog.Limiter
	localAddr *net.TCPAddr // source address of dials: the node's own IP
	hsTimeout time.Duration
	unproven  gate // connections accepted that have not finished the handshake
	quit      chan struct{}

	h      Handler
	ln     net.Listener
	mu     sync.Mutex
	links  map[string]*link
	gen    map[string]uint64 // per peer, bumped for every link registered
	closed bool
	wg     sync.WaitGroup
}

type link struct {
	ls     *Links
	peer   string
	conn   net.Conn
	dialer bool // this node dialed
	out    chan []byte
	done   chan struct{}
	once   sync.Once

	nextID  atomic.Uint64
	mu      sync.Mutex
	pending map[uint64]chan *frame

	queued, written atomic.Uint64 // frames handed to the writer, frames flushed to the socket

	// wmu: held while frames are written to conn (writeLoop, tryWrite).
	wmu    sync.Mutex
	direct direct
}

// New builds the links of one node; it binds nothing (see Serve).
func New(cfg Config) *Links {
	if cfg.Admit == nil {
		cfg.Admit = func(string, string) error { return nil }
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	ls := &Links{cfg: cfg, key: linkKey(cfg.Cookie), log: cfg.Log, logged: ratelog.New(10 * time.Minute),
		hsTimeout: handshakeTimeout, quit: make(chan struct{}), links: map[string]*link{}, gen: map[string]uint64{}}
	if cfg.LocalIP != nil {
		ls.localAddr = &net.TCPAddr{IP: cfg.LocalIP}
	}
	return ls
}

// Self is this node's name.
func (ls *Links) Self() string { return ls.cfg.Self }

// Serve hands peers' traffic to h and accepts links on ln in the
// background until Close. Call it once, before the first Dial.
func (ls *Links) Serve(ln net.Listener, h Handler) {
	ls.mu.Lock()
	ls.h, ls.ln = h, ln
	closed := ls.closed
	ls.mu.Unlock()
	if closed {
		_ = ln.Close()
		return
	}
	ls.wg.Add(1)
	go ls.serve()
}

// logOnce logs a handshake problem once per key and window. The key
// names what the problem is about as this node saw it (the source of a
// connection, the peer this node dialed), never a name a peer claims: a
// stranger claiming a member's name must not silence that member's lines.
// peer, claimed by the other side, is logged quoted and cut short.
func (ls *Links) logOnce(key, msg, peer string, addr net.Addr, fields ...zap.Field) {
	if !ls.logged.First(key) {
		return
	}
	fs := []zap.Field{zap.Stringer("remote", addr)}
	if peer != "" {
		fs = append(fs, zap.String("peer", clip(peer, maxLogValue)))
	}
	ls.log.Warn(msg, append(fs, fields...)...)
}

// logFrom logs a problem of kind with a connection from src (see
// sourceOf) once per source and window. The source is in the message too:
// the node's log writes a message repeated within seconds once (package
// logging), and a stranger's line must not hide a genuine node's.
func (ls *Links) logFrom(src, kind, msg, peer string, addr net.Addr, fields ...zap.Field) {
	ls.logOnce(kind+":"+src, msg+" (from "+src+")", peer, addr, fields...)
}

// serve accepts links until the listener closes. A connection beyond the
// bounds on unproven ones (see gate) is closed before a byte is read.
func (ls *Links) serve() {
	defer ls.wg.Done()
	var backoff time.Duration
	for {
		c, err := ls.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors, say, under a flood: the port must
			// not go deaf for good, so wait a little and accept again.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			ls.logOnce("accept", "cluster port cannot accept; retrying", "", ls.ln.Addr(), zap.String("error", clip(err.Error(), maxLogError)))
			select {
			case <-ls.quit:
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		src := sourceOf(c.RemoteAddr())
		if !ls.unproven.enter(src) {
			_ = c.Close()
			ls.logFrom(src, "crowd", "too many connections on the cluster port that have not proved the cookie; closing the extra ones", "", c.RemoteAddr(),
				zap.Int("max_per_source", maxUnprovenPerSource), zap.Int("max_total", maxUnproven))
			continue
		}
		ls.wg.Add(1)
		go func() {
			defer ls.wg.Done()
			ls.accept(c, src)
		}()
	}
}

func (ls *Links) accept(c net.Conn, src string) {
	if ls.cfg.ServerTLS != nil {
		c = tls.Server(c, ls.cfg.ServerTLS)
	}
	// Until the proof, a small buffer: a frame is 1 KB at most.
	r := bufio.NewReaderSize(newSockReader(c), 2*maxHandshakeFrame)
	h, err := ls.acceptHandshake(c, r, src)
	ls.unproven.leave(src)
	if err != nil {
		switch {
		case emqxterm.ReasonOf(err) != "": // refusals were logged where decided
		case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
			// a port probe (see probeDown) or a scanner that hung up: nothing to say
			ls.log.Debug("connection closed before the handshake", zap.Stringer("remote", c.RemoteAddr()))
		default:
			ls.logFrom(src, "handshake", "peer link handshake failed", "", c.RemoteAddr(), zap.String("error", clip(err.Error(), maxLogError)))
		}
		_ = c.Close()
		return
	}
	if h.want == WantProbe {
		_ = c.Close()
		return
	}
	// A link's buffer, over the small one: what the small one holds is
	// read first, and then reads of 2 KB or more pass through it to c.
	ls.add(h.node, h.epoch, c, bufio.NewReaderSize(r, 32<<10), false)
}

// Probe runs a handshake with peer and hangs up: it tells whether the peer
// answers with our cookie and cluster name, and since when it runs.
func (ls *Links) Probe(ctx context.Context, peer, addr string) (int64, error) {
	d := net.Dialer{Timeout: 3 * time.Second}
	if ls.localAddr != nil {
		d.LocalAddr = ls.localAddr
	}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, &emqxterm.Error{Reason: emqxterm.ReasonNodeDown, Node: peer, Err: err}
	}
	defer c.Close()
	if ls.cfg.ClientTLS != nil {
		host, _, _ := net.SplitHostPort(addr)
		c = tls.Client(c, ls.cfg.ClientTLS(host))
	}
	return ls.dialHandshake(c, bufio.NewReader(c), peer, WantProbe)
}

// Dial connects to peer at addr and runs the handshake with intent want.
func (ls *Links) Dial(ctx context.Context, peer, addr, want string) error {
	d := net.Dialer{Timeout: 3 * time.Second}
	if ls.localAddr != nil {
		d.LocalAddr = ls.localAddr
	}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return &emqxterm.Error{Reason: emqxterm.ReasonNodeDown, Node: peer, Err: err}
	}
	if ls.cfg.ClientTLS != nil {
		host, _, _ := net.SplitHostPort(addr)
		c = tls.Client(c, ls.cfg.ClientTLS(host))
	}
	r := bufio.NewReaderSize(newSockReader(c), 32<<10)
	epoch, err := ls.dialHandshake(c, r, peer, want)
	if err != nil {
		_ = c.Close()
		return err
	}
	if ls.add(peer, epoch, c, r, true) == nil {
		return &emqxterm.Error{Reason: emqxterm.ReasonNodeDown, Node: peer, Err: ErrLinkClosed}
	}
	return nil
}

// add registers a handshaken connection. With two links to one peer (both
// dialed at once) both sides keep the one dialed by the smaller name.
func (ls *Links) add(peer string, epoch int64, c net.Conn, r *bufio.Reader, dialer bool) *link {
	l := &link{ls: ls, peer: peer, conn: c, dialer: dialer, out: make(chan []byte, sendQueue),
		done: make(chan struct{}), pending: map[uint64]chan *frame{}}
	l.direct.init(c)
	ls.mu.Lock()
	if ls.closed {
		ls.mu.Unlock()
		_ = c.Close()
		return nil
	}
	old := ls.links[peer]
	if old != nil {
		preferNew := dialer == (ls.cfg.Self < peer)
		if !preferNew {
			ls.mu.Unlock()
			_ = c.Close()
			return old
		}
	}
	ls.links[peer] = l
	ls.gen[peer]++
	ls.wg.Add(2)
	ls.mu.Unlock()
	if old != nil {
		old.close(nil)
	}
	go l.writeLoop()
	go l.readLoop(r)
	ls.h.LinkUp(peer, epoch)
	return l
}

// get returns the live link to peer, or nil.
func (ls *Links) get(peer string) *link {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.links[peer]
}

// Peers lists the peers with a live link.
func (ls *Links) Peers() []string {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	out := make([]string, 0, len(ls.links))
	for p := range ls.links {
		out = append(out, p)
	}
	return out
}

// Gen numbers the links to peer: it changes whenever a new link replaces
// the last one, so a sender can tell it has not caught up with LinkUp yet.
func (ls *Links) Gen(peer string) uint64 {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.gen[peer]
}

// Has reports whether a link to peer is up.
func (ls *Links) Has(peer string) bool { return ls.get(peer) != nil }

// Drop closes the link to peer, if any.
func (ls *Links) Drop(peer string) {
	if l := ls.get(peer); l != nil {
		l.close(nil)
	}
}

// Drain waits until every frame queued so far on the live links has been
// written to the socket (a graceful stop, before the links close).
func (ls *Links) Drain(ctx context.Context) error {
	ls.mu.Lock()
	type mark struct {
		l    *link
		upTo uint64
	}
	var ms []mark
	for _, l := range ls.links {
		ms = append(ms, mark{l, l.queued.Load()})
	}
	ls.mu.Unlock()
	for _, m := range ms {
		for m.l.written.Load() < m.upTo {
			select {
			case <-m.l.done:
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(2 * time.Millisecond):
				continue
			}
			break
		}
	}
	return nil
}

// DropAll closes every link except keep's.
func (ls *Links) DropAll(keep string) {
	ls.mu.Lock()
	var all []*link
	for p, l := range ls.links {
		if p != keep {
			all = append(all, l)
		}
	}
	ls.mu.Unlock()
	for _, l := range all {
		l.close(nil)
	}
}

// Close stops accepting, closes every link and waits for their goroutines.
func (ls *Links) Close() {
	ls.mu.Lock()
	if !ls.closed {
		close(ls.quit)
	}
	ls.closed = true
	ln := ls.ln
	ls.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	ls.DropAll("")
	ls.wg.Wait()
}

// Call sends a request to peer over its link and waits for the answer.
func (ls *Links) Call(ctx context.Context, peer, op string, body []byte) ([]byte, error) {
	l := ls.get(peer)
	if l == nil {
		return nil, &emqxterm.Error{Reason: emqxterm.ReasonNodeDown, Node: peer, Err: ErrLinkClosed}
	}
	return l.call(ctx, op, body)
}

// Notify sends a one-way message; it blocks while the link's queue is full.
func (ls *Links) Notify(ctx context.Context, peer, op string, body []byte) error {
	l := ls.get(peer)
	if l == nil {
		return ErrLinkClosed
	}
	return l.send(ctx, &frame{Type: frameNotify, Op: op, Body: body})
}

// TryNotify sends a one-way message only if it can do so at once, on the
// link of generation gen: false if that link is gone or its queue is full.
// The caller's goroutine writes it itself (tryWrite) when nothing is ahead
// of it; otherwise the link's writer does.
func (ls *Links) TryNotify(peer string, gen uint64, op string, body []byte) bool {
	ls.mu.Lock()
	l := ls.links[peer]
	ok := l != nil && ls.gen[peer] == gen
	ls.mu.Unlock()
	if !ok {
		return false
	}
	b, err := appendFrame(nil, &frame{Type: frameNotify, Op: op, Body: body})
	if err != nil {
		return false
	}
	if l.tryWrite(b) {
		return true
	}
	select {
	case l.out <- b:
		l.queued.Add(1)
		return true
	default:
		return false
	}
}

func (l *link) send(ctx context.Context, f *frame) error {
	b, err := appendFrame(nil, f)
	if err != nil {
		return err
	}
	select {
	case l.out <- b:
		l.queued.Add(1)
		return nil
	case <-l.done:
		return ErrLinkClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *link) call(ctx context.Context, op string, body []byte) ([]byte, error) {
	id := l.nextID.Add(1)
	ch := make(chan *frame, 1)
	l.mu.Lock()
	l.pending[id] = ch
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.pending, id)
		l.mu.Unlock()
	}()
	if err := l.send(ctx, &frame{Type: frameRequest, ID: id, Op: op, Body: body}); err != nil {
		return nil, err
	}
	select {
	case f := <-ch:
		if f.Err != "" {
			return nil, &emqxterm.Error{Reason: f.Err, Node: l.peer}
		}
		return f.Body, nil
	case <-l.done:
		return nil, ErrLinkClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *link) writeLoop() {
	defer l.ls.wg.Done()
	w := bufio.NewWriterSize(l.conn, 64<<10)
	for {
		var first []byte
		select {
		case first = <-l.out:
		case <-l.direct.kick:
		case <-l.done:
			return
		}
		if err := l.writeBatch(w, first); err != nil {
			l.close(err)
			return
		}
	}
}

// writeBatch writes what tryWrite left over, first (nil: none) and
// whatever else is queued, in one flush.
func (l *link) writeBatch(w *bufio.Writer, first []byte) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	n, err := l.writeRest(w)
	if err != nil {
		return err
	}
	if first != nil {
		if _, err := w.Write(first); err != nil {
			return err
		}
		n++
		for more := true; more; {
			select {
			case b := <-l.out:
				if _, err := w.Write(b); err != nil {
					return err
				}
				n++
			default:
				more = false
			}
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	l.written.Add(n)
	return nil
}

func (l *link) readLoop(r *bufio.Reader) {
	defer l.ls.wg.Done()
	behind := false // the last Notify said another follows
	for {
		f, err := readFrame(r)
		if err != nil {
			if behind {
				l.ls.h.Notify(l.peer, "", nil, false)
			}
			l.close(err)
			return
		}
		switch f.Type {
		case frameRequest:
			l.ls.wg.Add(1)
			go func() {
				defer l.ls.wg.Done()
				resp := &frame{Type: frameResponse, ID: f.ID}
				body, err := l.ls.h.Request(l.peer, f.Op, f.Body)
				if err != nil {
					resp.Err = emqxterm.ReasonOf(err)
					if resp.Err == "" {
						resp.Err = err.Error()
					}
				}
				resp.Body = body
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = l.send(ctx, resp)
			}()
		case frameResponse:
			l.mu.Lock()
			ch := l.pending[f.ID]
			l.mu.Unlock()
			if ch != nil {
				ch <- f
			}
		case frameNotify:
			behind = notifyBuffered(r)
			l.ls.h.Notify(l.peer, f.Op, f.Body, behind)
		default:
			l.close(errors.New("unexpected handshake frame on an open link"))
			return
		}
	}
}

// notifyBuffered reports whether r holds the whole of the next frame, and
// it is a one-way message: reading it will not wait for the socket.
func notifyBuffered(r *bufio.Reader) bool {
	if r.Buffered() < 5 {
		return false
	}
	h, err := r.Peek(5)
	if err != nil {
		return false
	}
	return h[4] == frameNotify && uint64(r.Buffered()) >= 4+uint64(binary.BigEndian.Uint32(h))
}

// close ends the link once; err non-nil means it broke (logged at debug:
// membership decides what a lost peer means).
func (l *link) close(err error) {
	l.once.Do(func() {
		close(l.done)
		_ = l.conn.Close()
		l.ls.mu.Lock()
		current := l.ls.links[l.peer] == l
		if current {
			delete(l.ls.links, l.peer)
		}
		l.ls.mu.Unlock()
		var malformed *malformedError
		switch {
		case errors.Is(err, ErrFrameTooLarge) || errors.As(err, &malformed):
			l.ls.log.Warn("peer sent a bad frame; link closed", zap.String("peer", l.peer), zap.Error(err))
		case err != nil:
			l.ls.log.Debug("peer link closed", zap.String("peer", l.peer), zap.Error(err))
		}
		if current {
			l.ls.h.LinkDown(l.peer)
		}
	})
}
