// Package etcd holds the settings of the etcd v3 autocluster strategy: the
// cluster.etcd.* keys (Config), their defaults and rules (Validate), and
// where the strategy keeps its records in etcd. Each node registers
// <prefix>/<cluster.name>/nodes/<node> on a lease of cluster.etcd.node_ttl
// kept alive, discovers the others by prefix, and joins under the lock
// <prefix>/<cluster.name>/lock.
//
// The strategy itself, which talks to etcd through go.etcd.io/etcd/client/v3
// (and so gRPC), is package etcd/etcdv3. The two are apart so that package
// config, and with it every program that only reads the configuration
// (emqx_ctl), can hold these settings without linking the etcd client.
package etcd

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is the cluster.etcd.* keys.
type Config struct {
	Servers []string      // cluster.etcd.server: http:// or https:// URLs
	Prefix  string        // cluster.etcd.prefix
	NodeTTL time.Duration // cluster.etcd.node_ttl: lease of this node's record
	// cluster.etcd.ssl.keyfile, certfile and cacertfile: client certificate
	// and key, and the CA to trust; "" = none (absolute paths).
	KeyFile, CertFile, CACertFile string
}

// Defaults of the keys, and the shortest node_ttl (a lease is whole seconds).
const (
	DefaultPrefix  = "emqxcl"
	DefaultNodeTTL = time.Minute
	MinNodeTTL     = time.Second
)

// Defaults is the built-in value of every key (no servers, no TLS files).
func Defaults() Config { return Config{Prefix: DefaultPrefix, NodeTTL: DefaultNodeTTL} }

// CheckKeys reports, as report(key, problem), each value of c that breaks
// its key's rule, the problem saying what is allowed. An empty server list
// is not checked here (see Validate).
func (c Config) CheckKeys(report func(key, problem string)) {
	var bad []string
	for _, s := range c.Servers {
		if err := checkServer(s); err != nil {
			bad = append(bad, err.Error())
		}
	}
	if len(bad) > 0 {
		report("cluster.etcd.server", strings.Join(bad, "; "))
	}
	if c.Prefix == "" || strings.ContainsAny(c.Prefix, " \t") {
		report("cluster.etcd.prefix", "must be a non-empty key prefix without spaces (e.g. emqxcl)")
	}
	if c.NodeTTL < MinNodeTTL {
		report("cluster.etcd.node_ttl", "must be at least "+MinNodeTTL.String())
	}
}

// Validate reports every problem that keeps the strategy from running with
// c: those of CheckKeys, a missing server list (reported at
// cluster.discovery, the key that made it required), and a client
// certificate without its key or the other way round. That the TLS files
// can be read is checked by package config, like every file it names.
// etcdv3.New assumes c passed.
func (c Config) Validate(report func(key, problem string)) {
	c.CheckKeys(report)
	if len(c.Servers) == 0 {
		report("cluster.discovery", "cluster.etcd.server is required when cluster.discovery = etcd")
	}
	const cert, key = "cluster.etcd.ssl.certfile", "cluster.etcd.ssl.keyfile"
	switch {
	case c.CertFile != "" && c.KeyFile == "":
		report(cert, key+" is required when "+cert+" is set")
	case c.KeyFile != "" && c.CertFile == "":
		report(key, cert+" is required when "+key+" is set")
	}
}

// checkServer accepts http:// and https:// URLs with a host.
func checkServer(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("%q must be an http:// or https:// URL with a host (e.g. http://127.0.0.1:2379)", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || strings.TrimLeft(p, "0123456789") != "" {
			return fmt.Errorf("%q: port %q must be an integer from 1 to 65535", s, p)
		}
	}
	return nil
}

// Endpoints returns the host:port of each server, as the etcd client wants
// them.
func (c Config) Endpoints() []string {
	eps := make([]string, 0, len(c.Servers))
	for _, s := range c.Servers {
		if u, err := url.Parse(s); err == nil {
			eps = append(eps, u.Host)
		}
	}
	return eps
}

// UsesTLS reports whether the client talks TLS: the first server is https,
// or a client certificate or a CA is given.
func (c Config) UsesTLS() bool {
	return (len(c.Servers) > 0 && strings.HasPrefix(c.Servers[0], "https://")) || c.CertFile != "" || c.CACertFile != ""
}

// NodesDir is the prefix under which the nodes of cluster register.
func (c Config) NodesDir(cluster string) string { return c.Prefix + "/" + cluster + "/nodes/" }

// NodeKey is the record of node in cluster; its value is the node name.
func (c Config) NodeKey(cluster, node string) string { return c.NodesDir(cluster) + node }

// LockKey is the join lock of cluster.
func (c Config) LockKey(cluster string) string { return c.Prefix + "/" + cluster + "/lock" }
