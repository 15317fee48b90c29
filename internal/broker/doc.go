// Package broker owns the mochi-mqtt server of a node: its listeners (TCP,
// TLS, WebSocket, secure WebSocket, all ours so that every connection gets a
// CONNECT deadline and an oversize-packet guard), its limits, the auth hook,
// and a graceful stop that drains clients before mochi's Close.
package broker
