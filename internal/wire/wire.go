// Package wire holds the primitives of the cluster's hand-made binary
// layouts (peer-link frames, forward batches): varints, and strings or byte
// slices as a uvarint length followed by the bytes.
package wire

import (
	"encoding/binary"
	"errors"
	"math"
)

// ErrMalformed is the first decoding error a Reader meets.
var ErrMalformed = errors.New("truncated or malformed")

// AppendBytes appends s as a uvarint length and its bytes.
func AppendBytes[T string | []byte](dst []byte, s T) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// Reader decodes with bounds checks. The first error sticks in Err and
// every later read returns a zero value, so a decoder checks Err once.
type Reader struct {
	B   []byte
	Err error
}

func (r *Reader) fail() { r.Err = ErrMalformed }

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	if r.Err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.B)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.B = r.B[n:]
	return v
}

// Varint reads a signed varint.
func (r *Reader) Varint() int64 {
	if r.Err != nil {
		return 0
	}
	v, n := binary.Varint(r.B)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.B = r.B[n:]
	return v
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if r.Err != nil || len(r.B) < 1 {
		r.fail()
		return 0
	}
	v := r.B[0]
	r.B = r.B[1:]
	return v
}

// Bytes reads a length-prefixed byte slice; it aliases the input.
func (r *Reader) Bytes() []byte {
	n := r.Uvarint()
	if r.Err != nil || n > uint64(len(r.B)) {
		r.fail()
		return nil
	}
	v := r.B[:n:n]
	r.B = r.B[n:]
	return v
}

// Str reads a length-prefixed string.
func (r *Reader) Str() string { return string(r.Bytes()) }

// Count reads a collection length, which must fit in what is left (each
// element takes at least a byte), so a forged count cannot make the caller
// allocate more than the input.
func (r *Reader) Count() int {
	n := r.Uvarint()
	if r.Err != nil || n > uint64(len(r.B)) || n > math.MaxInt32 {
		r.fail()
		return 0
	}
	return int(n)
}
