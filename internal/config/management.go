package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Management holds management.* (emqx_management.conf): the HTTP API.
type Management struct {
	// HTTP and HTTPS are the listeners' addresses (host:port), "" off.
	HTTP, HTTPS string
	// HTTPSCertFile, HTTPSKeyFile, HTTPSCACertFile, HTTPSVerify and
	// HTTPSFailIfNoPeerCert are the https listener's TLS settings.
	HTTPSCertFile, HTTPSKeyFile, HTTPSCACertFile string
	HTTPSVerify, HTTPSFailIfNoPeerCert           bool
	// MaxClients bounds the open connections of each listener.
	MaxClients int
	// DefaultAppID and DefaultAppSecret are the application created at
	// first boot (admin / public).
	DefaultAppID, DefaultAppSecret string
	// MaxRowLimit caps a page (_limit) of the list endpoints.
	MaxRowLimit int
}

// DefaultAppID and DefaultAppSecret are EMQX's stock application.
const (
	DefaultAppID     = "admin"
	DefaultAppSecret = "public"
)

func alarmFields() []field {
	a := func(c *Config) *Alarm { return &c.Alarm }
	return []field{
		{key: "alarm.actions", def: "log,publish",
			set: func(c *Config, raw, _ string) error {
				a(c).Log, a(c).Publish = false, false
				for _, w := range strings.Split(raw, ",") {
					switch strings.TrimSpace(w) {
					case "log":
						a(c).Log = true
					case "publish":
						a(c).Publish = true
					case "":
					default:
						return fmt.Errorf("must be log, publish or both, comma separated")
					}
				}
				return nil
			},
			get: func(c *Config) string {
				var ws []string
				if a(c).Log {
					ws = append(ws, "log")
				}
				if a(c).Publish {
					ws = append(ws, "publish")
				}
				return strings.Join(ws, ",")
			},
		},
		intField("alarm.size_limit", "1000", 1, math.MaxInt32, func(c *Config) *int { return &a(c).SizeLimit }),
		durField("alarm.validity_period", "24h", time.Second, false, func(c *Config) *time.Duration { return &a(c).ValidityPeriod }),
	}
}

func managementFields() []field {
	m := func(c *Config) *Management { return &c.Management }
	return []field{
		listenerField("management.listener.http", "8081", func(c *Config) *string { return &m(c).HTTP }),
		listenerField("management.listener.https", "off", func(c *Config) *string { return &m(c).HTTPS }),
		pathField("management.listener.https.certfile", "", false, func(c *Config) *string { return &m(c).HTTPSCertFile }),
		pathField("management.listener.https.keyfile", "", false, func(c *Config) *string { return &m(c).HTTPSKeyFile }),
		pathField("management.listener.https.cacertfile", "", false, func(c *Config) *string { return &m(c).HTTPSCACertFile }),
		verifyField("management.listener.https.verify", func(c *Config) *bool { return &m(c).HTTPSVerify }),
		boolField("management.listener.https.fail_if_no_peer_cert", "false", func(c *Config) *bool { return &m(c).HTTPSFailIfNoPeerCert }),
		intField("management.listener.http.max_clients", "512", 1, math.MaxInt32, func(c *Config) *int { return &m(c).MaxClients }),
		strField("management.default_application.id", DefaultAppID, func(c *Config) *string { return &m(c).DefaultAppID }, nonEmpty),
		field{key: "management.default_application.secret", def: DefaultAppSecret, secret: true,
			set: func(c *Config, raw, _ string) error {
				m(c).DefaultAppSecret = raw
				return nonEmpty(raw)
			},
			get: func(c *Config) string { return m(c).DefaultAppSecret },
		},
		intField("management.max_row_limit", strconv.Itoa(10000), 1, math.MaxInt32, func(c *Config) *int { return &m(c).MaxRowLimit }),
	}
}

// listenerField is an HTTP listener's address: Port | IP:Port | off ("").
func listenerField(key, def string, p func(*Config) *string) field {
	return field{key: key, def: def,
		set: func(c *Config, raw, _ string) error {
			a, err := parseListener(raw)
			*p(c) = a
			return err
		},
		get: func(c *Config) string {
			if *p(c) == "" {
				return "off"
			}
			return *p(c)
		},
	}
}

// verifyField is an https listener's verify_peer | verify_none (default).
func verifyField(key string, p func(*Config) *bool) field {
	return field{key: key, def: "verify_none",
		set: func(c *Config, raw, _ string) error {
			v, err := parseEnum(raw, []string{"verify_peer", "verify_none"})
			*p(c) = v == "verify_peer"
			return err
		},
		get: func(c *Config) string {
			if *p(c) {
				return "verify_peer"
			}
			return "verify_none"
		},
	}
}
