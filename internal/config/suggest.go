package config

import "strings"

// suggest returns the known key closest to an unknown one, or "" when none is
// reasonably close. A key that differs only in case always matches. For a
// wildcard key (wild.go) the candidates are its concrete keys whose free
// segment is the unknown key's segment at the same place, so that
// auth.http.auth_req.header.accept suggests auth.http.auth_req.headers.accept.
func suggest(unknown string) string {
	lower := strings.ToLower(unknown)
	if f := lookup(lower); f != nil {
		return f.key
	}
	segs := strings.Split(unknown, ".")
	for i := range wildSchema {
		w := &wildSchema[i]
		if _, ok := w.free(lower); ok && len(lower) == len(unknown) { // the free segments keep their case
			return w.concrete(w.freeAt(unknown))
		}
	}
	best, bestD := "", -1
	try := func(key string) {
		if d := editDistance(unknown, key); bestD < 0 || d < bestD {
			best, bestD = key, d
		}
	}
	for _, f := range schema {
		try(f.key)
	}
	for i := range wildSchema {
		w := &wildSchema[i]
		// The free segment is taken where the pattern has it, counted from
		// the start and from the end (a typo may add or drop a dot).
		if w.nfree() != 1 {
			continue
		}
		at, fromEnd := strings.Count(w.prefix, "."), strings.Count(w.suffix, ".")
		for _, j := range []int{at, len(segs) - 1 - fromEnd} {
			if j >= 0 && j < len(segs) && segs[j] != "" && known(w.concrete(segs[j])) {
				try(w.concrete(segs[j]))
			}
		}
	}
	if bestD < 0 || bestD > maxSuggestDistance(unknown) {
		return ""
	}
	return best
}

// maxSuggestDistance allows about one typo per five characters, at least one
// and at most four, so "foo" suggests nothing and "cluster.static.seed"
// suggests cluster.static.seeds.
func maxSuggestDistance(s string) int {
	n := len(s) / 5
	return max(1, min(n, 4))
}

// editDistance is the Levenshtein distance with adjacent transpositions
// counted as one edit (optimal string alignment).
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// shownValue masks the value of an unknown key that looks like a secret
// key (a typo of node.cookie), so errors do not print the cookie.
func shownValue(key, value string) string {
	if s := suggest(key); s != "" && isSecret(s) && value != "" {
		return Masked
	}
	return value
}

// unknownKeyMsg is the message for a key not in the schema; env adds the
// variable name of the suggestion.
func unknownKeyMsg(key string, env bool) string {
	s := suggest(key)
	if s == "" {
		return "unknown key"
	}
	if env {
		return "unknown key; did you mean " + s + " (" + envName(s) + ")?"
	}
	return "unknown key; did you mean " + s + "?"
}
