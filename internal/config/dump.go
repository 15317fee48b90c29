package config

import (
	"sort"
	"strings"
)

// Masked replaces secret values (node.cookie) in Dump.
const Masked = "******"

// Dump returns the effective configuration as `key = value` lines in file
// syntax, one per schema key and one per concrete key of a wildcard key
// (a header, a claim, a user), sorted by key, secrets masked (the cookie
// always, others when set). Values that would not survive the file parser
// unquoted (empty, with " #", or quotes) are quoted.
func (c *Config) Dump() string {
	lines := make([]string, 0, len(schema))
	for i := range schema {
		f := &schema[i]
		v := f.get(c)
		if f.secret && (v != "" || f.key == "node.cookie") {
			v = Masked
		}
		lines = append(lines, f.key+" = "+quoteValue(v))
	}
	for i := range wildSchema {
		w := &wildSchema[i]
		for _, x := range w.get(c) {
			v := x.value
			if w.secret && v != "" {
				v = Masked
			}
			lines = append(lines, w.concrete(x.free)+" = "+quoteValue(v))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// quoteValue quotes a value only when the parser would read it differently.
func quoteValue(v string) string {
	plain := v != "" && strings.TrimSpace(v) == v && v[0] != '"' && v[0] != '\'' && v[0] != '#' &&
		!strings.Contains(v, " #") && !strings.Contains(v, "\t#")
	switch {
	case plain:
		return v
	case !strings.Contains(v, `"`):
		return `"` + v + `"`
	default:
		return "'" + v + "'"
	}
}
