// Package authjwt is EMQX 4.4's emqx_auth_jwt plugin: a client presents a
// JSON Web Token (in its password, by default) and is allowed when the
// token verifies; the token's ACL claim then answers its publish and
// subscribe checks. It is configured by the auth.jwt.* keys of
// etc/plugins/emqx_auth_jwt.conf (Config, Keys).
//
// Tokens are checked with the static keys (auth.jwt.secret for HS256,
// HS384, HS512; auth.jwt.pubkey for RS*, PS*, ES* and EdDSA) or, when the
// token's header names a "kid" and a JWKS (auth.jwt.jwks) has been
// fetched, with the keys of the set that carry that kid. The set is
// fetched by Start and every auth.jwt.jwks.refresh_interval until Stop.
//
// The decisions follow EMQX's, including where it passes a client on to
// the next backend rather than denying it: a password that is not a JWT,
// or a token for which there is no key, is ignored; a token that does not
// verify, has expired or is not yet valid is denied. See
// Plugin.Authenticate and Plugin.CheckACL.
//
// The ACL claim (auth.jwt.acl_claim_name, default "acl") is an object of
// topic filter lists:
//
//	{"acl": {"pub": ["a/%u/#"], "sub": ["b/+"], "all": ["c/%c"]}}
//
// Claims are kept in access.Client.JWTClaims, JSON numbers as
// json.Number.
package authjwt
