// Package node is the composition root of one EMQX node: it records the node
// name under data/, builds and starts the MQTT broker, the cluster layer and
// its MQTT fabric, the autocluster loop with the strategy of
// cluster.discovery (discovery.go builds it from the strategy's own config
// type, and adapts the cluster to what the loop asks), and the emqx_ctl
// socket; it answers ctl requests, and stops everything in order.
package node
