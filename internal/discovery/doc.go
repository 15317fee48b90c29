// Package discovery owns autocluster: the Strategy interface, the loop that
// turns discovered node names into a join, and (in sub-packages, one per
// strategy) static seeds, DNS, etcd, Kubernetes and multicast discovery. A
// strategy returns node names; it never joins. The loop asks the cluster.
package discovery
