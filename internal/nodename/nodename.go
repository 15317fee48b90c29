// Package nodename parses and validates EMQX node names (name@host) and
// derives the cluster ports from the name's trailing digits (SPEC section 1).
package nodename

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// Default is the node name used when none is configured.
const Default = "emqx@127.0.0.1"

// Base ports: gossip = GossipBase+N, RPC = RPCBase+N, N = trailing digits of the name part.
const (
	GossipBase = 4370
	RPCBase    = 5370
	suffixMod  = 60000
)

// MaxLen bounds a node name, as Erlang bounds an atom; peer links refuse
// longer names before anything else.
const MaxLen = 255

// Form describes the expected shape, used in every error message.
const Form = "name@host, where name is letters, digits, '_' or '-' and host is an IPv4/IPv6 address or a DNS name (e.g. emqx@127.0.0.1, emqx@s1.emqx.io)"

var (
	namePart = regexp.MustCompile(`^[0-9A-Za-z_-]+$`)
	dnsLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	digits   = regexp.MustCompile(`[0-9]+$`)
)

// Name is a parsed node name.
type Name struct {
	Name string // part before '@'
	Host string // part after '@' (IPv6 without brackets)
}

// String returns name@host.
func (n Name) String() string { return n.Name + "@" + n.Host }

// Parse validates s and splits it. The error names the bad value and the expected form.
func Parse(s string) (Name, error) {
	bad := func(why string) (Name, error) {
		return Name{}, fmt.Errorf("invalid node name %q: %s; expected %s", s, why, Form)
	}
	if s == "" {
		return bad("empty")
	}
	if len(s) > MaxLen {
		return bad(fmt.Sprintf("longer than %d characters", MaxLen))
	}
	at := strings.IndexByte(s, '@')
	if at < 0 {
		return bad("missing '@'")
	}
	if strings.Count(s, "@") > 1 {
		return bad("more than one '@'")
	}
	name, host := s[:at], s[at+1:]
	if name == "" {
		return bad("empty name part")
	}
	if !namePart.MatchString(name) {
		return bad(fmt.Sprintf("name part %q has characters other than letters, digits, '_' and '-'", name))
	}
	if host == "" {
		return bad("empty host part")
	}
	if err := checkHost(host); err != nil {
		return bad(err.Error())
	}
	return Name{Name: name, Host: strings.Trim(host, "[]")}, nil
}

// CheckNamePart accepts what may stand before the '@' of a node name: the
// app name that DNS and Kubernetes discovery put in front of the addresses
// they find (cluster.dns.app, cluster.k8s.app_name).
func CheckNamePart(s string) error {
	if !namePart.MatchString(s) {
		return errors.New("must match " + namePart.String() + " (the name part of a node name)")
	}
	return nil
}

// Valid reports whether s is a valid node name.
func Valid(s string) bool { _, err := Parse(s); return err == nil }

func checkHost(host string) error {
	h := host
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
		if ip := net.ParseIP(h); ip == nil || ip.To4() != nil {
			return fmt.Errorf("host %q is not an IPv6 address", host)
		}
		return nil
	}
	if net.ParseIP(h) != nil {
		return nil
	}
	if len(h) > 253 {
		return fmt.Errorf("host %q is longer than 253 characters", host)
	}
	labels := strings.Split(strings.TrimSuffix(h, "."), ".")
	for _, l := range labels {
		if !dnsLabel.MatchString(l) {
			return fmt.Errorf("host %q is neither an IP address nor a DNS name (bad label %q)", host, l)
		}
	}
	// A dotted all-numeric host that did not parse as an IP (e.g. 127.0.0.256) is a typo, not a name.
	last := labels[len(labels)-1]
	if _, err := strconv.Atoi(last); err == nil && len(labels) > 1 {
		return fmt.Errorf("host %q looks like an IPv4 address but is not a valid one", host)
	}
	return nil
}

// Suffix returns N: the trailing digits of the name part mod 60000, 0 if none.
func (n Name) Suffix() int {
	d := digits.FindString(n.Name)
	if d == "" {
		return 0
	}
	v := 0
	for _, c := range d {
		v = (v*10 + int(c-'0')) % suffixMod
	}
	return v
}

// GossipPort is 4370+N (TCP and UDP).
func (n Name) GossipPort() int { return GossipBase + n.Suffix() }

// RPCPort is 5370+N, the cluster RPC port under rpc.port_discovery = stateless.
func (n Name) RPCPort() int { return RPCBase + n.Suffix() }

// Qualify turns "emqx2" into "emqx2@<host of self>"; names with '@' are returned as they are.
func Qualify(s string, self Name) string {
	if strings.Contains(s, "@") {
		return s
	}
	return s + "@" + self.Host
}
