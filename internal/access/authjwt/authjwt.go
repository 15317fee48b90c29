package authjwt

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"

	"emqxgo/internal/access"
	"emqxgo/internal/ratelog"
)

// Name is the plugin's EMQX name.
const Name = "emqx_auth_jwt"

const (
	// fetchTimeout bounds one JWKS request (EMQX's has no bound).
	fetchTimeout = 30 * time.Second
	// maxJWKS bounds the JWKS body read.
	maxJWKS = 1 << 20
	// logWindow is how often one kind of failure is logged.
	logWindow = time.Minute
)

// Plugin is emqx_auth_jwt: an access.Authenticator, and an
// access.ACLChecker reading the ACL claim of the token a client was
// allowed with.
type Plugin struct {
	from     string
	claims   map[string]string // verify_claims checks, only when on
	aclClaim string
	static   []key // secret, then pubkey
	jwksURL  string
	interval time.Duration
	// remote is the last JWKS fetched; nil until one is (tokens with a kid
	// are then checked with the static keys, as in EMQX).
	remote atomic.Pointer[[]key]

	client *http.Client
	tr     *http.Transport
	log    *zap.Logger
	logged *ratelog.Limiter
	now    func() time.Time

	ctx       context.Context // ended by Stop
	cancel    context.CancelFunc
	startOnce sync.Once
	wg        sync.WaitGroup
}

var (
	_ access.Authenticator = (*Plugin)(nil)
	_ access.ACLChecker    = (*Plugin)(nil)
)

// New returns the plugin of a checked Config; log may be nil. A pubkey
// file that cannot be used is logged and left out, as EMQX does. The JWKS
// is fetched by Start.
func New(c Config, log *zap.Logger) *Plugin {
	if log == nil {
		log = zap.NewNop()
	}
	p := &Plugin{
		from: c.From, aclClaim: c.ACLClaimName,
		jwksURL: c.JWKS, interval: c.RefreshInterval,
		log: log.With(zap.String("plugin", Name)), logged: ratelog.New(logWindow), now: time.Now,
	}
	if p.from == "" {
		p.from = DefaultFrom
	}
	if p.aclClaim == "" {
		p.aclClaim = DefaultACLClaimName
	}
	if p.interval <= 0 {
		p.interval = DefaultRefreshInterval
	}
	if c.VerifyClaims {
		p.claims = maps.Clone(c.Claims)
	}
	if c.Secret != "" {
		p.static = append(p.static, key{k: []byte(c.Secret)})
	}
	if c.Pubkey != "" {
		if pub, err := readPubkey(c.Pubkey); err != nil {
			p.log.Warn("auth.jwt.pubkey cannot be used, left out", zap.Error(err))
		} else {
			p.static = append(p.static, key{k: pub})
		}
	}
	p.tr = &http.Transport{
		Proxy: nil, // EMQX's httpc uses no proxy unless told to
		// EMQX fetches the set with Erlang's httpc, which does not check the
		// server's certificate: neither does this.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12},
	}
	p.client = &http.Client{Transport: p.tr, Timeout: fetchTimeout}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p
}

// Name is "emqx_auth_jwt".
func (p *Plugin) Name() string { return Name }

// Start fetches the JWKS at once and then every refresh_interval, in a
// goroutine that Stop ends; without auth.jwt.jwks it does nothing. A
// failed fetch is logged and keeps the keys fetched before.
func (p *Plugin) Start() {
	p.startOnce.Do(func() {
		if p.jwksURL == "" || p.ctx.Err() != nil {
			return
		}
		p.wg.Add(1)
		go p.refresher()
	})
}

// Stop ends the refresher and waits for it; it may be called more than
// once, and without Start.
func (p *Plugin) Stop() {
	p.startOnce.Do(func() {}) // no Start after Stop
	p.cancel()
	p.wg.Wait()
	p.tr.CloseIdleConnections()
}

func (p *Plugin) refresher() {
	defer p.wg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		}
		if err := p.Refresh(p.ctx); err != nil && p.ctx.Err() == nil && p.logged.First("jwks") {
			p.log.Warn("fetching the JWKS failed, the keys fetched before are kept (repeats are not logged for a minute)",
				zap.String("url", p.jwksURL), zap.Error(err))
		}
		t.Reset(p.interval)
	}
}

// Refresh fetches the JWKS now and, when it reads, replaces the keys.
// Any status is read as EMQX reads it: the body counts.
func (p *Plugin) Refresh(ctx context.Context) error {
	if p.jwksURL == "" {
		return errors.New("auth.jwt.jwks is not set")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.jwksURL, nil)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKS+1))
	if err != nil {
		return err
	}
	if len(body) > maxJWKS {
		return fmt.Errorf("JWKS larger than %d bytes", maxJWKS)
	}
	keys, skipped, err := parseJWKS(body)
	if err != nil {
		return fmt.Errorf("status %d: %w", resp.StatusCode, err)
	}
	if skipped > 0 && p.logged.First("jwks:skipped") {
		p.log.Warn("JWKS keys of a type not usable for signatures left out", zap.Int("skipped", skipped))
	}
	p.remote.Store(&keys)
	return nil
}

// Outcomes of verify that are not a denial.
var (
	errNotToken = errors.New("not a JWT")
	errNotFound = errors.New("no key for the token")
)

// Authenticate checks the token in the client's password (or user name,
// or client id, per auth.jwt.from), as EMQX does:
//
//   - no such field, or not a token (not three dot-separated parts with a
//     base64url payload): Ignore;
//   - no key to check it with (no static key for a token without "kid";
//     with a JWKS loaded, none of its keys has the token's kid): Ignore;
//   - a signature no key verifies, a header that is not JSON or names an
//     unknown "alg", a payload that is not JSON: Deny;
//   - exp not after now, iat after now, nbf after now (a claim that is
//     present and not a number or a numeric string counts as failed): Deny;
//   - a verify_claims check that fails: Deny;
//   - else Allow, c.JWTClaims set to the claims. A payload that is JSON but
//     not an object allows when there are no claims to verify and ignores
//     when there are (EMQX's check raises).
//
// The error is always nil.
func (p *Plugin) Authenticate(_ context.Context, c *access.Client) (access.Result, error) {
	var token string
	switch p.from {
	case "password":
		if c.Password == nil {
			return access.Ignore, nil
		}
		token = string(c.Password)
	case "username":
		if c.Username == "" {
			return access.Ignore, nil
		}
		token = c.Username
	case "clientid":
		token = c.ClientID
	default:
		return access.Ignore, nil
	}
	claims, err := p.verify(token)
	switch {
	case errors.Is(err, errNotToken), errors.Is(err, errNotFound):
		p.log.Debug("auth ignored", zap.String("clientid", c.ClientID), zap.Error(err))
		return access.Ignore, nil
	case err != nil:
		p.log.Debug("auth denied", zap.String("clientid", c.ClientID), zap.Error(err))
		return access.Deny, nil
	}
	obj, isObj := claims.(map[string]any)
	if !isObj {
		if len(p.claims) > 0 {
			return access.Ignore, nil
		}
		return access.Allow, nil
	}
	for name, want := range p.claims {
		got, present := obj[name]
		switch want {
		case "%u":
			if c.Username == "" { // undefined: only an absent claim equals it
				if present {
					return access.Deny, nil
				}
				continue
			}
			want = c.Username
		case "%c":
			want = c.ClientID
		}
		if s, ok := got.(string); !ok || s != want {
			p.log.Debug("auth denied: claim check failed", zap.String("clientid", c.ClientID), zap.String("claim", name))
			return access.Deny, nil
		}
	}
	c.JWTClaims = obj
	return access.Allow, nil
}

// verify checks a token's signature and time claims and returns its
// decoded payload (any JSON value).
func (p *Plugin) verify(token string) (any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errNotToken
	}
	payload, err := decodeB64URL(parts[1])
	if err != nil {
		return nil, errNotToken
	}
	hdrJSON, err := decodeB64URL(parts[0])
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	var hdr any
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	hm, _ := hdr.(map[string]any)
	keys := p.static
	if kid, ok := hm["kid"]; ok {
		if remote := p.remote.Load(); remote != nil {
			keys = nil
			for _, k := range *remote {
				if s, ok := kid.(string); ok && k.hasKid && k.kid == s {
					keys = append(keys, k)
				}
			}
		}
	}
	if len(keys) == 0 {
		return nil, errNotFound
	}
	alg, _ := hm["alg"].(string)
	if alg == "Ed25519" {
		alg = "EdDSA"
	}
	method := jwt.GetSigningMethod(alg)
	if method == nil {
		return nil, fmt.Errorf("unknown alg %q", alg)
	}
	sig, err := decodeB64URL(parts[2])
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	// EMQX signs over the header as sent and the payload re-encoded.
	input := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload)
	for _, k := range keys {
		if method.Verify(input, sig, k.k) != nil {
			continue
		}
		var claims any
		dec := json.NewDecoder(bytes.NewReader(payload))
		dec.UseNumber()
		if err := dec.Decode(&claims); err != nil || dec.More() {
			return nil, fmt.Errorf("payload is not JSON")
		}
		if obj, ok := claims.(map[string]any); ok {
			if err := p.checkTimes(obj); err != nil {
				return nil, err
			}
		}
		return claims, nil
	}
	return nil, errors.New("invalid signature")
}

// checkTimes applies exp, iat and nbf as EMQX does: exp must be after the
// current second, iat and nbf not after it.
func (p *Plugin) checkTimes(claims map[string]any) error {
	now := float64(p.now().Unix())
	for _, c := range []struct {
		name string
		ok   func(v float64) bool
		why  string
	}{
		{"exp", func(v float64) bool { return now < v }, "expired"},
		{"iat", func(v float64) bool { return v <= now }, "issued in the future"},
		{"nbf", func(v float64) bool { return v <= now }, "not valid yet"},
	} {
		v, present := claims[c.name]
		if !present {
			continue
		}
		if n, ok := number(v); !ok || !c.ok(n) {
			return errors.New(c.why)
		}
	}
	return nil
}

// erlangNumber is what Erlang's binary_to_integer or binary_to_float
// reads (a float needs digits on both sides of the point).
var erlangNumber = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+([eE][+-]?[0-9]+)?)?$`)

// number reads a time claim: a JSON number or a numeric string.
func number(v any) (float64, bool) {
	var s string
	switch t := v.(type) {
	case float64:
		return t, true
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	case json.Number:
		s = string(t)
	case string:
		if !erlangNumber.MatchString(t) {
			return 0, false
		}
		s = t
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil || errors.Is(err, strconv.ErrRange)
}

// CheckACL reads the ACL claim of the token the client was allowed with,
// as EMQX does:
//
//   - no claims (not allowed by this plugin) or no ACL claim: Ignore;
//   - an exp claim before the current second (or not numeric): Deny;
//   - else the topic filters of "all" and of "pub" (publish) or "sub"
//     (subscribe), in that order: the first that matches the topic allows
//     (a level that is exactly %u or %c stands for the user name or the
//     client id), none denies.
//
// Where EMQX's check raises, the next source decides (Ignore): an ACL
// claim that is not an object, a filter that is not a string, %u for a
// client without user name.
func (p *Plugin) CheckACL(_ context.Context, c *access.Client, a access.Action, topic string) (access.Result, error) {
	acl, ok := c.JWTClaims[p.aclClaim]
	if !ok {
		return access.Ignore, nil
	}
	if exp, ok := c.JWTClaims["exp"]; ok {
		if n, ok := number(exp); !ok || float64(p.now().Unix()) > n {
			return access.Deny, nil
		}
	}
	m, ok := acl.(map[string]any)
	if !ok {
		return access.Ignore, nil
	}
	which := "pub"
	if a == access.Subscribe {
		which = "sub"
	}
	var rules []any
	for _, k := range []string{"all", which} {
		if l, ok := m[k].([]any); ok {
			rules = append(rules, l...)
		}
	}
	words := strings.Split(topic, "/")
	for _, r := range rules {
		s, ok := r.(string)
		if !ok {
			return access.Ignore, nil
		}
		filter := strings.Split(s, "/")
		for i, w := range filter {
			switch w {
			case "%u":
				if c.Username == "" {
					return access.Ignore, nil
				}
				filter[i] = c.Username
			case "%c":
				filter[i] = c.ClientID
			}
		}
		if matchWords(words, filter) {
			return access.Allow, nil
		}
	}
	return access.Deny, nil
}

// matchWords is emqx_topic:match on levels: "+" matches one level, a last
// "#" matches the rest (none included); levels of the topic are compared
// as they are, so a filter being checked matches a rule with the same
// wildcards, and a "$" topic is matched by wildcards too.
func matchWords(name, filter []string) bool {
	for {
		switch {
		case len(name) == 0 && len(filter) == 0:
			return true
		case len(name) > 0 && len(filter) > 0 && (name[0] == filter[0] || filter[0] == "+"):
			name, filter = name[1:], filter[1:]
		case len(filter) == 1 && filter[0] == "#":
			return true
		default:
			return false
		}
	}
}
