package acl

import (
	"net/netip"
	"strings"

	"emqxgo/internal/access"
)

// Rules is a compiled acl.conf: immutable, safe for concurrent use.
type Rules struct {
	rules    []rule
	pub, sub []*rule // the rules that apply to each action, in file order
}

type rule struct {
	allow    bool
	all      bool // {allow|deny, all}
	pub, sub bool
	who      who
	topics   []filter
}

type whoKind uint8

const (
	whoAll whoKind = iota
	whoUser
	whoClient
	whoIP
	whoAnd
	whoOr
)

type who struct {
	kind whoKind
	s    string         // user name or client id
	nets []netip.Prefix // whoIP: {ipaddr, _} has one, {ipaddrs, _} any number
	subs []who          // whoAnd, whoOr
}

type filterKind uint8

const (
	fExact   filterKind = iota // no wildcard or placeholder, or {eq, T}: the topic must equal raw
	fWild                      // has + or #
	fPattern                   // has %u or %c (and maybe wildcards)
)

type filter struct {
	kind   filterKind
	raw    string
	levels []level // fWild and fPattern
}

type levelKind uint8

const (
	lLit levelKind = iota
	lPlus
	lHash
	lUser   // %u
	lClient // %c
)

type level struct {
	kind levelKind
	s    string
}

// Len is the number of rules.
func (rs *Rules) Len() int {
	if rs == nil {
		return 0
	}
	return len(rs.rules)
}

// Check answers the first rule that matches c doing a on topic (a topic
// name for Publish, the filter asked for, without any $share/Group/ or
// $queue/ prefix, for Subscribe): Allow or Deny; Ignore when no rule
// matches, and the caller applies acl_nomatch. A nil *Rules ignores.
// It does not allocate.
func (rs *Rules) Check(c *access.Client, a access.Action, topic string) access.Result {
	if rs == nil {
		return access.Ignore
	}
	list := rs.pub
	if a == access.Subscribe {
		list = rs.sub
	}
	for _, r := range list {
		if r.match(c, topic) {
			if r.allow {
				return access.Allow
			}
			return access.Deny
		}
	}
	return access.Ignore
}

func (r *rule) match(c *access.Client, topic string) bool {
	if r.all {
		return true
	}
	return r.who.match(c) && matchTopics(c, topic, r.topics)
}

func (w *who) match(c *access.Client) bool {
	switch w.kind {
	case whoAll:
		return true
	case whoUser:
		// An empty user name is taken as none: it matches no {user, _}.
		return c.Username != "" && c.Username == w.s
	case whoClient:
		return c.ClientID != "" && c.ClientID == w.s
	case whoIP:
		ip := peerIP(c)
		if !ip.IsValid() {
			return false
		}
		for _, n := range w.nets {
			if n.Contains(ip) {
				return true
			}
		}
		return false
	case whoAnd:
		for i := range w.subs {
			if !w.subs[i].match(c) {
				return false
			}
		}
		return true
	case whoOr:
		for i := range w.subs {
			if w.subs[i].match(c) {
				return true
			}
		}
		return false
	}
	return false
}

// peerIP is the client's address as EMQX's IPv4 listener sees it: an
// IPv4-mapped IPv6 address (a Go dual-stack listener's view of an IPv4
// client) is taken as IPv4, and a zone is dropped.
func peerIP(c *access.Client) netip.Addr {
	return c.Peer.Addr().Unmap().WithZone("")
}

// matchTopics is emqx_access_rule:match_topics/3: the filters in order,
// and a filter with a placeholder the client has no value for ends the
// search as no match (the filters after it are not tried).
func matchTopics(c *access.Client, topic string, fs []filter) bool {
	for i := range fs {
		f := &fs[i]
		switch f.kind {
		case fExact:
			if topic == f.raw {
				return true
			}
		case fWild:
			if matchLevels(c, topic, f.levels) {
				return true
			}
		case fPattern:
			for _, l := range f.levels {
				if l.kind == lUser && c.Username == "" || l.kind == lClient && c.ClientID == "" {
					return false
				}
			}
			if matchLevels(c, topic, f.levels) {
				return true
			}
		}
	}
	return false
}

// matchLevels is emqx_topic:match/2 on word lists, where the topic's own
// + and # levels are plain words: it answers whether a topic name, or a
// filter asked for in a SUBSCRIBE, matches the rule's filter. A filter
// level #, unless it is the filter's last, matches only a # level; a
// placeholder's value is one level, so a value with / in it, or one that
// is "+" or "#", matches nothing.
func matchLevels(c *access.Client, topic string, ls []level) bool {
	pos, done := 0, false
	for j := 0; ; j++ {
		if done {
			// The topic is used up: only a last # is left to match nothing.
			return j == len(ls) || j == len(ls)-1 && ls[j].kind == lHash
		}
		var w string
		if k := strings.IndexByte(topic[pos:], '/'); k >= 0 {
			w, pos = topic[pos:pos+k], pos+k+1
		} else {
			w, done = topic[pos:], true
		}
		if j == len(ls) {
			return false
		}
		switch l := &ls[j]; l.kind {
		case lLit:
			if w != l.s {
				return false
			}
		case lPlus:
		case lHash:
			if w != "#" {
				return j == len(ls)-1
			}
		case lUser, lClient:
			v := c.Username
			if l.kind == lClient {
				v = c.ClientID
			}
			if w != v || v == "+" || v == "#" {
				return false
			}
		}
	}
}
