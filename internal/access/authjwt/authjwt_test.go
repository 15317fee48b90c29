package authjwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"

	"emqxgo/internal/access"
	"emqxgo/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secret = "emqxsecret"

func sign(t *testing.T, m jwt.SigningMethod, k any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rawToken signs an arbitrary header and payload with HS256.
func rawToken(header, payload string, key []byte) string {
	in := b64(header) + "." + b64(payload)
	sig, _ := jwt.SigningMethodHS256.Sign(in, key)
	return in + "." + b64(string(sig))
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func future() int64 { return time.Now().Add(time.Hour).Unix() }
func past() int64   { return time.Now().Add(-time.Hour).Unix() }

func newPlugin(t *testing.T, c Config) *Plugin {
	t.Helper()
	var problems []string
	c.CheckKeys(func(k, p string) { problems = append(problems, k+": "+p) })
	if len(problems) > 0 {
		t.Fatalf("config: %v", problems)
	}
	p := New(c, nil)
	t.Cleanup(p.Stop)
	return p
}

func withSecret() Config {
	c := Defaults()
	c.Secret = secret
	return c
}

func client(password string) *access.Client {
	return &access.Client{ClientID: "c1", Username: "u1", Password: []byte(password)}
}

func auth(t *testing.T, p *Plugin, c *access.Client, want access.Result) {
	t.Helper()
	got, err := p.Authenticate(context.Background(), c)
	if err != nil || got != want {
		t.Fatalf("Authenticate = %v, %v; want %v", got, err, want)
	}
}

func TestHS256(t *testing.T) {
	p := newPlugin(t, withSecret())
	tok := sign(t, jwt.SigningMethodHS256, []byte(secret), "", jwt.MapClaims{"sub": "x", "exp": future(), "n": 1})
	c := client(tok)
	auth(t, p, c, access.Allow)
	if c.JWTClaims["sub"] != "x" || c.JWTClaims["n"] != json.Number("1") {
		t.Errorf("claims %v", c.JWTClaims)
	}
	for _, m := range []jwt.SigningMethod{jwt.SigningMethodHS384, jwt.SigningMethodHS512} {
		auth(t, p, client(sign(t, m, []byte(secret), "", jwt.MapClaims{})), access.Allow)
	}
	// Another secret: a signature that does not verify denies.
	auth(t, p, client(sign(t, jwt.SigningMethodHS256, []byte("other"), "", jwt.MapClaims{})), access.Deny)
	// A tampered payload.
	parts := strings.Split(tok, ".")
	auth(t, p, client(parts[0]+"."+b64(`{"sub":"y"}`)+"."+parts[2]), access.Deny)
}

func writePEM(t *testing.T, typ string, der []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRS256AndES256Pubkey(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edk, _ := ed25519.GenerateKey(rand.Reader)
	rder, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	eder, _ := x509.MarshalPKIXPublicKey(&ek.PublicKey)
	edder, _ := x509.MarshalPKIXPublicKey(edk.Public())
	ecPriv, _ := x509.MarshalECPrivateKey(ek)

	for _, c := range []struct {
		name string
		file string
		m    jwt.SigningMethod
		k    any
	}{
		{"RS256 PKIX", writePEM(t, "PUBLIC KEY", rder), jwt.SigningMethodRS256, rk},
		{"PS256 PKIX", writePEM(t, "PUBLIC KEY", rder), jwt.SigningMethodPS256, rk},
		{"RS512 PKCS1", writePEM(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rk.PublicKey)), jwt.SigningMethodRS512, rk},
		{"ES256 PKIX", writePEM(t, "PUBLIC KEY", eder), jwt.SigningMethodES256, ek},
		{"ES256 private key file", writePEM(t, "EC PRIVATE KEY", ecPriv), jwt.SigningMethodES256, ek},
		{"EdDSA", writePEM(t, "PUBLIC KEY", edder), jwt.SigningMethodEdDSA, edk},
	} {
		t.Run(c.name, func(t *testing.T) {
			conf := withSecret() // the HMAC key is tried first, and fails
			conf.Pubkey = c.file
			p := newPlugin(t, conf)
			auth(t, p, client(sign(t, c.m, c.k, "", jwt.MapClaims{"exp": future()})), access.Allow)
			auth(t, p, client(sign(t, jwt.SigningMethodHS256, []byte(secret), "", jwt.MapClaims{})), access.Allow)
			auth(t, p, client(sign(t, c.m, c.k, "", jwt.MapClaims{"exp": past()})), access.Deny)
		})
	}
	// Another RSA key does not verify; with only a pubkey, HS256 does not
	// verify either (no HMAC with a public key).
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	conf := Defaults()
	conf.Pubkey = writePEM(t, "PUBLIC KEY", rder)
	p := newPlugin(t, conf)
	auth(t, p, client(sign(t, jwt.SigningMethodRS256, other, "", jwt.MapClaims{})), access.Deny)
	auth(t, p, client(sign(t, jwt.SigningMethodHS256, rder, "", jwt.MapClaims{})), access.Deny)
	// An unusable pubkey file is left out: no key at all, tokens ignored.
	conf.Pubkey = filepath.Join(t.TempDir(), "missing.pem")
	p = newPlugin(t, conf)
	auth(t, p, client(sign(t, jwt.SigningMethodRS256, rk, "", jwt.MapClaims{})), access.Ignore)
}

func TestNotATokenIsIgnored(t *testing.T) {
	p := newPlugin(t, withSecret())
	for _, pw := range []string{"", "public", "a.b", "a.b.c.d", "eyJhbGciOiJIUzI1NiJ9.!!!.sig"} {
		auth(t, p, client(pw), access.Ignore)
	}
	auth(t, p, &access.Client{ClientID: "c1"}, access.Ignore) // no password
}

func TestBadTokensDeny(t *testing.T) {
	p := newPlugin(t, withSecret())
	key := []byte(secret)
	for name, tok := range map[string]string{
		"header not base64": "!!!." + b64(`{}`) + ".sig",
		"header not JSON":   rawToken(`{alg`, `{}`, key),
		"unknown alg":       rawToken(`{"alg":"HS999"}`, `{}`, key),
		"no alg":            rawToken(`{"typ":"JWT"}`, `{}`, key),
		"alg none":          b64(`{"alg":"none"}`) + "." + b64(`{}`) + ".",
		"payload not JSON":  rawToken(`{"alg":"HS256"}`, `{x`, key),
		"signature garbage": b64(`{"alg":"HS256"}`) + "." + b64(`{}`) + ".!!!",
	} {
		if got, _ := p.Authenticate(context.Background(), client(tok)); got != access.Deny {
			t.Errorf("%s: %v, want deny", name, got)
		}
	}
}

func TestTimeClaims(t *testing.T) {
	p := newPlugin(t, withSecret())
	now := time.Now().Unix()
	key := []byte(secret)
	for _, c := range []struct {
		claims jwt.MapClaims
		want   access.Result
	}{
		{jwt.MapClaims{"exp": future()}, access.Allow},
		{jwt.MapClaims{"exp": past()}, access.Deny},
		{jwt.MapClaims{"exp": now - 1}, access.Deny},
		{jwt.MapClaims{"exp": float64(future()) + 0.5}, access.Allow},
		{jwt.MapClaims{"exp": "99999999999"}, access.Allow}, // a numeric string counts
		{jwt.MapClaims{"exp": "99999999999.0"}, access.Allow},
		{jwt.MapClaims{"exp": "1e20"}, access.Deny}, // not an Erlang number
		{jwt.MapClaims{"exp": "soon"}, access.Deny},
		{jwt.MapClaims{"exp": true}, access.Deny},
		{jwt.MapClaims{"exp": nil}, access.Deny},
		{jwt.MapClaims{"nbf": future()}, access.Deny},
		{jwt.MapClaims{"nbf": past()}, access.Allow},
		{jwt.MapClaims{"iat": future()}, access.Deny},
		{jwt.MapClaims{"iat": now}, access.Allow},
		{jwt.MapClaims{"iat": past(), "nbf": past(), "exp": future()}, access.Allow},
	} {
		got, _ := p.Authenticate(context.Background(), client(sign(t, jwt.SigningMethodHS256, key, "", c.claims)))
		if got != c.want {
			t.Errorf("%v: %v, want %v", c.claims, got, c.want)
		}
	}
}

func TestFrom(t *testing.T) {
	tok := sign(t, jwt.SigningMethodHS256, []byte(secret), "", jwt.MapClaims{"exp": future()})
	conf := withSecret()
	conf.From = "username"
	p := newPlugin(t, conf)
	auth(t, p, &access.Client{ClientID: "c1", Username: tok, Password: []byte("not a token")}, access.Allow)
	auth(t, p, &access.Client{ClientID: "c1", Password: []byte(tok)}, access.Ignore) // no user name
	auth(t, p, &access.Client{ClientID: "c1", Username: "plain"}, access.Ignore)
	conf.From = "clientid"
	p = newPlugin(t, conf)
	auth(t, p, &access.Client{ClientID: tok}, access.Allow)
}

func TestVerifyClaims(t *testing.T) {
	conf := withSecret()
	conf.VerifyClaims = true
	conf.Claims = map[string]string{"username": "%u", "clientid": "%c", "iss": "me"}
	p := newPlugin(t, conf)
	tok := func(claims jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, []byte(secret), "", claims) }
	good := jwt.MapClaims{"username": "u1", "clientid": "c1", "iss": "me"}
	auth(t, p, client(tok(good)), access.Allow)
	for _, bad := range []jwt.MapClaims{
		{"username": "u2", "clientid": "c1", "iss": "me"},
		{"username": "u1", "clientid": "c2", "iss": "me"},
		{"username": "u1", "clientid": "c1", "iss": "you"},
		{"username": "u1", "clientid": "c1"},
		{"username": "u1", "clientid": "c1", "iss": []string{"me"}},
	} {
		if got, _ := p.Authenticate(context.Background(), client(tok(bad))); got != access.Deny {
			t.Errorf("%v: %v, want deny", bad, got)
		}
	}
	// EMQX compares an absent user name (undefined) with the claim as
	// read: only a token without the claim matches it.
	noUser := &access.Client{ClientID: "c1", Password: []byte(tok(jwt.MapClaims{"clientid": "c1", "iss": "me"}))}
	auth(t, p, noUser, access.Allow)
	noUser.Password = []byte(tok(good))
	auth(t, p, noUser, access.Deny)
	// A payload that is JSON but no object: EMQX's claim check raises.
	arr := rawToken(`{"alg":"HS256"}`, `[1]`, []byte(secret))
	auth(t, p, client(arr), access.Ignore)

	// verify_claims off: the checklist is not applied.
	conf.VerifyClaims = false
	p = newPlugin(t, conf)
	auth(t, p, client(tok(jwt.MapClaims{"iss": "you"})), access.Allow)
	c := client(arr)
	auth(t, p, c, access.Allow) // no checks: allowed, without claims
	if c.JWTClaims != nil {
		t.Errorf("claims %v", c.JWTClaims)
	}
}

// jwksServer serves a JWKS that the test replaces.
type jwksServer struct {
	*httptest.Server
	mu   sync.Mutex
	body []byte
	hits int
}

func newJWKS(t *testing.T) *jwksServer {
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		b := s.body
		s.hits++
		s.mu.Unlock()
		_, _ = w.Write(b)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(b []byte) {
	s.mu.Lock()
	s.body = b
	s.mu.Unlock()
}

func (s *jwksServer) serve(t *testing.T, jwks ...map[string]any) {
	b, err := json.Marshal(map[string]any{"keys": jwks})
	if err != nil {
		t.Fatal(err)
	}
	s.set(b)
}

func rsaJWK(kid string, k *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())}
}

func ecJWK(kid string, k *ecdsa.PublicKey) map[string]any {
	b, _ := k.Bytes() // 04 || x || y
	n := (len(b) - 1) / 2
	return map[string]any{"kty": "EC", "kid": kid, "crv": "P-256",
		"x": base64.RawURLEncoding.EncodeToString(b[1 : 1+n]),
		"y": base64.RawURLEncoding.EncodeToString(b[1+n:])}
}

func result(p *Plugin, tok string) access.Result {
	r, _ := p.Authenticate(context.Background(), client(tok))
	return r
}

func TestJWKSRotation(t *testing.T) {
	k1, _ := rsa.GenerateKey(rand.Reader, 2048)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k1b, _ := rsa.GenerateKey(rand.Reader, 2048)
	srv := newJWKS(t)
	srv.serve(t, rsaJWK("k1", &k1.PublicKey), map[string]any{"kty": "OKP", "crv": "Ed448", "kid": "x",
		"x": b64(strings.Repeat("a", 57))})

	conf := withSecret()
	conf.JWKS = srv.URL + "/jwks"
	conf.RefreshInterval = 20 * time.Millisecond
	p := newPlugin(t, conf)

	tok1 := sign(t, jwt.SigningMethodRS256, k1, "k1", jwt.MapClaims{"exp": future()})
	tok2 := sign(t, jwt.SigningMethodES256, k2, "k2", jwt.MapClaims{"exp": future()})
	hsKid := sign(t, jwt.SigningMethodHS256, []byte(secret), "k9", jwt.MapClaims{})
	hsNoKid := sign(t, jwt.SigningMethodHS256, []byte(secret), "", jwt.MapClaims{})

	// Before the set is fetched, a token with a kid is checked with the
	// static keys.
	if r := result(p, hsKid); r != access.Allow {
		t.Fatalf("kid token before the JWKS: %v", r)
	}
	if r := result(p, tok1); r != access.Deny {
		t.Fatalf("RS256 token before the JWKS: %v", r)
	}
	p.Start()
	testutil.Eventually(t, 5*time.Second, "the k1 token verifies", func() bool { return result(p, tok1) == access.Allow })
	// Once a set is loaded, a kid it lacks finds no key: ignored.
	if r := result(p, hsKid); r != access.Ignore {
		t.Errorf("kid not in the JWKS: %v", r)
	}
	if r := result(p, tok2); r != access.Ignore {
		t.Errorf("k2 before rotation: %v", r)
	}
	if r := result(p, hsNoKid); r != access.Allow {
		t.Errorf("a token without kid uses the static keys: %v", r)
	}

	// Rotation to k2: k1 tokens find no key any more.
	srv.serve(t, ecJWK("k2", &k2.PublicKey))
	testutil.Eventually(t, 5*time.Second, "the k2 token verifies", func() bool { return result(p, tok2) == access.Allow })
	if r := result(p, tok1); r != access.Ignore {
		t.Errorf("k1 after rotation: %v", r)
	}
	// The same kid with new material: old tokens no longer verify.
	srv.serve(t, rsaJWK("k1", &k1b.PublicKey))
	tok1b := sign(t, jwt.SigningMethodRS256, k1b, "k1", jwt.MapClaims{})
	testutil.Eventually(t, 5*time.Second, "the new k1 token verifies", func() bool { return result(p, tok1b) == access.Allow })
	if r := result(p, tok1); r != access.Deny {
		t.Errorf("old k1 token against the new k1 key: %v", r)
	}

	// A bad answer keeps the keys.
	srv.set([]byte("<html>oops</html>"))
	if err := p.Refresh(context.Background()); err == nil {
		t.Error("Refresh took a bad set")
	}
	if r := result(p, tok1b); r != access.Allow {
		t.Errorf("keys lost after a bad fetch: %v", r)
	}
	p.Stop()
	p.Stop() // twice is fine
	srv.mu.Lock()
	hits := srv.hits
	srv.mu.Unlock()
	if hits < 3 {
		t.Errorf("%d fetches", hits)
	}
}

func TestJWKSUnreachable(t *testing.T) {
	srv := newJWKS(t)
	url := srv.URL
	srv.Close()
	conf := withSecret()
	conf.JWKS = url
	p := newPlugin(t, conf)
	p.Start()
	if err := p.Refresh(context.Background()); err == nil {
		t.Error("Refresh of a closed port")
	}
	// Never loaded: kid tokens use the static keys.
	if r := result(p, sign(t, jwt.SigningMethodHS256, []byte(secret), "k", jwt.MapClaims{})); r != access.Allow {
		t.Errorf("%v", r)
	}
}

func TestStopWithoutStart(t *testing.T) {
	conf := withSecret()
	conf.JWKS = "http://127.0.0.1:1/jwks"
	p := New(conf, nil)
	p.Stop()
	p.Start() // after Stop: nothing starts
	p.Stop()
	q := New(withSecret(), nil) // no JWKS: Start does nothing
	q.Start()
	q.Stop()
}

func TestParseJWKS(t *testing.T) {
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edk, _ := ed25519.GenerateKey(rand.Reader)
	good := []map[string]any{
		{"kty": "oct", "kid": "h", "k": b64("key")},
		ecJWK("e", &ek.PublicKey),
		{"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": base64.RawURLEncoding.EncodeToString(edk.Public().(ed25519.PublicKey))},
		{"kty": "EC", "crv": "secp256k1", "x": b64("x"), "y": b64("y")}, // skipped
	}
	b, _ := json.Marshal(map[string]any{"keys": good})
	keys, skipped, err := parseJWKS(b)
	if err != nil || len(keys) != 3 || skipped != 1 || keys[0].kid != "h" || !keys[0].hasKid {
		t.Fatalf("%v %d %v", keys, skipped, err)
	}
	bad := ecJWK("e", &ek.PublicKey)
	bad["y"] = bad["x"] // not on the curve
	for name, body := range map[string]any{
		"unknown kty":  map[string]any{"keys": []any{map[string]any{"kty": "XYZ"}}},
		"not on curve": map[string]any{"keys": []any{bad}},
		"rsa no n":     map[string]any{"keys": []any{map[string]any{"kty": "RSA", "e": "AQAB"}}},
		"single key":   good[0],
	} {
		b, _ := json.Marshal(body)
		if _, _, err := parseJWKS(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func aclClient(acl any, exp any) *access.Client {
	claims := map[string]any{"acl": acl}
	if exp != nil {
		claims["exp"] = exp
	}
	return &access.Client{ClientID: "c1", Username: "u1", JWTClaims: claims}
}

func TestACL(t *testing.T) {
	p := newPlugin(t, withSecret())
	acl := map[string]any{
		"pub": []any{"a/%u", "b/#", "$SYS/#"},
		"sub": []any{"s/+", "a/+"},
		"all": []any{"x/%c"},
	}
	check := func(c *access.Client, a access.Action, topic string, want access.Result) {
		t.Helper()
		got, err := p.CheckACL(context.Background(), c, a, topic)
		if err != nil || got != want {
			t.Errorf("%v %s: %v, %v; want %v", a, topic, got, err, want)
		}
	}
	c := aclClient(acl, json.Number(strconv.FormatInt(future(), 10)))
	check(c, access.Publish, "a/u1", access.Allow)
	check(c, access.Publish, "a/u2", access.Deny)
	check(c, access.Publish, "b", access.Allow) // "#" matches the parent level
	check(c, access.Publish, "b/1/2", access.Allow)
	check(c, access.Publish, "$SYS/x", access.Allow)
	check(c, access.Publish, "x/c1", access.Allow)
	check(c, access.Subscribe, "x/c1", access.Allow)
	check(c, access.Publish, "s/1", access.Deny)
	check(c, access.Subscribe, "s/1", access.Allow)
	check(c, access.Subscribe, "s/1/2", access.Deny)
	check(c, access.Subscribe, "a/#", access.Allow) // a filter matched against a/+ as EMQX matches it
	check(c, access.Subscribe, "b/#", access.Deny)  // b/# is a publish rule

	// Expired token: deny; a non-numeric exp counts as expired.
	check(aclClient(acl, past()), access.Publish, "a/u1", access.Deny)
	check(aclClient(acl, "later"), access.Publish, "a/u1", access.Deny)
	check(aclClient(acl, float64(future())), access.Publish, "a/u1", access.Allow)
	// No claims, no ACL claim: ignore.
	check(&access.Client{ClientID: "c1"}, access.Publish, "a", access.Ignore)
	check(&access.Client{ClientID: "c1", JWTClaims: map[string]any{"sub": "x"}}, access.Publish, "a", access.Ignore)
	// Where EMQX's check raises: ignore.
	check(aclClient("pub a", nil), access.Publish, "a", access.Ignore)
	check(aclClient(map[string]any{"pub": []any{1, "a"}}, nil), access.Publish, "a", access.Ignore)
	noUser := aclClient(acl, nil)
	noUser.Username = ""
	check(noUser, access.Publish, "x/c1", access.Allow) // decided by "all" before the %u rule
	check(noUser, access.Publish, "b/1", access.Ignore) // reaches a/%u first
	// An ACL with nothing for the action denies.
	check(aclClient(map[string]any{"sub": []any{"a"}, "pub": "a"}, nil), access.Publish, "a", access.Deny)

	// Another claim name.
	conf := withSecret()
	conf.ACLClaimName = "perm"
	q := newPlugin(t, conf)
	c = &access.Client{ClientID: "c1", JWTClaims: map[string]any{"perm": map[string]any{"pub": []any{"t"}}, "acl": acl}}
	if r, _ := q.CheckACL(context.Background(), c, access.Publish, "t"); r != access.Allow {
		t.Errorf("perm claim: %v", r)
	}
	if r, _ := q.CheckACL(context.Background(), c, access.Publish, "b/1"); r != access.Deny {
		t.Errorf("acl claim read instead of perm: %v", r)
	}
}

// End to end: the claims of an allowed token answer the ACL.
func TestAuthThenACL(t *testing.T) {
	p := newPlugin(t, withSecret())
	tok := sign(t, jwt.SigningMethodHS256, []byte(secret), "", jwt.MapClaims{
		"exp": future(), "acl": map[string]any{"pub": []string{"t/%c"}}})
	c := client(tok)
	auth(t, p, c, access.Allow)
	if r, _ := p.CheckACL(context.Background(), c, access.Publish, "t/c1"); r != access.Allow {
		t.Errorf("%v", r)
	}
	if r, _ := p.CheckACL(context.Background(), c, access.Publish, "t/c2"); r != access.Deny {
		t.Errorf("%v", r)
	}
}

func TestMatchWords(t *testing.T) {
	for _, c := range []struct {
		name, filter string
		want         bool
	}{
		{"a/b", "a/b", true}, {"a/b", "a/+", true}, {"a/b", "#", true}, {"a", "a/#", true},
		{"a/b/c", "a/+", false}, {"a", "a/+", false}, {"a/b", "a", false}, {"", "+", true},
		{"a//b", "a/+/b", true}, {"#", "#", true}, {"#/x", "#", false}, {"+", "#", true},
		{"$SYS/a", "+/a", true},
	} {
		if got := matchWords(strings.Split(c.name, "/"), strings.Split(c.filter, "/")); got != c.want {
			t.Errorf("match(%q, %q) = %v", c.name, c.filter, got)
		}
	}
}

func TestConfig(t *testing.T) {
	d := Defaults()
	if d.RefreshInterval != 5*time.Minute || d.From != "password" || d.SignatureFormat != "der" ||
		d.ACLClaimName != "acl" || d.VerifyClaims || d.Secret != "" {
		t.Errorf("Defaults = %+v", d)
	}
	var n int
	d.CheckKeys(func(string, string) { n++ })
	if n != 0 {
		t.Errorf("defaults: %d problems", n)
	}
	bad := Config{JWKS: "ftp://x", RefreshInterval: 0, From: "peerhost", SignatureFormat: "pem"}
	got := map[string]bool{}
	bad.CheckKeys(func(k, _ string) { got[k] = true })
	for _, k := range []string{"auth.jwt.jwks", "auth.jwt.jwks.refresh_interval", "auth.jwt.from", "auth.jwt.signature_format", "auth.jwt.acl_claim_name"} {
		if !got[k] {
			t.Errorf("no problem at %s", k)
		}
	}
	if len(Keys) != 9 || !slices.Contains(Keys, "auth.jwt.verify_claims.<name>") || !slices.Contains(Keys, "auth.jwt.jwks.refresh_interval") {
		t.Errorf("Keys %v", Keys)
	}
}
