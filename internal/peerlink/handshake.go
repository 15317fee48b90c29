package peerlink

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"time"

	"emqxgo/internal/emqxterm"
)

// protoVersion is the link protocol version sent in the handshake.
const protoVersion = 5 // 2: binary frame layout; 3: takeover inflight in the fabric's message codec; 4: message ids, sessions forwarded after a move; 5: replicated tables (fabric op "table"), retained messages as table entries

// handshakeTimeout bounds the whole handshake on both sides.
const handshakeTimeout = 5 * time.Second

// Intents a dialer states in its hello; Config.Admit decides on them.
const (
	WantJoin   = "join"   // an operator's join: admitted on cookie and cluster name alone
	WantMember = "member" // a member's link or rejoin: the acceptor must still list the dialer
	WantProbe  = "probe"  // autocluster asks "are you there, since when": no link is kept
)

// hello is what the acceptor learned about the dialer.
type hello struct {
	node, cluster, want string
	epoch               int64
}

func nonce() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

func writeFrame(c net.Conn, f *frame) error {
	b, err := appendFrame(nil, f)
	if err != nil {
		return err
	}
	_, err = c.Write(b)
	return err
}

// dialHandshake runs the dialer's side. It returns the acceptor's name and
// start epoch, or an *Error whose reason says why the peer cannot be used.
func (ls *Links) dialHandshake(c net.Conn, r *bufio.Reader, peer, want string) (int64, error) {
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	defer c.SetDeadline(time.Time{})
	fail := func(reason string, err error) (int64, error) {
		return 0, &emqxterm.Error{Reason: reason, Node: peer, Err: err}
	}
	n1 := nonce()
	if err := writeFrame(c, &frame{Type: frameHello, Ver: protoVersion, Node: ls.cfg.Self, Clust: ls.cfg.ClusterName, Nonce: n1, Want: want, Epoch: ls.cfg.Epoch}); err != nil {
		return fail(emqxterm.ReasonNodeDown, err)
	}
	ch, err := readFrameMax(r, maxHandshakeFrame)
	if err != nil {
		return fail(emqxterm.ReasonNodeDown, err)
	}
	if ch.Type == frameRefuse {
		return fail(ch.Err, errors.New("refused by peer"))
	}
	if ch.Type != frameChallenge {
		return fail(emqxterm.ReasonProtocol, fmt.Errorf("expected challenge, got frame type %d", ch.Type))
	}
	if !hmac.Equal(ch.Proof, proof(ls.key, "acceptor", ch.Nonce, n1, ch.Node, ls.cfg.Self)) {
		ls.logOnce("bad_cookie:"+peer, "peer does not share our cookie; refusing it", peer, c.RemoteAddr())
		_ = writeFrame(c, &frame{Type: frameRefuse, Err: emqxterm.ReasonBadCookie})
		return fail(emqxterm.ReasonBadCookie, nil)
	}
	if ch.Node != peer {
		_ = writeFrame(c, &frame{Type: frameRefuse, Err: emqxterm.ReasonNodeNameMismatch})
		return fail(emqxterm.ReasonNodeNameMismatch, fmt.Errorf("address answered as %s", ch.Node))
	}
	if err := writeFrame(c, &frame{Type: frameProof, Proof: proof(ls.key, "dialer", n1, ch.Nonce, ls.cfg.Self, peer)}); err != nil {
		return fail(emqxterm.ReasonNodeDown, err)
	}
	w, err := readFrameMax(r, maxHandshakeFrame)
	if err != nil {
		return fail(emqxterm.ReasonNodeDown, err)
	}
	switch w.Type {
	case frameWelcome:
		return ch.Epoch, nil
	case frameRefuse:
		if w.Err == emqxterm.ReasonBadCookie {
			ls.logOnce("bad_cookie:"+peer, "peer refused our cookie", peer, c.RemoteAddr())
		}
		return fail(w.Err, errors.New("refused by peer"))
	}
	return fail(emqxterm.ReasonProtocol, fmt.Errorf("expected welcome, got frame type %d", w.Type))
}

// acceptHandshake runs the acceptor's side.
func (ls *Links) acceptHandshake(c net.Conn, r *bufio.Reader) (hello, error) {
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	defer c.SetDeadline(time.Time{})
	h, err := readFrameMax(r, maxHandshakeFrame)
	if err != nil {
		return hello{}, fmt.Errorf("read hello: %w", err)
	}
	if h.Type != frameHello || h.Node == "" || len(h.Nonce) < 16 {
		return hello{}, fmt.Errorf("expected hello, got frame type %d", h.Type)
	}
	refuse := func(reason string) (hello, error) {
		_ = writeFrame(c, &frame{Type: frameRefuse, Err: reason})
		return hello{}, &emqxterm.Error{Reason: reason, Node: h.Node}
	}
	if h.Ver != protoVersion {
		return refuse(emqxterm.ReasonProtocol)
	}
	n2 := nonce()
	if err := writeFrame(c, &frame{Type: frameChallenge, Ver: protoVersion, Node: ls.cfg.Self, Clust: ls.cfg.ClusterName, Nonce: n2, Epoch: ls.cfg.Epoch,
		Proof: proof(ls.key, "acceptor", n2, h.Nonce, ls.cfg.Self, h.Node)}); err != nil {
		return hello{}, err
	}
	p, err := readFrameMax(r, maxHandshakeFrame)
	if err != nil {
		return hello{}, fmt.Errorf("read proof: %w", err)
	}
	if p.Type == frameRefuse { // the dialer found our proof wrong
		if p.Err == emqxterm.ReasonBadCookie {
			ls.logOnce("bad_cookie:"+h.Node, "node with a different cookie tried to connect; refused", h.Node, c.RemoteAddr())
		}
		return hello{}, &emqxterm.Error{Reason: p.Err, Node: h.Node}
	}
	if p.Type != frameProof || !hmac.Equal(p.Proof, proof(ls.key, "dialer", h.Nonce, n2, h.Node, ls.cfg.Self)) {
		ls.logOnce("bad_cookie:"+h.Node, "node with a different cookie tried to connect; refused", h.Node, c.RemoteAddr())
		return refuse(emqxterm.ReasonBadCookie)
	}
	if h.Clust != ls.cfg.ClusterName {
		ls.logOnce("cluster_name:"+h.Node, "node of another cluster.name ("+h.Clust+") tried to connect; refused", h.Node, c.RemoteAddr())
		return refuse(emqxterm.ReasonClusterNameMismatch)
	}
	if err := ls.cfg.Admit(h.Node, h.Want); err != nil {
		return refuse(emqxterm.ReasonOf(err))
	}
	if err := writeFrame(c, &frame{Type: frameWelcome}); err != nil {
		return hello{}, err
	}
	return hello{node: h.Node, cluster: h.Clust, want: h.Want, epoch: h.Epoch}, nil
}
