// Package access is the node's authentication chain and ACL: the EMQX 4
// auth plugins (built-in database, HTTP, JWT), TLS client certificates and
// the acl.conf engine with its cache. Backends live in sub-packages and
// answer through the small interfaces here; the chain and the mochi hook
// that calls them are guard's.
package access
