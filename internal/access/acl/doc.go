// Package acl is EMQX 4.4's file ACL, the emqx_mod_acl_internal module:
// it owns the acl.conf format (Erlang terms, read as file:consult/1 reads
// them), the compiled rules and their matching (emqx_access_rule), the
// engine File that loads and reloads a file and answers as an
// access.ACLChecker named "emqx_mod_acl_internal", and the per-client ACL
// cache (emqx_acl_cache) with the generation counter that a reload uses to
// empty every client's cache.
//
// The rules are, in file order, the first match deciding:
//
//	{allow|deny, all}.
//	{allow|deny, Who, publish|subscribe|pubsub, Topics}.
//
// Who is all, {user, Name}, {client, ClientId} (Name or ClientId may be
// the atom all), {ipaddr, "Address[/Len]"}, {ipaddrs, [...]} or
// {'and'|'or', [Who, ...]}. Topics is a list of topic filters, each a
// string, a binary or {eq, Topic}; a filter level %u or %c stands for the
// user name or client id. A rule's filter matches a published topic by
// MQTT wildcard matching and a subscription's filter by the same matching
// with the subscription's + and # taken as plain levels; {eq, Topic}
// matches only that exact string. No match leaves the answer to the next
// ACL source and finally to acl_nomatch.
//
// Parsing is bounded: files over MaxFileSize are refused, nesting is
// capped and a top-level term is compiled as soon as it is read. Check
// does not allocate.
//
// The package does not decide when ACL applies (superusers, zones with
// enable_acl off), apply acl_nomatch or acl_deny_action, or strip
// $share/Group/ from a subscription: its caller does.
package acl
