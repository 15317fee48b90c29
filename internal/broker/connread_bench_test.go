package broker

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"

	"emqxgo/internal/nowait"
)

// BenchmarkConnRead reads a stream of small PUBLISH packets (80 bytes)
// from a loopback socket through conn and a bufio.Reader as mochi's client
// does (fixed header byte by byte, then the body in one ReadFull), per
// packet. mochi's buffer at 2048 bytes takes conn's direct path, as every
// read did before conn kept its own pooled buffer; at 256 bytes (the
// node's setting) the bytes of each socket read come from that buffer.
func BenchmarkConnRead(b *testing.B) {
	pk := append([]byte{0x30, 78, 0, 10}, "bench/read"...)
	pk = append(pk, bytes.Repeat([]byte{'x'}, 66)...)
	chunk := bytes.Repeat(pk, 100)
	for _, size := range []int{2048, 256} {
		b.Run(fmt.Sprintf("mochi-buffer-%d", size), func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			peer, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			s, err := ln.Accept()
			if err != nil {
				b.Fatal(err)
			}
			c := newConn(&lconn{Conn: s, rd: nowait.NewReader(s)}, 0, 0)
			c.connectDone = true
			defer s.Close() // an lconn outside a listener: its socket
			go func() {
				defer peer.Close()
				for sent := 0; sent < b.N; sent += 100 {
					if _, err := peer.Write(chunk); err != nil {
						return
					}
				}
			}()
			br := bufio.NewReaderSize(c, size)
			b.SetBytes(int64(len(pk)))
			b.ResetTimer()
			for range b.N {
				if _, err := br.ReadByte(); err != nil {
					b.Fatal(err)
				}
				n, shift := 0, 0
				for {
					d, err := br.ReadByte()
					if err != nil {
						b.Fatal(err)
					}
					n |= int(d&0x7f) << shift
					if d < 0x80 {
						break
					}
					shift += 7
				}
				body := make([]byte, n)
				if _, err := io.ReadFull(br, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
