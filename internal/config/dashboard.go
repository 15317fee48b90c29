package config

import (
	"errors"
	"math"
	"regexp"
)

// Dashboard holds the dashboard.* keys the node implements
// (emqx_dashboard.conf): the default user of the dashboard and its
// listeners.
type Dashboard struct {
	// DefaultUserLogin and DefaultUserPassword are the user seeded at
	// boot (admin / public); "" login: none. The password only sets the
	// user's first one: emqx_ctl admins passwd changes it for good.
	DefaultUserLogin, DefaultUserPassword string
	// HTTP and HTTPS are the listeners' addresses (host:port), "" off.
	HTTP, HTTPS string
	// HTTPSCertFile, HTTPSKeyFile, HTTPSCACertFile, HTTPSVerify and
	// HTTPSFailIfNoPeerCert are the https listener's TLS settings.
	HTTPSCertFile, HTTPSKeyFile, HTTPSCACertFile string
	HTTPSVerify, HTTPSFailIfNoPeerCert           bool
	// MaxClients bounds the open connections of each listener.
	MaxClients int
}

// DefaultUserLogin and DefaultUserPassword are EMQX's stock dashboard user.
const (
	DefaultUserLogin    = "admin"
	DefaultUserPassword = "public"
)

var dashboardLogin = regexp.MustCompile(`^[A-Za-z0-9]+[A-Za-z0-9-_]*$`)

func dashboardFields() []field {
	d := func(c *Config) *Dashboard { return &c.Dashboard }
	return []field{
		strField("dashboard.default_user.login", DefaultUserLogin, func(c *Config) *string { return &d(c).DefaultUserLogin },
			func(s string) error {
				if s != "" && (len(s) > 256 || !dashboardLogin.MatchString(s)) {
					return errors.New("must be letters, digits, - and _, starting with a letter or a digit, at most 256 (a user name the dashboard takes)")
				}
				return nil
			}),
		field{key: "dashboard.default_user.password", def: DefaultUserPassword, secret: true,
			set: func(c *Config, raw, _ string) error {
				d(c).DefaultUserPassword = raw
				return nil
			},
			get: func(c *Config) string { return d(c).DefaultUserPassword },
		},
		listenerField("dashboard.listener.http", "18083", func(c *Config) *string { return &d(c).HTTP }),
		listenerField("dashboard.listener.https", "off", func(c *Config) *string { return &d(c).HTTPS }),
		pathField("dashboard.listener.https.certfile", "", false, func(c *Config) *string { return &d(c).HTTPSCertFile }),
		pathField("dashboard.listener.https.keyfile", "", false, func(c *Config) *string { return &d(c).HTTPSKeyFile }),
		pathField("dashboard.listener.https.cacertfile", "", false, func(c *Config) *string { return &d(c).HTTPSCACertFile }),
		verifyField("dashboard.listener.https.verify", func(c *Config) *bool { return &d(c).HTTPSVerify }),
		boolField("dashboard.listener.https.fail_if_no_peer_cert", "false", func(c *Config) *bool { return &d(c).HTTPSFailIfNoPeerCert }),
		intField("dashboard.listener.http.max_clients", "512", 1, math.MaxInt32, func(c *Config) *int { return &d(c).MaxClients }),
	}
}
