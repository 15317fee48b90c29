// Package discovery will own the autocluster loop and one sub-package per
// strategy (static, dns, etcd, k8s, mcast). A strategy returns node names; it
// never joins.
package discovery
