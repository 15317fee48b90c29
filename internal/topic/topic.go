// Package topic reads MQTT topic filters as EMQX does.
package topic

import "strings"

// SplitShared splits a shared subscription's filter into its prefix
// ("$share/<group>/" or "$queue/") and the filter it shares: "$share/g/a/+"
// is "$share/g/" and "a/+". A plain filter, or "$share/" without a group
// and a filter, has no prefix: "" and f.
func SplitShared(f string) (prefix, filter string) {
	if rest, ok := strings.CutPrefix(f, "$share/"); ok {
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			n := len("$share/") + i + 1
			return f[:n], f[n:]
		}
		return "", f
	}
	if rest, ok := strings.CutPrefix(f, "$queue/"); ok {
		return "$queue/", rest
	}
	return "", f
}

// Plain is the filter a subscription shares, or f itself: SplitShared's
// second part.
func Plain(f string) string {
	_, p := SplitShared(f)
	return p
}
