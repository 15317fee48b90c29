package node

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"go.uber.org/zap"

	"emqxgo/internal/cluster"
	"emqxgo/internal/config"
	"emqxgo/internal/nodename"
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
		pem, err := os.ReadFile(cfg.RPC.CACertFile)
		if err != nil {
			return cc, fmt.Errorf("rpc.cacertfile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return cc, fmt.Errorf("rpc.cacertfile %s: no PEM certificate", cfg.RPC.CACertFile)
		}
		cc.ServerTLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool,
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
		cc.ClientTLS = func(host string) *tls.Config {
			return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12}
		}
	}
	return cc, nil
}
