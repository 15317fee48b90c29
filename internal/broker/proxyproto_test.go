package broker

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseProxyHeader(t *testing.T) {
	ok := []struct {
		in   string
		src  string // "" : the connection's own address
		n    int    // header length; 0: all of in
		vers int
	}{
		{"PROXY TCP4 10.1.2.3 127.0.0.1 40000 1883\r\n", "10.1.2.3:40000", 0, 1},
		{"PROXY TCP4 10.1.2.3 127.0.0.1 40000 1883\r\n\x10\x00", "10.1.2.3:40000", 42, 1},
		{"PROXY TCP6 2001:db8::1 ::1 0 65535\r\n", "[2001:db8::1]:0", 0, 1},
		{"PROXY UNKNOWN\r\n", "", 0, 1},
		{"PROXY UNKNOWN whatever the proxy says\r\n", "", 0, 1},
		{"PROXY TCP6 " + strings.Repeat("ffff:", 7) + "ffff " + strings.Repeat("ffff:", 7) + "ffff 65535 65535\r\n", "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", 0, 1},
		{string(proxyV2("10.1.2.3", 40000)), "10.1.2.3:40000", 0, 2},
		{string(proxyV2("2001:db8::1", 1)), "[2001:db8::1]:1", 0, 2},
		{string(proxyV2("", 0)), "", 0, 2},
		// TLVs after the addresses are skipped
		{string(proxyV2sized(0x21, 0x11, 12+7)) + "\x10", "10.0.0.1:258", 16 + 19, 2},
		// UDP or UNIX: the connection's own address
		{string(proxyV2sized(0x21, 0x12, 12)), "", 0, 2},
		{string(proxyV2sized(0x21, 0x31, 216)), "", 0, 2},
	}
	for _, c := range ok {
		h, n, err := parseProxyHeader([]byte(c.in))
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		want := c.n
		if want == 0 {
			want = len(c.in)
		}
		src := ""
		if h.src != nil {
			src = h.src.String()
		}
		if n != want || src != c.src || h.version != c.vers {
			t.Fatalf("%q: v%d %q, %d bytes; want v%d %q, %d bytes", c.in, h.version, src, n, c.vers, c.src, want)
		}
		// Every proper prefix is incomplete, not malformed.
		for i := 0; i < want; i++ {
			if _, _, err := parseProxyHeader([]byte(c.in[:i])); !errors.Is(err, errProxyNeedMore) {
				t.Fatalf("%q[:%d]: %v, want incomplete", c.in, i, err)
			}
		}
	}

	bad := []string{
		"GET / HTTP/1.1\r\n",
		"\x10\x0c\x00\x04MQTT",
		"PROXY TCP4 10.1.2.3 127.0.0.1 40000 1883\n",
		"PROXY TCP4 10.1.2.3 127.0.0.1 40000\r\n",
		"PROXY TCP4 10.1.2.3  127.0.0.1 40000 1883\r\n",
		"PROXY TCP4 10.1.2.3 127.0.0.1 40000 1883 \r\n",
		"PROXY TCP4 10.1.2.3 127.0.0.1 65536 1883\r\n",
		"PROXY TCP4 10.1.2.3 127.0.0.1 -1 1883\r\n",
		"PROXY TCP4 10.1.2.3 127.0.0.1 +1 1883\r\n",
		"PROXY TCP4 2001:db8::1 127.0.0.1 1 1883\r\n",
		"PROXY TCP6 10.1.2.3 ::1 1 1883\r\n",
		"PROXY UDP4 10.1.2.3 127.0.0.1 1 1883\r\n",
		"PROXY UNKNOWNX\r\n",
		"proxy TCP4 10.1.2.3 127.0.0.1 1 1883\r\n",
		"PROXY " + strings.Repeat("A", proxyV1Max),
		string(proxyV2Sig[:11]) + "X",
		string(proxyV2Sig) + "\x11",             // version 1 in v2 form
		string(proxyV2Sig) + "\x22\x11\x00\x0c", // command 2
		string(proxyV2Sig) + "\x21\x41\x00\x0c", // family 4
		string(proxyV2Sig) + "\x21\x13\x00\x0c", // transport 3
		string(proxyV2Sig) + "\x21\x11\x00\x0b", // TCP4 needs 12 bytes
		string(proxyV2Sig) + "\x21\x21\x00\x0c", // TCP6 needs 36
		string(proxyV2Sig) + "\x21\x11\x04\x01", // over the length cap
		"PROXY UNKNOWN x\ny\r\n",
	}
	for _, in := range bad {
		if _, _, err := parseProxyHeader([]byte(in)); !errors.Is(err, errProxyHeader) {
			t.Fatalf("%q: %v, want malformed", in, err)
		}
	}
}

// proxyV2sized is a v2 header of command/version vc, family fam and an
// address block of n bytes: source 10.0.0.1:258 for TCP4, then zeros.
func proxyV2sized(vc, fam byte, n int) []byte {
	b := append(append([]byte{}, proxyV2Sig...), vc, fam, byte(n>>8), byte(n))
	body := make([]byte, n)
	copy(body, []byte{10, 0, 0, 1, 127, 0, 0, 1, 1, 2, 7, 91})
	return append(b, body...)
}

// TestReadProxyHeader: a header read a byte at a time, or with what
// follows it, leaves the MQTT stream's bytes to the connection; a header
// cut short fails.
func TestReadProxyHeader(t *testing.T) {
	buf := make([]byte, proxyBufSize)
	for _, h := range [][]byte{proxyV1("10.1.2.3", 1), proxyV2("10.1.2.3", 1), proxyV2("::1", 1)} {
		in := append(append([]byte{}, h...), "MQTT..."...)
		got, rest, err := readProxyHeader(iotest.OneByteReader(bytes.NewReader(in)), buf)
		if err != nil || got.src == nil || len(rest) != 0 {
			t.Fatalf("%q one byte at a time: %+v rest %q %v", h, got, rest, err)
		}
		got, rest, err = readProxyHeader(bytes.NewReader(in), buf)
		if err != nil || got.src == nil {
			t.Fatalf("%q: %v", h, err)
		}
		r := bytes.NewReader(in[len(h)+len(rest):])
		stream := append(append([]byte{}, rest...), make([]byte, r.Len())...)
		_, _ = r.Read(stream[len(rest):])
		if string(stream) != "MQTT..." {
			t.Fatalf("%q: the stream after the header is %q", h, stream)
		}
		if _, _, err := readProxyHeader(bytes.NewReader(h[:len(h)-1]), buf); err == nil {
			t.Fatalf("%q cut short: no error", h)
		}
	}
	src := net.ParseIP("10.1.2.3")
	h, _, err := readProxyHeader(bytes.NewReader(proxyV1("10.1.2.3", 7)), buf)
	if err != nil || !h.src.IP.Equal(src) || h.src.Port != 7 {
		t.Fatalf("%+v %v", h, err)
	}
}

// FuzzParseProxyHeader: the parser never panics, never claims more bytes
// than it has or than a header may have, and reading the same bytes from
// a stream a byte at a time comes to the same verdict.
func FuzzParseProxyHeader(f *testing.F) {
	for _, s := range [][]byte{
		proxyV1("10.1.2.3", 1), proxyV2("10.1.2.3", 1), proxyV2("2001:db8::1", 2), proxyV2("", 0),
		[]byte("PROXY UNKNOWN\r\n"), []byte("PROXY TCP6 ::1 ::1 1 2\r\n"), proxyV2sized(0x21, 0x31, 216),
		[]byte("\x10\x0c\x00\x04MQTT"), []byte("PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n"),
	} {
		f.Add(s)
	}
	buf := make([]byte, proxyBufSize)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := parseProxyHeader(b)
		if err != nil {
			if !errors.Is(err, errProxyNeedMore) && !errors.Is(err, errProxyHeader) {
				t.Fatalf("unexpected error %v", err)
			}
			if n != 0 || h.src != nil {
				t.Fatal("a failed parse returned a header")
			}
		} else {
			if n <= 0 || n > len(b) || n > proxyBufSize {
				t.Fatalf("header of %d bytes in %d", n, len(b))
			}
			if h.version == 1 && n > proxyV1Max {
				t.Fatalf("v1 header of %d bytes", n)
			}
			if h.src != nil && (h.src.Port < 0 || h.src.Port > 65535 || (len(h.src.IP) != 4 && len(h.src.IP) != 16)) {
				t.Fatalf("source %v", h.src)
			}
		}
		rh, rest, rerr := readProxyHeader(iotest.OneByteReader(bytes.NewReader(b)), buf)
		switch {
		case err == nil:
			if rerr != nil || len(rest) != 0 || rh.version != h.version || rh.src.String() != h.src.String() {
				t.Fatalf("stream: %+v %q %v; parse: %+v", rh, rest, rerr, h)
			}
		case errors.Is(err, errProxyHeader):
			if !errors.Is(rerr, errProxyHeader) {
				t.Fatalf("stream: %v; parse: %v", rerr, err)
			}
		default: // incomplete: the stream ends early
			if rerr == nil {
				t.Fatalf("stream of an incomplete header: no error")
			}
		}
	})
}
