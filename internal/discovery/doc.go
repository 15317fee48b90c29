// Package discovery owns autocluster: the Strategy interface (and the
// optional Starter, Registrar, Locker and Closer), and the Loop that turns
// discovered node names into a join. The strategies live in sub-packages,
// one per cluster.discovery value: static seeds, DNS, etcd, Kubernetes and
// multicast. A strategy returns node names; it never joins. The loop asks
// the cluster, through the small Cluster interface, which the node adapts
// from its membership layer: this package does not import internal/cluster,
// and the strategies do not import this package (they satisfy its
// interfaces structurally).
//
// The Loop owns the strategy's lifecycle: Loop.Start starts the strategy
// when it is a Starter (mcast binds its sockets) and closes it again when
// that fails; Loop.Stop ends the rounds and closes the strategy once.
package discovery
