package acl

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file reads the Erlang term syntax that EMQX reads acl.conf with
// (file:consult/1): terms each ended by a dot, % comments, atoms, strings,
// character and integer literals, tuples, lists and binaries. It reads one
// top-level term at a time so that the memory it holds beyond the compiled
// rules is one rule's worth.

// Limits that keep a hostile file from costing more than its size.
const (
	// MaxFileSize is the largest acl.conf Load reads.
	MaxFileSize = 32 << 20
	// maxDepth bounds how deeply tuples, lists and binaries may nest.
	maxDepth = 64
	// maxTermNodes bounds the nodes one top-level term may have.
	maxTermNodes = 1 << 20
)

// Error is a syntax or rule error in an acl.conf, at a 1-based line and
// column (Col counts characters; 0 when unknown).
type Error struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *Error) Error() string {
	if e.Col > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

type kind uint8

const (
	kAtom   kind = iota + 1
	kInt         // integer or character literal
	kFloat       // float literal (never valid in a rule)
	kString      // "..." literal: a list of character codes, s holds them as UTF-8
	kList        // [...]: elems, then tail (nil when proper)
	kTuple       // {...}
	kBinary      // <<...>>: s holds the bytes
)

// term is one parsed Erlang term.
type term struct {
	kind      kind
	line, col int32
	s         string // atom name, string characters (UTF-8), binary bytes, float text
	i         int64  // integer value (when !big)
	big       bool   // integer does not fit int64
	low       uint8  // integer value's low 8 bits (two's complement), as binaries truncate
	elems     []*term
	tail      *term // improper or non-list tail of a kList; nil for a proper list
}

type tokKind uint8

const (
	tEOF tokKind = iota
	tAtom
	tVar
	tReserved
	tString
	tInt // integer or $c
	tFloat
	tPunct
	tDot
)

type token struct {
	kind      tokKind
	line, col int32
	s         string
	i         int64
	big       bool
	low       uint8
}

// reserved are the Erlang reserved words: bare, they are not atoms.
var reserved = map[string]bool{
	"after": true, "and": true, "andalso": true, "band": true, "begin": true,
	"bnot": true, "bor": true, "bsl": true, "bsr": true, "bxor": true,
	"case": true, "catch": true, "cond": true, "div": true, "end": true,
	"fun": true, "if": true, "let": true, "not": true, "of": true, "or": true,
	"orelse": true, "receive": true, "rem": true, "try": true, "when": true,
	"xor": true,
}

type scanner struct {
	name   string
	src    []byte
	latin1 bool
	off    int
	line   int32
	col    int32
}

func (s *scanner) errAt(line, col int32, format string, args ...any) *Error {
	return &Error{File: s.name, Line: int(line), Col: int(col), Msg: fmt.Sprintf(format, args...)}
}

// peek returns the next character and its size in bytes (-1, 0 at the end).
func (s *scanner) peek() (rune, int) {
	return s.peekAt(s.off)
}

func (s *scanner) peekAt(off int) (rune, int) {
	if off >= len(s.src) {
		return -1, 0
	}
	b := s.src[off]
	if b < utf8.RuneSelf || s.latin1 {
		return rune(b), 1
	}
	return utf8.DecodeRune(s.src[off:]) // the source was validated as UTF-8
}

func (s *scanner) advance(size int, r rune) {
	s.off += size
	if r == '\n' {
		s.line++
		s.col = 1
	} else {
		s.col++
	}
}

func (s *scanner) next() rune {
	r, n := s.peek()
	if n > 0 {
		s.advance(n, r)
	}
	return r
}

func isWhite(r rune) bool { return r >= 0 && r <= ' ' || r >= 0x80 && r <= 0xA0 }

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// isAtomStart: a-z and the Latin-1 lowercase letters.
func isAtomStart(r rune) bool { return r >= 'a' && r <= 'z' || r >= 0xDF && r <= 0xFF && r != 0xF7 }

// isVarStart: A-Z, _ and the Latin-1 uppercase letters.
func isVarStart(r rune) bool {
	return r >= 'A' && r <= 'Z' || r == '_' || r >= 0xC0 && r <= 0xDE && r != 0xD7
}

func isNameChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || isDigit(r) || r == '_' || r == '@' ||
		r >= 0xC0 && r <= 0xFF && r != 0xD7 && r != 0xF7
}

// operators the scanner knows, longest first, so that an error shows the
// whole token.
var operators = []string{
	"=:=", "=/=", "...", "<<", ">>", "||", "++", "--", "->", "<-", "<=", ">=",
	"=<", "==", "/=", "=>", ":=", "::", "..",
}

// skipSpace skips white space and comments.
func (s *scanner) skipSpace() {
	for {
		r, n := s.peek()
		switch {
		case n == 0:
			return
		case r == '%':
			for {
				r, n = s.peek()
				if n == 0 || r == '\n' {
					break
				}
				s.advance(n, r)
			}
		case isWhite(r):
			s.advance(n, r)
		default:
			return
		}
	}
}

func (s *scanner) scan() (token, error) {
	s.skipSpace()
	t := token{line: s.line, col: s.col}
	r, n := s.peek()
	switch {
	case n == 0:
		t.kind = tEOF
		return t, nil
	case isAtomStart(r):
		t.s = s.name_()
		t.kind = tAtom
		if reserved[t.s] {
			t.kind = tReserved
		}
		return t, nil
	case isVarStart(r):
		t.s = s.name_()
		t.kind = tVar
		return t, nil
	case isDigit(r):
		return s.number(t)
	case r == '\'':
		s.advance(n, r)
		v, err := s.quoted('\'', t)
		t.kind, t.s = tAtom, v
		if err == nil && utf8.RuneCountInString(v) > 255 {
			err = s.errAt(t.line, t.col, "atom is longer than 255 characters")
		}
		return t, err
	case r == '"':
		s.advance(n, r)
		v, err := s.quoted('"', t)
		t.kind, t.s = tString, v
		return t, err
	case r == '$':
		s.advance(n, r)
		c, n2 := s.peek()
		if n2 == 0 {
			return t, s.errAt(t.line, t.col, "unexpected end of file after $")
		}
		s.advance(n2, c)
		if c == '\\' {
			var err error
			if c, err = s.escape(t); err != nil {
				return t, err
			}
		}
		t.kind, t.i, t.low = tInt, int64(c), uint8(c)
		return t, nil
	case r == '.':
		r2, n2 := s.peekAt(s.off + 1)
		if n2 == 0 || r2 == '%' || isWhite(r2) {
			s.advance(n, r)
			t.kind, t.s = tDot, "."
			return t, nil
		}
	}
	for _, op := range operators {
		if bytes.HasPrefix(s.src[s.off:], []byte(op)) {
			for range len(op) {
				s.next()
			}
			t.kind, t.s = tPunct, op
			return t, nil
		}
	}
	s.advance(n, r)
	t.kind, t.s = tPunct, string(r)
	return t, nil
}

// name_ scans an unquoted atom or a variable name.
func (s *scanner) name_() string {
	var b strings.Builder
	for {
		r, n := s.peek()
		if n == 0 || !isNameChar(r) {
			return b.String()
		}
		b.WriteRune(r)
		s.advance(n, r)
	}
}

// quoted scans the rest of a quoted atom or string up to the closing q.
func (s *scanner) quoted(q rune, t token) (string, error) {
	var b strings.Builder
	for {
		r, n := s.peek()
		if n == 0 {
			what := "string"
			if q == '\'' {
				what = "quoted atom"
			}
			return "", s.errAt(t.line, t.col, "unterminated %s", what)
		}
		s.advance(n, r)
		switch r {
		case q:
			return b.String(), nil
		case '\\':
			c, err := s.escape(t)
			if err != nil {
				return "", err
			}
			b.WriteRune(c)
		default:
			b.WriteRune(r)
		}
	}
}

// escape reads an escape sequence after its backslash.
func (s *scanner) escape(t token) (rune, error) {
	line, col := s.line, s.col-1
	r, n := s.peek()
	if n == 0 {
		return 0, s.errAt(t.line, t.col, "unexpected end of file in an escape sequence")
	}
	s.advance(n, r)
	switch r {
	case 'b':
		return '\b', nil
	case 'd':
		return 0x7F, nil
	case 'e':
		return 0x1B, nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 's':
		return ' ', nil
	case 't':
		return '\t', nil
	case 'v':
		return '\v', nil
	case '^':
		c, n := s.peek()
		if n == 0 {
			return 0, s.errAt(line, col, "unexpected end of file in an escape sequence")
		}
		s.advance(n, c)
		return c & 31, nil
	case 'x':
		if c, _ := s.peek(); c == '{' {
			s.next()
			v, digits := 0, 0
			for {
				c, n := s.peek()
				if n == 0 {
					return 0, s.errAt(line, col, "unterminated \\x{...} escape")
				}
				s.advance(n, c)
				if c == '}' {
					break
				}
				d := hexVal(c)
				if d < 0 {
					return 0, s.errAt(line, col, "bad character %q in a \\x{...} escape", c)
				}
				if v = v*16 + d; v > utf8.MaxRune {
					return 0, s.errAt(line, col, "character code in \\x{...} is beyond U+10FFFF")
				}
				digits++
			}
			if digits == 0 {
				return 0, s.errAt(line, col, "empty \\x{} escape")
			}
			return checkCode(s, line, col, rune(v))
		}
		v := 0
		for range 2 {
			c, n := s.peek()
			d := hexVal(c)
			if n == 0 || d < 0 {
				return 0, s.errAt(line, col, "\\x needs two hex digits or {...}")
			}
			s.advance(n, c)
			v = v*16 + d
		}
		return rune(v), nil
	}
	if r >= '0' && r <= '7' {
		v := int(r - '0')
		for range 2 {
			c, n := s.peek()
			if n == 0 || c < '0' || c > '7' {
				break
			}
			s.advance(n, c)
			v = v*8 + int(c-'0')
		}
		return rune(v), nil
	}
	return r, nil // any other character stands for itself
}

// checkCode refuses the UTF-16 surrogates: no binary can hold them, so no
// rule could use them.
func checkCode(s *scanner, line, col int32, r rune) (rune, error) {
	if r >= 0xD800 && r <= 0xDFFF {
		return 0, s.errAt(line, col, "character code U+%04X is a UTF-16 surrogate", r)
	}
	return r, nil
}

func hexVal(c rune) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// digitRun scans digits of base (with single underscores between them,
// as Erlang allows) and returns them without the underscores.
func (s *scanner) digitRun(base int) string {
	var b strings.Builder
	for {
		r, n := s.peek()
		if n == 0 {
			break
		}
		if r == '_' && b.Len() > 0 {
			r2, n2 := s.peekAt(s.off + 1)
			if n2 > 0 && digitVal(r2) >= 0 && digitVal(r2) < base {
				s.advance(n, r)
				continue
			}
			break
		}
		if d := digitVal(r); d < 0 || d >= base {
			break
		}
		b.WriteRune(r)
		s.advance(n, r)
	}
	return b.String()
}

func digitVal(r rune) int {
	switch {
	case r >= '0' && r <= '9':
		return int(r - '0')
	case r >= 'a' && r <= 'z':
		return int(r-'a') + 10
	case r >= 'A' && r <= 'Z':
		return int(r-'A') + 10
	}
	return -1
}

// number scans an integer (decimal or Base#digits) or a float.
func (s *scanner) number(t token) (token, error) {
	digits := s.digitRun(10)
	r, _ := s.peek()
	switch {
	case r == '#':
		base, err := strconv.Atoi(digits)
		if err != nil || base < 2 || base > 36 {
			return t, s.errAt(t.line, t.col, "bad number base %s", digits)
		}
		s.next()
		ds := s.digitRun(base)
		if ds == "" {
			return t, s.errAt(t.line, t.col, "no digits after %d#", base)
		}
		setInt(&t, ds, base)
		return t, nil
	case r == '.':
		if r2, n2 := s.peekAt(s.off + 1); n2 > 0 && isDigit(r2) {
			s.next()
			frac := s.digitRun(10)
			text := digits + "." + frac
			if e, _ := s.peek(); e == 'e' || e == 'E' {
				save := *s
				s.next()
				sign := ""
				if c, _ := s.peek(); c == '+' || c == '-' {
					s.next()
					sign = string(c)
				}
				if exp := s.digitRun(10); exp != "" {
					text += "e" + sign + exp
				} else {
					*s = save
				}
			}
			t.kind, t.s = tFloat, text
			return t, nil
		}
	}
	setInt(&t, digits, 10)
	return t, nil
}

// setInt sets t to the integer digits in base, noting overflow and keeping
// the low bits exact either way.
func setInt(t *token, digits string, base int) {
	t.kind = tInt
	var u uint64 // value mod 2^64
	for _, c := range digits {
		u = u*uint64(base) + uint64(digitVal(c))
	}
	v, err := strconv.ParseInt(digits, base, 64)
	t.i, t.big, t.low = v, err != nil, uint8(u)
}
