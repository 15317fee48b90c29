// Package banned is EMQX 4.4's banned list (emqx_banned) and the flapping
// detection that feeds it (emqx_flapping).
//
// The list lives in a replicated table (fabric.Table, TableName): every
// node holds all of it and refuses, at CONNECT, a client whose client id,
// user name or peer host is on it (CONNACK 0x8A Banned, 0x05 Not
// authorized in MQTT 3.1.1), in zones with enable_ban on. An entry stops
// applying at its Until; the table turns it into a tombstone by itself on
// every node (TableOptions.Expired, Expired here).
//
// Flapping detection counts, per node, the connections each client id
// makes (after authentication); in zones with enable_flapping_detect on, a
// client id that connects flapping_detect_policy's max count times within
// its window is banned by client id for its ban time, cluster-wide, and a
// WARN line "flapping detected" is logged (at most one a host per 10 s).
// EMQX counts the closes of connected sockets; counting the connections
// instead gives the same numbers for a client that keeps reconnecting (its
// next connection closes or takes over the last) and lets the ban be in
// place before the CONNACK of the connection that crossed the count.
package banned
