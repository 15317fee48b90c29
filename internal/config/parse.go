package config

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
)

// entry is one `key = value` line of a config file.
type entry struct {
	key, value string
	line       int
}

// readFile reads and parses one config file. A file that cannot be read is a
// single error naming its path.
func readFile(path string) ([]entry, []Error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, []Error{{Source: path, Msg: "cannot read config file: " + osErrText(err)}}
	}
	return parse(path, data)
}

// parse splits EMQX 4 config text into entries. Syntax: `key = value`, full
// line `#` comments, blank lines, a trailing ` # comment` after an unquoted
// value, values optionally in double or single quotes (no escapes; `#` inside
// quotes is literal). Keys are not checked against the schema here.
func parse(source string, data []byte) ([]entry, []Error) {
	var (
		entries []entry
		errs    []Error
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		text := sc.Text()
		if n == 1 {
			text = strings.TrimPrefix(text, "\uFEFF") // UTF-8 byte order mark
		}
		e, msg := parseLine(text)
		switch {
		case msg != "":
			errs = append(errs, Error{Source: source, Line: n, Key: e.key, Value: e.value, Msg: msg})
		case e.key != "":
			e.line = n
			entries = append(entries, e)
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, Error{Source: source, Line: n + 1, Msg: "cannot read line: " + err.Error()})
	}
	return entries, errs
}

// parseLine returns the entry of one line (empty key for blank and comment
// lines) or an error message, with the entry holding what is known for it.
func parseLine(text string) (entry, string) {
	line := strings.TrimSpace(text)
	if line == "" || line[0] == '#' {
		return entry{}, ""
	}
	eq := strings.IndexByte(line, '=')
	if eq < 0 {
		return entry{value: line}, "expected key = value"
	}
	key := strings.TrimSpace(line[:eq])
	if key == "" {
		return entry{value: line}, "missing key before '='"
	}
	if strings.ContainsAny(key, " \t") {
		return entry{value: line}, "key must not contain spaces"
	}
	value, msg := parseValue(strings.TrimSpace(line[eq+1:]))
	if msg != "" {
		return entry{key: key, value: value}, msg
	}
	return entry{key: key, value: value}, ""
}

// parseValue handles quoting and trailing comments of the text after '='.
func parseValue(rest string) (string, string) {
	if rest == "" || rest[0] == '#' {
		return "", "missing value"
	}
	if q := rest[0]; q == '"' || q == '\'' {
		end := strings.IndexByte(rest[1:], q)
		if end < 0 {
			return rest, fmt.Sprintf("unterminated %c quote", q)
		}
		value := rest[1 : 1+end]
		after := strings.TrimSpace(rest[2+end:])
		if after != "" && after[0] != '#' {
			return rest, "unexpected text after the quoted value"
		}
		return value, ""
	}
	// An unquoted value ends at a '#' that follows whitespace.
	for i := 1; i < len(rest); i++ {
		if rest[i] == '#' && (rest[i-1] == ' ' || rest[i-1] == '\t') {
			rest = strings.TrimSpace(rest[:i])
			break
		}
	}
	return rest, ""
}

// osErrText drops the path from an *os.PathError, since messages name it already.
func osErrText(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}
