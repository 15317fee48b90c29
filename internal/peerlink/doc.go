// Package peerlink owns the authenticated links between nodes on the
// cluster RPC port (5370+N, or rpc.tcp_server_port when
// rpc.port_discovery = manual): one TCP connection per peer pair, optionally
// on mutual TLS (rpc.driver = ssl).
//
//   - handshake.go: the acceptor sends a fresh nonce and nothing else; the
//     dialer proves it knows the cookie (HMAC-SHA256 over that nonce, its
//     own and all it claims, with a key derived from node.cookie in
//     keys.go; the cookie never crosses the wire); only then does the
//     acceptor tell who it is and prove the cookie in turn. cluster.name
//     must match, and Config.Admit decides on the dialer's intent (join,
//     member, probe). A dialer that did not prove gets a bare bad_cookie
//     at most; refusals with more to say (an EMQX reason, package
//     emqxterm) go to dialers that proved, and are logged once per source
//     and window.
//   - limits.go: what an unproven connection may cost: frames of 1 KB,
//     names of 255 bytes, 5 s, 64 such connections at a time (8 per
//     source; the extra ones closed unread), log values cut short.
//   - frame.go: the unit on a link, a 4-byte length then a hand-made binary
//     body (type, flags, the fields present); MaxFrame bounds it.
//   - link.go: Links (New, Serve, Dial, Probe, Close) and one live link per
//     peer with its writer (batching whatever is queued into one flush) and
//     reader; requests with responses (Call), one-way messages in order
//     (Notify, TryNotify), and Handler for what arrives. With two links to
//     one peer, both sides keep the one dialed by the smaller name.
//   - codec.go: Encode and Decode, msgpack for the bodies of cold messages.
//
// Package cluster uses the links for its own calls and reports membership
// to the Handler; package fabric sends routes and messages over them.
package peerlink
