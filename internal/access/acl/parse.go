package acl

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// termNodeLimit is maxTermNodes; tests lower it.
var termNodeLimit = maxTermNodes

// parser reads top-level terms one at a time.
type parser struct {
	sc    scanner
	tok   token
	depth int
	nodes int
}

func newParser(name string, src []byte) (*parser, error) {
	p := &parser{sc: scanner{name: name, src: src, line: 1, col: 1}}
	// A UTF-8 byte order mark is skipped, as Erlang's reader does.
	if bytes.HasPrefix(src, []byte("\xEF\xBB\xBF")) {
		p.sc.off = 3
	}
	p.sc.latin1 = latin1Coding(src)
	if !p.sc.latin1 && !utf8.Valid(src) {
		line, col := 1, 1
		for off := 0; off < len(src); {
			r, n := utf8.DecodeRune(src[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
			if r == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		return nil, &Error{File: name, Line: line, Col: col, Msg: "invalid UTF-8 (the file is read as UTF-8 unless a %% coding: latin-1 comment on its first two lines says otherwise)"}
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return p, nil
}

// codingRE finds an Emacs-style coding comment, as Erlang's epp looks for
// on a file's first two lines.
var codingRE = regexp.MustCompile(`%.*coding\s*[:=]\s*([-a-zA-Z0-9]+)`)

func latin1Coding(src []byte) bool {
	lines := bytes.SplitN(src, []byte("\n"), 3)
	for i := 0; i < len(lines) && i < 2; i++ {
		if m := codingRE.FindSubmatch(lines[i]); m != nil {
			switch strings.ToLower(string(m[1])) {
			case "latin-1", "latin1", "iso-8859-1":
				return true
			}
			return false
		}
	}
	return false
}

func (p *parser) advance() error {
	t, err := p.sc.scan()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) errTok(format string, args ...any) *Error {
	return p.sc.errAt(p.tok.line, p.tok.col, format, args...)
}

// describe names the current token for an error message.
func (p *parser) describe() string {
	switch p.tok.kind {
	case tEOF:
		return "end of file"
	case tAtom:
		return atomText(p.tok.s)
	case tVar, tReserved, tPunct, tDot:
		return "'" + p.tok.s + "'"
	case tString:
		return clip(quoteString(p.tok.s))
	case tInt:
		if p.tok.big {
			return "a large integer"
		}
		return strconv.FormatInt(p.tok.i, 10)
	case tFloat:
		return p.tok.s
	}
	return "?"
}

// next reads the next top-level term; it returns nil at the end of the
// file.
func (p *parser) next() (*term, error) {
	if p.tok.kind == tEOF {
		return nil, nil
	}
	p.nodes = 0
	t, err := p.term()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tDot {
		if p.tok.kind == tEOF {
			return nil, p.errTok("unexpected end of file: the last term is not ended by '.'")
		}
		if p.tok.kind == tPunct && p.tok.s == "." {
			return nil, p.errTok("a term's closing '.' must be followed by white space, a comment or the end of the file")
		}
		return nil, p.errTok("expected '.' after the term, got %s", p.describe())
	}
	return t, p.advance()
}

func (p *parser) node(k kind) (*term, error) {
	if p.nodes++; p.nodes > termNodeLimit {
		return nil, p.errTok("term too large (over %d elements)", termNodeLimit)
	}
	return &term{kind: k, line: p.tok.line, col: p.tok.col}, nil
}

func (p *parser) enter() error {
	if p.depth++; p.depth > maxDepth {
		return p.errTok("terms nested deeper than %d", maxDepth)
	}
	return nil
}

func (p *parser) term() (*term, error) {
	t, err := p.node(0)
	if err != nil {
		return nil, err
	}
	switch p.tok.kind {
	case tAtom:
		t.kind, t.s = kAtom, p.tok.s
		return t, p.advance()
	case tString:
		// Adjacent string literals are one string.
		var b strings.Builder
		for p.tok.kind == tString {
			b.WriteString(p.tok.s)
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
		t.kind, t.s = kString, b.String()
		return t, nil
	case tInt:
		t.kind, t.i, t.big, t.low = kInt, p.tok.i, p.tok.big, p.tok.low
		return t, p.advance()
	case tFloat:
		t.kind, t.s = kFloat, p.tok.s
		return t, p.advance()
	case tVar:
		return nil, p.errTok("expected a term, got variable %s (quote it to make an atom: '%s')", p.tok.s, p.tok.s)
	case tReserved:
		return nil, p.errTok("%s is a reserved word: write the atom as '%s'", p.tok.s, p.tok.s)
	case tPunct:
		switch p.tok.s {
		case "-", "+":
			return p.signed(t)
		case "{":
			return p.tuple(t)
		case "[":
			return p.list(t)
		case "<<":
			return p.binary(t)
		case "(":
			if err := p.enter(); err != nil {
				return nil, err
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
			in, err := p.term()
			if err != nil {
				return nil, err
			}
			if p.tok.kind != tPunct || p.tok.s != ")" {
				return nil, p.errTok("expected ')', got %s", p.describe())
			}
			p.depth--
			return in, p.advance()
		case "#":
			return nil, p.errTok("maps and records are not allowed in acl.conf")
		}
	}
	return nil, p.errTok("expected a term, got %s", p.describe())
}

// signed reads -N or +N.
func (p *parser) signed(t *term) (*term, error) {
	neg := p.tok.s == "-"
	if err := p.advance(); err != nil {
		return nil, err
	}
	switch p.tok.kind {
	case tInt:
		t.kind, t.i, t.big, t.low = kInt, p.tok.i, p.tok.big, p.tok.low
		if neg {
			t.i, t.low = -t.i, -t.low
		}
	case tFloat:
		t.kind, t.s = kFloat, p.tok.s
		if neg {
			t.s = "-" + t.s
		}
	default:
		return nil, p.errTok("expected a number after the sign, got %s", p.describe())
	}
	return t, p.advance()
}

func (p *parser) punct(s string) bool { return p.tok.kind == tPunct && p.tok.s == s }

func (p *parser) tuple(t *term) (*term, error) {
	t.kind = kTuple
	if err := p.enter(); err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if !p.punct("}") {
		for {
			e, err := p.term()
			if err != nil {
				return nil, err
			}
			t.elems = append(t.elems, e)
			if p.punct("}") {
				break
			}
			if !p.punct(",") {
				return nil, p.errTok("expected ',' or '}' in a tuple, got %s", p.describe())
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
	}
	p.depth--
	return t, p.advance()
}

func (p *parser) list(t *term) (*term, error) {
	t.kind = kList
	if err := p.enter(); err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if !p.punct("]") {
		for {
			e, err := p.term()
			if err != nil {
				return nil, err
			}
			t.elems = append(t.elems, e)
			if p.punct("]") {
				break
			}
			if p.punct("|") {
				if err := p.advance(); err != nil {
					return nil, err
				}
				tail, err := p.term()
				if err != nil {
					return nil, err
				}
				if !p.punct("]") {
					return nil, p.errTok("expected ']' after a list tail, got %s", p.describe())
				}
				switch {
				case tail.kind == kList:
					t.elems = append(t.elems, tail.elems...)
					t.tail = tail.tail
				case tail.kind == kString && tail.s == "":
				default:
					t.tail = tail
				}
				break
			}
			if !p.punct(",") {
				return nil, p.errTok("expected ',' or ']' in a list, got %s", p.describe())
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
	}
	p.depth--
	return t, p.advance()
}

// binary reads <<Seg, ...>>. A segment is a string, character or integer,
// optionally /utf8: the forms a rule has a use for. A string or integer
// segment without a type keeps each value's low 8 bits, as Erlang does.
func (p *parser) binary(t *term) (*term, error) {
	t.kind = kBinary
	if err := p.enter(); err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	var b []byte
	if !p.punct(">>") {
		for {
			line, col := p.tok.line, p.tok.col
			var (
				str   string
				isStr bool
				v     token
			)
			switch {
			case p.tok.kind == tString:
				isStr = true
				for p.tok.kind == tString {
					str += p.tok.s
					if err := p.advance(); err != nil {
						return nil, err
					}
				}
			case p.tok.kind == tInt:
				v = p.tok
				if err := p.advance(); err != nil {
					return nil, err
				}
			case p.punct("-") || p.punct("+"):
				neg := p.tok.s == "-"
				if err := p.advance(); err != nil {
					return nil, err
				}
				if p.tok.kind != tInt {
					return nil, p.errTok("expected an integer after the sign, got %s", p.describe())
				}
				v = p.tok
				if neg {
					v.i, v.low = -v.i, -v.low
				}
				if err := p.advance(); err != nil {
					return nil, err
				}
			default:
				return nil, p.errTok("expected a string or integer in a binary, got %s", p.describe())
			}
			if p.punct(":") {
				return nil, p.errTok("binary segment sizes are not supported in acl.conf")
			}
			utf := false
			if p.punct("/") {
				if err := p.advance(); err != nil {
					return nil, err
				}
				if p.tok.kind != tAtom || p.tok.s != "utf8" {
					return nil, p.errTok("binary segment type %s is not supported in acl.conf (only /utf8)", p.describe())
				}
				utf = true
				if err := p.advance(); err != nil {
					return nil, err
				}
			}
			switch {
			case isStr && utf:
				b = append(b, str...)
			case isStr:
				for _, r := range str {
					b = append(b, byte(r))
				}
			case utf:
				if v.big || v.i < 0 || v.i > utf8.MaxRune || v.i >= 0xD800 && v.i <= 0xDFFF {
					return nil, p.sc.errAt(line, col, "%s is not a Unicode code point for /utf8", describeInt(v))
				}
				b = utf8.AppendRune(b, rune(v.i))
			default:
				b = append(b, v.low)
			}
			if p.punct(">>") {
				break
			}
			if !p.punct(",") {
				return nil, p.errTok("expected ',' or '>>' in a binary, got %s", p.describe())
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
	}
	t.s = string(b)
	p.depth--
	return t, p.advance()
}

func describeInt(v token) string {
	if v.big {
		return "a large integer"
	}
	return strconv.FormatInt(v.i, 10)
}

// Printing terms in Erlang syntax for error messages.

const clipLen = 60

func clip(s string) string {
	if utf8.RuneCountInString(s) <= clipLen {
		return s
	}
	n := 0
	for i := range s {
		if n == clipLen {
			return s[:i] + "..."
		}
		n++
	}
	return s
}

func atomText(a string) string {
	bare := a != "" && !reserved[a]
	for i, r := range a {
		if i == 0 && !isAtomStart(r) || !isNameChar(r) {
			bare = false
			break
		}
	}
	if bare {
		return a
	}
	return "'" + escapeText(a, '\'') + "'"
}

func quoteString(s string) string { return `"` + escapeText(s, '"') + `"` }

func escapeText(s string, q rune) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == q || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < ' ' || r == 0x7F:
			fmt.Fprintf(&b, `\x{%X}`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// show renders t in Erlang syntax, cut short when long.
func show(t *term) string {
	var b strings.Builder
	writeTerm(&b, t)
	return clip(b.String())
}

func writeTerm(b *strings.Builder, t *term) {
	if b.Len() > 4*clipLen {
		return
	}
	switch t.kind {
	case kAtom:
		b.WriteString(atomText(t.s))
	case kInt:
		if t.big {
			b.WriteString("<large integer>")
		} else {
			b.WriteString(strconv.FormatInt(t.i, 10))
		}
	case kFloat:
		b.WriteString(t.s)
	case kString:
		b.WriteString(quoteString(t.s))
	case kBinary:
		b.WriteString("<<")
		if utf8.ValidString(t.s) && !strings.ContainsFunc(t.s, func(r rune) bool { return r < ' ' || r >= 0x7F }) {
			b.WriteString(quoteString(t.s))
		} else {
			for i := 0; i < len(t.s); i++ {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(strconv.Itoa(int(t.s[i])))
			}
		}
		b.WriteString(">>")
	case kTuple, kList:
		open, close := "{", "}"
		if t.kind == kList {
			open, close = "[", "]"
		}
		b.WriteString(open)
		for i, e := range t.elems {
			if i > 0 {
				b.WriteByte(',')
			}
			writeTerm(b, e)
			if b.Len() > 4*clipLen {
				return
			}
		}
		if t.tail != nil {
			b.WriteByte('|')
			writeTerm(b, t.tail)
		}
		b.WriteString(close)
	}
}
