// Package authmnesia is EMQX 4's emqx_auth_mnesia plugin: the built-in
// database of user names and client ids with salted password hashes, and
// per-client, per-user and all-client ACL rules, with the plugin's
// emqx_ctl commands (user, clientid, acl) and their EMQX outputs.
//
// The data lives in two replicated tables (the cluster's replicated-table
// piece: every node holds all of it, newest write wins, kept under
// data/); this package reads and writes them and keeps an index of the
// ACL rules by login for the check on the publish path.
//
// Authentication, as EMQX: the records of the client id and of the user
// name are looked up; none: ignore (the next backend decides); one whose
// password matches: allow; else deny (bad user name or password). ACL:
// the client id's rules, then the user name's, then the rules for all,
// each newest first; the first rule whose action and topic match decides;
// none: ignore.
package authmnesia
