package k8s

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"emqxgo/internal/nodename"
	"emqxgo/internal/tlsfiles"
)

// Values of Config.AddressType (cluster.k8s.address_type).
const (
	AddressIP       = "ip"       // app@<ip>
	AddressDNS      = "dns"      // app@<ip with . and : as ->.<namespace>.<suffix>
	AddressHostname = "hostname" // app@<hostname>.<service>.<namespace>.<suffix>
)

// Defaults of the keys, and of the service-account files (Options).
const (
	DefaultNamespace   = "default"
	DefaultSuffix      = "pod.cluster.local"
	DefaultAddressType = AddressIP
	DefaultTokenFile   = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	DefaultCAFile      = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
)

const (
	// maxBody bounds an API response body.
	maxBody = 4 << 20
	// requestTimeout bounds one API call (on top of the caller's context).
	requestTimeout = 10 * time.Second
	// excerptLen bounds the body excerpt quoted in an error.
	excerptLen = 200
)

// Config is the cluster.k8s.* keys.
type Config struct {
	APIServer   string // cluster.k8s.apiserver, e.g. https://kubernetes.default.svc:443
	ServiceName string // cluster.k8s.service_name
	AddressType string // cluster.k8s.address_type: ip, dns or hostname (lower case)
	// AppName (cluster.k8s.app_name) is the name part of discovered node
	// names. It has no default of its own: package config derives it from
	// node.name.
	AppName   string
	Namespace string // cluster.k8s.namespace
	Suffix    string // cluster.k8s.suffix: the pods' DNS domain (a trailing dot is allowed)
}

// Defaults is the built-in value of every key (APIServer, ServiceName and
// AppName empty).
func Defaults() Config {
	return Config{AddressType: DefaultAddressType, Namespace: DefaultNamespace, Suffix: DefaultSuffix}
}

// Options is what New needs besides the keys; the zero value is the
// service account of the pod.
type Options struct {
	// Service-account files; "" = DefaultTokenFile / DefaultCAFile. Each is
	// used when present; a missing file is not an error. The token is re-read
	// on every Discover (tokens rotate); the CA is read by New.
	TokenFile, CAFile string
	// HTTPClient is used as is when set (CAFile is then ignored); else New
	// builds one trusting the system roots plus CAFile.
	HTTPClient *http.Client
	Log        *zap.Logger // nil = no logging
}

var (
	// RFC 1123 label (namespaces, hostnames, suffix labels).
	label1123Re = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	// RFC 1035 label (service names must start with a letter).
	label1035Re = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
)

// CheckKeys reports, as report(key, problem), each value of c that breaks
// its key's rule, the problem saying what is allowed. APIServer and
// ServiceName left empty are not checked here (see Validate).
func (c Config) CheckKeys(report func(key, problem string)) {
	if c.APIServer != "" {
		if err := checkAPIServer(c.APIServer); err != nil {
			report("cluster.k8s.apiserver", err.Error())
		}
	}
	if c.ServiceName != "" && !label1035Re.MatchString(c.ServiceName) {
		report("cluster.k8s.service_name", "must be a DNS label (lower-case letters, digits and '-', starting with a letter, at most 63)")
	}
	if c.AddressType != AddressIP && c.AddressType != AddressDNS && c.AddressType != AddressHostname {
		report("cluster.k8s.address_type", "must be one of ip, dns, hostname")
	}
	if err := nodename.CheckNamePart(c.AppName); err != nil {
		report("cluster.k8s.app_name", err.Error())
	}
	if !label1123Re.MatchString(c.Namespace) {
		report("cluster.k8s.namespace", "must be a DNS label (lower-case letters, digits and '-', at most 63, not starting or ending with '-')")
	}
	if !validDomain(strings.TrimSuffix(c.Suffix, ".")) {
		report("cluster.k8s.suffix", "must be a DNS name (lower-case letters, digits and '-' in dot-separated labels, e.g. pod.cluster.local)")
	}
}

// Validate reports every problem that keeps the strategy from running with
// c: those of CheckKeys, and a missing API server or service name, reported
// at cluster.discovery (the key that made them required). New assumes c
// passed.
func (c Config) Validate(report func(key, problem string)) {
	c.CheckKeys(report)
	if c.APIServer == "" {
		report("cluster.discovery", "cluster.k8s.apiserver is required when cluster.discovery = k8s")
	}
	if c.ServiceName == "" {
		report("cluster.discovery", "cluster.k8s.service_name is required when cluster.discovery = k8s")
	}
}

// Strategy lists the ready endpoints of a Kubernetes service.
type Strategy struct {
	cfg     Config
	token   string // service-account token file
	base    string // APIServer without trailing slash
	client  *http.Client
	own     *http.Transport // the transport New built, nil when injected
	log     *zap.Logger
	noSlice atomic.Bool // the server answered 404 for EndpointSlices
	warned  atomic.Bool // the auth/RBAC failure was logged since the last success
}

// Structural check against discovery.Strategy and discovery.Closer (not
// imported: a strategy does not depend on the loop that runs it).
var _ interface {
	Name() string
	Discover(context.Context) ([]string, error)
	Close() error
} = (*Strategy)(nil)

// New builds the HTTP client of a validated Config; it fails only when the
// CA file exists but cannot be used.
func New(c Config, o Options) (*Strategy, error) {
	if o.TokenFile == "" {
		o.TokenFile = DefaultTokenFile
	}
	if o.CAFile == "" {
		o.CAFile = DefaultCAFile
	}
	c.Suffix = strings.TrimSuffix(c.Suffix, ".")
	s := &Strategy{cfg: c, token: o.TokenFile, base: strings.TrimRight(c.APIServer, "/"), client: o.HTTPClient, log: o.Log}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	s.log = s.log.With(zap.String("discovery", "k8s"))
	if s.client == nil {
		tr, err := buildTransport(o.CAFile)
		if err != nil {
			return nil, err
		}
		s.own = tr
		s.client = &http.Client{Transport: tr}
	}
	return s, nil
}

// checkAPIServer accepts an http:// or https:// URL with a host (and a
// path, as behind a proxy), without query, fragment or user info.
func checkAPIServer(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" ||
		strings.ContainsAny(raw, "?#") || u.User != nil || u.Opaque != "" {
		return errors.New("must be an http:// or https:// URL with a host, without query, fragment or user info (e.g. https://kubernetes.default.svc:443)")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || strings.TrimLeft(p, "0123456789") != "" {
			return fmt.Errorf("port %q must be an integer from 1 to 65535", p)
		}
	}
	return nil
}

func validDomain(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for l := range strings.SplitSeq(d, ".") {
		if !label1123Re.MatchString(l) {
			return false
		}
	}
	return true
}

// buildTransport trusts the system roots plus the PEM certificates of
// caFile when it exists.
func buildTransport(caFile string) (*http.Transport, error) {
	system, err := x509.SystemCertPool()
	if err != nil || system == nil {
		system = x509.NewCertPool()
	}
	pool, err := tlsfiles.LoadCAPool(caFile, system)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		pool = system
	case err != nil:
		return nil, fmt.Errorf("cluster.k8s: CA file: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return tr, nil
}

// Name is "k8s".
func (s *Strategy) Name() string { return "k8s" }

// Close drops the idle connections of the client New built (an injected
// client is left alone).
func (s *Strategy) Close() error {
	if s.own != nil {
		s.own.CloseIdleConnections()
	}
	return nil
}

// address is one ready endpoint address.
type address struct {
	ip       string
	hostname string
}

// Discover lists the ready endpoints of the service and returns their node
// names, deduplicated and sorted.
func (s *Strategy) Discover(ctx context.Context) ([]string, error) {
	token, err := s.readToken()
	if err != nil {
		return nil, err
	}
	if !s.noSlice.Load() {
		addrs, err := s.fromSlices(ctx, token)
		var se *statusError
		switch {
		case err == nil:
			return s.names(addrs), nil
		case errors.As(err, &se) && se.code == http.StatusNotFound:
			s.noSlice.Store(true)
			s.log.Info("EndpointSlice API (discovery.k8s.io/v1) not served; using Endpoints from now on")
		case errors.As(err, &se) && se.code == http.StatusForbidden:
			// RBAC granting endpoints only (as EMQX's own examples do):
			// try Endpoints; if that fails too, its error is reported.
			s.log.Debug("EndpointSlices forbidden; trying Endpoints", zap.Error(err))
		default:
			return nil, s.fail(err)
		}
	}
	addrs, err := s.fromEndpoints(ctx, token)
	if err != nil {
		return nil, s.fail(err)
	}
	return s.names(addrs), nil
}

// readToken re-reads the token file; a missing file means no token.
func (s *Strategy) readToken() (string, error) {
	b, err := os.ReadFile(s.token)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("k8s discovery: reading token file %s: %w", s.token, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// fail logs an auth/RBAC failure once (until the next success) and returns err.
func (s *Strategy) fail(err error) error {
	var se *statusError
	if errors.As(err, &se) && se.auth() && !s.warned.Swap(true) {
		s.log.Warn("Kubernetes API denied endpoint discovery", zap.Error(err))
	}
	return err
}

type sliceList struct {
	Items []struct {
		AddressType string `json:"addressType"`
		Endpoints   []struct {
			Addresses  []string `json:"addresses"`
			Conditions struct {
				Ready *bool `json:"ready"`
			} `json:"conditions"`
			Hostname string `json:"hostname"`
		} `json:"endpoints"`
	} `json:"items"`
}

func (s *Strategy) fromSlices(ctx context.Context, token string) ([]address, error) {
	path := "/apis/discovery.k8s.io/v1/namespaces/" + s.cfg.Namespace + "/endpointslices"
	q := url.Values{"labelSelector": {"kubernetes.io/service-name=" + s.cfg.ServiceName}}.Encode()
	var list sliceList
	if err := s.get(ctx, path, q, token, &list); err != nil {
		return nil, err
	}
	var out []address
	for _, it := range list.Items {
		if it.AddressType == "FQDN" {
			s.log.Debug("skipping FQDN EndpointSlice")
			continue
		}
		for _, ep := range it.Endpoints {
			// Kubernetes: a nil ready condition means ready.
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			// Addresses of one endpoint are fungible (the API says
			// consumers may use the first only): one name per pod.
			if len(ep.Addresses) == 0 {
				continue
			}
			out = append(out, address{ip: ep.Addresses[0], hostname: ep.Hostname})
		}
	}
	return out, nil
}

type endpoints struct {
	Subsets []struct {
		Addresses []struct {
			IP       string `json:"ip"`
			Hostname string `json:"hostname"`
		} `json:"addresses"`
		// notReadyAddresses deliberately not decoded.
	} `json:"subsets"`
}

func (s *Strategy) fromEndpoints(ctx context.Context, token string) ([]address, error) {
	path := "/api/v1/namespaces/" + s.cfg.Namespace + "/endpoints/" + s.cfg.ServiceName
	var ep endpoints
	if err := s.get(ctx, path, "", token, &ep); err != nil {
		return nil, err
	}
	var out []address
	for _, sub := range ep.Subsets {
		for _, a := range sub.Addresses {
			out = append(out, address{ip: a.IP, hostname: a.Hostname})
		}
	}
	return out, nil
}

// names turns addresses into node names after the address type; it is
// called on success, so it also re-arms the auth warning.
func (s *Strategy) names(addrs []address) []string {
	s.warned.Store(false)
	out := make([]string, 0, len(addrs))
	app := s.cfg.AppName + "@"
	for _, a := range addrs {
		ip, err := netip.ParseAddr(a.ip)
		if err != nil || ip.Zone() != "" {
			s.log.Debug("skipping endpoint with a bad IP", zap.String("ip", a.ip))
			continue
		}
		ipStr := ip.String()
		switch s.cfg.AddressType {
		case AddressIP:
			out = append(out, app+ipStr)
		case AddressDNS:
			dashed := strings.NewReplacer(".", "-", ":", "-").Replace(ipStr)
			out = append(out, app+dashed+"."+s.cfg.Namespace+"."+s.cfg.Suffix)
		case AddressHostname:
			if a.hostname == "" {
				s.log.Debug("skipping endpoint without hostname", zap.String("ip", ipStr))
				continue
			}
			if !label1123Re.MatchString(a.hostname) {
				s.log.Debug("skipping endpoint with a bad hostname", zap.String("ip", ipStr), zap.String("hostname", a.hostname))
				continue
			}
			out = append(out, app+a.hostname+"."+s.cfg.ServiceName+"."+s.cfg.Namespace+"."+s.cfg.Suffix)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// statusError is a non-2xx answer of the API server.
type statusError struct {
	path    string
	code    int
	status  string // e.g. "403 Forbidden"
	message string // Status.message or a body excerpt
	ns      string
	token   string // token file, for the 401 hint
}

func (e *statusError) auth() bool {
	return e.code == http.StatusUnauthorized || e.code == http.StatusForbidden
}

func (e *statusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "k8s discovery: GET %s: %s", e.path, e.status)
	if e.message != "" {
		fmt.Fprintf(&b, ": %s", e.message)
	}
	if e.code == http.StatusUnauthorized {
		fmt.Fprintf(&b, "; check the service-account token (%s)", e.token)
	}
	if e.auth() {
		fmt.Fprintf(&b, "; the service account needs get and list on endpoints and endpointslices in namespace %s (RBAC)", e.ns)
	}
	return b.String()
}

// get fetches base+path?query and decodes the JSON answer into out.
func (s *Strategy) get(ctx context.Context, path, query, token string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	u := s.base + path
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("k8s discovery: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "emqxgo-k8s-discovery")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("k8s discovery: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("k8s discovery: GET %s: reading body: %w", path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &statusError{path: path, code: resp.StatusCode, status: resp.Status,
			message: bodyMessage(body), ns: s.cfg.Namespace, token: s.token}
	}
	if len(body) > maxBody {
		return fmt.Errorf("k8s discovery: GET %s: response larger than %d bytes", path, maxBody)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("k8s discovery: GET %s: decoding: %w", path, err)
	}
	return nil
}

// bodyMessage is the message of a Kubernetes Status body, else a short
// single-line excerpt of the body.
func bodyMessage(body []byte) string {
	var st struct {
		Kind    string `json:"kind"`
		Message string `json:"message"`
	}
	msg := string(body)
	if json.Unmarshal(body, &st) == nil && st.Kind == "Status" && st.Message != "" {
		msg = st.Message
	}
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > excerptLen {
		// Cut on a rune boundary.
		cut := excerptLen
		for cut > 0 && !isRuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "..."
	}
	return msg
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
