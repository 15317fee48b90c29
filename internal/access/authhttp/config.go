package authhttp

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// Keys are the keys of etc/plugins/emqx_auth_http.conf; <name> stands for
// any header name.
var Keys = []string{
	"auth.http.auth_req.url",
	"auth.http.auth_req.method",
	"auth.http.auth_req.headers.<name>",
	"auth.http.auth_req.params",
	"auth.http.super_req.url",
	"auth.http.super_req.method",
	"auth.http.super_req.headers.<name>",
	"auth.http.super_req.params",
	"auth.http.acl_req.url",
	"auth.http.acl_req.method",
	"auth.http.acl_req.headers.<name>",
	"auth.http.acl_req.params",
	"auth.http.timeout",
	"auth.http.connect_timeout",
	"auth.http.pool_size",
	"auth.http.enable_pipelining",
	"auth.http.ssl.cacertfile",
	"auth.http.ssl.certfile",
	"auth.http.ssl.keyfile",
	"auth.http.ssl.verify",
	"auth.http.ssl.server_name_indication",
}

// Request is the auth.http.<req>.* keys of one request (auth_req,
// super_req or acl_req).
type Request struct {
	// auth.http.<req>.url: http:// or https:// URL (no scheme = http://);
	// "" (the key absent) = the request is not made: no auth_req, no
	// authentication by this plugin; no super_req, nobody is superuser; no
	// acl_req, no ACL. No default (the shipped file sets auth_req.url
	// http://127.0.0.1:80/mqtt/auth and acl_req.url
	// http://127.0.0.1:80/mqtt/acl).
	URL string
	// auth.http.<req>.method: post (default) or get.
	Method string
	// auth.http.<req>.headers.<name> = value, keyed by <name> as written.
	// Names are sent in lower case with "_" as "-" (content_type is
	// Content-Type). No default (the shipped file sets content_type, or
	// content-type, to application/x-www-form-urlencoded for auth_req and
	// acl_req).
	Headers map[string]string
	// auth.http.<req>.params: "name=value,..."; a value that is exactly one
	// of the placeholders (%u %c %a %r %P %p %C %d %m, and for acl_req %A
	// %t) is replaced, any other is sent as written. No default (the shipped
	// file sets auth_req "clientid=%c,username=%u,password=%P" and acl_req
	// "access=%A,username=%u,clientid=%c,ipaddr=%a,topic=%t,mountpoint=%m").
	Params string
}

// Config is the auth.http.* keys.
type Config struct {
	AuthReq  Request // auth.http.auth_req.*
	SuperReq Request // auth.http.super_req.*
	ACLReq   Request // auth.http.acl_req.*

	Timeout        time.Duration // auth.http.timeout: one request, default 5s (an integer is milliseconds)
	ConnectTimeout time.Duration // auth.http.connect_timeout: default 5s (an integer is milliseconds)
	// auth.http.pool_size: connections per request kind, default 8 (the
	// shipped file sets 32).
	PoolSize int
	// auth.http.enable_pipelining: requests in flight per connection in
	// EMQX, default 100 (see ParsePipelining). Accepted and checked; Go's
	// HTTP/1.1 client does not pipeline, so it changes nothing here.
	EnablePipelining int

	CACertFile string // auth.http.ssl.cacertfile: CA of an https server ("" = the system's), no default
	CertFile   string // auth.http.ssl.certfile: client certificate, no default
	KeyFile    string // auth.http.ssl.keyfile: its key, no default
	// auth.http.ssl.verify: check the server's certificate; default false
	// (as in EMQX: any certificate is accepted).
	Verify bool
	// auth.http.ssl.server_name_indication: "" (default) = the URL's host
	// is sent and checked; "disable" = no name is sent nor checked; any
	// other is the name sent and checked.
	ServerNameIndication string
}

// Defaults of the keys.
const (
	DefaultMethod           = "post"
	DefaultTimeout          = 5 * time.Second
	DefaultConnectTimeout   = 5 * time.Second
	DefaultPoolSize         = 8
	DefaultEnablePipelining = 100
)

// Defaults is the value of every key absent from the file (EMQX's schema):
// no request configured, so the plugin does nothing.
func Defaults() Config {
	r := Request{Method: DefaultMethod}
	return Config{
		AuthReq: r, SuperReq: r, ACLReq: r,
		Timeout: DefaultTimeout, ConnectTimeout: DefaultConnectTimeout,
		PoolSize: DefaultPoolSize, EnablePipelining: DefaultEnablePipelining,
	}
}

// ParsePipelining reads auth.http.enable_pipelining as EMQX does: an
// integer is itself, true is 100, false is 1, anything else 100.
func ParsePipelining(s string) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	if s == "false" {
		return 1
	}
	return DefaultEnablePipelining
}

// Content types a POST body can take; the value must be exactly one of them.
const (
	FormContentType = "application/x-www-form-urlencoded"
	JSONContentType = "application/json"
)

// reqs names the three requests for the keys.
func (c Config) reqs() []struct {
	name string
	r    Request
} {
	return []struct {
		name string
		r    Request
	}{{"auth_req", c.AuthReq}, {"super_req", c.SuperReq}, {"acl_req", c.ACLReq}}
}

// CheckKeys reports, as report(key, problem), each value of c that breaks
// its key's rule, the problem saying what is allowed.
func (c Config) CheckKeys(report func(key, problem string)) {
	for _, q := range c.reqs() {
		pre := "auth.http." + q.name + "."
		if q.r.URL != "" {
			if _, err := parseURL(q.r.URL); err != nil {
				report(pre+"url", err.Error())
			}
		}
		if q.r.Method != "post" && q.r.Method != "get" {
			report(pre+"method", "must be post or get")
		}
		for _, name := range sortedKeys(q.r.Headers) {
			if !httpguts.ValidHeaderFieldName(normHeader(name)) {
				report(pre+"headers."+name, "must name a header with letters, digits, - and _")
			} else if !httpguts.ValidHeaderFieldValue(q.r.Headers[name]) {
				report(pre+"headers."+name, "must be a header value without control characters")
			}
		}
		if _, err := parseParams(q.r.Params); err != nil {
			report(pre+"params", err.Error())
		}
	}
	if c.Timeout <= 0 {
		report("auth.http.timeout", "must be a positive duration (e.g. 5s)")
	}
	if c.ConnectTimeout <= 0 {
		report("auth.http.connect_timeout", "must be a positive duration (e.g. 5s)")
	}
	if c.PoolSize < 1 {
		report("auth.http.pool_size", "must be an integer of at least 1")
	}
	if c.EnablePipelining < 1 {
		report("auth.http.enable_pipelining", "must be true, false or an integer of at least 1")
	}
}

// Validate reports every problem that keeps the plugin from working with
// c: those of CheckKeys, a POST request without a Content-Type header of
// application/x-www-form-urlencoded or application/json (EMQX starts but
// fails every such request, which leaves every decision to the next
// backend), and a client certificate without its key or the other way
// round. New assumes c passed.
func (c Config) Validate(report func(key, problem string)) {
	c.CheckKeys(report)
	for _, q := range c.reqs() {
		if q.r.URL == "" || q.r.Method != "post" {
			continue
		}
		if ct, _ := contentType(q.r.Headers); ct != FormContentType && ct != JSONContentType {
			report("auth.http."+q.name+".headers.content_type",
				"a post request needs the header content_type = "+FormContentType+" or "+JSONContentType)
		}
	}
	const cert, key = "auth.http.ssl.certfile", "auth.http.ssl.keyfile"
	switch {
	case c.CertFile != "" && c.KeyFile == "":
		report(cert, key+" is required when "+cert+" is set")
	case c.KeyFile != "" && c.CertFile == "":
		report(key, cert+" is required when "+key+" is set")
	}
}

// parseURL reads a request URL as EMQX does: http or https, a missing
// scheme taken as http.
func parseURL(raw string) (*url.URL, error) {
	s := raw
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil {
		return nil, fmt.Errorf("must be an http:// or https:// URL with a host, without user info (e.g. http://127.0.0.1:80/mqtt/auth)")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("port %q must be an integer from 1 to 65535", p)
		}
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// param is one name=value of params.
type param struct{ name, value string }

// parseParams splits params as EMQX does: at "," then at "=", empty parts
// dropped; each must give exactly a name and a value.
func parseParams(s string) ([]param, error) {
	var ps []param
	for item := range strings.SplitSeq(s, ",") {
		if item == "" {
			continue
		}
		parts := strings.FieldsFunc(item, func(r rune) bool { return r == '=' })
		if len(parts) != 2 {
			return nil, fmt.Errorf("%q must be name=value (a list like clientid=%%c,username=%%u,password=%%P)", item)
		}
		ps = append(ps, param{parts[0], parts[1]})
	}
	return ps, nil
}

// normHeader is a header name as EMQX sends it: lower case, "_" as "-".
func normHeader(name string) string {
	return strings.ToLower(strings.ReplaceAll(name, "_", "-"))
}

// normHeaders returns the headers by normalised name. When two names
// normalise to the same, the one sorting first wins.
func normHeaders(h map[string]string) map[string]string {
	out := make(map[string]string, len(h))
	for _, name := range sortedKeys(h) {
		n := normHeader(name)
		if _, dup := out[n]; !dup {
			out[n] = h[name]
		}
	}
	return out
}

// contentType returns the Content-Type of a request's headers.
func contentType(h map[string]string) (string, bool) {
	v, ok := normHeaders(h)["content-type"]
	return v, ok
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
