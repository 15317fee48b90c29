// Package etcdv3 is the etcd autocluster strategy at work, over the etcd v3
// client (go.etcd.io/etcd/client/v3): it registers this node on a lease kept
// alive, discovers the others by prefix, and takes the join lock so that
// nodes starting together form one cluster. etcd being down never stops the
// node: rounds fail, are logged, and are retried.
//
// Its settings (the cluster.etcd.* keys, their defaults and rules, the key
// layout) are package etcd, which imports no etcd code: package config
// holds them without linking this client, its gRPC stack and their
// dependencies into programs that only read the configuration (emqx_ctl).
package etcdv3

import (
	"context"
	"crypto/tls"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"

	"emqxgo/internal/discovery/etcd"
	"emqxgo/internal/tlsfiles"
)

// Strategy talks to etcd through one client.
type Strategy struct {
	cfg     etcd.Config
	cluster string // cluster.name
	node    string // this node's name
	cli     *clientv3.Client

	mu         sync.Mutex
	lease      clientv3.LeaseID
	stopKA     context.CancelFunc
	registered atomic.Bool
	wg         sync.WaitGroup
}

// New creates the client of a validated Config (it connects lazily: an
// etcd that is down now is not an error). cluster is cluster.name, node
// this node's name; both name the records.
func New(c etcd.Config, cluster, node string, log *zap.Logger) (*Strategy, error) {
	cc := clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second, Logger: log.Named("etcd-client").WithOptions(zap.IncreaseLevel(zap.ErrorLevel))}
	if c.UsesTLS() {
		tc, err := tlsConfig(c)
		if err != nil {
			return nil, err
		}
		cc.TLS = tc
	}
	cli, err := clientv3.New(cc)
	if err != nil {
		return nil, fmt.Errorf("etcd client: %w", err)
	}
	return &Strategy{cfg: c, cluster: cluster, node: node, cli: cli}, nil
}

func tlsConfig(c etcd.Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cluster.etcd.ssl.certfile/keyfile: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if c.CACertFile != "" {
		pool, err := tlsfiles.LoadCAPool(c.CACertFile, nil)
		if err != nil {
			return nil, fmt.Errorf("cluster.etcd.ssl.cacertfile: %w", err)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

func (s *Strategy) dir() string  { return s.cfg.NodesDir(s.cluster) }
func (s *Strategy) key() string  { return s.cfg.NodeKey(s.cluster, s.node) }
func (s *Strategy) lock() string { return s.cfg.LockKey(s.cluster) }

// Name is "etcd".
func (s *Strategy) Name() string { return "etcd" }

// Register puts this node's key on a fresh lease and keeps the lease alive.
func (s *Strategy) Register(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopKeepAliveLocked()
	ttl := int64(s.cfg.NodeTTL / time.Second)
	g, err := s.cli.Grant(ctx, ttl)
	if err != nil {
		return fmt.Errorf("etcd lease: %w", err)
	}
	if _, err := s.cli.Put(ctx, s.key(), s.node, clientv3.WithLease(g.ID)); err != nil {
		return fmt.Errorf("etcd put %s: %w", s.key(), err)
	}
	kctx, cancel := context.WithCancel(context.Background())
	ch, err := s.cli.KeepAlive(kctx, g.ID)
	if err != nil {
		cancel()
		return fmt.Errorf("etcd keep-alive: %w", err)
	}
	s.lease, s.stopKA = g.ID, cancel
	s.registered.Store(true)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for range ch { // drains responses; closes when the lease is lost or cancelled
		}
		s.registered.Store(false)
	}()
	return nil
}

func (s *Strategy) stopKeepAliveLocked() {
	if s.stopKA != nil {
		s.stopKA()
		s.stopKA = nil
	}
}

// Registered reports whether the lease is being kept alive.
func (s *Strategy) Registered() bool { return s.registered.Load() }

// Unregister revokes the lease: the key goes at once.
func (s *Strategy) Unregister(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopKeepAliveLocked()
	s.registered.Store(false)
	if s.lease == 0 {
		return nil
	}
	_, err := s.cli.Revoke(ctx, s.lease)
	s.lease = 0
	return err
}

// Discover lists the registered nodes of this cluster.
func (s *Strategy) Discover(ctx context.Context) ([]string, error) {
	r, err := s.cli.Get(ctx, s.dir(), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("etcd get %s: %w", s.dir(), err)
	}
	var out []string
	for _, kv := range r.Kvs {
		out = append(out, strings.TrimPrefix(string(kv.Key), s.dir()))
	}
	sort.Strings(out)
	return out, nil
}

// Lock takes the cluster's join lock.
func (s *Strategy) Lock(ctx context.Context) (func(), error) {
	sess, err := concurrency.NewSession(s.cli, concurrency.WithTTL(10), concurrency.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("etcd session: %w", err)
	}
	m := concurrency.NewMutex(sess, s.lock())
	if err := m.Lock(ctx); err != nil {
		_ = sess.Close()
		return nil, fmt.Errorf("etcd lock %s: %w", s.lock(), err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Unlock(ctx)
		_ = sess.Close()
	}, nil
}

// Close stops the keep-alive (the key then expires after node_ttl: a
// stopped node is not a left node) and closes the client.
func (s *Strategy) Close() error {
	s.mu.Lock()
	s.stopKeepAliveLocked()
	s.mu.Unlock()
	err := s.cli.Close()
	s.wg.Wait()
	return err
}
