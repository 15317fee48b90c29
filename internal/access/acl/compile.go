package acl

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"emqxgo/internal/access"
)

// Parse compiles acl.conf content; name is the file name errors carry.
func Parse(name string, src []byte) (*Rules, error) {
	if len(src) > MaxFileSize {
		return nil, fmt.Errorf("%s: file too large (%d bytes, the limit is %d)", name, len(src), MaxFileSize)
	}
	p, err := newParser(name, src)
	if err != nil {
		return nil, err
	}
	rs := &Rules{}
	for {
		t, err := p.next()
		if err != nil {
			return nil, err
		}
		if t == nil {
			break
		}
		r, err := compileRule(name, t)
		if err != nil {
			return nil, err
		}
		rs.rules = append(rs.rules, r)
	}
	for i := range rs.rules {
		r := &rs.rules[i]
		if r.pub {
			rs.pub = append(rs.pub, r)
		}
		if r.sub {
			rs.sub = append(rs.sub, r)
		}
	}
	return rs, nil
}

// ParseFile reads and compiles the acl.conf at path.
func ParseFile(path string) (*Rules, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > MaxFileSize {
		return nil, fmt.Errorf("%s: file too large (%d bytes, the limit is %d)", path, st.Size(), MaxFileSize)
	}
	src := make([]byte, 0, 4096)
	buf := make([]byte, 32<<10)
	for {
		n, err := f.Read(buf)
		src = append(src, buf[:n]...)
		if len(src) > MaxFileSize {
			return nil, fmt.Errorf("%s: file too large (over %d bytes)", path, MaxFileSize)
		}
		if err != nil {
			break
		}
	}
	return Parse(path, src)
}

func semErr(name string, t *term, format string, args ...any) *Error {
	return &Error{File: name, Line: int(t.line), Col: int(t.col), Msg: fmt.Sprintf(format, args...)}
}

func isAtom(t *term, a string) bool { return t.kind == kAtom && t.s == a }

const (
	expectRule   = "expected a rule {allow|deny, Who, Access, Topics} or {allow|deny, all}"
	expectWho    = "expected who: all, {user, Name}, {client, ClientId}, {ipaddr, CIDR}, {ipaddrs, [CIDR, ...]}, {'and', [Who, ...]} or {'or', [Who, ...]}"
	expectAccess = "expected access publish|subscribe|pubsub"
	expectTopics = "expected a list of topic filters"
	expectTopic  = "expected a topic filter (a string, a binary or {eq, Topic})"
)

// compileRule turns one term into a rule, accepting what EMQX 4.4's
// emqx_access_rule:compile/1 accepts.
func compileRule(name string, t *term) (rule, error) {
	var r rule
	if t.kind != kTuple || len(t.elems) != 2 && len(t.elems) != 4 {
		return r, semErr(name, t, "%s, got %s", expectRule, show(t))
	}
	switch e := t.elems[0]; {
	case isAtom(e, "allow"):
		r.allow = true
	case isAtom(e, "deny"):
	default:
		return r, semErr(name, e, "expected allow or deny, got %s", show(e))
	}
	if len(t.elems) == 2 {
		if e := t.elems[1]; !isAtom(e, "all") {
			return r, semErr(name, e, "a two-element rule is {%s, all}; got %s as its second element", t.elems[0].s, show(e))
		}
		r.all, r.pub, r.sub = true, true, true
		return r, nil
	}
	switch e := t.elems[2]; {
	case isAtom(e, "publish"):
		r.pub = true
	case isAtom(e, "subscribe"):
		r.sub = true
	case isAtom(e, "pubsub"):
		r.pub, r.sub = true, true
	default:
		return r, semErr(name, e, "%s, got %s", expectAccess, show(e))
	}
	w, err := compileWho(name, t.elems[1])
	if err != nil {
		return r, err
	}
	r.who = w
	// A lone binary is one topic; otherwise a list of them.
	ts := t.elems[3]
	if ts.kind == kBinary {
		r.topics = []filter{compileFilter(ts.s, false)}
		return r, nil
	}
	items, ok := listItems(ts)
	if !ok {
		return r, semErr(name, ts, "%s, got %s", expectTopics, show(ts))
	}
	for _, e := range items {
		eq := false
		v := e
		if e.kind == kTuple && len(e.elems) == 2 && isAtom(e.elems[0], "eq") {
			eq, v = true, e.elems[1]
		}
		s, err := toBinary(name, v)
		if err != nil {
			if eq {
				return r, semErr(name, v, "{eq, Topic} needs a string or binary, got %s", show(v))
			}
			return r, semErr(name, e, "%s, got %s", expectTopic, show(e))
		}
		r.topics = append(r.topics, compileFilter(s, eq))
	}
	return r, nil
}

func compileWho(name string, t *term) (who, error) {
	if isAtom(t, "all") {
		return who{kind: whoAll}, nil
	}
	if t.kind != kTuple || len(t.elems) != 2 || t.elems[0].kind != kAtom {
		return who{}, semErr(name, t, "%s, got %s", expectWho, show(t))
	}
	v := t.elems[1]
	switch tag := t.elems[0].s; tag {
	case "user", "client":
		k := whoUser
		if tag == "client" {
			k = whoClient
		}
		if isAtom(v, "all") {
			return who{kind: whoAll}, nil
		}
		s, err := toBinary(name, v)
		if err != nil {
			return who{}, err
		}
		return who{kind: k, s: s}, nil
	case "ipaddr":
		p, err := compileCIDR(name, v)
		if err != nil {
			return who{}, err
		}
		return who{kind: whoIP, nets: []netip.Prefix{p}}, nil
	case "ipaddrs":
		items, ok := listItems(v)
		if !ok {
			return who{}, semErr(name, v, "{ipaddrs, ...} needs a list of CIDR strings, got %s", show(v))
		}
		w := who{kind: whoIP, nets: make([]netip.Prefix, 0, len(items))}
		for _, e := range items {
			p, err := compileCIDR(name, e)
			if err != nil {
				return who{}, err
			}
			w.nets = append(w.nets, p)
		}
		return w, nil
	case "and", "or":
		items, ok := listItems(v)
		if !ok {
			return who{}, semErr(name, v, "{'%s', ...} needs a list of who conditions, got %s", tag, show(v))
		}
		w := who{kind: whoAnd, subs: make([]who, 0, len(items))}
		if tag == "or" {
			w.kind = whoOr
		}
		for _, e := range items {
			s, err := compileWho(name, e)
			if err != nil {
				return who{}, err
			}
			w.subs = append(w.subs, s)
		}
		return w, nil
	}
	return who{}, semErr(name, t, "%s, got %s", expectWho, show(t))
}

// listItems returns the elements of a proper list. A non-empty string is a
// list of integers, which no caller accepts as elements, so only its first
// character is returned (for the error).
func listItems(t *term) ([]*term, bool) {
	switch t.kind {
	case kString:
		if t.s == "" {
			return nil, true
		}
		return nil, false
	case kList:
		if t.tail == nil {
			return t.elems, true
		}
		if t.tail.kind == kString {
			// [A | "bc"] is a proper list of A, $b, $c.
			r := []rune(t.tail.s)
			c := &term{kind: kInt, line: t.tail.line, col: t.tail.col, i: int64(r[0]), low: uint8(r[0])}
			return append(append([]*term(nil), t.elems...), c), true
		}
	}
	return nil, false
}

// toBinary converts a rule's name or topic as EMQX does (list_to_binary/1
// on a list, a binary as it is): a list is an iolist of bytes 0..255,
// binaries and nested lists, so a string's characters must each fit a byte
// (they are taken as Latin-1); a binary may carry UTF-8 (<<"..."/utf8>>).
func toBinary(name string, t *term) (string, error) {
	switch t.kind {
	case kBinary:
		return t.s, nil
	case kString, kList:
		var b strings.Builder
		if err := appendIOList(name, &b, t); err != nil {
			return "", err
		}
		return b.String(), nil
	}
	return "", semErr(name, t, "expected a string or binary, got %s", show(t))
}

func appendIOList(name string, b *strings.Builder, t *term) error {
	switch t.kind {
	case kBinary:
		b.WriteString(t.s)
		return nil
	case kString:
		for _, r := range t.s {
			if r > 0xFF {
				return semErr(name, t, "%s has the character U+%04X, which does not fit a byte: EMQX reads strings as Latin-1; for UTF-8 write <<%s/utf8>>", show(t), r, quoteString(t.s))
			}
			b.WriteByte(byte(r))
		}
		return nil
	case kList:
		for _, e := range t.elems {
			if e.kind == kInt {
				if e.big || e.i < 0 || e.i > 0xFF {
					return semErr(name, e, "list element %s is not a byte (0..255)", show(e))
				}
				b.WriteByte(byte(e.i))
				continue
			}
			if e.kind != kBinary && e.kind != kString && e.kind != kList {
				return semErr(name, e, "expected a string or binary, got %s", show(e))
			}
			if err := appendIOList(name, b, e); err != nil {
				return err
			}
		}
		if t.tail != nil {
			if t.tail.kind != kBinary && t.tail.kind != kString {
				return semErr(name, t.tail, "expected a string or binary, got %s", show(t))
			}
			return appendIOList(name, b, t.tail)
		}
		return nil
	}
	return semErr(name, t, "expected a string or binary, got %s", show(t))
}

// emulateSlash48 would reproduce esockd_cidr (esockd 5.8.10, which EMQX
// 4.4.19 ships): its IPv6 mask table starts the fourth group at /49, so an
// IPv6 /48 covers the whole /32. Off: an operator's /48 means a /48 here;
// copying the bug would widen allow rules 65536 times.
const emulateSlash48 = false

// compileCIDR parses "Addr" or "Addr/Len" as esockd_cidr:parse(S, true)
// does: the address with inet:parse_address/1 (IPv4 in any of the legacy
// forms, such as "127.1" or "0x7f.0.0.1"; IPv6), host bits below the
// prefix cleared.
func compileCIDR(name string, t *term) (netip.Prefix, error) {
	s, ok := flatString(t)
	if !ok {
		return netip.Prefix{}, semErr(name, t, "expected an IP address or CIDR string, got %s", show(t))
	}
	bad := func(why string) (netip.Prefix, error) {
		return netip.Prefix{}, semErr(name, t, "invalid IP address or CIDR %s: %s", quoteString(s), why)
	}
	var parts []string
	for f := range strings.SplitSeq(s, "/") {
		if f != "" {
			parts = append(parts, f)
		}
	}
	if len(parts) < 1 || len(parts) > 2 {
		return bad("expected Address or Address/PrefixLength")
	}
	addr, ok := parseInetAddress(parts[0])
	if !ok {
		return bad("not an IPv4 or IPv6 address")
	}
	bits := addr.BitLen()
	if len(parts) == 2 {
		n, err := strconv.Atoi(parts[1])
		if err != nil {
			return bad("the prefix length is not an integer")
		}
		if n < 0 || n > addr.BitLen() {
			return bad(fmt.Sprintf("the prefix length is not in 0..%d", addr.BitLen()))
		}
		bits = n
	}
	if emulateSlash48 && addr.Is6() && bits == 48 {
		bits = 32
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return bad(err.Error())
	}
	return p, nil
}

// flatString returns t's characters when it is a string (a flat list of
// character codes).
func flatString(t *term) (string, bool) {
	switch t.kind {
	case kString:
		return t.s, true
	case kList:
		if t.tail != nil {
			return "", false
		}
		var b strings.Builder
		for _, e := range t.elems {
			if e.kind != kInt || e.big || e.i < 0 || e.i > 0x10FFFF {
				return "", false
			}
			b.WriteRune(rune(e.i))
		}
		return b.String(), true
	}
	return "", false
}

// parseInetAddress parses as inet:parse_address/1: IPv4 first, in the
// permissive BSD form (1 to 4 parts, each decimal, octal with a leading 0
// or hex with 0x, the last filling the remaining bytes), then IPv6.
func parseInetAddress(s string) (netip.Addr, bool) {
	if a, ok := parseIPv4Loose(s); ok {
		return a, true
	}
	if !strings.Contains(s, ":") {
		return netip.Addr{}, false
	}
	// Erlang ignores a scope suffix such as %eth0.
	if i := strings.IndexByte(s, '%'); i >= 0 {
		s = s[:i]
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() {
		return netip.Addr{}, false
	}
	return a, true
}

func parseIPv4Loose(s string) (netip.Addr, bool) {
	fields := strings.Split(s, ".")
	if len(fields) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(fields))
	for i, f := range fields {
		base, digits, max := 10, f, 10
		switch {
		case strings.HasPrefix(f, "0x") || strings.HasPrefix(f, "0X"):
			base, digits, max = 16, f[2:], 8
		case strings.HasPrefix(f, "0"):
			base, max = 8, 12
		}
		if digits == "" || len(digits) > max || !isDigit(rune(f[0])) {
			return netip.Addr{}, false
		}
		v, err := strconv.ParseUint(digits, base, 64)
		if err != nil || v > 0xFFFFFFFF {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var ip [4]byte
	n := len(vals)
	for i := 0; i < n-1; i++ {
		if vals[i] > 0xFF {
			return netip.Addr{}, false
		}
		ip[i] = byte(vals[i])
	}
	last, room := vals[n-1], uint(5-n) // bytes the last part fills
	if last >= 1<<(8*room) {
		return netip.Addr{}, false
	}
	for i := 3; i >= n-1; i-- {
		ip[i] = byte(last)
		last >>= 8
	}
	return netip.AddrFrom4(ip), true
}

// compileFilter splits a topic filter into levels.
func compileFilter(s string, eq bool) filter {
	f := filter{raw: s}
	if eq {
		f.kind = fExact
		return f
	}
	f.kind = fExact
	for l := range strings.SplitSeq(s, "/") {
		lv := level{kind: lLit, s: l}
		switch l {
		case "+":
			lv.kind = lPlus
		case "#":
			lv.kind = lHash
		case "%u":
			lv.kind = lUser
		case "%c":
			lv.kind = lClient
		}
		switch lv.kind {
		case lPlus, lHash:
			if f.kind == fExact {
				f.kind = fWild
			}
		case lUser, lClient:
			f.kind = fPattern
		}
		f.levels = append(f.levels, lv)
	}
	if f.kind == fExact {
		f.levels = nil
	}
	return f
}

var _ access.ACLChecker = (*File)(nil)
