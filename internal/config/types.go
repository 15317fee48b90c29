package config

import (
	"time"

	"emqxgo/internal/access/authhttp"
	"emqxgo/internal/access/authjwt"
	"emqxgo/internal/access/passwd"
	"emqxgo/internal/discovery/dns"
	"emqxgo/internal/discovery/etcd"
	"emqxgo/internal/discovery/k8s"
	"emqxgo/internal/discovery/mcast"
	"emqxgo/internal/discovery/static"
)

// Config is the effective, validated configuration of one node.
// Paths are absolute (resolved against Home).
type Config struct {
	Home   string // release home: $EMQX_HOME or the folder above bin/
	EtcDir string // folder holding emqx.conf and cluster.conf

	Node      Node
	Listeners Listeners
	Access    Access
	MQTT      MQTT
	Zone      Zone
	Broker    Broker
	Log       Log
	Cluster   Cluster
	RPC       RPC
	Plugins   Plugins

	// LoadedPlugins is EMQX_LOADED_PLUGINS, the plugins to load at boot
	// (an environment variable only, as in EMQX 4's docker image): the
	// names split at every run of characters other than letters, digits
	// and '_' (commas, blanks, '|'); nil when it is unset or empty.
	LoadedPlugins []string
}

// Node holds node.* keys.
type Node struct {
	Name            string // validated by nodename.Parse
	Cookie          string
	CookieIsDefault bool   // true while the cookie is the insecure default
	DataDir         string // absolute
}

// Listener is one MQTT listener; Addr "" means off. Addr is always host:port ("0.0.0.0:1883").
type Listener struct {
	Addr             string
	KeyFile          string // TLS listeners only (absolute)
	CertFile         string
	CACertFile       string
	VerifyPeer       bool // listener.ssl.external.verify = verify_peer
	FailIfNoPeerCert bool
	// PeerCertAsUsername and PeerCertAsClientID (TLS listeners only):
	// .peer_cert_as_username and .peer_cert_as_clientid, what of the
	// client's certificate becomes its user name or client id: "cn",
	// "dn", "crt", "pem" or "md5"; "" (the key unset) is off.
	PeerCertAsUsername string
	PeerCertAsClientID string
}

// Listeners holds listener.* keys.
type Listeners struct {
	TCP, SSL, WS, WSS Listener
	WSPath            string // listener.ws.external.mqtt_path (default /mqtt), shared by ws and wss
}

// Access holds the access-control keys of emqx.conf.
type Access struct {
	// AllowAnonymous is allow_anonymous: "true" (default), "false" or
	// "false_quick_deny" (a client without a user name is refused before
	// any backend is asked). on and off are read as true and false.
	AllowAnonymous string
	ACLNomatch     string // acl_nomatch: "allow" (default) or "deny"
	// ACLFile is acl_file, absolute: default acl.conf beside emqx.conf
	// (<EtcDir>/acl.conf, EMQX's {{platform_etc_dir}}/acl.conf); a relative
	// value resolves against the release home. Never "".
	ACLFile         string
	EnableACLCache  bool          // enable_acl_cache (default on)
	ACLCacheMaxSize int           // acl_cache_max_size (default 32, at least 1)
	ACLCacheTTL     time.Duration // acl_cache_ttl (default 1m)
	ACLDenyAction   string        // acl_deny_action: "ignore" (default) or "disconnect"
	// AuthOrder is auth_order: the names or aliases as written, split at
	// commas and blanks, "none" dropped; nil when none is left (the
	// default, "none").
	AuthOrder []string
	ACLOrder  []string // acl_order: the same
}

// MQTT holds mqtt.* keys.
type MQTT struct {
	MaxPacketSize  int64 // bytes
	MaxClientIDLen int
	MaxTopicAlias  int // 0: topic aliases refused
	// MaxTopicLevels: mqtt.max_topic_levels, levels of a topic name or
	// filter (default 128, 0: no limit).
	MaxTopicLevels       int
	MaxQoSAllowed        int  // mqtt.max_qos_allowed (default 2)
	RetainAvailable      bool // mqtt.retain_available (default true)
	WildcardSubscription bool // mqtt.wildcard_subscription (default true)
	SharedSubscription   bool // mqtt.shared_subscription (default true)
}

// Zone holds zone.external.* keys.
type Zone struct {
	IdleTimeout time.Duration
	MaxInflight int
	// ServerKeepalive, in seconds, replaces an MQTT 5 client's keep alive
	// (sent in CONNACK); 0: the client's own.
	ServerKeepalive int
	MaxMqueueLen    int
	// MqueueStoreQoS0: QoS 0 messages are queued for a session whose client
	// is offline (EMQX's zone.external.mqueue_store_qos0).
	MqueueStoreQoS0 bool
}

// Broker holds broker.* keys.
type Broker struct {
	SharedSubscriptionStrategy string
}

// Log holds log.* keys.
type Log struct {
	To            string // file, console, both
	ToIsSet       bool   // set explicitly in a file or the environment
	Level         string // debug, info, notice, warning, error, critical
	Dir           string // absolute
	File          string
	RotationSize  int64 // bytes
	RotationCount int
}

// Cluster holds cluster.* keys. The keys of each discovery strategy
// (cluster.<strategy>.*) are that strategy's own Config type, with its
// defaults and rules.
type Cluster struct {
	Name      string
	Discovery string // manual, static, dns, etcd, k8s, mcast
	Autoheal  bool
	Autoclean time.Duration // 0 = off
	Static    static.Config
	DNS       dns.Config
	Etcd      etcd.Config
	K8s       k8s.Config
	Mcast     mcast.Config
}

// RPC holds rpc.* keys.
type RPC struct {
	PortDiscovery                 string // stateless or manual
	TCPServerPort                 int
	Driver                        string // tcp or ssl
	CertFile, KeyFile, CACertFile string
}

// Plugins holds the settings of the auth plugins, from
// etc/plugins/<plugin>.conf (the keys are accepted in any of the files and
// from the environment). Each plugin package owns its Config: its
// defaults and rules (CheckKeys, Validate).
type Plugins struct {
	HTTP   authhttp.Config // auth.http.* (emqx_auth_http)
	JWT    authjwt.Config  // auth.jwt.* (emqx_auth_jwt)
	Mnesia Mnesia          // auth.mnesia.*, auth.user.<id>.*, auth.client.<id>.* (emqx_auth_mnesia)
}

// Mnesia holds the keys of emqx_auth_mnesia: the hash type of its records
// and the credentials it adds to its database at start.
type Mnesia struct {
	// PasswordHash is auth.mnesia.password_hash: one of passwd.MnesiaAlgs
	// (plain, md5, sha, sha256, sha512), default sha256.
	PasswordHash passwd.Alg
	// Users are auth.user.<id>.username and .password, in the order of
	// their ids (numbers by value, then other ids as strings). A username
	// needs its password; a password without a username is ignored, as in
	// EMQX. Dump numbers them 1, 2, ... in this order.
	Users []Credential
	// ClientIDs are auth.client.<id>.clientid and .password, the same way.
	ClientIDs []Credential
}

// Credential is one user name (or client id) and its password, as written.
type Credential struct{ ID, Password string }
