package wire

import (
	"errors"
	"testing"
)

func TestReaderRoundTripAndBounds(t *testing.T) {
	b := AppendBytes(nil, "topic")
	b = AppendBytes(b, []byte{1, 2})
	b = append(b, 7)
	r := Reader{B: b}
	if r.Str() != "topic" || len(r.Bytes()) != 2 || r.Byte() != 7 || r.Err != nil || len(r.B) != 0 {
		t.Fatalf("round trip failed: %v", r.Err)
	}
	// A length past the end, a count larger than the rest, reading past
	// the end: each sets ErrMalformed and later reads return zero values.
	for _, in := range [][]byte{{5, 'a'}, {200, 1}, {}} {
		r := Reader{B: in}
		_ = r.Bytes()
		if !errors.Is(r.Err, ErrMalformed) {
			t.Fatalf("%x: %v", in, r.Err)
		}
		if r.Byte() != 0 || r.Uvarint() != 0 || r.Str() != "" {
			t.Fatalf("%x: a read after an error returned data", in)
		}
	}
	r = Reader{B: []byte{3, 0}}
	if r.Count(); !errors.Is(r.Err, ErrMalformed) {
		t.Fatal("a count larger than the input was accepted")
	}
}
