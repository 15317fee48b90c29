package peerlink

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"time"

	"go.uber.org/zap"

	"emqxgo/internal/emqxterm"
)

// protoVersion is the link protocol version sent in the handshake. It is
// the one thing about a node a stranger on the port learns.
const protoVersion = 6 // 2: binary frame layout; 3: takeover inflight in the fabric's message codec; 4: message ids, sessions forwarded after a move; 5: replicated tables (fabric op "table"), retained messages as table entries; 6: the dialer proves first, the acceptor tells nothing about itself before

// ProtocolVersion is protoVersion, for tests outside the package that
// speak the handshake byte for byte.
const ProtocolVersion = protoVersion

// handshakeTimeout bounds the whole handshake on both sides.
const handshakeTimeout = 5 * time.Second

// Intents a dialer states in its hello; Config.Admit decides on them.
const (
	WantJoin   = "join"   // an operator's join: admitted on cookie and cluster name alone
	WantMember = "member" // a member's link or rejoin: the acceptor must still list the dialer
	WantProbe  = "probe"  // autocluster asks "are you there, since when": no link is kept
)

// The handshake, three frames (key: HMAC key derived from the cookie):
//
//	acceptor -> dialer  challenge {Ver, Nonce nA}                 on connect, nothing else
//	dialer -> acceptor  hello     {Ver, Node, To, Clust, Want, Epoch, Nonce nD,
//	                               Proof = dialerProof(key, nA, hello)}
//	acceptor -> dialer  welcome   {Ver, Node, Clust, Epoch, Proof = acceptorProof(key, nA, nD, welcome, dialer)}
//	                 or refuse    {Err}
//
// The acceptor checks the dialer's proof before it sends anything about
// itself, so a stranger gets a nonce and nothing to guess the cookie on
// offline. A wrong proof gets a bare bad_cookie refusal, the same on every
// node; refusals with more to say (node_name_mismatch,
// cluster_name_mismatch, Admit's reasons) go only to a dialer that proved
// the cookie. The dialer then checks the acceptor's proof: a link is up
// only when both proved. A hello with another protocol number is refused
// with protocol_error, and so is a challenge by the dialer.

// hello is what the acceptor learned about the dialer.
type hello struct {
	node, cluster, want string
	epoch               int64
}

func nonce() []byte {
	b := make([]byte, nonceLen)
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

// refusal is the reason in a peer's refuse frame, kept only when it looks
// like one (a short lower-case atom): a peer's text never reaches a log or
// an operator's screen at length.
func refusal(s string) string {
	if s == "" || len(s) > maxLogValue {
		return emqxterm.ReasonProtocol
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && c != '_' {
			return emqxterm.ReasonProtocol
		}
	}
	return s
}

// dialHandshake runs the dialer's side. It returns the acceptor's start
// epoch, or an *Error whose reason says why the peer cannot be used.
func (ls *Links) dialHandshake(c net.Conn, r *bufio.Reader, peer, want string) (int64, error) {
	_ = c.SetDeadline(time.Now().Add(ls.hsTimeout))
	defer c.SetDeadline(time.Time{})
	fail := func(reason string, err error) (int64, error) {
		return 0, &emqxterm.Error{Reason: reason, Node: peer, Err: err}
	}
	ch, err := readFrameMax(r, maxHandshakeFrame)
	if err != nil {
		return fail(emqxterm.ReasonNodeDown, err)
	}
	switch {
	case ch.Type == frameRefuse:
		return fail(refusal(ch.Err), errors.New("refused by peer"))
	case ch.Type != frameChallenge:
		return fail(emqxterm.ReasonProtocol, fmt.Errorf("expected challenge, got frame type %d", ch.Type))
	case ch.Ver != protoVersion:
		_ = writeFrame(c, &frame{Type: frameRefuse, Err: emqxterm.ReasonProtocol})
		return fail(emqxterm.ReasonProtocol, fmt.Errorf("peer speaks link protocol %d, this node %d", ch.Ver, protoVersion))
	case len(ch.Nonce) != nonceLen:
		return fail(emqxterm.ReasonProtocol, errors.New("challenge without a nonce"))
	}
	h := &frame{Type: frameHello, Ver: protoVersion, Node: ls.cfg.Self, To: peer, Clust: ls.cfg.ClusterName,
		Want: want, Epoch: ls.cfg.Epoch, Nonce: nonce()}
	h.Proof = dialerProof(ls.key, ch.Nonce, h)
	if err := writeFrame(c, h); err != nil {
		return fail(emqxterm.ReasonNodeDown, err)
	}
	w, err := readFrameMax(r, maxHandshakeFrame)
	if err != nil {
		return fail(emqxterm.ReasonNodeDown, err)
	}
	switch w.Type {
	case frameWelcome:
	case frameRefuse:
		reason := refusal(w.Err)
		if reason == emqxterm.ReasonBadCookie {
			ls.logOnce("bad_cookie:"+peer, "peer refused our cookie", peer, c.RemoteAddr())
		}
		return fail(reason, errors.New("refused by peer"))
	default:
		return fail(emqxterm.ReasonProtocol, fmt.Errorf("expected welcome, got frame type %d", w.Type))
	}
	if w.Ver != protoVersion || !hmac.Equal(w.Proof, acceptorProof(ls.key, ch.Nonce, h.Nonce, w, ls.cfg.Self)) {
		// It took our proof without holding the cookie: not one of ours.
		ls.logOnce("bad_cookie:"+peer, "peer does not share our cookie; refusing it", peer, c.RemoteAddr())
		_ = writeFrame(c, &frame{Type: frameRefuse, Err: emqxterm.ReasonBadCookie})
		return fail(emqxterm.ReasonBadCookie, nil)
	}
	if w.Node != peer { // it checked h.To; a peer holding the cookie does not get here
		return fail(emqxterm.ReasonNodeNameMismatch, fmt.Errorf("address answered as %s", clip(w.Node, maxLogValue)))
	}
	if w.Clust != ls.cfg.ClusterName {
		return fail(emqxterm.ReasonClusterNameMismatch, nil)
	}
	return w.Epoch, nil
}

// errBadHello is a hello out of bounds or out of shape.
var errBadHello = errors.New("malformed hello")

// acceptHandshake runs the acceptor's side for a connection from src (see
// sourceOf). Until the dialer's proof checks out, nothing it sent is kept
// past this call, and nothing it did is logged more than once per source
// and window.
func (ls *Links) acceptHandshake(c net.Conn, r *bufio.Reader, src string) (hello, error) {
	_ = c.SetDeadline(time.Now().Add(ls.hsTimeout))
	defer c.SetDeadline(time.Time{})
	nA := nonce()
	if err := writeFrame(c, &frame{Type: frameChallenge, Ver: protoVersion, Nonce: nA}); err != nil {
		return hello{}, fmt.Errorf("send challenge: %w", err)
	}
	h, err := readFrameMax(r, maxHandshakeFrame)
	if err != nil {
		return hello{}, fmt.Errorf("read hello: %w", err)
	}
	switch {
	case h.Type == frameRefuse:
		return hello{}, fmt.Errorf("refused by peer: %s", refusal(h.Err))
	case h.Type != frameHello:
		return hello{}, fmt.Errorf("expected hello, got frame type %d", h.Type)
	case h.Ver != protoVersion:
		_ = writeFrame(c, &frame{Type: frameRefuse, Err: emqxterm.ReasonProtocol})
		return hello{}, fmt.Errorf("peer speaks link protocol %d, this node %d", h.Ver, protoVersion)
	case h.Node == "" || len(h.Node) > maxName || len(h.To) > maxName || len(h.Clust) > maxName ||
		len(h.Want) > maxWant || len(h.Nonce) != nonceLen || len(h.Proof) != len(nA):
		return hello{}, errBadHello
	}
	if !hmac.Equal(h.Proof, dialerProof(ls.key, nA, h)) {
		ls.logFrom(src, "bad_cookie", "node with a different cookie tried to connect; refused", h.Node, c.RemoteAddr())
		_ = writeFrame(c, &frame{Type: frameRefuse, Err: emqxterm.ReasonBadCookie})
		return hello{}, &emqxterm.Error{Reason: emqxterm.ReasonBadCookie, Node: h.Node}
	}
	// The dialer holds the cookie: it may hear why it is refused.
	refuse := func(reason string) (hello, error) {
		_ = writeFrame(c, &frame{Type: frameRefuse, Err: reason})
		return hello{}, &emqxterm.Error{Reason: reason, Node: h.Node}
	}
	if h.To != ls.cfg.Self {
		ls.logFrom(src, "node_name", "node dialed this address for another node name; refused", h.Node, c.RemoteAddr(),
			zap.String("dialed", clip(h.To, maxLogValue)))
		return refuse(emqxterm.ReasonNodeNameMismatch)
	}
	if h.Clust != ls.cfg.ClusterName {
		ls.logFrom(src, "cluster_name", "node of another cluster.name tried to connect; refused", h.Node, c.RemoteAddr(),
			zap.String("cluster_name", clip(h.Clust, maxLogValue)))
		return refuse(emqxterm.ReasonClusterNameMismatch)
	}
	if err := ls.cfg.Admit(h.Node, h.Want); err != nil {
		return refuse(emqxterm.ReasonOf(err))
	}
	w := &frame{Type: frameWelcome, Ver: protoVersion, Node: ls.cfg.Self, Clust: ls.cfg.ClusterName, Epoch: ls.cfg.Epoch}
	w.Proof = acceptorProof(ls.key, nA, h.Nonce, w, h.Node)
	if err := writeFrame(c, w); err != nil {
		return hello{}, err
	}
	return hello{node: h.Node, cluster: h.Clust, want: h.Want, epoch: h.Epoch}, nil
}
