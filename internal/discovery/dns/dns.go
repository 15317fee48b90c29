// Package dns is the DNS autocluster strategy: A/AAAA records of
// cluster.dns.name give app@<ip>; SRV records give app@<target host>.
package dns

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
)

// Config is the cluster.dns.* keys.
type Config struct {
	Name   string // record name to resolve
	App    string // name part of discovered nodes
	Type   string // a, aaaa or srv
	Server string // optional resolver ip:port; "" = the system resolver
}

var appRe = regexp.MustCompile(`^[0-9A-Za-z_-]+$`)

// Strategy resolves with its own resolver (injectable through Server).
type Strategy struct {
	cfg Config
	r   *net.Resolver
}

// New validates the config and builds the resolver.
func New(c Config) (*Strategy, error) {
	c.Type = strings.ToLower(c.Type)
	switch {
	case c.Name == "":
		return nil, fmt.Errorf("cluster.dns.name is required when cluster.discovery = dns")
	case !appRe.MatchString(c.App):
		return nil, fmt.Errorf("cluster.dns.app = %q: must be letters, digits, '_' or '-'", c.App)
	case c.Type != "a" && c.Type != "aaaa" && c.Type != "srv":
		return nil, fmt.Errorf("cluster.dns.type = %q: must be a, aaaa or srv", c.Type)
	}
	s := &Strategy{cfg: c, r: net.DefaultResolver}
	if c.Server != "" {
		addr := c.Server
		if _, _, err := net.SplitHostPort(addr); err != nil {
			addr = net.JoinHostPort(addr, "53")
		}
		s.r = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}}
	}
	return s, nil
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
	if strings.ToLower(c.Type) == "srv" {
		return ""
	}
	host := self[strings.IndexByte(self, '@')+1:]
	if net.ParseIP(host) == nil || !strings.HasPrefix(self, c.App+"@") {
		return fmt.Sprintf("cluster.dns.type = %s discovers nodes as %s@<ip>, but this node is named %s: name it %s@<its IP> (node.name) or the others will not find it under that name", c.Type, c.App, self, c.App)
	}
	return ""
}
