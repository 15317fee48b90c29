// Package fabric is the MQTT side of the cluster: it makes joined nodes
// behave as one broker. It sits between the node's mochi server (as a hook)
// and the cluster's peer links.
//
//   - routes.go: every node owns its subscription filters and pushes them to
//     each peer (full set when a link comes up, then deltas); the cluster
//     index (a mochi TopicsIndex keyed by node, and node|client for shared
//     subscriptions) answers "which nodes want this topic" in one lookup.
//   - forward.go: a publish goes once to each peer with a matching route, in
//     per-peer batches, in order; QoS 1/2 are kept until the peer acknowledges
//     and resent after a reconnect; the peer injects them for its local
//     subscribers through one inline client per origin node.
//   - shared.go: the node that receives a publish picks one member per shared
//     group cluster-wide (broker.shared_subscription_strategy).
//   - retained.go: retained messages replicated to every node, newest wins,
//     full sync when a link comes up.
//   - takeover.go: client ids are unique cluster-wide; a CONNECT takes the
//     session over from the node that holds it. Known limit: a message that
//     is still crossing to the old node while the session leaves it is not
//     re-routed to the new one (the sender's routes follow within ms).
//
// Lock order: routeMu before index locks (mochi's); never hold a fabric lock
// while calling into a peer link except routeMu for route deltas, which must
// stay in order with full sets.
package fabric
