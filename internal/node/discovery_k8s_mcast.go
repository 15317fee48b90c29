package node

import (
	"errors"

	"go.uber.org/zap"

	"emqxgo/internal/config"
	"emqxgo/internal/discovery"
	"emqxgo/internal/discovery/k8s"
	"emqxgo/internal/nodename"
)

func k8sStrategy(cfg *config.Config, log *zap.Logger) (discovery.Strategy, error) {
	k := cfg.Cluster.K8s
	return k8s.New(k8s.Config{APIServer: k.APIServer, ServiceName: k.ServiceName, AddressType: k.AddressType,
		AppName: k.AppName, Namespace: k.Namespace, Suffix: k.Suffix, Log: log.Named("k8s")})
}

func mcastStrategy(*config.Config, nodename.Name, *zap.Logger) (discovery.Strategy, error) {
	return nil, errors.New("mcast discovery: not wired yet")
}
