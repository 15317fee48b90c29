package peerlink

import (
	"fmt"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// Bodies of cold requests and notifications (route updates, takeover,
// acknowledgements) are msgpack; the hot forward batch has its own binary
// layout in package fabric.
var mh = func() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{}
	h.RawToString = true
	return h
}()

// Encode marshals v with the msgpack handle of the peer links.
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
