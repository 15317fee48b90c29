// Package fabric is the MQTT side of the cluster: it makes joined nodes
// behave as one broker. It sits between the node's mochi server (hook.go, a
// mochi hook) and the node's peer links (package peerlink: Fabric is the
// links' Handler).
//
//   - routes.go: every node owns its subscription filters and pushes them to
//     each peer (full set when a link comes up, then deltas); a full set
//     replaces a peer's routes by difference.
//   - index.go: the cluster route index, our own trie of topic levels keyed
//     by node (and node|client for shared subscription members): "which
//     nodes want this topic" in one lookup that allocates nothing.
//   - forward.go: a publish goes once to each peer with a matching route, in
//     per-peer batches (an outbox per peer), in order; QoS 1/2 are kept until
//     the peer acknowledges and resent after a reconnect; the peer injects
//     them for its local subscribers through one inline client per origin
//     node ($cluster:<peer>, a prefix the broker refuses from the network).
//   - shared.go: the node that receives a publish picks one member per shared
//     group cluster-wide (broker.shared_subscription_strategy).
//   - table.go: Table, what everything replicated cluster-wide rides (the
//     fabric's retained messages; auth users, ACL rules, bans, ... opened
//     by other packages with Fabric.Table): named maps of string keys to
//     opaque values, each entry versioned (unix nanos, node), newest wins,
//     deletes kept as tombstones for a while; OnChange for caches.
//     tablesync.go: every change to every linked peer, every table whole
//     when a link comes up, in acknowledged batches of bounded size (op
//     table). tablefile.go: a table persisted under
//     <data_dir>/tables/<name>.tbl, written atomically and debounced.
//   - retained.go: retained messages are the table $retained (in memory
//     with retainer.storage_type ram, persisted with disc and disc_only);
//     mochi's retained store is its view; local changes ride the forward
//     outbox behind the forwarded copies; retainer.* limits what is stored.
//   - takeover.go: client ids are unique cluster-wide; a CONNECT takes the
//     session over from the node that holds it (subscriptions, messages in
//     flight and queued, pending PUBRELs). The old node keeps the session's
//     subscriptions for broker.MoveGrace and forwards what they match to the
//     new one (opDirect), so nothing routed to it meanwhile is lost; every
//     message carries a cluster-wide id (given where it entered: nextID),
//     by which the new node drops copies of what the session already had.
//   - messages.go: what crosses the links (operations, route updates, the
//     message) and its conversion from and to mochi packets; codec.go: the
//     message's one binary form (forward batches, takeover inflight); the
//     cold bodies are msgpack (peerlink.Encode).
//
// Lock order: routeMu (routes.mu) before the index's lock; never hold a
// fabric lock while calling into a peer link except routeMu for route
// deltas, which must stay in order with full sets. A table's wmu comes
// before its mu and before what its OnChange callbacks take (the
// retainer's mu, then mochi's); the table set's and senders' locks are
// leaves.
package fabric
