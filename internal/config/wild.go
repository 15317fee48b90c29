package config

import (
	"sort"
	"strings"
)

// wildField is a family of keys: its key has one segment written in angle
// brackets (auth.http.auth_req.headers.<name>, auth.user.<id>.username),
// which stands for any one segment (not empty, without a dot), kept as
// written: a header or claim name, a user's id. Viper folds keys to lower
// case, so the loader keeps the values of these keys itself (loader.wild).
// A key is a concrete key of a wildField only if no fixed field has it.
type wildField struct {
	key            string
	prefix, suffix string // key around its free segment
	secret         bool   // non-empty values masked by Dump and in errors
	// set stores the values of the concrete keys, sorted by free segment
	// (lessFree); nil when a sibling's set reads them through peer. peer
	// returns the raw value of any concrete wild key; report flags one
	// value by its free segment.
	set func(c *Config, vals []wildVal, peer func(key string) (string, bool), report func(free, problem string))
	// get returns the effective concrete keys (by free segment) and
	// values, for Dump.
	get func(c *Config) []wildVal
}

// wildVal is one concrete key of a wildField, by its free segment, and its value.
type wildVal struct{ free, value string }

// newWild returns the wildField of key, whose free segment is the one in
// angle brackets.
func newWild(key string, secret bool,
	set func(*Config, []wildVal, func(string) (string, bool), func(string, string)),
	get func(*Config) []wildVal) wildField {
	i, j := strings.IndexByte(key, '<'), strings.IndexByte(key, '>')
	if i < 0 || j < i {
		panic("config: wildcard key without <name>: " + key)
	}
	return wildField{key: key, prefix: key[:i], suffix: key[j+1:], secret: secret, set: set, get: get}
}

// concrete is the key of free segment free.
func (w *wildField) concrete(free string) string { return w.prefix + free + w.suffix }

// free returns the free segment of key, or false when key is not of w.
func (w *wildField) free(key string) (string, bool) {
	if len(key) <= len(w.prefix)+len(w.suffix) || !strings.HasPrefix(key, w.prefix) || !strings.HasSuffix(key, w.suffix) {
		return "", false
	}
	f := key[len(w.prefix) : len(key)-len(w.suffix)]
	if f == "" || strings.Contains(f, ".") {
		return "", false
	}
	return f, true
}

// matchWild returns the wildField of a concrete key and its free segment,
// nil when there is none (a fixed key is never wild).
func matchWild(key string) (*wildField, string) {
	if lookup(key) != nil {
		return nil, ""
	}
	for i := range wildSchema {
		if f, ok := wildSchema[i].free(key); ok {
			return &wildSchema[i], f
		}
	}
	return nil, ""
}

// known reports whether key is in the schema, fixed or wild.
func known(key string) bool {
	if lookup(key) != nil {
		return true
	}
	w, _ := matchWild(key)
	return w != nil
}

// isSecret reports whether key's values are masked.
func isSecret(key string) bool {
	if f := lookup(key); f != nil {
		return f.secret
	}
	w, _ := matchWild(key)
	return w != nil && w.secret
}

// lessFree orders free segments: decimal numbers by value first, then the
// others as strings, so auth.user.2 comes before auth.user.10.
func lessFree(a, b string) bool {
	na, nb := isDigits(a), isDigits(b)
	switch {
	case na && nb:
		ta, tb := strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if len(ta) != len(tb) {
			return len(ta) < len(tb)
		}
		if ta != tb {
			return ta < tb
		}
		return a < b
	case na != nb:
		return na
	}
	return a < b
}

// sortWild sorts values by free segment (lessFree).
func sortWild(vals []wildVal) {
	sort.Slice(vals, func(i, j int) bool { return lessFree(vals[i].free, vals[j].free) })
}

// mapVals returns the entries of m as wildVals, sorted by name.
func mapVals(m map[string]string) []wildVal {
	out := make([]wildVal, 0, len(m))
	for k, v := range m {
		out = append(out, wildVal{k, v})
	}
	sortWild(out)
	return out
}

// mapWild is a wildField whose values make a map by free segment (HTTP
// headers, JWT claims); no key gives a nil map.
func mapWild(key string, p func(*Config) *map[string]string) wildField {
	return newWild(key, false,
		func(c *Config, vals []wildVal, _ func(string) (string, bool), _ func(string, string)) {
			if len(vals) == 0 {
				*p(c) = nil
				return
			}
			m := make(map[string]string, len(vals))
			for _, v := range vals {
				m[v.free] = v.value
			}
			*p(c) = m
		},
		func(c *Config) []wildVal { return mapVals(*p(c)) })
}
