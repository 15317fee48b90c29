// Package node is the composition root of one EMQX node. New builds the
// parts from the configuration: the MQTT broker (package broker), the
// membership (package cluster) with its peer links (package peerlink), the
// MQTT side of the cluster (package fabric, a hook on the broker and the
// links' handler), and, when cluster.discovery is not manual, the
// autocluster loop with its strategy (discovery.go builds the strategy from
// its own config type and adapts the cluster to what the loop asks);
// clustercfg.go maps cluster.* and rpc.* keys onto the cluster layer. Start
// records the node name under data/, binds the ctl socket, the listeners and
// the cluster ports, waits for the routes of a rejoining node's peers, then
// accepts clients and starts autocluster; Handle answers emqx_ctl (ctlOps
// lists the operations); Stop stops the parts in order.
package node
