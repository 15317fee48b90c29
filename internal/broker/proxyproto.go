package broker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
)

// The PROXY protocol (HAProxy's, versions 1 and 2): a load balancer in
// front of the listener starts each connection with a header naming the
// client's address. listener.<proto>.<name>.proxy_protocol = on makes the
// listener read it before anything else (connlimit.go, lconn.handshake).

const (
	// proxyV1Max is the longest v1 header, CRLF included (the
	// specification's bound: "PROXY TCP6" with two full IPv6 addresses).
	proxyV1Max = 107
	// proxyV2Fixed is the v2 signature, version/command, family and length.
	proxyV2Fixed = 16
	// proxyV2MaxLen caps the v2 address block and TLVs that follow the
	// fixed part: the UNIX family's 216 bytes plus room for TLVs. A longer
	// header is refused, so a header never costs more than this.
	proxyV2MaxLen = 1024
	// proxyBufSize holds the longest header either version may have.
	proxyBufSize = proxyV2Fixed + proxyV2MaxLen
)

// proxyV2Sig starts every v2 header.
var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

var proxyV1Prefix = []byte("PROXY ")

var (
	errProxyNeedMore = errors.New("proxy protocol: header incomplete")
	errProxyHeader   = errors.New("proxy protocol: malformed header")
)

// proxyHeader is what a header says. src is nil when the connection's own
// address stands (v2 LOCAL, v1 UNKNOWN, families other than TCP).
type proxyHeader struct {
	version int
	src     *net.TCPAddr
	dst     *net.TCPAddr
}

// parseProxyHeader reads the header at the start of b. It returns the
// header and its length in bytes; errProxyNeedMore if b is a valid start
// of a header that goes on; errProxyHeader (wrapped) as soon as b cannot
// start one.
func parseProxyHeader(b []byte) (proxyHeader, int, error) {
	if len(b) == 0 {
		return proxyHeader{}, 0, errProxyNeedMore
	}
	if b[0] == proxyV2Sig[0] {
		return parseProxyV2(b)
	}
	return parseProxyV1(b)
}

func proxyErr(why string) error { return &proxyError{why} }

type proxyError struct{ why string }

func (e *proxyError) Error() string   { return errProxyHeader.Error() + ": " + e.why }
func (e *proxyError) Is(t error) bool { return t == errProxyHeader }

// parseProxyV1 reads "PROXY TCP4 1.2.3.4 5.6.7.8 1234 1883\r\n" (or
// TCP6, or "PROXY UNKNOWN" with anything up to the CRLF).
func parseProxyV1(b []byte) (proxyHeader, int, error) {
	k := min(len(b), len(proxyV1Prefix))
	if !bytes.Equal(b[:k], proxyV1Prefix[:k]) {
		return proxyHeader{}, 0, proxyErr("neither a v1 nor a v2 header")
	}
	end := bytes.Index(b[:min(len(b), proxyV1Max)], []byte("\r\n"))
	if end < 0 {
		if len(b) >= proxyV1Max {
			return proxyHeader{}, 0, proxyErr("v1 header longer than 107 bytes")
		}
		if bytes.IndexByte(b, '\n') >= 0 {
			return proxyHeader{}, 0, proxyErr("v1 header ends without CRLF")
		}
		return proxyHeader{}, 0, errProxyNeedMore
	}
	line := b[len(proxyV1Prefix):end]
	if bytes.IndexByte(line, '\n') >= 0 {
		return proxyHeader{}, 0, proxyErr("v1 header ends without CRLF")
	}
	n := end + 2
	h := proxyHeader{version: 1}
	if bytes.HasPrefix(line, []byte("UNKNOWN")) && (len(line) == 7 || line[7] == ' ') {
		return h, n, nil // the proxy does not know: the connection's own address stands
	}
	f := bytes.Split(line, []byte(" "))
	if len(f) != 5 {
		return proxyHeader{}, 0, proxyErr("v1 header needs protocol, two addresses and two ports")
	}
	var v6 bool
	switch string(f[0]) {
	case "TCP4":
	case "TCP6":
		v6 = true
	default:
		return proxyHeader{}, 0, proxyErr("v1 protocol must be TCP4, TCP6 or UNKNOWN")
	}
	src, err := v1Addr(f[1], f[3], v6)
	if err != nil {
		return proxyHeader{}, 0, err
	}
	dst, err := v1Addr(f[2], f[4], v6)
	if err != nil {
		return proxyHeader{}, 0, err
	}
	h.src, h.dst = src, dst
	return h, n, nil
}

// v1Addr reads an address and a port of a v1 header; the address must be
// of the family the header names.
func v1Addr(ip, port []byte, v6 bool) (*net.TCPAddr, error) {
	a := net.ParseIP(string(ip))
	if a == nil || v6 != (bytes.IndexByte(ip, ':') >= 0) {
		return nil, proxyErr("v1 address " + strconv.Quote(string(ip)) + " is not of its family")
	}
	if !v6 {
		a = a.To4()
	}
	p, ok := v1Port(port)
	if !ok {
		return nil, proxyErr("v1 port " + strconv.Quote(string(port)) + " is not 0-65535")
	}
	return &net.TCPAddr{IP: a, Port: p}, nil
}

// v1Port reads 1 to 5 decimal digits, at most 65535 (no sign, no spaces).
func v1Port(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 5 {
		return 0, false
	}
	p := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		p = p*10 + int(c-'0')
	}
	return p, p <= 65535
}

// parseProxyV2 reads a binary header: signature, version 2 and command
// (LOCAL or PROXY), family and transport, length, then the addresses and
// TLVs (ignored).
func parseProxyV2(b []byte) (proxyHeader, int, error) {
	k := min(len(b), len(proxyV2Sig))
	if !bytes.Equal(b[:k], proxyV2Sig[:k]) {
		return proxyHeader{}, 0, proxyErr("bad v2 signature")
	}
	if len(b) < proxyV2Fixed {
		if len(b) > 12 && b[12]>>4 != 2 {
			return proxyHeader{}, 0, proxyErr("v2 header of another version")
		}
		return proxyHeader{}, 0, errProxyNeedMore
	}
	verCmd, fam := b[12], b[13]
	if verCmd>>4 != 2 {
		return proxyHeader{}, 0, proxyErr("v2 header of another version")
	}
	cmd := verCmd & 0x0f
	if cmd > 1 {
		return proxyHeader{}, 0, proxyErr("v2 command is neither LOCAL nor PROXY")
	}
	family, transport := fam>>4, fam&0x0f
	if family > 3 || transport > 2 {
		return proxyHeader{}, 0, proxyErr("v2 unknown address family or transport")
	}
	length := int(binary.BigEndian.Uint16(b[14:16]))
	if length > proxyV2MaxLen {
		return proxyHeader{}, 0, proxyErr("v2 header longer than " + strconv.Itoa(proxyV2Fixed+proxyV2MaxLen) + " bytes")
	}
	need := 0
	switch family {
	case 1:
		need = 12
	case 2:
		need = 36
	case 3:
		need = 216
	}
	if cmd == 1 && length < need {
		return proxyHeader{}, 0, proxyErr("v2 address block shorter than its family's")
	}
	n := proxyV2Fixed + length
	if len(b) < n {
		return proxyHeader{}, 0, errProxyNeedMore
	}
	h := proxyHeader{version: 2}
	if cmd == 0 || transport != 1 { // LOCAL (a health check), or not TCP: the connection's own address
		return h, n, nil
	}
	a := b[proxyV2Fixed:n]
	switch family {
	case 1:
		h.src = &net.TCPAddr{IP: net.IP(bytes.Clone(a[0:4])), Port: int(binary.BigEndian.Uint16(a[8:10]))}
		h.dst = &net.TCPAddr{IP: net.IP(bytes.Clone(a[4:8])), Port: int(binary.BigEndian.Uint16(a[10:12]))}
	case 2:
		h.src = &net.TCPAddr{IP: net.IP(bytes.Clone(a[0:16])), Port: int(binary.BigEndian.Uint16(a[32:34]))}
		h.dst = &net.TCPAddr{IP: net.IP(bytes.Clone(a[16:32])), Port: int(binary.BigEndian.Uint16(a[34:36]))}
	}
	return h, n, nil
}

// readProxyHeader reads a header from r into buf (at least proxyBufSize
// bytes), no further than the header plus what came with it in the same
// reads: rest is that, the start of the MQTT stream.
func readProxyHeader(r io.Reader, buf []byte) (h proxyHeader, rest []byte, err error) {
	have := 0
	for {
		// Read no more than the header may still need, as far as known:
		// a v1 header ends within proxyV1Max bytes, a v2 one's length is
		// known after its fixed part.
		want := proxyV1Max
		if have > 0 && buf[0] == proxyV2Sig[0] {
			want = proxyV2Fixed
			if have >= proxyV2Fixed {
				want = proxyV2Fixed + int(binary.BigEndian.Uint16(buf[14:16]))
			}
		}
		if want <= have {
			want = have + 1
		}
		want = min(want, len(buf))
		n, rerr := r.Read(buf[have:want])
		have += n
		h, hn, perr := parseProxyHeader(buf[:have])
		if perr == nil {
			return h, buf[hn:have], nil
		}
		if !errors.Is(perr, errProxyNeedMore) {
			return proxyHeader{}, nil, perr
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				rerr = io.ErrUnexpectedEOF
			}
			return proxyHeader{}, nil, rerr
		}
		if have >= len(buf) {
			return proxyHeader{}, nil, proxyErr("header too long")
		}
	}
}
