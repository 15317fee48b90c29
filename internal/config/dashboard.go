package config

import (
	"errors"
	"regexp"
)

// Dashboard holds the dashboard.* keys the node implements
// (emqx_dashboard.conf): the default user of the dashboard.
type Dashboard struct {
	// DefaultUserLogin and DefaultUserPassword are the user seeded at
	// boot (admin / public); "" login: none. The password only sets the
	// user's first one: emqx_ctl admins passwd changes it for good.
	DefaultUserLogin, DefaultUserPassword string
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
	}
}
