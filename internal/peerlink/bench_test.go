package peerlink

import (
	"bufio"
	"bytes"
	"testing"
)

func BenchmarkFrameEncode(b *testing.B) {
	f := &frame{Type: frameNotify, Op: "fwd", Body: make([]byte, 4096)}
	var buf []byte
	for i := 0; i < b.N; i++ {
		var err error
		if buf, err = appendFrame(buf[:0], f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFrameDecode(b *testing.B) {
	one, _ := appendFrame(nil, &frame{Type: frameNotify, Op: "fwd", Body: make([]byte, 4096)})
	data := bytes.Repeat(one, 64)
	b.SetBytes(int64(len(one)))
	r := bufio.NewReader(bytes.NewReader(data))
	for i := 0; i < b.N; i++ {
		if i%64 == 0 {
			r.Reset(bytes.NewReader(data))
		}
		if _, err := readFrame(r); err != nil {
			b.Fatal(err)
		}
	}
}
