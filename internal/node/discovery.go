package node

import (
	"emqxgo/internal/cluster"
	"emqxgo/internal/config"
	"emqxgo/internal/discovery"
	"emqxgo/internal/discovery/dns"
	"emqxgo/internal/discovery/etcd/etcdv3"
	"emqxgo/internal/discovery/k8s"
	"emqxgo/internal/discovery/static"
	"emqxgo/internal/nodename"

	"go.uber.org/zap"
)

// strategy builds the cluster.discovery strategy; nil for manual.
func strategy(cfg *config.Config, name nodename.Name, log *zap.Logger) (discovery.Strategy, error) {
	c := cfg.Cluster
	switch c.Discovery {
	case "static":
		return static.New(c.Static), nil
	case "dns":
		if hint := dns.SelfNameHint(c.DNS, name.String()); hint != "" {
			log.Warn(hint)
		}
		return dns.New(c.DNS), nil
	case "etcd":
		return etcdv3.New(c.Etcd, c.Name, name.String(), log)
	case "k8s":
		return k8s.New(c.K8s, k8s.Options{Log: log.Named("k8s")})
	case "mcast":
		return mcastStrategy(cfg, name, log)
	}
	return nil, nil
}

// loopCluster is the cluster as the autocluster loop sees it.
type loopCluster struct{ *cluster.Cluster }

// Running lists the running members, this node included.
func (c loopCluster) Running() []string { return c.Status().Running }
