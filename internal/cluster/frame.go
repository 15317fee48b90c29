package cluster

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// MaxFrame bounds one frame's body; a peer announcing more is cut off.
const MaxFrame = 16 << 20

// Frame types.
const (
	frameHello     uint8 = iota + 1 // dialer -> acceptor: who I am, my nonce
	frameChallenge                  // acceptor -> dialer: who I am, my nonce, my proof
	frameProof                      // dialer -> acceptor: my proof
	frameWelcome                    // acceptor -> dialer: admitted
	frameRefuse                     // either side: refused, Err says why; then close
	frameRequest                    // a call; ID correlates the response
	frameResponse                   // the answer to ID
	frameNotify                     // one-way message
)

// frame is the unit on a peer link: 4-byte big-endian body length, then the
// msgpack encoding of this struct.
type frame struct {
	Type  uint8  `codec:"t"`
	ID    uint64 `codec:"i,omitempty"`
	Op    string `codec:"o,omitempty"`
	Err   string `codec:"e,omitempty"`
	Body  []byte `codec:"b,omitempty"`
	Node  string `codec:"n,omitempty"` // handshake: sender's node name
	Clust string `codec:"c,omitempty"` // handshake: sender's cluster.name
	Nonce []byte `codec:"x,omitempty"` // handshake
	Proof []byte `codec:"p,omitempty"` // handshake
	Ver   uint8  `codec:"v,omitempty"` // handshake: protocol version
	Want  string `codec:"w,omitempty"` // hello: intent (join or member)
	Epoch int64  `codec:"s,omitempty"` // handshake: sender's start time (unix nanos)
}

var mh = func() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{}
	h.RawToString = true
	return h
}()

// ErrFrameTooLarge is returned when a frame header announces more than MaxFrame.
var ErrFrameTooLarge = errors.New("frame too large")

// Encode marshals v with the msgpack handle of the peer links; bodies of
// requests and notifications use it.
func Encode(v any) ([]byte, error) {
	var b []byte
	err := codec.NewEncoderBytes(&b, mh).Encode(v)
	return b, err
}

// Decode unmarshals msgpack b into v; malformed input is an error, never a panic.
func Decode(b []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &malformedError{fmt.Sprint(r)}
		}
	}()
	return codec.NewDecoderBytes(b, mh).Decode(v)
}

// appendFrame appends the wire form of f to dst.
func appendFrame(dst []byte, f *frame) ([]byte, error) {
	body, err := Encode(f)
	if err != nil {
		return dst, err
	}
	if len(body) > MaxFrame {
		return dst, fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, len(body))
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)))
	return append(dst, body...), nil
}

// readFrame reads one frame. Oversized or malformed input is an error; the
// caller closes the link.
func readFrame(r *bufio.Reader) (*frame, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxFrame {
		return nil, fmt.Errorf("%w: header announces %d bytes (limit %d)", ErrFrameTooLarge, n, MaxFrame)
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

func decodeFrame(body []byte) (f *frame, err error) {
	defer func() { // the decoder must never take the node down
		if r := recover(); r != nil {
			f, err = nil, &malformedError{fmt.Sprint(r)}
		}
	}()
	f = &frame{}
	if err := Decode(body, f); err != nil {
		return nil, &malformedError{err.Error()}
	}
	if f.Type < frameHello || f.Type > frameNotify {
		return nil, &malformedError{fmt.Sprintf("unknown type %d", f.Type)}
	}
	return f, nil
}

// malformedError is a frame that does not decode.
type malformedError struct{ why string }

func (e *malformedError) Error() string { return "malformed frame: " + e.why }
