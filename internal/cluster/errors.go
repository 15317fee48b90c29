package cluster

import (
	"errors"

	"emqxgo/internal/ctlrpc"
)

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

// Error is a failed cluster command: Reason, and the node it concerns if any.
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
	return ctlrpc.Reason(e.Reason, e.Node)
}

func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns the reason of a cluster error, "" for others.
func ReasonOf(err error) string {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return ""
}

// ErrIgnored is returned for join self and force-leave self.
var ErrIgnored = errors.New("ignore")
