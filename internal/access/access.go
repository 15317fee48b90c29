package access

import (
	"context"
	"net/netip"
)

// Result is a backend's answer: EMQX 4's allow, deny or ignore (the next
// backend decides; when every backend ignores, allow_anonymous or
// acl_nomatch does).
type Result uint8

const (
	Ignore Result = iota
	Allow
	Deny
)

func (r Result) String() string {
	switch r {
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	}
	return "ignore"
}

// Action is what an ACL rule is asked about.
type Action uint8

const (
	Publish Action = iota + 1
	Subscribe
)

func (a Action) String() string {
	if a == Subscribe {
		return "subscribe"
	}
	return "publish"
}

// Client is what a backend may look at: EMQX's clientinfo.
type Client struct {
	ClientID string
	Username string // after peer_cert_as_username, if set
	Password []byte // CONNECT password (nil when absent)
	Peer     netip.AddrPort
	ProtoVer byte   // 3, 4 or 5
	Zone     string // "external" or "internal"
	Listener string // EMQX listener id such as "mqtt:tcp:external"
	CertCN   string // TLS client certificate subject common name
	CertDN   string // TLS client certificate subject, RFC 4514
	SockPort uint16 // port of the listener that accepted the connection
	// Mountpoint is the client's mountpoint ("" = none), with %c and %u
	// already replaced. A backend may set it when it allows the client
	// (emqx_auth_http takes it from its 200 answer, as EMQX does).
	Mountpoint string
	// JWTClaims are the claims of the token emqx_auth_jwt accepted (EMQX's
	// jwt_claims), kept for that plugin's ACL; nil otherwise.
	JWTClaims map[string]any
	// Superuser is set by the backend that allowed the client when it is a
	// superuser (EMQX's is_superuser): ACL checks are skipped.
	Superuser bool
	// Reason is set by a backend that answers Deny: why (EMQX's
	// auth_result), which the CONNACK code follows. The zero value is
	// BadUsernameOrPassword.
	Reason Reason
}

// Reason is why a client was refused (EMQX 4's auth_result).
type Reason uint8

const (
	BadUsernameOrPassword Reason = iota // CONNACK 0x86 (MQTT 3.1.1: 4)
	NotAuthorized                       // 0x87 (5)
	ServerUnavailable                   // 0x88 (3)
	ServerBusy                          // 0x89 (3)
	Banned                              // 0x8A (5)
)

// Code is the MQTT 5 CONNACK reason code of r.
func (r Reason) Code() byte {
	switch r {
	case NotAuthorized:
		return 0x87
	case ServerUnavailable:
		return 0x88
	case ServerBusy:
		return 0x89
	case Banned:
		return 0x8A
	}
	return 0x86
}

// Code3 is the MQTT 3.1.1 CONNACK return code of r, as EMQX maps MQTT 5
// codes for older clients.
func (r Reason) Code3() byte {
	switch r {
	case NotAuthorized, Banned:
		return 0x05
	case ServerUnavailable, ServerBusy:
		return 0x03
	}
	return 0x04
}

func (r Reason) String() string {
	switch r {
	case NotAuthorized:
		return "not_authorized"
	case ServerUnavailable:
		return "server_unavailable"
	case ServerBusy:
		return "server_busy"
	case Banned:
		return "banned"
	}
	return "bad_username_or_password"
}

// Authenticator is one auth backend.
type Authenticator interface {
	Name() string // the EMQX plugin name, e.g. "emqx_auth_http"
	// Authenticate answers Allow (possibly setting c.Superuser), Deny or
	// Ignore. It must return within ctx's deadline; an error is logged by
	// the chain and taken as Ignore.
	Authenticate(ctx context.Context, c *Client) (Result, error)
}

// ACLChecker is one ACL source (a plugin's rules or the acl.conf file).
type ACLChecker interface {
	Name() string
	// CheckACL answers Allow, Deny or Ignore for c doing a on topic (a
	// topic name for Publish, a filter for Subscribe).
	CheckACL(ctx context.Context, c *Client, a Action, topic string) (Result, error)
}
