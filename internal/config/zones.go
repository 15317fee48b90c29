package config

import (
	"errors"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Zones: zone.<name>.<key>. A zone is named by any key of it; external and
// internal always exist. A key a zone does not set takes, in this order,
// the stock EMQX 4.4 value of zone internal (for zone internal), the global
// key EMQX falls back to (mqtt.max_packet_size, allow_anonymous, ...), or
// the key's default (the stock value of zone external).

// zoneKey is one key of a zone.
type zoneKey struct {
	name    string // after zone.<name>.
	def     string
	inherit string // global key read when the zone does not set it
	status  keyStatus
	set     func(z *Zone, raw string) error
	get     func(z *Zone) string
}

// internalZone are the stock values of zone internal that differ from the
// defaults.
var internalZone = map[string]string{
	"allow_anonymous":     "true",
	"enable_acl":          "off",
	"max_inflight":        "128",
	"max_awaiting_rel":    "1000",
	"max_mqueue_len":      "10000",
	"bypass_auth_plugins": "true",
}

// Zone key constructors.

func zBool(name, def, inherit string, p func(*Zone) *bool) zoneKey {
	return zoneKey{name: name, def: def, inherit: inherit,
		set: func(z *Zone, raw string) error {
			v, err := parseBool(raw)
			*p(z) = v
			return err
		},
		get: func(z *Zone) string {
			if def == "on" || def == "off" {
				return formatBool(*p(z))
			}
			return strconv.FormatBool(*p(z))
		}}
}

func zInt(name, def, inherit string, lo, hi int, p func(*Zone) *int) zoneKey {
	return zoneKey{name: name, def: def, inherit: inherit,
		set: func(z *Zone, raw string) error {
			v, err := parseInt(raw, lo, hi)
			*p(z) = v
			return err
		},
		get: func(z *Zone) string { return strconv.Itoa(*p(z)) }}
}

func zDur(name, def string, off bool, p func(*Zone) *time.Duration) zoneKey {
	return zoneKey{name: name, def: def,
		set: func(z *Zone, raw string) error {
			v, err := parseDuration(raw, off)
			if err == nil && v == 0 && !off {
				err = errors.New("must be greater than 0")
			}
			*p(z) = v
			return err
		},
		get: func(z *Zone) string {
			if *p(z) == 0 && off {
				return "0"
			}
			return formatDuration(*p(z))
		}}
}

func zEnum(name, def, inherit string, allowed []string, p func(*Zone) *string) zoneKey {
	return zoneKey{name: name, def: def, inherit: inherit,
		set: func(z *Zone, raw string) error {
			v, err := parseEnum(raw, allowed)
			*p(z) = v
			return err
		},
		get: func(z *Zone) string { return *p(z) }}
}

func zStr(name, def, inherit string, p func(*Zone) *string) zoneKey {
	return zoneKey{name: name, def: def, inherit: inherit,
		set: func(z *Zone, raw string) error { *p(z) = raw; return nil },
		get: func(z *Zone) string { return *p(z) }}
}

func zRate(name string, bytes bool, p func(*Zone) *Rate) zoneKey {
	return zoneKey{name: name,
		set: func(z *Zone, raw string) error {
			r, err := parseRate(raw, bytes)
			*p(z) = r
			return err
		},
		get: func(z *Zone) string { return formatRate(*p(z), bytes) }}
}

// accepted is a zone key the node accepts without acting on it.
func zAccepted(name, def string) zoneKey {
	return zoneKey{name: name, def: def, status: notImplemented}
}

var zoneKeys = []zoneKey{
	zDur("idle_timeout", "15s", false, func(z *Zone) *time.Duration { return &z.IdleTimeout }),
	{name: "allow_anonymous", inherit: "allow_anonymous",
		set: func(z *Zone, raw string) error {
			v, err := parseAllowAnonymous(raw)
			z.AllowAnonymous = v
			return err
		},
		get: func(z *Zone) string { return z.AllowAnonymous }},
	zEnum("acl_nomatch", "", "acl_nomatch", []string{"allow", "deny"}, func(z *Zone) *string { return &z.ACLNomatch }),
	zBool("enable_acl", "on", "", func(z *Zone) *bool { return &z.EnableACL }),
	zEnum("acl_deny_action", "", "acl_deny_action", []string{"ignore", "disconnect"}, func(z *Zone) *string { return &z.ACLDenyAction }),
	zBool("enable_ban", "on", "", func(z *Zone) *bool { return &z.EnableBan }),
	zBool("enable_stats", "on", "", func(z *Zone) *bool { return &z.EnableStats }),
	zRate("publish_limit", false, func(z *Zone) *Rate { return &z.PublishLimit }),
	{name: "max_packet_size", inherit: "mqtt.max_packet_size",
		set: func(z *Zone, raw string) error {
			v, err := parseSize(raw)
			if err == nil && (v < 64 || v > 256*mb) {
				err = errors.New("must be from 64B to 256MB")
			}
			z.MaxPacketSize = v
			return err
		},
		get: func(z *Zone) string { return formatSize(z.MaxPacketSize) }},
	zInt("max_clientid_len", "", "mqtt.max_clientid_len", 23, 65535, func(z *Zone) *int { return &z.MaxClientIDLen }),
	zInt("max_topic_levels", "", "mqtt.max_topic_levels", 0, 65535, func(z *Zone) *int { return &z.MaxTopicLevels }),
	zInt("max_qos_allowed", "", "mqtt.max_qos_allowed", 0, 2, func(z *Zone) *int { return &z.MaxQoSAllowed }),
	zInt("max_topic_alias", "", "mqtt.max_topic_alias", 0, 65535, func(z *Zone) *int { return &z.MaxTopicAlias }),
	zBool("retain_available", "", "mqtt.retain_available", func(z *Zone) *bool { return &z.RetainAvailable }),
	zBool("wildcard_subscription", "", "mqtt.wildcard_subscription", func(z *Zone) *bool { return &z.WildcardSubscription }),
	zBool("shared_subscription", "", "mqtt.shared_subscription", func(z *Zone) *bool { return &z.SharedSubscription }),
	zInt("server_keepalive", "0", "", 0, 65535, func(z *Zone) *int { return &z.ServerKeepalive }),
	{name: "keepalive_backoff", def: "0.75",
		set: func(z *Zone, raw string) error {
			v, err := strconv.ParseFloat(raw, 64)
			if err != nil || v <= 0 || v > 100 || math.IsNaN(v) {
				return errors.New("must be a number above 0 (e.g. 0.75)")
			}
			z.KeepaliveBackoff = v
			return nil
		},
		get: func(z *Zone) string { return strconv.FormatFloat(z.KeepaliveBackoff, 'g', -1, 64) }},
	zInt("max_subscriptions", "0", "", 0, math.MaxInt32, func(z *Zone) *int { return &z.MaxSubscriptions }),
	zBool("upgrade_qos", "off", "", func(z *Zone) *bool { return &z.UpgradeQoS }),
	zInt("max_inflight", "32", "", 1, 65535, func(z *Zone) *int { return &z.MaxInflight }),
	zDur("retry_interval", "30s", true, func(z *Zone) *time.Duration { return &z.RetryInterval }),
	zAccepted("latency_samples", "10"),
	zInt("max_awaiting_rel", "100", "", 0, math.MaxInt32, func(z *Zone) *int { return &z.MaxAwaitingRel }),
	zDur("await_rel_timeout", "300s", false, func(z *Zone) *time.Duration { return &z.AwaitRelTimeout }),
	zBool("ignore_loop_deliver", "", "mqtt.ignore_loop_deliver", func(z *Zone) *bool { return &z.IgnoreLoopDeliver }),
	zDur("session_expiry_interval", "2h", true, func(z *Zone) *time.Duration { return &z.SessionExpiryInterval }),
	zInt("max_mqueue_len", "1000", "", 1, 1000000, func(z *Zone) *int { return &z.MaxMqueueLen }),
	{name: "mqueue_priorities", def: "none",
		set: func(z *Zone, raw string) error {
			m, err := parsePriorities(raw)
			z.MqueuePriorities = m
			return err
		},
		get: func(z *Zone) string { return formatPriorities(z.MqueuePriorities) }},
	zEnum("mqueue_default_priority", "highest", "", []string{"highest", "lowest"}, func(z *Zone) *string { return &z.MqueueDefaultPriority }),
	zBool("mqueue_store_qos0", "true", "", func(z *Zone) *bool { return &z.MqueueStoreQoS0 }),
	zBool("enable_flapping_detect", "off", "", func(z *Zone) *bool { return &z.EnableFlappingDetect }),
	zRate("rate_limit.conn_messages_in", false, func(z *Zone) *Rate { return &z.RateLimitConnMessagesIn }),
	zRate("rate_limit.conn_bytes_in", true, func(z *Zone) *Rate { return &z.RateLimitConnBytesIn }),
	zAccepted("conn_congestion.alarm", "off"),
	zAccepted("conn_congestion.min_alarm_sustain_duration", "1m"),
	zRate("quota.conn_messages_routing", false, func(z *Zone) *Rate { return &z.QuotaConnMessagesRouting }),
	zRate("quota.overall_messages_routing", false, func(z *Zone) *Rate { return &z.QuotaOverallMessagesRouting }),
	zStr("force_gc_policy", "16000|16MB", "", func(z *Zone) *string { return &z.ForceGCPolicy }),
	{name: "force_shutdown_policy",
		set: func(z *Zone, raw string) error {
			p, err := parseShutdownPolicy(raw)
			z.ForceShutdownPolicy = p
			return err
		},
		get: func(z *Zone) string {
			p := z.ForceShutdownPolicy
			if p.MaxMessageQueue == 0 && p.MaxHeapSize == 0 {
				return ""
			}
			return strconv.Itoa(p.MaxMessageQueue) + "|" + formatSize(p.MaxHeapSize)
		}},
	zStr("mountpoint", "", "", func(z *Zone) *string { return &z.Mountpoint }),
	zBool("use_username_as_clientid", "false", "", func(z *Zone) *bool { return &z.UseUsernameAsClientID }),
	zBool("strict_mode", "", "mqtt.strict_mode", func(z *Zone) *bool { return &z.StrictMode }),
	zStr("response_information", "", "mqtt.response_information", func(z *Zone) *string { return &z.ResponseInformation }),
	zBool("bypass_auth_plugins", "false", "", func(z *Zone) *bool { return &z.BypassAuthPlugins }),
	zBool("exclusive_subscription", "", "mqtt.exclusive_subscription", func(z *Zone) *bool { return &z.ExclusiveSubscription }),
	zAccepted("tcp_keepalive", ""),
}

// zoneNotImplemented are the zone keys whose values the node stores but
// does not act on yet (listed at boot when set).
var zoneNotImplemented = map[string]bool{
	"enable_stats": true, "strict_mode": true, "force_gc_policy": true,
}

// zoneWild are the wildFields of the zone keys: values kept by the loader,
// read by buildZones, written by Dump.
func zoneWild() []wildField {
	ws := make([]wildField, 0, len(zoneKeys))
	for i := range zoneKeys {
		k := &zoneKeys[i]
		w := newWild("zone.<name>."+k.name, false, nil, func(c *Config) []wildVal {
			if k.get == nil {
				return nil
			}
			out := make([]wildVal, 0, len(c.Zones))
			for _, n := range zoneNames(c) {
				out = append(out, wildVal{n, k.get(c.Zones[n])})
			}
			return out
		})
		w.status = k.status
		if zoneNotImplemented[k.name] {
			w.status = notImplemented
		}
		ws = append(ws, w)
	}
	return ws
}

func zoneNames(c *Config) []string {
	names := make([]string, 0, len(c.Zones))
	for n := range c.Zones {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// buildZones makes every zone from the keys set and their fallbacks.
func (l *loader) buildZones(c *Config) {
	names := map[string]bool{"external": true, "internal": true}
	for key := range l.wild {
		if rest, ok := strings.CutPrefix(key, "zone."); ok {
			if n, _, ok := strings.Cut(rest, "."); ok && n != "" {
				if w, _ := matchWild(key); w != nil {
					names[n] = true
				}
			}
		}
	}
	c.Zones = make(map[string]*Zone, len(names))
	for n := range names {
		z := &Zone{Name: n}
		for i := range zoneKeys {
			k := &zoneKeys[i]
			if k.set == nil {
				continue
			}
			key := "zone." + n + "." + k.name
			raw, explicit := "", false
			if e, ok := l.wild[key]; ok {
				raw, explicit = e.value, true
			} else if v, ok := internalZone[k.name]; ok && n == "internal" {
				raw = v
			} else if k.inherit != "" {
				raw = l.v.GetString(k.inherit)
			} else {
				raw = k.def
			}
			if raw == "" && k.def == "" && k.inherit == "" {
				continue // unset, off
			}
			if err := k.set(z, raw); err != nil {
				if explicit {
					l.report(key, err.Error())
				}
			}
		}
		c.Zones[n] = z
	}
}

// parseRate reads "<count>,<period>" ("100,10s"; bytes: "100KB,10s"); "" or
// "0" or off is no limit.
func parseRate(raw string, bytes bool) (Rate, error) {
	if s := strings.ToLower(strings.TrimSpace(raw)); s == "" || s == "0" || s == "off" {
		return Rate{}, nil
	}
	form := "must be <count>,<period> such as 100,10s"
	if bytes {
		form = "must be <size>,<period> such as 100KB,10s"
	}
	n, per, ok := strings.Cut(raw, ",")
	if !ok {
		return Rate{}, errors.New(form)
	}
	var count float64
	if bytes {
		v, err := parseSize(strings.TrimSpace(n))
		if err != nil {
			return Rate{}, errors.New(form)
		}
		count = float64(v)
	} else {
		v, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return Rate{}, errors.New(form)
		}
		count = v
	}
	d, err := parseDuration(strings.TrimSpace(per), false)
	if err != nil || d <= 0 {
		return Rate{}, errors.New(form)
	}
	return Rate{Count: count, Per: d}, nil
}

func formatRate(r Rate, bytes bool) string {
	if r.Zero() {
		return ""
	}
	n := strconv.FormatFloat(r.Count, 'f', -1, 64)
	if bytes {
		n = formatSize(int64(r.Count))
	}
	return n + "," + formatDuration(r.Per)
}

// parseShutdownPolicy reads "<messages>|<size>" ("10000|64MB"); "" is off.
func parseShutdownPolicy(raw string) (ShutdownPolicy, error) {
	if strings.TrimSpace(raw) == "" {
		return ShutdownPolicy{}, nil
	}
	bad := errors.New("must be <message queue length>|<size> such as 10000|64MB")
	a, b, ok := strings.Cut(raw, "|")
	if !ok {
		return ShutdownPolicy{}, bad
	}
	n, err := parseInt(strings.TrimSpace(a), 0, math.MaxInt32)
	if err != nil {
		return ShutdownPolicy{}, bad
	}
	sz, err := parseSize(strings.TrimSpace(b))
	if err != nil {
		return ShutdownPolicy{}, bad
	}
	return ShutdownPolicy{MaxMessageQueue: n, MaxHeapSize: sz}, nil
}

// parsePriorities reads "topic/1=10,topic/2=8" (priorities 1 to 255) or
// none.
func parsePriorities(raw string) (map[string]int, error) {
	if s := strings.TrimSpace(raw); s == "" || strings.EqualFold(s, "none") {
		return nil, nil
	}
	m := map[string]int{}
	for _, item := range strings.Split(raw, ",") {
		t, p, ok := strings.Cut(strings.TrimSpace(item), "=")
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if !ok || strings.TrimSpace(t) == "" || err != nil || n < 1 || n > 255 {
			return nil, errors.New("must be none or topic=priority pairs such as topic/1=10,topic/2=8 (priorities 1 to 255)")
		}
		m[strings.TrimSpace(t)] = n
	}
	return m, nil
}

func formatPriorities(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	ts := make([]string, 0, len(m))
	for t := range m {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	for i, t := range ts {
		ts[i] = t + "=" + strconv.Itoa(m[t])
	}
	return strings.Join(ts, ",")
}

// parseFlapping reads flapping_detect_policy: "<count>, <window>, <ban time>".
func parseFlapping(raw string) (FlappingPolicy, error) {
	bad := errors.New("must be <max count>, <window>, <ban time> such as 30, 1m, 5m")
	parts := strings.Split(raw, ",")
	if len(parts) != 3 {
		return FlappingPolicy{}, bad
	}
	n, err := parseInt(strings.TrimSpace(parts[0]), 1, math.MaxInt32)
	if err != nil {
		return FlappingPolicy{}, bad
	}
	w, err1 := parseDuration(strings.TrimSpace(parts[1]), false)
	b, err2 := parseDuration(strings.TrimSpace(parts[2]), false)
	if err1 != nil || err2 != nil || w <= 0 || b <= 0 {
		return FlappingPolicy{}, bad
	}
	return FlappingPolicy{MaxCount: n, Window: w, BanTime: b}, nil
}
