package peerlink

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"emqxgo/internal/wire"
)

// MaxFrame bounds one frame's body after the handshake; a peer announcing
// more is cut off. A node accepts MQTT packets up to mqtt.max_packet_size
// (at most 256 MB) and forwards a large message alone in its frame, so a
// frame holds the largest packet plus room for what travels with it.
const MaxFrame = 256<<20 + 16<<20

// maxHandshakeFrame bounds a frame before both sides have proved the
// cookie; the header is checked before anything is allocated, so a
// stranger on the port gets at most this much read and held, never a large
// allocation (and no huge name in the log). The largest genuine handshake
// frame, a hello with three names of maxName bytes, is under 900 bytes.
const maxHandshakeFrame = 1 << 10

// Frame types.
const (
	frameHello     uint8 = iota + 1 // dialer -> acceptor: who I am, whom I dialed, my nonce, my proof
	frameChallenge                  // acceptor -> dialer, first: the protocol number and a nonce, nothing else
	frameRetired                    // protocol 4's separate proof frame (now in the hello): refused
	frameWelcome                    // acceptor -> dialer, after the dialer proved: admitted; who I am, my proof
	frameRefuse                     // either side: refused, Err says why; then close
	frameRequest                    // a call; ID correlates the response
	frameResponse                   // the answer to ID
	frameNotify                     // one-way message
)

// frame is the unit on a peer link: a 4-byte big-endian body length, then
// the body: the type byte, a byte of flags saying which fields follow, and
// those fields in this order (uvarint ID, uvarint Epoch, the Ver byte; the
// strings and byte slices as a uvarint length and the bytes). A hand-made
// layout: a notify costs a few bytes and no reflection on the hot path.
type frame struct {
	Type  uint8
	ID    uint64
	Op    string
	Err   string
	Body  []byte
	Node  string // handshake: sender's node name
	To    string // hello: the node name the dialer means to reach
	Clust string // handshake: sender's cluster.name
	Nonce []byte // handshake
	Proof []byte // handshake
	Ver   uint8  // handshake: protocol version
	Want  string // hello: intent (join or member)
	Epoch int64  // handshake: sender's start time (unix nanos)
}

// Flags of the fields present in a frame body.
const (
	fID = 1 << iota
	fOp
	fErr
	fBody
	fHandshake // Node, To, Clust, Nonce, Proof, Ver, Want, Epoch
)

// ErrFrameTooLarge is returned when a frame header announces more than MaxFrame.
var ErrFrameTooLarge = errors.New("frame too large")

// appendFrame appends the wire form of f to dst.
func appendFrame(dst []byte, f *frame) ([]byte, error) {
	if len(f.Body) > MaxFrame { // refused before it is copied
		return dst, fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, len(f.Body))
	}
	at := len(dst)
	dst = append(dst, 0, 0, 0, 0, f.Type, 0)
	var flags byte
	if f.ID != 0 {
		flags |= fID
		dst = binary.AppendUvarint(dst, f.ID)
	}
	if f.Op != "" {
		flags |= fOp
		dst = wire.AppendBytes(dst, f.Op)
	}
	if f.Err != "" {
		flags |= fErr
		dst = wire.AppendBytes(dst, f.Err)
	}
	if len(f.Body) > 0 {
		flags |= fBody
		dst = wire.AppendBytes(dst, f.Body)
	}
	if f.Type < frameRequest || f.Node != "" || f.To != "" || f.Clust != "" || len(f.Nonce) > 0 || len(f.Proof) > 0 ||
		f.Ver != 0 || f.Want != "" || f.Epoch != 0 {
		flags |= fHandshake
		dst = wire.AppendBytes(dst, f.Node)
		dst = wire.AppendBytes(dst, f.To)
		dst = wire.AppendBytes(dst, f.Clust)
		dst = wire.AppendBytes(dst, f.Nonce)
		dst = wire.AppendBytes(dst, f.Proof)
		dst = append(dst, f.Ver)
		dst = wire.AppendBytes(dst, f.Want)
		dst = binary.AppendVarint(dst, f.Epoch)
	}
	n := len(dst) - at - 4
	if n > MaxFrame {
		return dst[:at], fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, n)
	}
	binary.BigEndian.PutUint32(dst[at:], uint32(n))
	dst[at+5] = flags
	return dst, nil
}

// readFrame reads one frame of an open link. Oversized or malformed input
// is an error; the caller closes the link.
func readFrame(r *bufio.Reader) (*frame, error) { return readFrameMax(r, MaxFrame) }

// readFrameMax reads one frame whose body may hold at most limit bytes.
func readFrameMax(r *bufio.Reader, limit uint32) (*frame, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > limit {
		return nil, fmt.Errorf("%w: header announces %d bytes (limit %d)", ErrFrameTooLarge, n, limit)
	}
	if n == 0 {
		return nil, &malformedError{"empty"}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return decodeFrame(body)
}

// decodeFrame parses a frame body; Body and Nonce/Proof alias b.
func decodeFrame(b []byte) (*frame, error) {
	d := wire.Reader{B: b}
	f := &frame{Type: d.Byte()}
	flags := d.Byte()
	if d.Err == nil && (f.Type < frameHello || f.Type > frameNotify || f.Type == frameRetired) {
		return nil, &malformedError{fmt.Sprintf("unknown type %d", f.Type)}
	}
	if flags&^(fID|fOp|fErr|fBody|fHandshake) != 0 {
		return nil, &malformedError{fmt.Sprintf("unknown flags %#x", flags)}
	}
	if flags&fID != 0 {
		f.ID = d.Uvarint()
	}
	if flags&fOp != 0 {
		f.Op = d.Str()
	}
	if flags&fErr != 0 {
		f.Err = d.Str()
	}
	if flags&fBody != 0 {
		f.Body = d.Bytes()
	}
	if flags&fHandshake != 0 {
		f.Node = d.Str()
		f.To = d.Str()
		f.Clust = d.Str()
		f.Nonce = d.Bytes()
		f.Proof = d.Bytes()
		f.Ver = d.Byte()
		f.Want = d.Str()
		f.Epoch = d.Varint()
	}
	if d.Err != nil {
		return nil, &malformedError{d.Err.Error()}
	}
	if len(d.B) != 0 {
		return nil, &malformedError{fmt.Sprintf("%d bytes left over", len(d.B))}
	}
	return f, nil
}

// malformedError is a frame that does not decode.
type malformedError struct{ why string }

func (e *malformedError) Error() string { return "malformed frame: " + e.why }
