// Package broker owns the mochi-mqtt server of a node: its listeners (TCP,
// TLS, WebSocket, secure WebSocket, all ours in listener.go), the wrapper of
// every connection (conn.go: a CONNECT deadline, an oversize-packet guard
// that answers MQTT 5 clients with DISCONNECT 0x95, and write coalescing),
// its limits, the node hook (reserved and over-long client ids,
// allow_anonymous), and a graceful stop that drains clients before mochi's
// Close. It knows no cluster.
package broker
