package node

import (
	"go.uber.org/zap"

	"emqxgo/internal/config"
	"emqxgo/internal/discovery"
	"emqxgo/internal/discovery/mcast"
	"emqxgo/internal/nodename"
)

func mcastStrategy(cfg *config.Config, name nodename.Name, log *zap.Logger) (discovery.Strategy, error) {
	m := cfg.Cluster.Mcast
	return mcast.New(mcast.Config{Node: name.String(), ClusterName: cfg.Cluster.Name, Cookie: cfg.Node.Cookie,
		Addr: m.Addr, Ports: m.Ports, Iface: m.Iface, TTL: m.TTL, Loop: m.Loop, Log: log.Named("mcast")})
}
