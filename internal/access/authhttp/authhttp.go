package authhttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"emqxgo/internal/access"
	"emqxgo/internal/ratelog"
	"emqxgo/internal/tlsfiles"
)

// Name is the plugin's EMQX name.
const Name = "emqx_auth_http"

const (
	// MaxBody bounds the part of a response body that is read: a body is
	// only compared with "ignore" or searched for a mountpoint.
	MaxBody = 64 << 10
	// retries is how many times a request that failed without an answer is
	// sent again (ehttpc's default, which EMQX uses); a timeout is not
	// retried.
	retries = 2
	// logWindow is how often one kind of failure is logged.
	logWindow = time.Minute
)

// Plugin is emqx_auth_http: an access.Authenticator and access.ACLChecker.
type Plugin struct {
	auth, super, acl *request // nil when the URL is not set
	log              *zap.Logger
	logged           *ratelog.Limiter
}

var (
	_ access.Authenticator = (*Plugin)(nil)
	_ access.ACLChecker    = (*Plugin)(nil)
)

// request is one configured request with its own connection pool.
type request struct {
	kind     string // auth_req, super_req or acl_req
	url      *url.URL
	get      bool
	headers  http.Header
	host     string // a configured Host header
	json     bool   // POST body as JSON (else form)
	badCT    bool   // POST without a usable Content-Type: every request fails
	ct       string // its Content-Type
	params   []param
	timeout  time.Duration
	client   *http.Client
	tr       *http.Transport
	location string // url without query, for logs
}

// New returns the plugin of a validated Config; log may be nil. It fails
// when a TLS file named by c cannot be used.
func New(c Config, log *zap.Logger) (*Plugin, error) {
	if log == nil {
		log = zap.NewNop()
	}
	p := &Plugin{log: log.With(zap.String("plugin", Name)), logged: ratelog.New(logWindow)}
	var tlsConf *tls.Config
	for _, q := range []struct {
		name string
		r    Request
		dst  **request
	}{{"auth_req", c.AuthReq, &p.auth}, {"super_req", c.SuperReq, &p.super}, {"acl_req", c.ACLReq, &p.acl}} {
		if q.r.URL == "" {
			continue
		}
		u, err := parseURL(q.r.URL)
		if err != nil {
			return nil, fmt.Errorf("auth.http.%s.url: %w", q.name, err)
		}
		params, err := parseParams(q.r.Params)
		if err != nil {
			return nil, fmt.Errorf("auth.http.%s.params: %w", q.name, err)
		}
		if u.Scheme == "https" && tlsConf == nil {
			if tlsConf, err = c.tlsConfig(); err != nil {
				return nil, err
			}
		}
		*q.dst = newRequest(q.name, u, q.r, params, c, tlsConf)
	}
	return p, nil
}

func newRequest(kind string, u *url.URL, r Request, params []param, c Config, tlsConf *tls.Config) *request {
	q := &request{kind: kind, url: u, get: r.Method == "get", params: params, timeout: c.Timeout, headers: http.Header{}}
	loc := *u
	loc.RawQuery, loc.ForceQuery = "", false
	q.location = loc.String()
	hs := normHeaders(r.Headers)
	for name, v := range hs {
		switch name {
		case "host":
			q.host = v
		case "content-length", "transfer-encoding", "connection":
			// framing is the client's business
		case "content-type":
			if !q.get { // EMQX drops it from a GET
				q.headers.Set(name, v)
			}
		default:
			q.headers.Set(name, v)
		}
	}
	if _, ok := hs["user-agent"]; !ok {
		q.headers.Set("User-Agent", "") // none, as EMQX's client sends none
	}
	if !q.get {
		q.ct = hs["content-type"]
		switch q.ct {
		case FormContentType:
		case JSONContentType:
			q.json = true
		default:
			q.badCT = true
		}
	}
	dialer := &net.Dialer{Timeout: c.ConnectTimeout}
	q.tr = &http.Transport{
		Proxy:               nil, // EMQX does not use proxy variables
		DialContext:         dialer.DialContext,
		MaxConnsPerHost:     c.PoolSize,
		MaxIdleConnsPerHost: c.PoolSize,
		IdleConnTimeout:     90 * time.Second,
		// HTTP/1.1, as EMQX's client speaks it.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	if tlsConf != nil {
		if tlsConf.ServerName == "" && c.ServerNameIndication == "disable" {
			// No name sent: dial TLS ourselves, as the transport would put
			// the URL's host in the handshake.
			q.tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				raw, err := dialer.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				tc := tls.Client(raw, tlsConf)
				if err := tc.HandshakeContext(ctx); err != nil {
					raw.Close()
					return nil, err
				}
				return tc, nil
			}
		} else {
			q.tr.TLSClientConfig = tlsConf
		}
	}
	q.client = &http.Client{
		Transport: q.tr,
		// EMQX's client follows no redirect: a 3xx is an answer like any
		// other that is not 200.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return q
}

// tlsConfig is the client TLS of the auth.http.ssl.* keys, for https URLs.
func (c Config) tlsConfig() (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("auth.http.ssl.certfile, auth.http.ssl.keyfile: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	var roots *x509.CertPool
	if c.CACertFile != "" {
		pool, err := tlsfiles.LoadCAPool(c.CACertFile, nil)
		if err != nil {
			return nil, fmt.Errorf("auth.http.ssl.cacertfile: %w", err)
		}
		roots = pool
	}
	conf.RootCAs = roots
	switch {
	case !c.Verify:
		// verify_none, EMQX's default: any certificate is accepted.
		conf.InsecureSkipVerify = true
		if c.ServerNameIndication != "disable" {
			conf.ServerName = c.ServerNameIndication
		}
	case c.ServerNameIndication == "disable":
		// The chain is checked, not the name.
		conf.InsecureSkipVerify = true
		conf.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: server sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, ic := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(ic)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	default:
		conf.ServerName = c.ServerNameIndication // "" = the URL's host
	}
	return conf, nil
}

// Name is "emqx_auth_http".
func (p *Plugin) Name() string { return Name }

// Authenticates reports whether auth_req is configured (else Authenticate
// always ignores: the plugin is not an authenticator).
func (p *Plugin) Authenticates() bool { return p.auth != nil }

// ChecksACL reports whether acl_req is configured (else CheckACL always
// ignores).
func (p *Plugin) ChecksACL() bool { return p.acl != nil }

// Close drops the idle connections.
func (p *Plugin) Close() error {
	for _, q := range []*request{p.auth, p.super, p.acl} {
		if q != nil {
			q.tr.CloseIdleConnections()
		}
	}
	return nil
}

// Authenticate asks auth_req, as EMQX does:
//
//   - 200 with the body "ignore": Ignore;
//   - 200: Allow; c.Superuser is set when super_req answers 200, and
//     c.Mountpoint when the body is a JSON object with a string
//     "mountpoint";
//   - any other status (3xx, 204 and 5xx included): Deny, the reason as
//     EMQX maps the status (400/401 bad user name or password, 403 not
//     authorized, 429 banned, 504 server busy, others server
//     unavailable);
//   - no answer (refused, unreachable, timed out, after two retries of
//     what failed before the timeout): Deny, server unavailable;
//   - a POST without a form or JSON Content-Type, or a JSON body of a
//     value that is not UTF-8: Ignore (EMQX's check fails with an
//     exception, which passes to the next backend).
//
// Failures are logged here at most once a minute per kind; the error is
// always nil.
func (p *Plugin) Authenticate(ctx context.Context, c *access.Client) (access.Result, error) {
	if p.auth == nil {
		return access.Ignore, nil
	}
	vars := authVars(c)
	status, body, err := p.auth.do(ctx, vars)
	switch {
	case errors.Is(err, errCrash):
		p.logOnce("auth_req:crash", "auth request not sent, client left to the next backend", p.auth, err)
		return access.Ignore, nil
	case err != nil:
		p.logOnce("auth_req:error", "auth request failed, connection denied", p.auth, err)
		c.Reason = access.ServerUnavailable
		return access.Deny, nil
	case status != http.StatusOK:
		p.logOnce("auth_req:"+strconv.Itoa(status), "auth server denied the connection", p.auth, nil, zap.Int("status", status))
		c.Reason = denyReason(status)
		return access.Deny, nil
	case string(body) == "ignore":
		return access.Ignore, nil
	}
	super := false
	if p.super != nil {
		status, _, err := p.super.do(ctx, vars)
		switch {
		case errors.Is(err, errCrash):
			// In EMQX the whole check fails: the next backend decides.
			p.logOnce("super_req:crash", "superuser request not sent, client left to the next backend", p.super, err)
			return access.Ignore, nil
		case err != nil:
			p.logOnce("super_req:error", "superuser request failed, client is no superuser", p.super, err)
		default:
			super = status == http.StatusOK
		}
	}
	c.Superuser = super
	if mp, ok := mountpoint(body); ok {
		c.Mountpoint = mp
	}
	return access.Allow, nil
}

// denyReason is the CONNACK reason of an auth_req status other than 200,
// as EMQX maps it.
func denyReason(status int) access.Reason {
	switch status {
	case 400, 401:
		return access.BadUsernameOrPassword
	case 403:
		return access.NotAuthorized
	case 429:
		return access.Banned
	case 504:
		return access.ServerBusy
	}
	return access.ServerUnavailable
}

// CheckACL asks acl_req, as EMQX does:
//
//   - a user name starting with "$": Ignore, without asking;
//   - 200 with the body "ignore": Ignore; 200: Allow;
//   - any other status: Deny;
//   - no answer, or a request that cannot be sent: Ignore (logged).
func (p *Plugin) CheckACL(ctx context.Context, c *access.Client, a access.Action, topic string) (access.Result, error) {
	if p.acl == nil || strings.HasPrefix(c.Username, "$") {
		return access.Ignore, nil
	}
	status, body, err := p.acl.do(ctx, aclVars(c, a, topic))
	switch {
	case err != nil:
		p.logOnce("acl_req:error", "ACL request failed, left to the next source", p.acl, err)
		return access.Ignore, nil
	case status != http.StatusOK:
		p.logOnce("acl_req:"+strconv.Itoa(status), "ACL server denied", p.acl, nil, zap.Int("status", status))
		return access.Deny, nil
	case string(body) == "ignore":
		return access.Ignore, nil
	}
	return access.Allow, nil
}

func (p *Plugin) logOnce(key, msg string, q *request, err error, fields ...zap.Field) {
	if !p.logged.First(key) {
		return
	}
	fields = append(fields, zap.String("url", q.location))
	if err != nil {
		fields = append(fields, zap.Error(err))
	}
	p.log.Warn(msg+" (repeats are not logged for a minute)", fields...)
}

// mountpoint returns the "mountpoint" string of a JSON object body.
func mountpoint(body []byte) (string, bool) {
	var obj map[string]any
	if json.Unmarshal(body, &obj) != nil {
		return "", false
	}
	mp, ok := obj["mountpoint"].(string)
	return mp, ok
}

// errCrash marks a request EMQX fails to build (it raises, and the hook
// is skipped).
var errCrash = errors.New("request cannot be built")

// do sends the request with vars substituted in its params and returns
// the status and at most MaxBody bytes of the body.
func (q *request) do(ctx context.Context, vars map[string]string) (int, []byte, error) {
	req, err := q.build(vars)
	if err != nil {
		return 0, nil, err
	}
	for attempt := 0; ; attempt++ {
		status, body, err := q.send(ctx, req)
		if err == nil || attempt == retries || ctx.Err() != nil || isTimeout(err) {
			return status, body, err
		}
	}
}

// build renders the request as EMQX does: GET puts the params in the
// query string (after the URL's own query, joined with "?" as EMQX joins
// them); POST sends them as a form or a JSON object of strings, by the
// Content-Type header.
func (q *request) build(vars map[string]string) (func(ctx context.Context) (*http.Request, error), error) {
	pairs := make([]param, len(q.params))
	for i, p := range q.params {
		v, ok := vars[p.value]
		if !ok {
			v = p.value
		}
		pairs[i] = param{p.name, v}
	}
	u := *q.url
	var body []byte
	method := http.MethodPost
	switch {
	case q.get:
		method = http.MethodGet
		qs := formEncode(pairs)
		if u.RawQuery != "" {
			u.RawQuery += "?" + qs
		} else {
			u.RawQuery = qs
			u.ForceQuery = qs == ""
		}
	case q.badCT:
		return nil, fmt.Errorf("%w: content type %q is neither %s nor %s", errCrash, q.ct, FormContentType, JSONContentType)
	case q.json:
		b, err := jsonEncode(pairs)
		if err != nil {
			return nil, err
		}
		body = b
	default:
		body = []byte(formEncode(pairs))
	}
	target := u.String()
	return func(ctx context.Context) (*http.Request, error) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, target, rd)
		if err != nil {
			return nil, err
		}
		req.Header = q.headers.Clone()
		if q.host != "" {
			req.Host = q.host
		}
		return req, nil
	}, nil
}

// send makes one attempt bounded by the request timeout.
func (q *request) send(ctx context.Context, build func(context.Context) (*http.Request, error)) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, q.timeout)
	defer cancel()
	req, err := build(ctx)
	if err != nil {
		return 0, nil, err
	}
	resp, err := q.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, body, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// formEncode is application/x-www-form-urlencoded in the params' order
// (space as "+", all but letters, digits and -._~ as %XX).
func formEncode(ps []param) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(p.name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p.value))
	}
	return b.String()
}

// jsonEncode is a JSON object of string values in the params' order
// (duplicates kept, as EMQX's encoder writes them). A name or value that
// is not UTF-8 fails the request, as it fails EMQX's encoder.
func jsonEncode(ps []param) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range ps {
		if !utf8.ValidString(p.name) || !utf8.ValidString(p.value) {
			return nil, fmt.Errorf("%w: param %q is not UTF-8 and cannot go in a JSON body", errCrash, p.name)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, p.name)
		b.WriteByte(':')
		writeJSONString(&b, p.value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)       // a string always encodes
	b.Truncate(b.Len() - 1) // Encode's newline
}

// Placeholder values EMQX renders for what the client info lacks: an
// absent key ("null") and a key whose value is undefined ("undefined").
const (
	null      = "null"
	undefined = "undefined"
)

// authVars are the placeholders of auth_req and super_req.
func authVars(c *access.Client) map[string]string {
	v := commonVars(c)
	v["%P"] = undefined
	if c.Password != nil {
		v["%P"] = string(c.Password)
	}
	v["%A"], v["%t"] = null, null
	return v
}

// aclVars are the placeholders of acl_req: EMQX's client info no longer
// holds the password there (%P is "null"), and adds %A (1 subscribe, 2
// publish) and %t.
func aclVars(c *access.Client, a access.Action, topic string) map[string]string {
	v := commonVars(c)
	v["%P"] = null
	v["%A"] = "2"
	if a == access.Subscribe {
		v["%A"] = "1"
	}
	v["%t"] = topic
	return v
}

func commonVars(c *access.Client) map[string]string {
	v := map[string]string{
		"%u": c.Username,
		"%c": c.ClientID,
		"%r": "mqtt",
		"%a": undefined,
		"%p": strconv.Itoa(int(c.SockPort)),
		"%C": null,
		"%d": null,
		"%m": c.Mountpoint,
	}
	if c.Username == "" {
		v["%u"] = undefined
	}
	if c.Peer.IsValid() {
		v["%a"] = c.Peer.Addr().WithZone("").String()
	}
	if c.CertCN != "" || c.CertDN != "" { // a client certificate
		v["%C"], v["%d"] = c.CertCN, c.CertDN
		if c.CertCN == "" {
			v["%C"] = undefined
		}
	}
	if c.Mountpoint == "" {
		v["%m"] = undefined
	}
	return v
}
