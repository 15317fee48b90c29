// Package mcast implements the deprecated multicast discovery strategy
// (cluster.discovery = mcast).
//
// It still works, but it only finds nodes on one layer-2 segment (or as far
// as multicast routing reaches), so Start logs a deprecation warning and
// operators should move to static, dns, etcd or k8s.
//
// The package owns the cluster.mcast.* keys: their Config, defaults and
// rules (Validate, which package config runs when it loads the
// configuration). New takes a validated Config plus Options, what is not a
// key of this package (the node name, cluster.name, node.cookie).
//
// # Sockets
//
// Start binds the first free UDP port of cluster.mcast.ports on 0.0.0.0,
// joins the group cluster.mcast.addr on the interface whose IPv4 address is
// cluster.mcast.iface (0.0.0.0: the system's choice) and runs a responder.
// The ports are bound without SO_REUSEADDR on purpose: several nodes on one
// host therefore each take a different port of the same list, and a port
// already used by something else (4370 is also the gossip port of the node
// emqx) is skipped. Start also opens a second, unicast socket on an
// ephemeral port that Discover sends pings from and reads pongs on; its
// multicast interface, TTL (cluster.mcast.ttl) and loopback
// (cluster.mcast.loop) are set from the configuration.
//
// # Protocol
//
// Every datagram is the 8-byte magic "EMQXGOMC" followed by a JSON object:
//
//	{"v":1,"t":"ping"|"pong","node":"emqx1@10.0.0.1","cluster":"emqxcl",
//	 "nonce":"<32 hex>","cookie":"<32 hex>"}
//
// Discover sends one ping, with a fresh random nonce, to addr:port for every
// port of the list (so it reaches every node whatever port it bound) and
// collects pongs for Options.Wait (3 s by default) or until its context ends.
// A responder answers a ping of another node whose cluster name and cookie
// proof match its own with a unicast pong, carrying the same nonce, to the
// address the ping came from. Discover keeps the pongs of the current nonce
// and returns their node names plus its own, sorted and deduplicated.
//
// The cookie itself is never sent. The "cookie" field is the first 16 bytes
// of HMAC-SHA256 over the message type, cluster, node and nonce, keyed with
// HMAC-SHA256(node.cookie, fixed label): a receiver with the same cookie can
// check it, and a captured proof is only good for that node, cluster and
// nonce. (This keeps strangers out of discovery; it is not authentication:
// joining the cluster still goes through the cookie handshake.)
// Pings and pongs of another cluster or cookie are ignored with a debug log
// at most once per sender address per minute; anything else that is not a
// well-formed datagram is dropped silently.
package mcast
