package guard

import (
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/zap"

	"emqxgo/internal/access"
	"emqxgo/internal/access/acl"
	"emqxgo/internal/config"
	"emqxgo/internal/topic"
)

// Settings are the node's access keys.
type Settings struct {
	// AllowAnonymous, ACLNomatch and ACLDisconnect are the global keys,
	// for a client ZoneOf gives no zone (or when ZoneOf is nil).
	//
	// AllowAnonymous: "true", "false" or "false_quick_deny" (a client
	// without a user name is refused before any backend is asked).
	AllowAnonymous string
	ACLNomatch     access.Result // acl_nomatch: Allow or Deny
	ACLDisconnect  bool          // acl_deny_action = disconnect
	// ZoneOf gives a client's zone settings (zone.<name>.*), asked once
	// per connection in OnConnect; nil: every client gets the global keys
	// above (with enable_acl on). See ZoneLookup.
	ZoneOf func(*mqtt.Client) *Zone
	// ReservedIDPrefix: a client id the gate gives (from the user name)
	// may not begin with it (the broker's ReservedClientIDPrefix).
	ReservedIDPrefix string
	// BeforeAuth, when set, is asked once the client's id and user name
	// are final (peer_cert_as_*, use_username_as_clientid) and before any
	// backend: an error refuses the client (it has sent the CONNACK). The
	// banned list, as EMQX checks it between those steps.
	BeforeAuth      func(*mqtt.Client) error
	ACLCache        bool // enable_acl_cache
	ACLCacheMaxSize int
	ACLCacheTTL     time.Duration
	// AuthOrder and ACLOrder: auth_order and acl_order, names or aliases
	// ("http", "jwt", "mnesia", "internal"/"file"); nil: none.
	AuthOrder, ACLOrder []string
	// CertAs: per listener id, what of the TLS client certificate becomes
	// the user name or the client id.
	CertAs map[string]CertAs
	// Unmount, when set, is a PUBLISH topic as the client named it (the
	// broker has given it the client's mountpoint by then): the ACL
	// checks that, as EMQX does.
	Unmount func(cl *mqtt.Client, topic string) string
}

// Zone is what of a zone (zone.<name>.*) the gate follows for the
// clients of that zone.
type Zone struct {
	Name string
	// AllowAnonymous, ACLNomatch and ACLDisconnect: the zone's
	// allow_anonymous, acl_nomatch and acl_deny_action, as in Settings.
	AllowAnonymous string
	ACLNomatch     access.Result
	ACLDisconnect  bool
	// EnableACL: enable_acl; off, every PUBLISH and SUBSCRIBE is allowed
	// without asking any ACL source (stock zone internal).
	EnableACL bool
	// BypassAuthPlugins: bypass_auth_plugins; on, the auth backends are not
	// asked and allow_anonymous alone decides (stock zone internal), as
	// EMQX 4.4's emqx_access_control:authenticate.
	BypassAuthPlugins bool
	// UseUsernameAsClientID: use_username_as_clientid; on, a client with a
	// user name is known by it (its session, takeover, ACL %c), as EMQX's
	// emqx_channel does before authenticating.
	UseUsernameAsClientID bool
}

// ZoneFrom is the gate's view of the configuration's zone z.
func ZoneFrom(z *config.Zone) *Zone {
	gz := &Zone{Name: z.Name, AllowAnonymous: z.AllowAnonymous, ACLNomatch: access.Allow,
		ACLDisconnect: z.ACLDenyAction == "disconnect", EnableACL: z.EnableACL,
		BypassAuthPlugins: z.BypassAuthPlugins, UseUsernameAsClientID: z.UseUsernameAsClientID}
	if z.ACLNomatch == "deny" {
		gz.ACLNomatch = access.Deny
	}
	return gz
}

// ZoneLookup makes a Settings.ZoneOf from the configuration's zones and
// of, which names a client's zone (the broker's Zone): each zone is
// converted once, here; a client then costs one map look-up at CONNECT.
func ZoneLookup(zones map[string]*config.Zone, of func(*mqtt.Client) *config.Zone) func(*mqtt.Client) *Zone {
	m := make(map[string]*Zone, len(zones))
	for name, z := range zones {
		m[name] = ZoneFrom(z)
	}
	return func(cl *mqtt.Client) *Zone {
		if z := of(cl); z != nil {
			if gz := m[z.Name]; gz != nil {
				return gz
			}
			return ZoneFrom(z) // a zone not among those given
		}
		return nil
	}
}

// CertAs is listener.<proto>.<name>.peer_cert_as_username and
// peer_cert_as_clientid: "" (off), cn, dn, crt, pem or md5.
type CertAs struct{ Username, ClientID string }

// logEvery bounds the refusal log: one line per window, with the count.
const logEvery = 10 * time.Second

// authTimeout bounds one authentication (each backend has its own, shorter,
// timeouts).
const authTimeout = 30 * time.Second

// Guard is the hook. Plugins change with SetPlugins at any time.
type Guard struct {
	mqtt.HookBase
	srv  *mqtt.Server
	log  *zap.Logger
	set  Settings
	def  *Zone     // a client's zone when ZoneOf gives none
	file *acl.File // nil: no acl_file

	plugins atomic.Pointer[plugins]
	clients sync.Map // *mqtt.Client -> *client

	// counters
	AuthSuccess, AuthAnonymous, AuthFailure atomic.Int64
	ACLAllow, ACLDeny, ACLCacheHit          atomic.Int64

	fails struct {
		sync.Mutex
		at         time.Time
		suppressed int64
	}
}

type plugins struct {
	auth []access.Authenticator
	acl  []access.ACLChecker // in order, the acl.conf file among them
	slow bool                // some source is not the file: the cache is worth it
}

// client is what the guard keeps per connection.
type client struct {
	c     access.Client
	zone  *Zone        // fixed at CONNECT
	cache *acl.Cache   // used on the client's own goroutine only
	clear atomic.Bool  // cache-clean asked from elsewhere
	cl    *mqtt.Client // for listing
	since time.Time
}

// New returns the guard for srv; file is the acl.conf engine (nil: none).
func New(srv *mqtt.Server, set Settings, file *acl.File, log *zap.Logger) *Guard {
	g := &Guard{srv: srv, log: log, set: set, file: file, def: &Zone{Name: "external",
		AllowAnonymous: set.AllowAnonymous, ACLNomatch: set.ACLNomatch, ACLDisconnect: set.ACLDisconnect, EnableACL: true}}
	g.SetPlugins(nil, nil)
	return g
}

func (g *Guard) ID() string { return "emqx-access" }

// events: not OnACLCheck, where mochi lets any one hook allow (the
// broker's node hook asks CheckSubscribe instead).
var events = []byte{mqtt.OnConnect, mqtt.OnPublish, mqtt.OnDisconnect}

func (g *Guard) Provides(b byte) bool { return slices.Contains(events, b) }

// aliases are the names auth_order and acl_order accept for each backend.
var aliases = map[string]string{
	"http": "emqx_auth_http", "jwt": "emqx_auth_jwt", "mnesia": "emqx_auth_mnesia",
	"internal": acl.Name, "file": acl.Name,
	"emqx_acl_http": "emqx_auth_http", "emqx_acl_mnesia": "emqx_auth_mnesia",
}

func canonical(name string) string {
	if n, ok := aliases[name]; ok {
		return n
	}
	return name
}

// order sorts named items as auth_order/acl_order say: the named ones
// first, in that order, then the rest in the order given.
func order[T interface{ Name() string }](items []T, names []string) []T {
	rank := func(t T) int {
		for i, n := range names {
			if canonical(n) == canonical(t.Name()) {
				return i
			}
		}
		return len(names)
	}
	out := slices.Clone(items)
	slices.SortStableFunc(out, func(a, b T) int { return rank(a) - rank(b) })
	return out
}

// SetPlugins makes auth and acls the loaded plugins' backends (in load
// order; auth_order and acl_order reorder them). The acl.conf file comes
// after the plugins' ACL sources unless acl_order names it earlier.
func (g *Guard) SetPlugins(auth []access.Authenticator, acls []access.ACLChecker) {
	p := &plugins{auth: order(auth, g.set.AuthOrder), slow: len(acls) > 0}
	all := slices.Clone(acls)
	if g.file != nil {
		all = append(all, g.file)
	}
	p.acl = order(all, g.set.ACLOrder)
	g.plugins.Store(p)
	acl.InvalidateCaches()
}

// tlsStater is a connection that can tell its TLS state (the broker's).
type tlsStater interface {
	TLSState() (tls.ConnectionState, bool)
}

// OnConnect authenticates the client; a refused one gets its CONNACK here.
func (g *Guard) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	if cl.Net.Inline {
		return nil
	}
	z := g.def
	if g.set.ZoneOf != nil {
		if cz := g.set.ZoneOf(cl); cz != nil {
			z = cz
		}
	}
	c := &client{cl: cl, zone: z, since: time.Now(), c: access.Client{
		ClientID: cl.ID,
		Username: string(cl.Properties.Username),
		ProtoVer: cl.Properties.ProtocolVersion,
		Zone:     z.Name,
		Listener: "mqtt:" + cl.Net.Listener, // EMQX's listener id, e.g. mqtt:tcp:external
	}}
	if pk.Connect.PasswordFlag {
		c.c.Password = slices.Clone(pk.Connect.Password)
	} else if e, ok := cl.Net.Conn.(interface{ EmptyPassword() bool }); ok && e.EmptyPassword() {
		c.c.Password = []byte{} // a password of zero bytes, not none
	}
	if ap, err := netip.ParseAddrPort(cl.Net.Remote); err == nil {
		c.c.Peer = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	if ts, ok := cl.Net.Conn.(tlsStater); ok {
		if st, ok := ts.TLSState(); ok && len(st.PeerCertificates) > 0 {
			cert := st.PeerCertificates[0]
			c.c.CertCN, c.c.CertDN = cert.Subject.CommonName, cert.Subject.String()
			as := g.set.CertAs[cl.Net.Listener]
			if v := certValue(as.Username, c.c.CertCN, c.c.CertDN, cert.Raw); v != "" {
				c.c.Username = v
				cl.Properties.Username = []byte(v)
			}
			if v := certValue(as.ClientID, c.c.CertCN, c.c.CertDN, cert.Raw); v != "" {
				c.c.ClientID = v
				cl.ID = v
			}
		}
	}
	if z.UseUsernameAsClientID && c.c.Username != "" {
		if !g.usernameAsID(cl, c) {
			return packets.ErrClientIdentifierNotValid
		}
	}
	if g.set.BeforeAuth != nil {
		if err := g.set.BeforeAuth(cl); err != nil {
			return err
		}
	}
	ok, reason := g.authenticate(&c.c, z)
	if !ok {
		g.refused(cl, &c.c, reason)
		return packets.ErrNotAuthorized
	}
	if g.set.ACLCache && z.EnableACL {
		c.cache = acl.NewCache(g.set.ACLCacheMaxSize, g.set.ACLCacheTTL)
	}
	c.c.Password = nil // not kept past the CONNECT
	g.clients.Store(cl, c)
	return nil
}

// usernameAsID makes the client's user name its client id
// (use_username_as_clientid), before authentication as in EMQX: mochi
// resolves the session (and the cluster takes the id over) after
// OnConnect, by cl.ID, so the session is the user name's. A client whose
// own id was empty is told the user name as its Assigned Client
// Identifier (MQTT 5). A user name with the broker's reserved client id
// prefix is refused (CONNACK 0x85; 3.1.1: 2) and false returned.
func (g *Guard) usernameAsID(cl *mqtt.Client, c *client) bool {
	id := c.c.Username
	if g.set.ReservedIDPrefix != "" && strings.HasPrefix(id, g.set.ReservedIDPrefix) {
		code := packets.ErrClientIdentifierNotValid.Code
		if cl.Properties.ProtocolVersion < 5 {
			code = packets.Err3ClientIdentifierNotValid.Code
		}
		g.AuthFailure.Add(1)
		_ = cl.WritePacket(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connack}, ReasonCode: code})
		return false
	}
	if cl.Properties.Props.AssignedClientID != "" {
		cl.Properties.Props.AssignedClientID = id
	}
	c.c.ClientID, cl.ID = id, id
	return true
}

// certValue is what of a certificate peer_cert_as_* takes.
func certValue(as, cn, dn string, raw []byte) string {
	switch as {
	case "cn":
		return cn
	case "dn":
		return dn
	case "crt":
		return string(raw) // EMQX takes the DER bytes as they are
	case "pem":
		return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: raw}))
	case "md5":
		sum := md5.Sum(raw)
		return hex.EncodeToString(sum[:])
	}
	return ""
}

// authenticate runs the chain: the first backend that allows or denies
// decides; when all ignore, allow_anonymous does.
// With bypass_auth_plugins on, no backend is asked.
func (g *Guard) authenticate(c *access.Client, z *Zone) (bool, access.Reason) {
	if z.AllowAnonymous == "false_quick_deny" && c.Username == "" {
		return false, access.NotAuthorized
	}
	if z.BypassAuthPlugins {
		return g.anonymous(z)
	}
	ctx, cancel := context.WithTimeout(context.Background(), authTimeout)
	defer cancel()
	for _, b := range g.plugins.Load().auth {
		r, err := b.Authenticate(ctx, c)
		if err != nil {
			g.log.Debug("authentication backend failed; ignored", zap.String("backend", b.Name()), zap.Error(err))
			continue
		}
		switch r {
		case access.Allow:
			g.AuthSuccess.Add(1)
			return true, 0
		case access.Deny:
			return false, c.Reason
		}
	}
	return g.anonymous(z)
}

// anonymous is allow_anonymous's answer for a client no backend decided.
func (g *Guard) anonymous(z *Zone) (bool, access.Reason) {
	if z.AllowAnonymous == "true" {
		g.AuthAnonymous.Add(1)
		return true, 0
	}
	return false, access.NotAuthorized
}

// refused answers a refused CONNECT and counts and logs it.
func (g *Guard) refused(cl *mqtt.Client, c *access.Client, r access.Reason) {
	g.AuthFailure.Add(1)
	code := r.Code()
	if cl.Properties.ProtocolVersion < 5 {
		code = r.Code3()
	}
	_ = cl.WritePacket(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connack}, ReasonCode: code})
	g.fails.Lock()
	now := time.Now()
	if now.Sub(g.fails.at) < logEvery {
		g.fails.suppressed++
		g.fails.Unlock()
		return
	}
	n := g.fails.suppressed
	g.fails.at, g.fails.suppressed = now, 0
	g.fails.Unlock()
	g.log.Warn("client authentication failed", zap.String("client", short(c.ClientID)), zap.String("username", short(c.Username)),
		zap.String("peer", c.Peer.String()), zap.String("reason", r.String()), zap.Int64("more_since_last_line", n))
}

// short cuts a client-supplied value for a log line.
func short(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func (g *Guard) OnDisconnect(cl *mqtt.Client, _ error, _ bool) { g.clients.Delete(cl) }

func (g *Guard) get(cl *mqtt.Client) *client {
	if v, ok := g.clients.Load(cl); ok {
		return v.(*client)
	}
	return nil
}

// CheckSubscribe checks a SUBSCRIBE filter (the broker's node hook asks
// it from mochi's ACL check); a denied one gets 0x87 (3.1.1: 0x80).
func (g *Guard) CheckSubscribe(cl *mqtt.Client, filter string) bool {
	if cl.Net.Inline {
		return true
	}
	c := g.get(cl)
	if c == nil {
		return true
	}
	if g.check(c, access.Subscribe, topic.Plain(filter)) == access.Allow {
		return true
	}
	if c.zone.ACLDisconnect {
		_ = g.srv.DisconnectClient(cl, packets.ErrNotAuthorized)
	}
	return false
}

// OnPublish drops a PUBLISH the ACL denies (before the cluster's hook
// forwards it).
func (g *Guard) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	c := g.get(cl)
	topic := pk.TopicName
	if g.set.Unmount != nil {
		topic = g.set.Unmount(cl, topic)
	}
	if c == nil || g.check(c, access.Publish, topic) == access.Allow {
		return pk, nil
	}
	switch {
	case c.zone.ACLDisconnect:
		_ = g.srv.DisconnectClient(cl, packets.ErrNotAuthorized)
		return pk, packets.ErrRejectPacket
	case pk.FixedHeader.Qos == 0:
		return pk, packets.ErrRejectPacket
	case cl.Properties.ProtocolVersion == 5:
		ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: pk.PacketID, ReasonCode: packets.ErrNotAuthorized.Code}
		if pk.FixedHeader.Qos == 2 {
			ack.FixedHeader.Type = packets.Pubrec
		}
		_ = cl.WritePacket(ack)
		return pk, packets.ErrRejectPacket
	}
	return pk, packets.CodeSuccessIgnore // 3.1.1: acknowledged as usual, dropped
}

// holder is a client connection whose reading goroutine may hold writes to
// other clients' connections until it reads again (the broker's).
type holder interface{ ReleaseHolds() }

// check answers Allow or Deny for c doing a on topic; with its zone's
// enable_acl off, Allow without asking (or counting), as EMQX.
func (g *Guard) check(c *client, a access.Action, topic string) access.Result {
	if c.c.Superuser || !c.zone.EnableACL {
		return access.Allow
	}
	p := g.plugins.Load()
	var gen uint64
	cached := p.slow && c.cache != nil
	if cached {
		if c.clear.Swap(false) {
			c.cache.Clear()
		}
		gen = acl.Generation()
		if r, ok := c.cache.Get(a, topic, gen); ok {
			g.ACLCacheHit.Add(1)
			return g.count(r)
		}
	}
	r := access.Ignore
	released := false
	for _, s := range p.acl {
		if f, ok := s.(*acl.File); ok {
			r = f.Check(&c.c, a, topic) // no context, no error: the hot path
		} else {
			if h, ok := c.cl.Net.Conn.(holder); ok && !released {
				h.ReleaseHolds() // a backend may take long: what this client's goroutine wrote to others goes first
				released = true
			}
			var err error
			r, err = s.CheckACL(context.Background(), &c.c, a, topic)
			if err != nil {
				r = access.Ignore
			}
		}
		if r != access.Ignore {
			break
		}
	}
	if r == access.Ignore {
		r = c.zone.ACLNomatch
	}
	if cached {
		c.cache.Put(a, topic, r, gen)
	}
	return g.count(r)
}

func (g *Guard) count(r access.Result) access.Result {
	if r == access.Deny {
		g.ACLDeny.Add(1)
	} else {
		g.ACLAllow.Add(1)
	}
	return r
}

// CleanCache empties the ACL cache of the client with id (every client:
// ""); it reports whether such a client is connected here.
func (g *Guard) CleanCache(id string) bool {
	found := false
	g.clients.Range(func(k, v any) bool {
		c := v.(*client)
		if id == "" || c.c.ClientID == id {
			c.clear.Store(true)
			found = true
		}
		return true
	})
	return found
}
