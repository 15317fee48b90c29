package node

import (
	"crypto/tls"
	"fmt"

	"go.uber.org/zap"

	"emqxgo/internal/cluster"
	"emqxgo/internal/config"
	"emqxgo/internal/nodename"
	"emqxgo/internal/tlsfiles"
)

// clusterConfig maps cluster.* and rpc.* keys onto the cluster layer.
func clusterConfig(cfg *config.Config, name nodename.Name, log *zap.Logger) (cluster.Config, error) {
	cc := cluster.Config{
		Name:        name,
		Cookie:      cfg.Node.Cookie,
		ClusterName: cfg.Cluster.Name,
		DataDir:     cfg.Node.DataDir,
		Autoclean:   cfg.Cluster.Autoclean,
		Autoheal:    cfg.Cluster.Autoheal,
		Log:         log,
	}
	if cfg.RPC.PortDiscovery == "manual" {
		cc.RPCManualPort = cfg.RPC.TCPServerPort
	}
	if cfg.RPC.Driver == "ssl" {
		cert, err := tls.LoadX509KeyPair(cfg.RPC.CertFile, cfg.RPC.KeyFile)
		if err != nil {
			return cc, fmt.Errorf("rpc.certfile/rpc.keyfile: %w", err)
		}
		pool, err := tlsfiles.LoadCAPool(cfg.RPC.CACertFile, nil)
		if err != nil {
			return cc, fmt.Errorf("rpc.cacertfile: %w", err)
		}
		cc.ServerTLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool,
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
		cc.ClientTLS = func(host string) *tls.Config {
			return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12}
		}
	}
	return cc, nil
}
