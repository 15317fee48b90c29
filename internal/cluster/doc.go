// Package cluster owns EMQX-style membership on top of hashicorp/serf and
// the authenticated peer links on the RPC port.
//
// Membership (membership.go): serf carries gossip and failure detection on
// the gossip port (4370+N), encrypted with a key derived from node.cookie and
// labelled with cluster.name. On top of it: join = leave the old cluster,
// fresh serf, join the new one; stop/crash is not leave (peers list the node
// under stopped_nodes); the member record (record.go) is persisted under
// data/cluster/<node>/ so a restarted node rejoins by itself and "stopped"
// survives restarts; force-leave is sticky because a restarted node is only
// let back in by a peer whose record still lists it; autoclean force-leaves
// members stopped longer than cluster.autoclean.
//
// Peer links (link.go, handshake.go, frame.go): one TCP connection per peer
// pair on the RPC port (5370+N, or rpc.tcp_server_port when
// rpc.port_discovery = manual), length-prefixed msgpack frames, a handshake
// in which both sides prove knowledge of the cookie with HMAC-SHA256 over
// fresh nonces (the cookie never crosses the wire), then request/response
// and one-way messages. Join, leave and force-leave use them now; routes and
// forwarding will.
//
// Lock order: Cluster.opMu (serialises join/leave/force-leave) before
// Cluster.mu (state) before Links.mu. Never call serf or the network while
// holding Cluster.mu.
package cluster
