package discovery

import (
	"context"
	"time"
)

// Strategy finds the names of nodes that should form a cluster with this one.
type Strategy interface {
	// Name is the cluster.discovery value (static, dns, etcd, k8s, mcast).
	Name() string
	// Discover returns node names (name@host); it may include this node.
	Discover(ctx context.Context) ([]string, error)
}

// Registrar is a strategy that publishes this node (etcd).
type Registrar interface {
	// Register publishes this node; it is called until it succeeds, and
	// again whenever Registered reports false.
	Register(ctx context.Context) error
	// Registered reports whether the registration is still alive.
	Registered() bool
	// Unregister withdraws it (on cluster leave).
	Unregister(ctx context.Context) error
}

// Locker is a strategy that can serialise joins across nodes (etcd), so
// that nodes starting together form one cluster; lockless strategies wait a
// random 0-3 s instead.
type Locker interface {
	Lock(ctx context.Context) (unlock func(), err error)
}

// Starter is a strategy with something to set up before its first
// Discover (mcast binds its sockets and starts answering pings). Loop.Start
// calls it.
type Starter interface {
	Start() error
}

// Closer is a strategy holding resources (connections, sockets). Loop.Stop,
// or a failed Loop.Start, calls it once.
type Closer interface {
	Close() error
}

// Interval between autocluster rounds, and the random wait of lockless strategies.
const (
	Interval  = 5 * time.Second
	MaxJitter = 3 * time.Second
)
