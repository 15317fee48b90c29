package config

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"emqxgo/internal/access/authhttp"
	"emqxgo/internal/access/authjwt"
	"emqxgo/internal/access/passwd"
)

// PluginsDir is the folder of the plugins' files, under the etc folder.
const PluginsDir = "plugins"

// PluginConfFiles are the plugins' files in PluginsDir, read after
// cluster.conf in this order when they exist: the plugins this node has.
var PluginConfFiles = []string{"emqx_auth_http.conf", "emqx_auth_jwt.conf", "emqx_auth_mnesia.conf",
	"emqx_retainer.conf", "emqx_management.conf", "emqx_dashboard.conf", "emqx_prometheus.conf"}

// The keys of the auth plugins. The schema only turns the text into values
// (durations, integers, lower case where EMQX's value sets are); the
// plugin packages' CheckKeys state the rules (validate.go), and their
// Defaults are the defaults here (a test keeps them equal).

func pluginFields() []field {
	http := func(c *Config) *authhttp.Config { return &c.Plugins.HTTP }
	jwt := func(c *Config) *authjwt.Config { return &c.Plugins.JWT }
	var fs []field
	for _, q := range httpRequests {
		pre, r := "auth.http."+q.name+".", q.r
		fs = append(fs,
			strField(pre+"url", "", func(c *Config) *string { return &r(c).URL }, nil),
			lowerField(pre+"method", authhttp.DefaultMethod, func(c *Config) *string { return &r(c).Method }),
			strField(pre+"params", "", func(c *Config) *string { return &r(c).Params }, nil),
		)
	}
	return append(fs,
		msDurField("auth.http.timeout", formatDuration(authhttp.DefaultTimeout), func(c *Config) *time.Duration { return &http(c).Timeout }),
		msDurField("auth.http.connect_timeout", formatDuration(authhttp.DefaultConnectTimeout), func(c *Config) *time.Duration { return &http(c).ConnectTimeout }),
		intField("auth.http.pool_size", strconv.Itoa(authhttp.DefaultPoolSize), math.MinInt, math.MaxInt, func(c *Config) *int { return &http(c).PoolSize }),
		field{key: "auth.http.enable_pipelining", def: strconv.Itoa(authhttp.DefaultEnablePipelining),
			set: func(c *Config, raw, _ string) error {
				http(c).EnablePipelining = authhttp.ParsePipelining(raw)
				return nil
			},
			get: func(c *Config) string { return strconv.Itoa(http(c).EnablePipelining) },
		},
		pathField("auth.http.ssl.cacertfile", "", false, func(c *Config) *string { return &http(c).CACertFile }),
		pathField("auth.http.ssl.certfile", "", false, func(c *Config) *string { return &http(c).CertFile }),
		pathField("auth.http.ssl.keyfile", "", false, func(c *Config) *string { return &http(c).KeyFile }),
		boolField("auth.http.ssl.verify", "false", func(c *Config) *bool { return &http(c).Verify }),
		strField("auth.http.ssl.server_name_indication", "", func(c *Config) *string { return &http(c).ServerNameIndication }, nil),

		field{key: "auth.jwt.secret", secret: true,
			set: func(c *Config, raw, _ string) error {
				jwt(c).Secret = raw
				return nil
			},
			get: func(c *Config) string { return jwt(c).Secret },
		},
		pathField("auth.jwt.pubkey", "", false, func(c *Config) *string { return &jwt(c).Pubkey }),
		strField("auth.jwt.jwks", "", func(c *Config) *string { return &jwt(c).JWKS }, nil),
		durField("auth.jwt.jwks.refresh_interval", formatDuration(authjwt.DefaultRefreshInterval), time.Millisecond, false,
			func(c *Config) *time.Duration { return &jwt(c).RefreshInterval }),
		strField("auth.jwt.from", authjwt.DefaultFrom, func(c *Config) *string { return &jwt(c).From }, nil),
		strField("auth.jwt.signature_format", authjwt.DefaultSignatureFormat, func(c *Config) *string { return &jwt(c).SignatureFormat }, nil),
		boolField("auth.jwt.verify_claims", "off", func(c *Config) *bool { return &jwt(c).VerifyClaims }),
		strField("auth.jwt.acl_claim_name", authjwt.DefaultACLClaimName, func(c *Config) *string { return &jwt(c).ACLClaimName }, nil),

		field{key: passwd.MnesiaKey, def: string(passwd.MnesiaDefault),
			set: func(c *Config, raw, _ string) error {
				a, err := passwd.ParseMnesiaAlg(strings.ToLower(raw))
				c.Plugins.Mnesia.PasswordHash = a
				if err != nil {
					names := make([]string, len(passwd.MnesiaAlgs))
					for i, a := range passwd.MnesiaAlgs {
						names[i] = string(a)
					}
					return errors.New("must be one of " + strings.Join(names, ", "))
				}
				return nil
			},
			get: func(c *Config) string { return string(c.Plugins.Mnesia.PasswordHash) },
		},
	)
}

// httpRequests are the three requests of emqx_auth_http, by key segment.
var httpRequests = []struct {
	name string
	r    func(*Config) *authhttp.Request
}{
	{"auth_req", func(c *Config) *authhttp.Request { return &c.Plugins.HTTP.AuthReq }},
	{"super_req", func(c *Config) *authhttp.Request { return &c.Plugins.HTTP.SuperReq }},
	{"acl_req", func(c *Config) *authhttp.Request { return &c.Plugins.HTTP.ACLReq }},
}

// wildSchema lists the wildcard keys (wild.go).
var wildSchema = buildWildSchema()

func buildWildSchema() []wildField {
	var ws []wildField
	for _, q := range httpRequests {
		r := q.r
		ws = append(ws, mapWild("auth.http."+q.name+".headers.<name>", func(c *Config) *map[string]string { return &r(c).Headers }))
	}
	ws = append(ws, mapWild("auth.jwt.verify_claims.<name>", func(c *Config) *map[string]string { return &c.Plugins.JWT.Claims }))
	ws = append(ws, credentialWild("auth.user", "username", func(c *Config) *[]Credential { return &c.Plugins.Mnesia.Users })...)
	ws = append(ws, credentialWild("auth.client", "clientid", func(c *Config) *[]Credential { return &c.Plugins.Mnesia.ClientIDs })...)
	ws = append(ws, zoneWild()...)
	ws = append(ws, listenerWild()...)
	return append(ws, acceptedWild()...)
}

// credentialWild is <pre>.<id>.<idKey> and <pre>.<id>.password: each
// idKey with its password is one Credential, in the order of the ids.
// Dump writes the ids as 1, 2, ...
func credentialWild(pre, idKey string, p func(*Config) *[]Credential) []wildField {
	idPattern, pwPattern := pre+".<id>."+idKey, pre+".<id>.password"
	ids := newWild(idPattern, false,
		func(c *Config, vals []wildVal, peer func(string) (string, bool), report func(string, string)) {
			var out []Credential
			for _, v := range vals {
				pw, ok := peer(pre + "." + v.free + ".password")
				if !ok {
					report(v.free, pre+"."+v.free+".password is required when "+pre+"."+v.free+"."+idKey+" is set")
					continue
				}
				out = append(out, Credential{ID: v.value, Password: pw})
			}
			*p(c) = out
		},
		func(c *Config) []wildVal {
			out := make([]wildVal, len(*p(c)))
			for i, cr := range *p(c) {
				out[i] = wildVal{strconv.Itoa(i + 1), cr.ID}
			}
			return out
		})
	pws := newWild(pwPattern, true, nil, // read by the id key's set
		func(c *Config) []wildVal {
			out := make([]wildVal, len(*p(c)))
			for i, cr := range *p(c) {
				out[i] = wildVal{strconv.Itoa(i + 1), cr.Password}
			}
			return out
		})
	return []wildField{ids, pws}
}

// msDurField is a duration where a plain integer is milliseconds (EMQX's
// [integer, {duration, ms}]); the owner checks the range.
func msDurField(key, def string, p func(*Config) *time.Duration) field {
	return field{key: key, def: def,
		set: func(c *Config, raw, _ string) error {
			if n, err := strconv.ParseInt(raw, 10, 64); err == nil && n <= math.MaxInt64/int64(time.Millisecond) &&
				n >= math.MinInt64/int64(time.Millisecond) {
				*p(c) = time.Duration(n) * time.Millisecond
				return nil
			}
			v, err := parseDuration(raw, false)
			if err != nil {
				return errors.New("must be " + durationForm + ", or an integer of milliseconds")
			}
			*p(c) = v
			return nil
		},
		get: func(c *Config) string {
			if *p(c) < 0 {
				return strconv.FormatInt(int64(*p(c)/time.Millisecond), 10)
			}
			return formatDuration(*p(c))
		},
	}
}
