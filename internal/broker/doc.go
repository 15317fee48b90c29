// Package broker owns the mochi-mqtt server of a node: its listeners (TCP,
// TLS, WebSocket, secure WebSocket, all ours in listener.go), the wrapper of
// every connection (conn.go: a CONNECT deadline and checks of its flags and
// properties, an oversize-packet guard that answers MQTT 5 clients with
// DISCONNECT 0x95, and write coalescing), its limits, the node hook
// (reserved and over-long client ids, the codes the
// specifications want where mochi's differ), and a graceful stop that
// drains clients before mochi's Close.
//
// The sessions' outbound messages are the node's (session.go, deliver.go):
// every message mochi would send to subscribers is handed to the
// subscriber's session, whose inflight window and queue follow EMQX
// (zone.external.max_inflight, max_mqueue_len, mqueue_store_qos0); mochi
// keeps packet ids and acknowledgements. A session that moves to another
// node takes its queue along and, for MoveGrace, forwards what is still
// delivered for it here (through a Mover, the cluster's side). It knows no
// cluster otherwise.
package broker
