// Package node is the composition root of one EMQX node: it records the node
// name under data/, starts the MQTT broker and the emqx_ctl socket, answers
// ctl requests, and stops everything in order. The cluster layer plugs in
// here once it exists.
package node
