package config

import (
	"sort"
	"strings"
)

// wildField is a family of keys: its key has segments written in angle
// brackets (auth.http.auth_req.headers.<name>, auth.user.<id>.username,
// listener.tcp.<name>.access.<id>), each standing for any one segment (not
// empty, without a dot), kept as written: a header or claim name, a user's
// id, a zone or listener name. Viper folds keys to lower case, so the
// loader keeps the values of these keys itself (loader.wild). A key is a
// concrete key of a wildField only if no fixed field has it. A key
// without a free segment is a fixed key kept the same way (one EMQX has
// that the node accepts without acting on it).
type wildField struct {
	key            string
	prefix, suffix string   // key around its free segments
	segs           []string // key split at dots; "" where a segment is free
	secret         bool     // non-empty values masked by Dump and in errors
	// status says what the node does with the key: implemented (set not
	// nil, or read by a sibling's set through peer), or accepted without
	// effect (notImplemented, noEffect).
	status keyStatus
	// set stores the values of the concrete keys, sorted by free segment
	// (lessFree); nil when a sibling's set reads them through peer. peer
	// returns the raw value of any concrete wild key; report flags one
	// value by its free segment.
	set func(c *Config, vals []wildVal, peer func(key string) (string, bool), report func(free, problem string))
	// get returns the effective concrete keys (by free segment) and
	// values, for Dump.
	get func(c *Config) []wildVal
}

// keyStatus is what the node does with a key of EMQX 4.4.
type keyStatus int

const (
	implemented    keyStatus = iota
	notImplemented           // accepted and listed once at boot
	noEffect                 // concerns only the Erlang VM
)

// wildVal is one concrete key of a wildField, by its free segments (joined
// by dots when there are several), and its value.
type wildVal struct{ free, value string }

// newWild returns the wildField of key, whose free segments are those in
// angle brackets.
func newWild(key string, secret bool,
	set func(*Config, []wildVal, func(string) (string, bool), func(string, string)),
	get func(*Config) []wildVal) wildField {
	w := wildField{key: key, secret: secret, set: set, get: get}
	w.segs = strings.Split(key, ".")
	first, last := -1, -1
	for i, s := range w.segs {
		if strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">") {
			w.segs[i] = ""
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		w.prefix = key
		return w
	}
	w.prefix = strings.Join(w.segs[:first], ".") + "."
	if last < len(w.segs)-1 {
		w.suffix = "." + strings.Join(w.segs[last+1:], ".")
	}
	return w
}

// concrete is the key of free segments free (joined by dots).
func (w *wildField) concrete(free string) string {
	fs := strings.Split(free, ".")
	out := make([]string, len(w.segs))
	k := 0
	for i, s := range w.segs {
		if s == "" && k < len(fs) {
			s, k = fs[k], k+1
		}
		out[i] = s
	}
	return strings.Join(out, ".")
}

// free returns the free segments of key (joined by dots), or false when
// key is not of w.
func (w *wildField) free(key string) (string, bool) {
	if !strings.HasPrefix(key, w.prefix) || !strings.HasSuffix(key, w.suffix) {
		return "", false
	}
	segs := strings.Split(key, ".")
	if len(segs) != len(w.segs) {
		return "", false
	}
	var fs []string
	for i, s := range w.segs {
		switch {
		case s == "" && segs[i] == "":
			return "", false
		case s == "":
			fs = append(fs, segs[i])
		case s != segs[i]:
			return "", false
		}
	}
	if fs == nil && key != w.key {
		return "", false
	}
	return strings.Join(fs, "."), true
}

// freeAt returns the segments of key where w has its free ones, joined by
// dots (key has as many segments as w).
func (w *wildField) freeAt(key string) string {
	segs := strings.Split(key, ".")
	var fs []string
	for i, s := range w.segs {
		if s == "" && i < len(segs) {
			fs = append(fs, segs[i])
		}
	}
	return strings.Join(fs, ".")
}

// nfree is the number of free segments of w.
func (w *wildField) nfree() int {
	n := 0
	for _, s := range w.segs {
		if s == "" {
			n++
		}
	}
	return n
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
