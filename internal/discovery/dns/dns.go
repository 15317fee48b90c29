// Package dns is the DNS autocluster strategy: A/AAAA records of
// cluster.dns.name give app@<ip>; SRV records give app@<target host>. It
// owns the cluster.dns.* keys: their Config, defaults and rules (Validate).
package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"emqxgo/internal/nodename"
)

// Config is the cluster.dns.* keys.
type Config struct {
	Name string // cluster.dns.name: record name to resolve
	// App (cluster.dns.app) is the name part of discovered nodes. It has no
	// default of its own: package config derives it from node.name.
	App    string
	Type   string // cluster.dns.type: a, aaaa or srv (lower case)
	Server string // cluster.dns.server: resolver ip:port; "" = the system resolver
}

// Defaults of the keys.
const (
	DefaultType = "a"
	DefaultPort = 53 // of a cluster.dns.server given without one
)

// Defaults is the built-in value of every key (Name, App and Server empty).
func Defaults() Config { return Config{Type: DefaultType} }

var types = []string{"a", "aaaa", "srv"}

// CheckKeys reports, as report(key, problem), each value of c that breaks
// its key's rule, the problem saying what is allowed. Name and Server left
// empty are not checked here (see Validate).
func (c Config) CheckKeys(report func(key, problem string)) {
	if c.Name != "" {
		if err := checkName(c.Name); err != nil {
			report("cluster.dns.name", err.Error())
		}
	}
	if err := nodename.CheckNamePart(c.App); err != nil {
		report("cluster.dns.app", err.Error())
	}
	if !slices.Contains(types, c.Type) {
		report("cluster.dns.type", "must be one of "+strings.Join(types, ", "))
	}
	if c.Server != "" {
		if _, err := ParseServer(c.Server); err != nil {
			report("cluster.dns.server", err.Error())
		}
	}
}

// Validate reports every problem that keeps the strategy from running with
// c: those of CheckKeys, and a missing record name, reported at
// cluster.discovery (the key that made it required). New assumes c passed.
func (c Config) Validate(report func(key, problem string)) {
	c.CheckKeys(report)
	if c.Name == "" {
		report("cluster.discovery", "cluster.dns.name is required when cluster.discovery = dns")
	}
}

var labelRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// checkName accepts RFC 1123 host names (labels of letters, digits and
// '-', a trailing dot allowed).
func checkName(s string) error {
	bad := errors.New("must be a DNS name (letters, digits and '-' in dot-separated labels, e.g. emqx.example.com)")
	t := strings.TrimSuffix(s, ".")
	if t == "" || len(t) > 253 {
		return bad
	}
	for l := range strings.SplitSeq(t, ".") {
		if !labelRe.MatchString(l) {
			return bad
		}
	}
	return nil
}

// ParseServer reads a cluster.dns.server value, `ip`, `ip:port` or
// `[ipv6]:port`, and writes it as ip:port (DefaultPort when none is given).
func ParseServer(s string) (string, error) {
	bad := errors.New("must be an IP address with an optional port (10.0.0.1, 10.0.0.1:53, [::1]:53)")
	if ip := net.ParseIP(strings.Trim(s, "[]")); ip != nil {
		return net.JoinHostPort(ip.String(), strconv.Itoa(DefaultPort)), nil
	}
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", bad
	}
	ip := net.ParseIP(h)
	if ip == nil {
		return "", bad
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || strings.TrimLeft(p, "0123456789") != "" {
		return "", fmt.Errorf("port %q must be an integer from 1 to 65535", p)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(n)), nil
}

// Strategy resolves with its own resolver (injectable through Server).
type Strategy struct {
	cfg Config
	r   *net.Resolver
}

// New returns the strategy of a validated Config.
func New(c Config) *Strategy {
	s := &Strategy{cfg: c, r: net.DefaultResolver}
	if c.Server != "" {
		s.r = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, c.Server)
		}}
	}
	return s
}

// Name is "dns".
func (s *Strategy) Name() string { return "dns" }

// Discover resolves the records.
func (s *Strategy) Discover(ctx context.Context) ([]string, error) {
	var out []string
	switch s.cfg.Type {
	case "srv":
		_, srvs, err := s.r.LookupSRV(ctx, "", "", s.cfg.Name)
		if err != nil {
			return nil, fmt.Errorf("SRV %s: %w", s.cfg.Name, err)
		}
		for _, r := range srvs {
			out = append(out, s.cfg.App+"@"+strings.TrimSuffix(r.Target, "."))
		}
	default:
		network := "ip4"
		if s.cfg.Type == "aaaa" {
			network = "ip6"
		}
		ips, err := s.r.LookupIP(ctx, network, s.cfg.Name)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", strings.ToUpper(s.cfg.Type), s.cfg.Name, err)
		}
		for _, ip := range ips {
			out = append(out, s.cfg.App+"@"+ip.String())
		}
	}
	sort.Strings(out)
	return out, nil
}

// SelfNameHint returns a warning when, with A/AAAA records, this node's own
// name is not app@<ip>: others would discover it under another name.
func SelfNameHint(c Config, self string) string {
	if c.Type == "srv" {
		return ""
	}
	host := self[strings.IndexByte(self, '@')+1:]
	if net.ParseIP(host) == nil || !strings.HasPrefix(self, c.App+"@") {
		return fmt.Sprintf("cluster.dns.type = %s discovers nodes as %s@<ip>, but this node is named %s: name it %s@<its IP> (node.name) or the others will not find it under that name", c.Type, c.App, self, c.App)
	}
	return ""
}
