package config

import (
	"net"
	"os"
)

// Cross-key rules, checked after every key has its value. A value that failed
// its own check is left at its zero value here, so it triggers no rule.

// strategyKeys is the Config of one discovery strategy (static, dns, etcd,
// k8s, mcast): its package owns the cluster.<strategy>.* keys, their
// defaults (which the schema takes) and their rules. The schema only turns
// the text into values (lists, numbers within the bounds the strategy
// exports, durations, lower case); the strategy reports what breaks a rule,
// and l.report puts each problem at the place its key was set.
type strategyKeys interface {
	// CheckKeys reports each value that breaks its key's own rule.
	CheckKeys(report func(key, problem string))
	// Validate reports, besides, what keeps the strategy from running:
	// keys it needs (reported at cluster.discovery) and cross-key rules.
	Validate(report func(key, problem string))
}

func (l *loader) crossCheck(c *Config) {
	l.checkDiscovery(c)
	l.checkListeners(c)
	l.checkRPC(c)
	l.checkPlugins(c)
}

// checkPlugins reports the values the auth plugins' packages refuse
// (CheckKeys: each key on its own, whether or not the plugin is loaded;
// the node asks Validate of the plugins it loads) and configured files
// that cannot be read.
func (l *loader) checkPlugins(c *Config) {
	c.Plugins.HTTP.CheckKeys(l.report)
	c.Plugins.JWT.CheckKeys(l.report)
	l.checkFile("auth.http.ssl.cacertfile", c.Plugins.HTTP.CACertFile)
	l.checkFile("auth.http.ssl.certfile", c.Plugins.HTTP.CertFile)
	l.checkFile("auth.http.ssl.keyfile", c.Plugins.HTTP.KeyFile)
	l.checkFile("auth.jwt.pubkey", c.Plugins.JWT.Pubkey)
}

// checkDiscovery validates the strategy in use as a whole; the keys of the
// others may be set too and must still be right, each on its own.
func (l *loader) checkDiscovery(c *Config) {
	for _, s := range []struct {
		name string
		keys strategyKeys
	}{
		{"static", c.Cluster.Static},
		{"dns", c.Cluster.DNS},
		{"etcd", c.Cluster.Etcd},
		{"k8s", c.Cluster.K8s},
		{"mcast", c.Cluster.Mcast},
	} {
		if s.name == c.Cluster.Discovery {
			s.keys.Validate(l.report)
		} else {
			s.keys.CheckKeys(l.report)
		}
	}
	if c.Cluster.Discovery == "etcd" {
		l.checkFile("cluster.etcd.ssl.keyfile", c.Cluster.Etcd.KeyFile)
		l.checkFile("cluster.etcd.ssl.certfile", c.Cluster.Etcd.CertFile)
		l.checkFile("cluster.etcd.ssl.cacertfile", c.Cluster.Etcd.CACertFile)
	}
}

func (l *loader) checkRPC(c *Config) {
	if c.RPC.Driver != "ssl" {
		return
	}
	l.requireFiles("rpc.driver", "rpc.driver = ssl", []fileKey{
		{"rpc.certfile", c.RPC.CertFile}, {"rpc.keyfile", c.RPC.KeyFile}, {"rpc.cacertfile", c.RPC.CACertFile},
	})
}

type fileKey struct{ key, path string }

// requireFiles reports each missing key at the deciding key, and each given
// file that cannot be read at its own key.
func (l *loader) requireFiles(decider, cond string, files []fileKey) {
	for _, f := range files {
		if f.path == "" {
			raw, from := l.raw(decider)
			l.errs = append(l.errs, errAt(from, decider, raw, f.key+" is required when "+cond))
			continue
		}
		l.checkFile(f.key, f.path)
	}
}

// checkFile reports a configured file that is missing, a folder, or unreadable.
func (l *loader) checkFile(key, path string) {
	if path == "" {
		return
	}
	msg := ""
	if st, err := os.Stat(path); err != nil {
		msg = osErrText(err)
	} else if st.IsDir() {
		msg = "is a directory"
	} else if f, err := os.Open(path); err != nil {
		msg = osErrText(err)
	} else {
		f.Close()
	}
	if msg != "" {
		raw, from := l.raw(key)
		l.errs = append(l.errs, errAt(from, key, raw, "cannot read file "+path+": "+msg))
	}
}

func (l *loader) checkListeners(c *Config) {
	all := c.Listeners.List
	for i := range all {
		ln := &all[i]
		key := ln.Key()
		if ln.Proto == "ssl" || ln.Proto == "wss" {
			l.requireFiles(key, key+" is on", []fileKey{
				{key + ".keyfile", ln.KeyFile}, {key + ".certfile", ln.CertFile},
			})
			l.checkFile(key+".cacertfile", ln.CACertFile)
		}
		for _, o := range all[:i] {
			if addrsClash(ln.Addr, o.Addr) {
				raw, from := l.raw(key)
				l.errs = append(l.errs, errAt(from, key, raw,
					"port already used by "+o.Key()+" ("+o.Addr+"); give each listener its own port"))
				break
			}
		}
	}
}

// addrsClash: same port, and the same host or one of them a wildcard address.
func addrsClash(a, b string) bool {
	ha, pa, _ := net.SplitHostPort(a)
	hb, pb, _ := net.SplitHostPort(b)
	if pa != pb || pa == "0" {
		return false
	}
	wild := func(h string) bool { return h == "0.0.0.0" || h == "::" }
	return ha == hb || wild(ha) || wild(hb)
}
