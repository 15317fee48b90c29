// Package emqxterm renders the Erlang terms EMQX prints, and carries the
// reasons a cluster command fails with: Atom and Reason format them the way
// emqx_ctl shows them ({node_down,'emqx2@127.0.0.1'}); Error is the Go error
// that carries one from the peer links and membership up to the ctl socket.
// It is a leaf: membership, peer links and the ctl protocol all use it, and
// it imports none of them.
package emqxterm

import (
	"errors"
	"strings"
)

// Atom quotes s the way Erlang prints an atom: bare when it starts with a
// lowercase letter and has only [A-Za-z0-9_@], else in single quotes.
func Atom(s string) string {
	bare := s != "" && s[0] >= 'a' && s[0] <= 'z'
	for i := 0; bare && i < len(s); i++ {
		c := s[i]
		bare = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '@'
	}
	if bare {
		return s
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// Reason renders an EMQX reason term {Tag,'node'}.
func Reason(tag, node string) string { return "{" + tag + "," + Atom(node) + "}" }

// Reasons a cluster command fails with; they are what emqx_ctl prints.
const (
	ReasonNodeDown            = "node_down"
	ReasonBadCookie           = "bad_cookie"
	ReasonClusterNameMismatch = "cluster_name_mismatch"
	ReasonAlreadyInCluster    = "already_in_cluster"
	ReasonNotInCluster        = "node_not_in_cluster"
	ReasonNotMember           = "not_member"
	ReasonNodeNameMismatch    = "node_name_mismatch"
	ReasonInvalidNodeName     = "invalid_node_name"
	ReasonProtocol            = "protocol_error"
)

// Error is a failed cluster operation: Reason, and the node it concerns if any.
type Error struct {
	Reason string
	Node   string
	Err    error // underlying cause, for logs
}

// Error renders the EMQX term: {reason,'node'} or a bare reason.
func (e *Error) Error() string {
	if e.Node == "" {
		return e.Reason
	}
	return Reason(e.Reason, e.Node)
}

func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns the reason of an *Error in err's chain, "" for others.
func ReasonOf(err error) string {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return ""
}
