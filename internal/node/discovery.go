package node

import (
	"go.uber.org/zap"

	"emqxgo/internal/cluster"
	"emqxgo/internal/config"
	"emqxgo/internal/discovery"
	"emqxgo/internal/discovery/dns"
	"emqxgo/internal/discovery/etcd/etcdv3"
	"emqxgo/internal/discovery/k8s"
	"emqxgo/internal/discovery/mcast"
	"emqxgo/internal/discovery/static"
	"emqxgo/internal/nodename"
)

// strategy builds the cluster.discovery strategy; nil for manual. Each
// strategy takes its own Config from the validated configuration as it is
// (config.Load ran its Validate); what is not a cluster.<strategy>.* key
// (this node's name, cluster.name, the cookie, the logger) is passed beside.
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
		return built(etcdv3.New(c.Etcd, c.Name, name.String(), log))
	case "k8s":
		return built(k8s.New(c.K8s, k8s.Options{Log: log.Named("k8s")}))
	case "mcast":
		return built(mcast.New(c.Mcast, mcast.Options{Node: name.String(), ClusterName: c.Name, Cookie: cfg.Node.Cookie, Log: log.Named("mcast")}))
	}
	return nil, nil
}

// built turns a constructor's result into a Strategy, nil (not a typed
// nil pointer) on error.
func built[S discovery.Strategy](s S, err error) (discovery.Strategy, error) {
	if err != nil {
		return nil, err
	}
	return s, nil
}

// loopCluster is the cluster as the autocluster loop sees it.
type loopCluster struct{ *cluster.Cluster }

// Running lists the running members, this node included.
func (c loopCluster) Running() []string { return c.Status().Running }
