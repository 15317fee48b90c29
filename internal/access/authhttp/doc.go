// Package authhttp is EMQX 4.4's emqx_auth_http plugin: authentication,
// superuser and ACL decisions asked of an HTTP server, configured by the
// auth.http.* keys of etc/plugins/emqx_auth_http.conf (Config, Keys).
//
// Each of auth_req, super_req and acl_req is sent only when its URL is set,
// over its own pool of at most pool_size connections. A GET carries the
// params in its query string; a POST in its body, as a form or a JSON
// object of strings according to its Content-Type header. A param whose
// value is exactly a placeholder is replaced:
//
//	%u user name ("undefined" when none)   %c client id
//	%a peer IP address                      %r protocol ("mqtt")
//	%P password ("undefined" when none;     %p port of the listener
//	   "null" in acl_req)
//	%C client certificate common name       %d client certificate subject
//	   ("null" without a certificate)          ("null" without one)
//	%m mountpoint ("undefined" when none)
//	%A access, acl_req only: 1 subscribe, 2 publish ("null" elsewhere)
//	%t topic, acl_req only ("null" elsewhere)
//
// Answers are read as EMQX reads them: only a 200 allows, a 200 whose body
// is exactly "ignore" passes to the next backend, every other status
// denies. A request that gets no answer denies the connection but leaves
// an ACL check to the next source. See Plugin.Authenticate and
// Plugin.CheckACL.
package authhttp
