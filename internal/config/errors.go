package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Error is one configuration problem.
//
// Source is the file path, "env EMQX_X__Y" for an environment variable, or ""
// for a problem not tied to one place. Line is 1-based, 0 for env and derived
// problems. Key and Value are the key and its raw value as written (either may
// be empty), Msg says what is wrong and what is allowed.
type Error struct {
	Source string
	Line   int
	Key    string
	Value  string
	Msg    string
}

// Error formats the problem as `source:line: key = "value": msg`, leaving out
// the parts that are empty.
func (e Error) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source)
		if e.Line > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	switch {
	case e.Key != "" && e.Value != "":
		fmt.Fprintf(&b, "%s = %q: ", e.Key, e.Value)
	case e.Key != "":
		b.WriteString(e.Key + ": ")
	case e.Value != "":
		fmt.Fprintf(&b, "%q: ", e.Value)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found by one Load, in file order (emqx.conf,
// cluster.conf, the plugins' files, then the environment), each file by
// line.
type Errors struct {
	List []Error
}

// Error returns one line per problem.
func (e *Errors) Error() string {
	lines := make([]string, len(e.List))
	for i, x := range e.List {
		lines[i] = x.Error()
	}
	return strings.Join(lines, "\n")
}

// origin says where a value came from.
type origin struct {
	source string // file path, "env NAME", or "" for the built-in default
	line   int
}

func errAt(o origin, key, value, msg string) Error {
	return Error{Source: o.source, Line: o.line, Key: key, Value: value, Msg: msg}
}
