package node

import (
	"context"
	"crypto/tls"
	"fmt"
	"runtime"
	"time"

	"go.uber.org/zap"

	"emqxgo/internal/config"
	"emqxgo/internal/mgmt"
	"emqxgo/internal/sys"
	"emqxgo/internal/tlsfiles"
	"emqxgo/internal/version"
)

// apiTimeout bounds one API call's work across the cluster.
const apiTimeout = 15 * time.Second

// apiRoute is one route of the HTTP API (registered by the file that has
// the operation, from its init func).
type apiRoute struct {
	pattern string // "GET /clients/{clientid}"
	h       func(n *Node, r *mgmt.Request) (any, error)
	opts    []mgmt.Option
}

var apiRoutes []apiRoute

func registerAPI(pattern string, h func(n *Node, r *mgmt.Request) (any, error), opts ...mgmt.Option) {
	apiRoutes = append(apiRoutes, apiRoute{pattern, h, opts})
}

// newAPI builds the management HTTP API (started by Start).
func (n *Node) newAPI() error {
	m := n.cfg.Management
	var tc *tls.Config
	if m.HTTPS != "" {
		if m.HTTPSCertFile == "" || m.HTTPSKeyFile == "" {
			return fmt.Errorf("management.listener.https needs management.listener.https.certfile and .keyfile")
		}
		cert, err := tls.LoadX509KeyPair(m.HTTPSCertFile, m.HTTPSKeyFile)
		if err != nil {
			return fmt.Errorf("management.listener.https: %w", err)
		}
		tc = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if m.HTTPSCACertFile != "" {
			pool, err := tlsfiles.LoadCAPool(m.HTTPSCACertFile, nil)
			if err != nil {
				return fmt.Errorf("management.listener.https.cacertfile: %w", err)
			}
			tc.ClientCAs = pool
		}
		switch {
		case m.HTTPSVerify && m.HTTPSFailIfNoPeerCert:
			tc.ClientAuth = tls.RequireAndVerifyClientCert
		case m.HTTPSVerify:
			tc.ClientAuth = tls.VerifyClientCertIfGiven
		}
	}
	n.api = mgmt.New(mgmt.Config{HTTP: m.HTTP, HTTPS: m.HTTPS, TLS: tc, MaxClients: m.MaxClients, MaxRowLimit: m.MaxRowLimit,
		Authorized: n.appAuthorized, Status: n.apiStatus}, n.log)
	for _, r := range apiRoutes {
		h := r.h
		n.api.Handle(r.pattern, func(req *mgmt.Request) (any, error) { return h(n, req) }, r.opts...)
	}
	return nil
}

// startAPI binds the API's listeners. A listener that cannot bind (the
// port taken by another node on this host) is logged as an error and the
// node runs without its API, as EMQX when emqx_management cannot start.
func (n *Node) startAPI() {
	m := n.cfg.Management
	if n.appAuthorized(config.DefaultAppID, config.DefaultAppSecret) && (m.HTTP != "" || m.HTTPS != "") {
		n.log.Warn("the HTTP API accepts the default application admin/public; set management.default_application.secret (or add an application with emqx_ctl mgmt insert and change this one)")
	}
	if err := n.api.Start(); err != nil {
		n.log.Error("management HTTP API not started", zap.String("http", m.HTTP), zap.String("https", m.HTTPS), zap.Error(err))
		return
	}
	if a := n.api.Addrs(); len(a) > 0 {
		n.log.Info("management HTTP API listening", zap.Any("listeners", a))
	}
}

// APIAddrs are the bound API listeners ("http", "https" -> host:port).
func (n *Node) APIAddrs() map[string]string { return n.api.Addrs() }

// appAuthorized checks an application's credentials.
func (n *Node) appAuthorized(id, secret string) bool {
	if n.apps != nil {
		return n.apps(id, secret)
	}
	m := n.cfg.Management
	return id == m.DefaultAppID && secret == m.DefaultAppSecret
}

// apiStatus is GET /status (emqx_mgmt_http): 200 while the node runs,
// 503 once it stops.
func (n *Node) apiStatus() (string, bool) {
	select {
	case <-n.stopReq:
		return fmt.Sprintf("Node %s is stopping\nemqx is not_running", n.name), false
	default:
		return fmt.Sprintf("Node %s is started\nemqx is running", n.name), true
	}
}

// NodeInfo is one node as GET /api/v4/nodes shows it (emqx_mgmt:node_info;
// the Erlang VM's figures are the Go runtime's: process_* are goroutines).
type NodeInfo struct {
	Node             string `json:"node"`
	Name             string `json:"name,omitempty"` // a stopped node: its name and status only
	NodeStatus       string `json:"node_status"`
	Version          string `json:"version,omitempty"`
	Uptime           string `json:"uptime,omitempty"`
	OTPRelease       string `json:"otp_release,omitempty"`
	Connections      int    `json:"connections"`
	LiveConnections  int    `json:"live_connections"`
	MemoryTotal      string `json:"memory_total,omitempty"`
	MemoryUsed       string `json:"memory_used,omitempty"`
	ProcessAvailable int    `json:"process_available,omitempty"`
	ProcessUsed      int    `json:"process_used,omitempty"`
	MaxFDs           int    `json:"max_fds,omitempty"`
	Load1            string `json:"load1,omitempty"`
	Load5            string `json:"load5,omitempty"`
	Load15           string `json:"load15,omitempty"`
}

func (n *Node) nodeInfo() NodeInfo {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	c := n.broker.Counts()
	l1, l5, l15 := sys.LoadAvg()
	return NodeInfo{Node: n.name.String(), NodeStatus: "Running", Version: version.Version,
		Uptime: sys.Uptime(time.Since(n.started)), OTPRelease: runtime.Version(),
		Connections: c.Sessions, LiveConnections: c.Connected,
		MemoryTotal: kmg(ms.Sys), MemoryUsed: kmg(ms.HeapInuse + ms.StackInuse),
		ProcessAvailable: 0x7fffffff, ProcessUsed: runtime.NumGoroutine(), MaxFDs: sys.MaxFDs(),
		Load1: l1, Load5: l5, Load15: l15}
}

// kmg is emqx_mgmt_util:kmg: a byte count with G, M or K.
func kmg(b uint64) string {
	f := float64(b)
	switch {
	case b > 1<<30:
		return fmt.Sprintf("%.2fG", f/(1<<30))
	case b > 1<<20:
		return fmt.Sprintf("%.2fM", f/(1<<20))
	case b > 1<<10:
		return fmt.Sprintf("%.2fK", f/(1<<10))
	}
	return fmt.Sprint(b)
}

func apiCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), apiTimeout)
}

// perNode answers a list over the running nodes: each node's value, or
// EMQX's {"node":..,"error":..} for one that did not answer.
func perNode[T any](n *Node, op string, wrap func(node string, v T) any) []any {
	ctx, cancel := apiCtx()
	defer cancel()
	var out []any
	for _, r := range callAll[T](ctx, n, op, struct{}{}) {
		if r.Err != nil {
			out = append(out, map[string]any{"node": r.Node, "error": r.Err.Error()})
			continue
		}
		out = append(out, wrap(r.Node, r.Result))
	}
	return out
}

// onNode runs op on the node of the path's {node}.
func onNodePath[T any](n *Node, r *mgmt.Request, op string, req any) (T, error) {
	var v T
	ctx, cancel := apiCtx()
	defer cancel()
	err := n.callNode(ctx, r.Path("node"), op, req, &v)
	return v, err
}

func init() {
	registerOp("node.info", func(n *Node, _ []byte) (any, error) { return n.nodeInfo(), nil })
	registerOp("broker.info", func(n *Node, _ []byte) (any, error) { return n.brokerInfo(), nil })
	registerOp("broker.stats", func(n *Node, _ []byte) (any, error) { return n.statsMap(), nil })
	registerOp("broker.metrics", func(n *Node, _ []byte) (any, error) { return n.metricsMap(), nil })

	registerAPI("GET /nodes", func(n *Node, _ *mgmt.Request) (any, error) {
		out := perNode(n, "node.info", func(_ string, v NodeInfo) any { return v })
		for _, s := range n.cluster.Status().Stopped {
			out = append(out, NodeInfo{Name: s, Node: s, NodeStatus: "Stopped"})
		}
		return out, nil
	})
	registerAPI("GET /nodes/{node}", func(n *Node, r *mgmt.Request) (any, error) {
		return onNodePath[NodeInfo](n, r, "node.info", nil)
	})
	registerAPI("GET /brokers", func(n *Node, _ *mgmt.Request) (any, error) {
		return perNode(n, "broker.info", func(_ string, v BrokerInfo) any { return v }), nil
	})
	registerAPI("GET /brokers/{node}", func(n *Node, r *mgmt.Request) (any, error) {
		return onNodePath[BrokerInfo](n, r, "broker.info", nil)
	})
	registerAPI("GET /stats", func(n *Node, r *mgmt.Request) (any, error) {
		if r.Query("aggregate") == "true" {
			return aggregate[int64](n, "broker.stats"), nil
		}
		return perNode(n, "broker.stats", func(node string, v map[string]int64) any {
			return map[string]any{"node": node, "stats": v}
		}), nil
	})
	registerAPI("GET /nodes/{node}/stats", func(n *Node, r *mgmt.Request) (any, error) {
		return onNodePath[map[string]int64](n, r, "broker.stats", nil)
	})
	registerAPI("GET /metrics", func(n *Node, r *mgmt.Request) (any, error) {
		if r.Query("aggregate") == "true" {
			return aggregate[uint64](n, "broker.metrics"), nil
		}
		return perNode(n, "broker.metrics", func(node string, v map[string]uint64) any {
			return map[string]any{"node": node, "metrics": v}
		}), nil
	})
	registerAPI("GET /nodes/{node}/metrics", func(n *Node, r *mgmt.Request) (any, error) {
		return onNodePath[map[string]uint64](n, r, "broker.metrics", nil)
	})
}

// aggregate sums every running node's figures (?aggregate=true: the
// cluster's totals; a .max stat is the largest node's).
func aggregate[T int64 | uint64](n *Node, op string) map[string]T {
	ctx, cancel := apiCtx()
	defer cancel()
	sum := map[string]T{}
	for _, r := range callAll[map[string]T](ctx, n, op, struct{}{}) {
		for k, v := range r.Result {
			sum[k] += v
		}
	}
	return sum
}
