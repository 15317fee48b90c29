// Package guard is the node's gate: a mochi hook that authenticates each
// connection through the loaded auth plugins (allow_anonymous deciding when
// all of them ignore it) and checks every PUBLISH and SUBSCRIBE against
// the ACL sources (the plugins' rules, then acl.conf; acl_nomatch deciding
// when all ignore), as EMQX 4 does.
//
//   - A refused CONNECT gets the CONNACK code of the backend's reason
//     (MQTT 5: 0x86 bad user name or password, 0x87 not authorized, ...;
//     MQTT 3.1.1: 4, 5, 3 as EMQX maps them) and is counted and logged,
//     at most one line per logEvery with the count since the last.
//   - A denied SUBSCRIBE filter gets 0x87 in the SUBACK (3.1.1: 0x80).
//   - A denied PUBLISH is dropped: QoS 1/2 acknowledged with 0x87 (MQTT
//     5) or as usual (3.1.1, which has no code for it); with
//     acl_deny_action = disconnect the connection is closed instead
//     (MQTT 5: DISCONNECT 0x87).
//   - Superusers (a backend said so) skip the ACL.
//
// Each client follows its zone (the zone of the listener it came in on;
// Settings.ZoneOf, fixed at CONNECT so a PUBLISH costs no look-up):
// zone.<name>.allow_anonymous, acl_nomatch and acl_deny_action;
// enable_acl off allows every PUBLISH and SUBSCRIBE without asking any
// ACL source; bypass_auth_plugins on asks no auth backend (allow_anonymous
// alone decides); use_username_as_clientid on makes a client's user name
// its client id. Stock zone internal has allow_anonymous true, enable_acl
// off and bypass_auth_plugins true.
//
// use_username_as_clientid is done in OnConnect, which mochi runs after
// parsing the CONNECT and before it resolves the session (and the
// cluster's hook takes the id over in OnSessionEstablish), by setting
// cl.ID: the session, its takeover and the ACL's %c are the user name's,
// as in EMQX, where it happens before authentication too. The client id
// checks of the CONNECT (reserved prefix, max_clientid_len, an empty id
// without clean start) were made on the id the client sent, as EMQX's
// check_connect precedes it; a user name with the reserved prefix is
// refused (0x85).
//
// The publish check runs in OnPublish, after the topic alias is resolved
// (mochi's own ACL hook sees the PUBLISH before that), and before the
// cluster's hook forwards the message: the guard is added before it.
package guard
