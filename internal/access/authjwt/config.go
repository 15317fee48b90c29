package authjwt

import (
	"net/url"
	"time"
)

// Keys are the keys of etc/plugins/emqx_auth_jwt.conf; <name> stands for
// any claim name.
var Keys = []string{
	"auth.jwt.secret",
	"auth.jwt.pubkey",
	"auth.jwt.jwks",
	"auth.jwt.jwks.refresh_interval",
	"auth.jwt.from",
	"auth.jwt.signature_format",
	"auth.jwt.verify_claims",
	"auth.jwt.verify_claims.<name>",
	"auth.jwt.acl_claim_name",
}

// Config is the auth.jwt.* keys.
type Config struct {
	// auth.jwt.secret: the HMAC key (HS256, HS384, HS512); "" = none. No
	// default (the shipped file sets emqxsecret).
	Secret string
	// auth.jwt.pubkey: PEM file of an RSA, EC or Ed25519 public key (or of a
	// certificate or private key, whose public key is taken); "" = none.
	// A file that cannot be used is logged and left out, as in EMQX.
	Pubkey string
	// auth.jwt.jwks: http:// or https:// URL of a JSON Web Key Set; "" =
	// none. Its keys check the tokens whose header names a "kid".
	JWKS string
	// auth.jwt.jwks.refresh_interval: how often the set is fetched again,
	// default 5m.
	RefreshInterval time.Duration
	// auth.jwt.from: where the token is: password (default), username, or
	// clientid (EMQX takes any client info field; these are the ones that
	// can hold a token).
	From string
	// auth.jwt.signature_format: der (default) or raw. EMQX 4.4 reads the
	// key and ignores it; so does this.
	SignatureFormat string
	// auth.jwt.verify_claims: check Claims, default off.
	VerifyClaims bool
	// auth.jwt.verify_claims.<name> = expected: the claim <name> must be a
	// string equal to expected, where an expected of exactly %u is the
	// client's user name and %c its client id. Only with VerifyClaims.
	Claims map[string]string
	// auth.jwt.acl_claim_name: the claim holding the client's ACL, default
	// acl.
	ACLClaimName string
}

// Defaults of the keys.
const (
	DefaultRefreshInterval = 5 * time.Minute
	DefaultFrom            = "password"
	DefaultSignatureFormat = "der"
	DefaultACLClaimName    = "acl"
)

// Defaults is the value of every key absent from the file (EMQX's schema):
// no key at all, so every token is passed on to the next backend.
func Defaults() Config {
	return Config{
		RefreshInterval: DefaultRefreshInterval, From: DefaultFrom,
		SignatureFormat: DefaultSignatureFormat, ACLClaimName: DefaultACLClaimName,
	}
}

// CheckKeys reports, as report(key, problem), each value of c that breaks
// its key's rule, the problem saying what is allowed. That the pubkey file
// can be read is not checked here.
func (c Config) CheckKeys(report func(key, problem string)) {
	if c.JWKS != "" {
		u, err := url.Parse(c.JWKS)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
			report("auth.jwt.jwks", "must be an http:// or https:// URL with a host (e.g. https://127.0.0.1:8080/jwks)")
		}
	}
	if c.RefreshInterval <= 0 {
		report("auth.jwt.jwks.refresh_interval", "must be a positive duration (e.g. 5m)")
	}
	switch c.From {
	case "password", "username", "clientid":
	default:
		report("auth.jwt.from", "must be password or username (or clientid)")
	}
	if c.SignatureFormat != "der" && c.SignatureFormat != "raw" {
		report("auth.jwt.signature_format", "must be der or raw")
	}
	if c.ACLClaimName == "" {
		report("auth.jwt.acl_claim_name", "must be a claim name (e.g. acl)")
	}
}
