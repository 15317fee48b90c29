package config

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// field is one key of the schema: its default in file syntax, how a raw
// value is checked and stored into a Config, and how the effective value is
// written back (for Dump).
type field struct {
	key    string
	def    string // default in file syntax; "" means empty / derived
	secret bool   // masked by Dump
	set    func(c *Config, raw, home string) error
	get    func(c *Config) string
}

// Field constructors, one per value type. p selects the Config member.

func strField(key, def string, p func(*Config) *string, check func(string) error) field {
	return field{key: key, def: def,
		set: func(c *Config, raw, _ string) error {
			if check != nil {
				if err := check(raw); err != nil {
					return err
				}
			}
			*p(c) = raw
			return nil
		},
		get: func(c *Config) string { return *p(c) },
	}
}

func nonEmpty(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	return nil
}

func enumField(key, def string, allowed []string, p func(*Config) *string) field {
	return field{key: key, def: def,
		set: func(c *Config, raw, _ string) error {
			v, err := parseEnum(raw, allowed)
			*p(c) = v
			return err
		},
		get: func(c *Config) string { return *p(c) },
	}
}

// lowerField stores the value in lower case; its owner checks what is allowed.
func lowerField(key, def string, p func(*Config) *string) field {
	return field{key: key, def: def,
		set: func(c *Config, raw, _ string) error {
			*p(c) = strings.ToLower(raw)
			return nil
		},
		get: func(c *Config) string { return *p(c) },
	}
}

func boolField(key, def string, p func(*Config) *bool) field {
	return field{key: key, def: def,
		set: func(c *Config, raw, _ string) error {
			v, err := parseBool(raw)
			*p(c) = v
			return err
		},
		get: func(c *Config) string {
			// Written in the style of the default: true/false or on/off.
			if def == "true" || def == "false" {
				return strconv.FormatBool(*p(c))
			}
			return formatBool(*p(c))
		},
	}
}

func intField(key, def string, lo, hi int, p func(*Config) *int) field {
	return field{key: key, def: def,
		set: func(c *Config, raw, _ string) error {
			v, err := parseInt(raw, lo, hi)
			*p(c) = v
			return err
		},
		get: func(c *Config) string { return strconv.Itoa(*p(c)) },
	}
}

// durField: min > 0 is the smallest allowed value; off allows 0/off (disabled).
func durField(key, def string, min time.Duration, off bool, p func(*Config) *time.Duration) field {
	return field{key: key, def: def,
		set: func(c *Config, raw, _ string) error {
			v, err := parseDuration(raw, off)
			if err != nil {
				return err
			}
			if v == 0 && off {
				*p(c) = 0
				return nil
			}
			if v < min || v == 0 {
				if min <= time.Millisecond {
					return errors.New("must be greater than 0")
				}
				return errors.New("must be at least " + formatDuration(min))
			}
			*p(c) = v
			return nil
		},
		get: func(c *Config) string {
			if *p(c) == 0 && off {
				return "off"
			}
			return formatDuration(*p(c))
		},
	}
}

func sizeField(key, def string, lo, hi int64, p func(*Config) *int64) field {
	return field{key: key, def: def,
		set: func(c *Config, raw, _ string) error {
			v, err := parseSize(raw)
			if err != nil {
				return err
			}
			if v < lo || v > hi {
				if hi == maxSize {
					return errors.New("must be at least " + formatSize(lo))
				}
				return errors.New("must be from " + formatSize(lo) + " to " + formatSize(hi))
			}
			*p(c) = v
			return nil
		},
		get: func(c *Config) string { return formatSize(*p(c)) },
	}
}

const maxSize = 1<<63 - 1

// pathField resolves relative paths against the home. required refuses "".
func pathField(key, def string, required bool, p func(*Config) *string) field {
	return field{key: key, def: def,
		set: func(c *Config, raw, home string) error {
			if raw == "" {
				if required {
					return errors.New("must be a path (absolute or relative to the release home)")
				}
				*p(c) = ""
				return nil
			}
			*p(c) = resolvePath(home, raw)
			return nil
		},
		get: func(c *Config) string { return *p(c) },
	}
}

// peerCertAs are the values of peer_cert_as_username and _clientid.
var peerCertAs = []string{"cn", "dn", "crt", "pem", "md5"}

// listField stores the items of a list, each checked by check (which may
// normalize it); all bad items are reported in one message.
func listField(key, def string, p func(*Config) *[]string, check func(string) (string, error)) field {
	return field{key: key, def: def,
		set: func(c *Config, raw, _ string) error {
			items := parseList(raw)
			var bad []string
			out := make([]string, 0, len(items))
			for _, it := range items {
				v, err := check(it)
				if err != nil {
					bad = append(bad, err.Error())
					continue
				}
				out = append(out, v)
			}
			if len(bad) > 0 {
				return errors.New(strings.Join(bad, "; "))
			}
			if len(out) == 0 {
				out = nil
			}
			*p(c) = out
			return nil
		},
		get: func(c *Config) string { return strings.Join(*p(c), ",") },
	}
}
