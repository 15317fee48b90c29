package config

import (
	"net"
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
	// Zones by name: external and internal always, and every zone a
	// zone.<name>.* key names.
	Zones      map[string]*Zone
	Broker     Broker
	Retainer   Retainer
	Management Management // management.* (the HTTP API)
	Alarm      Alarm      // alarm.*
	Dashboard  Dashboard  // dashboard.default_user.* (the dashboard's users)
	// Flapping is flapping_detect_policy, for zones with
	// enable_flapping_detect on.
	Flapping FlappingPolicy
	Log      Log
	Cluster  Cluster
	RPC      RPC
	Plugins  Plugins

	// LoadedPlugins is EMQX_LOADED_PLUGINS, the plugins to load at boot
	// (an environment variable only, as in EMQX 4's docker image): the
	// names split at every run of characters other than letters, digits
	// and '_' (commas, blanks, '|'); nil when it is unset or empty.
	LoadedPlugins []string

	// NotImplemented are the keys set (in a file or the environment) that
	// EMQX 4.4 has and this node accepts without acting on them, sorted;
	// NoEffect those that only concern the Erlang VM.
	NotImplemented []string
	NoEffect       []string
	// UnusedZones are zones named by zone.<name>.* keys that no listener
	// uses (other than external and internal): a typo in a zone name makes
	// a new zone, as in EMQX; the node warns about it.
	UnusedZones []string
}

// ZoneOf returns the zone of name, or zone external when there is none.
func (c *Config) ZoneOf(name string) *Zone {
	if z := c.Zones[name]; z != nil {
		return z
	}
	return c.Zones["external"]
}

// Node holds node.* keys.
type Node struct {
	Name            string // validated by nodename.Parse
	Cookie          string
	CookieIsDefault bool   // true while the cookie is the insecure default
	DataDir         string // absolute
}

// Listener is one MQTT listener, listener.<proto>.<name> and its keys.
// Addr is always host:port ("0.0.0.0:1883").
type Listener struct {
	Proto string // tcp, ssl, ws, wss
	Name  string // external, internal, or any name the operator gives
	Addr  string
	// Zone is .zone, the zone whose settings its clients get (a key of
	// Config.Zones): default external, internal for a listener named
	// internal.
	Zone string
	// MaxConnections is .max_connections: connections open at once, more
	// are closed at accept (default 1024000).
	MaxConnections int
	// MaxConnRate is .max_conn_rate: connections accepted per second, more
	// wait (default 1000; 0: unlimited).
	MaxConnRate int
	// Access is .access.<n> in the order of n: the first rule matching the
	// client's address decides; none matching allows. nil: allow all.
	Access []AccessRule
	// ProxyProtocol is .proxy_protocol: a connection starts with a PROXY
	// protocol v1 or v2 header, whose source address is the client's.
	ProxyProtocol        bool
	ProxyProtocolTimeout time.Duration // .proxy_protocol_timeout (default 3s)
	MQTTPath             string        // ws/wss: .mqtt_path (default /mqtt)
	KeyFile              string        // TLS listeners only (absolute)
	CertFile             string
	CACertFile           string
	VerifyPeer           bool // listener.ssl.external.verify = verify_peer
	FailIfNoPeerCert     bool
	// PeerCertAsUsername and PeerCertAsClientID (TLS listeners only):
	// .peer_cert_as_username and .peer_cert_as_clientid, what of the
	// client's certificate becomes its user name or client id: "cn",
	// "dn", "crt", "pem" or "md5"; "" (the key unset) is off.
	PeerCertAsUsername string
	PeerCertAsClientID string
}

// ID is the listener's id as the node names it: "tcp:external".
func (l *Listener) ID() string { return l.Proto + ":" + l.Name }

// Key is its address key: "listener.tcp.external".
func (l *Listener) Key() string { return "listener." + l.Proto + "." + l.Name }

// AccessRule is one listener.<proto>.<name>.access.<n> rule: "allow all",
// "deny 192.168.0.0/24".
type AccessRule struct {
	Allow bool
	Net   *net.IPNet // nil: all
}

// Listeners holds the listener.* keys: every listener with an address,
// tcp first, then ssl, ws, wss, each by name (external first).
type Listeners struct {
	List []Listener
	Off  []string // address keys set to off ("listener.ssl.external")
}

// Find returns the listener of proto and name, nil if there is none.
func (ls *Listeners) Find(proto, name string) *Listener {
	for i := range ls.List {
		if ls.List[i].Proto == proto && ls.List[i].Name == name {
			return &ls.List[i]
		}
	}
	return nil
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
	// IgnoreLoopDeliver, StrictMode, ResponseInformation,
	// ExclusiveSubscription: the zone keys' fallbacks.
	IgnoreLoopDeliver     bool
	StrictMode            bool
	ResponseInformation   string
	ExclusiveSubscription bool
}

// Zone holds the zone.<name>.* keys of one zone. A key a zone does not
// set takes the global key of the same name (mqtt.max_packet_size,
// allow_anonymous, ...) where EMQX has one, else the value EMQX's stock
// emqx.conf gives zone external (for zone internal: the stock file's
// internal values).
type Zone struct {
	Name        string
	IdleTimeout time.Duration
	// AllowAnonymous and ACLNomatch as the global keys ("true", "false",
	// "false_quick_deny"; "allow", "deny").
	AllowAnonymous string
	ACLNomatch     string
	EnableACL      bool   // enable_acl (internal: off): off skips every ACL check
	ACLDenyAction  string // ignore, disconnect
	EnableBan      bool
	EnableStats    bool
	// The mqtt.* limits, per zone.
	MaxPacketSize         int64
	MaxClientIDLen        int
	MaxTopicLevels        int
	MaxQoSAllowed         int
	MaxTopicAlias         int
	RetainAvailable       bool
	WildcardSubscription  bool
	SharedSubscription    bool
	IgnoreLoopDeliver     bool // a client's own publishes are not delivered back to it
	StrictMode            bool
	ResponseInformation   string
	ExclusiveSubscription bool
	// ServerKeepalive, in seconds, replaces an MQTT 5 client's keep alive
	// (sent in CONNACK); 0: the client's own.
	ServerKeepalive int
	// KeepaliveBackoff: a client silent for 2 x backoff x keep alive is
	// closed (0.75: the 1.5 x of the MQTT specification).
	KeepaliveBackoff float64
	MaxSubscriptions int  // 0: no limit
	UpgradeQoS       bool // deliver at the publish's QoS when above the subscription's
	MaxInflight      int
	RetryInterval    time.Duration // re-send of unacknowledged QoS 1/2 messages (0: off)
	MaxAwaitingRel   int           // QoS 2 PUBLISHes awaiting PUBREL (0: no limit)
	AwaitRelTimeout  time.Duration
	// SessionExpiryInterval caps the session expiry of a client (MQTT 5:
	// its own value, at most this; MQTT 3 with clean session false: this).
	SessionExpiryInterval time.Duration
	MaxMqueueLen          int
	// MqueuePriorities: topic -> priority 1..255 (higher first); nil: none.
	MqueuePriorities      map[string]int
	MqueueDefaultPriority string // highest, lowest
	// MqueueStoreQoS0: QoS 0 messages are queued for a session whose client
	// is offline (EMQX's zone.external.mqueue_store_qos0).
	MqueueStoreQoS0      bool
	EnableFlappingDetect bool
	// RateLimitConnMessagesIn and RateLimitConnBytesIn: reading a
	// connection pauses while it is over; zero: off.
	RateLimitConnMessagesIn Rate
	RateLimitConnBytesIn    Rate
	// QuotaConnMessagesRouting and QuotaOverallMessagesRouting: routing
	// quota of one connection and of the whole node; zero: off.
	QuotaConnMessagesRouting    Rate
	QuotaOverallMessagesRouting Rate
	// ForceShutdownPolicy: a connection whose queue passes MaxMessageQueue
	// messages (or, MaxHeapSize, queued bytes) is closed; zero: off.
	ForceShutdownPolicy   ShutdownPolicy
	ForceGCPolicy         string // accepted: the Go collector is tuned by the node
	Mountpoint            string
	UseUsernameAsClientID bool
	BypassAuthPlugins     bool // internal: on; only allow_anonymous decides
	PublishLimit          Rate // publish_limit, the EMQX 4.2 name of rate_limit.conn_messages_in (used when that is unset)
}

// Rate is a count per period ("100,10s", "100KB,10s"); zero: off.
type Rate struct {
	Count float64
	Per   time.Duration
}

// Zero reports whether the rate is off.
func (r Rate) Zero() bool { return r.Count <= 0 || r.Per <= 0 }

// PerSecond is the rate per second.
func (r Rate) PerSecond() float64 {
	if r.Zero() {
		return 0
	}
	return r.Count / r.Per.Seconds()
}

// ShutdownPolicy is force_shutdown_policy: "<messages>|<bytes>".
type ShutdownPolicy struct {
	MaxMessageQueue int
	MaxHeapSize     int64
}

// FlappingPolicy is flapping_detect_policy: a client id that connects
// MaxCount times within Window is banned for BanTime.
type FlappingPolicy struct {
	MaxCount int
	Window   time.Duration
	BanTime  time.Duration
}

// Alarm holds alarm.*: what an alarm does (Log, Publish), how many
// deactivated ones are kept and for how long.
type Alarm struct {
	Log, Publish   bool
	SizeLimit      int
	ValidityPeriod time.Duration
}

// Retainer holds retainer.* (emqx_retainer.conf).
type Retainer struct {
	StorageType         string // ram, disc, disc_only
	MaxRetainedMessages int    // 0: no limit
	MaxPayloadSize      int64  // bytes; 0: no limit
	ExpiryInterval      time.Duration
	StopPublishClearMsg bool
}

// Broker holds broker.* keys.
type Broker struct {
	SharedSubscriptionStrategy string
	SysInterval                time.Duration // broker.sys_interval (1m)
	SysHeartbeat               time.Duration // broker.sys_heartbeat (30s)
	// PresenceQoS is module.presence.qos (1): the QoS of the presence
	// events ($SYS/brokers/<node>/clients/<clientid>/connected,
	// disconnected).
	PresenceQoS int
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
