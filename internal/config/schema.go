package config

import (
	"errors"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"emqxgo/internal/discovery/dns"
	"emqxgo/internal/discovery/etcd"
	"emqxgo/internal/discovery/k8s"
	"emqxgo/internal/discovery/mcast"
	"emqxgo/internal/nodename"
)

// DefaultCookie is the insecure default of node.cookie.
const DefaultCookie = "emqxsecretcookie"

// schema lists every key, in the order values are stored: node.name comes
// first because cluster.dns.app and cluster.k8s.app_name default to its name
// part.
var schema = buildSchema()

// schemaIndex maps a key to its schema entry.
var schemaIndex = indexSchema(schema)

func buildSchema() []field {
	fields := []field{
		{key: "node.name", def: nodename.Default,
			set: func(c *Config, raw, _ string) error {
				n, err := nodename.Parse(raw)
				if err != nil {
					return err
				}
				c.Node.Name = n.String()
				return nil
			},
			get: func(c *Config) string { return c.Node.Name },
		},
		{key: "node.cookie", def: DefaultCookie, secret: true,
			set: func(c *Config, raw, _ string) error {
				if err := nonEmpty(raw); err != nil {
					return err
				}
				c.Node.Cookie, c.Node.CookieIsDefault = raw, raw == DefaultCookie
				return nil
			},
			get: func(c *Config) string { return c.Node.Cookie },
		},
		pathField("node.data_dir", "data", true, func(c *Config) *string { return &c.Node.DataDir }),

		{key: "allow_anonymous", def: "true",
			set: func(c *Config, raw, _ string) error {
				v, err := parseAllowAnonymous(raw)
				c.Access.AllowAnonymous = v
				return err
			},
			get: func(c *Config) string { return c.Access.AllowAnonymous },
		},
		enumField("acl_nomatch", "allow", []string{"allow", "deny"}, func(c *Config) *string { return &c.Access.ACLNomatch }),
		{key: "acl_file",
			set: func(c *Config, raw, home string) error {
				if raw == "" { // acl.conf beside emqx.conf
					c.Access.ACLFile = filepath.Join(c.EtcDir, "acl.conf")
					return nil
				}
				c.Access.ACLFile = resolvePath(home, raw)
				return nil
			},
			get: func(c *Config) string { return c.Access.ACLFile },
		},
		boolField("enable_acl_cache", "on", func(c *Config) *bool { return &c.Access.EnableACLCache }),
		intField("acl_cache_max_size", "32", 1, math.MaxInt, func(c *Config) *int { return &c.Access.ACLCacheMaxSize }),
		durField("acl_cache_ttl", "1m", time.Millisecond, false, func(c *Config) *time.Duration { return &c.Access.ACLCacheTTL }),
		enumField("acl_deny_action", "ignore", []string{"ignore", "disconnect"}, func(c *Config) *string { return &c.Access.ACLDenyAction }),
		orderField("auth_order", func(c *Config) *[]string { return &c.Access.AuthOrder }),
		orderField("acl_order", func(c *Config) *[]string { return &c.Access.ACLOrder }),

		sizeField("mqtt.max_packet_size", "1MB", 64, 256*mb, func(c *Config) *int64 { return &c.MQTT.MaxPacketSize }),
		intField("mqtt.max_clientid_len", "65535", 23, 65535, func(c *Config) *int { return &c.MQTT.MaxClientIDLen }),
		intField("mqtt.max_topic_alias", "65535", 0, 65535, func(c *Config) *int { return &c.MQTT.MaxTopicAlias }),
		intField("mqtt.max_topic_levels", "128", 0, 65535, func(c *Config) *int { return &c.MQTT.MaxTopicLevels }),
		intField("mqtt.max_qos_allowed", "2", 0, 2, func(c *Config) *int { return &c.MQTT.MaxQoSAllowed }),
		boolField("mqtt.retain_available", "true", func(c *Config) *bool { return &c.MQTT.RetainAvailable }),
		boolField("mqtt.wildcard_subscription", "true", func(c *Config) *bool { return &c.MQTT.WildcardSubscription }),
		boolField("mqtt.shared_subscription", "true", func(c *Config) *bool { return &c.MQTT.SharedSubscription }),
		boolField("mqtt.ignore_loop_deliver", "false", func(c *Config) *bool { return &c.MQTT.IgnoreLoopDeliver }),
		boolField("mqtt.strict_mode", "false", func(c *Config) *bool { return &c.MQTT.StrictMode }),
		strField("mqtt.response_information", "", func(c *Config) *string { return &c.MQTT.ResponseInformation }, nil),
		boolField("mqtt.exclusive_subscription", "false", func(c *Config) *bool { return &c.MQTT.ExclusiveSubscription }),
		{key: "flapping_detect_policy", def: "30, 1m, 5m",
			set: func(c *Config, raw, _ string) error {
				p, err := parseFlapping(raw)
				c.Flapping = p
				return err
			},
			get: func(c *Config) string {
				p := c.Flapping
				return strconv.Itoa(p.MaxCount) + ", " + formatDuration(p.Window) + ", " + formatDuration(p.BanTime)
			},
		},

		enumField("broker.shared_subscription_strategy", "random",
			[]string{"random", "round_robin", "sticky", "hash_clientid", "hash_topic", "local"},
			func(c *Config) *string { return &c.Broker.SharedSubscriptionStrategy }),
		durField("broker.sys_interval", "1m", time.Millisecond, true, func(c *Config) *time.Duration { return &c.Broker.SysInterval }),
		durField("broker.sys_heartbeat", "30s", time.Millisecond, true, func(c *Config) *time.Duration { return &c.Broker.SysHeartbeat }),
		intField("module.presence.qos", "1", 0, 2, func(c *Config) *int { return &c.Broker.PresenceQoS }),

		enumField("retainer.storage_type", "ram", []string{"ram", "disc", "disc_only"}, func(c *Config) *string { return &c.Retainer.StorageType }),
		intField("retainer.max_retained_messages", "0", 0, math.MaxInt32, func(c *Config) *int { return &c.Retainer.MaxRetainedMessages }),
		sizeField("retainer.max_payload_size", "1MB", 0, 256*mb, func(c *Config) *int64 { return &c.Retainer.MaxPayloadSize }),
		durField("retainer.expiry_interval", "0", time.Millisecond, true, func(c *Config) *time.Duration { return &c.Retainer.ExpiryInterval }),
		boolField("retainer.stop_publish_clear_msg", "false", func(c *Config) *bool { return &c.Retainer.StopPublishClearMsg }),

		enumField("log.to", "file", []string{"file", "console", "both"}, func(c *Config) *string { return &c.Log.To }),
		enumField("log.level", "warning", []string{"debug", "info", "notice", "warning", "error", "critical"},
			func(c *Config) *string { return &c.Log.Level }),
		pathField("log.dir", "log", true, func(c *Config) *string { return &c.Log.Dir }),
		strField("log.file", "emqx.log", func(c *Config) *string { return &c.Log.File }, checkLogFile),
		sizeField("log.rotation.size", "10MB", kb, maxSize, func(c *Config) *int64 { return &c.Log.RotationSize }),
		intField("log.rotation.count", "5", 1, 1000, func(c *Config) *int { return &c.Log.RotationCount }),

		strField("cluster.name", "emqxcl", func(c *Config) *string { return &c.Cluster.Name }, checkClusterName),
		enumField("cluster.discovery", "manual", []string{"manual", "static", "dns", "etcd", "k8s", "mcast"},
			func(c *Config) *string { return &c.Cluster.Discovery }),
		boolField("cluster.autoheal", "on", func(c *Config) *bool { return &c.Cluster.Autoheal }),
		durField("cluster.autoclean", "24h", time.Millisecond, true, func(c *Config) *time.Duration { return &c.Cluster.Autoclean }),

		listField("cluster.static.seeds", "", func(c *Config) *[]string { return &c.Cluster.Static.Seeds }, normalSeed),

		strField("cluster.dns.name", "", func(c *Config) *string { return &c.Cluster.DNS.Name }, nil),
		appNameField("cluster.dns.app", func(c *Config) *string { return &c.Cluster.DNS.App }),
		lowerField("cluster.dns.type", dns.DefaultType, func(c *Config) *string { return &c.Cluster.DNS.Type }),
		{key: "cluster.dns.server",
			set: func(c *Config, raw, _ string) error {
				// Written as ip:port when valid; dns.Config.CheckKeys reports it when not.
				c.Cluster.DNS.Server = raw
				if v, err := dns.ParseServer(raw); err == nil {
					c.Cluster.DNS.Server = v
				}
				return nil
			},
			get: func(c *Config) string { return c.Cluster.DNS.Server },
		},

		listField("cluster.etcd.server", "", func(c *Config) *[]string { return &c.Cluster.Etcd.Servers }, asIs),
		strField("cluster.etcd.prefix", etcd.DefaultPrefix, func(c *Config) *string { return &c.Cluster.Etcd.Prefix }, nil),
		durField("cluster.etcd.node_ttl", formatDuration(etcd.DefaultNodeTTL), etcd.MinNodeTTL, false, func(c *Config) *time.Duration { return &c.Cluster.Etcd.NodeTTL }),
		pathField("cluster.etcd.ssl.keyfile", "", false, func(c *Config) *string { return &c.Cluster.Etcd.KeyFile }),
		pathField("cluster.etcd.ssl.certfile", "", false, func(c *Config) *string { return &c.Cluster.Etcd.CertFile }),
		pathField("cluster.etcd.ssl.cacertfile", "", false, func(c *Config) *string { return &c.Cluster.Etcd.CACertFile }),

		strField("cluster.k8s.apiserver", "", func(c *Config) *string { return &c.Cluster.K8s.APIServer }, nil),
		strField("cluster.k8s.service_name", "", func(c *Config) *string { return &c.Cluster.K8s.ServiceName }, nil),
		lowerField("cluster.k8s.address_type", k8s.DefaultAddressType, func(c *Config) *string { return &c.Cluster.K8s.AddressType }),
		appNameField("cluster.k8s.app_name", func(c *Config) *string { return &c.Cluster.K8s.AppName }),
		strField("cluster.k8s.namespace", k8s.DefaultNamespace, func(c *Config) *string { return &c.Cluster.K8s.Namespace }, nil),
		strField("cluster.k8s.suffix", k8s.DefaultSuffix, func(c *Config) *string { return &c.Cluster.K8s.Suffix }, nil),

		strField("cluster.mcast.addr", mcast.DefaultAddr, func(c *Config) *string { return &c.Cluster.Mcast.Addr }, nil),
		{key: "cluster.mcast.ports", def: formatPorts(mcast.Defaults().Ports),
			set: func(c *Config, raw, _ string) error {
				ports, err := parsePorts(raw)
				c.Cluster.Mcast.Ports = ports
				return err
			},
			get: func(c *Config) string { return formatPorts(c.Cluster.Mcast.Ports) },
		},
		strField("cluster.mcast.iface", mcast.DefaultIface, func(c *Config) *string { return &c.Cluster.Mcast.Iface }, nil),
		intField("cluster.mcast.ttl", strconv.Itoa(mcast.DefaultTTL), mcast.MinTTL, mcast.MaxTTL, func(c *Config) *int { return &c.Cluster.Mcast.TTL }),
		boolField("cluster.mcast.loop", formatBool(mcast.DefaultLoop), func(c *Config) *bool { return &c.Cluster.Mcast.Loop }),

		enumField("rpc.port_discovery", "stateless", []string{"stateless", "manual"}, func(c *Config) *string { return &c.RPC.PortDiscovery }),
		intField("rpc.tcp_server_port", "5369", 1, 65535, func(c *Config) *int { return &c.RPC.TCPServerPort }),
		enumField("rpc.driver", "tcp", []string{"tcp", "ssl"}, func(c *Config) *string { return &c.RPC.Driver }),
		pathField("rpc.certfile", "", false, func(c *Config) *string { return &c.RPC.CertFile }),
		pathField("rpc.keyfile", "", false, func(c *Config) *string { return &c.RPC.KeyFile }),
		pathField("rpc.cacertfile", "", false, func(c *Config) *string { return &c.RPC.CACertFile }),
	}
	return append(append(append(append(fields, pluginFields()...), managementFields()...), dashboardFields()...), alarmFields()...)
}

func indexSchema(fields []field) map[string]*field {
	m := make(map[string]*field, len(fields))
	for i := range fields {
		m[fields[i].key] = &fields[i]
	}
	return m
}

// lookup returns the schema entry of key, nil if unknown.
func lookup(key string) *field { return schemaIndex[key] }

// errNoNodeName is returned by the set of a key derived from node.name when
// node.name failed: the key is left unset, and unreported.
var errNoNodeName = errors.New("node.name has no valid value to derive from")

// appNameField defaults to the name part of node.name (already stored); its
// owner checks it.
func appNameField(key string, p func(*Config) *string) field {
	return field{key: key,
		set: func(c *Config, raw, _ string) error {
			if raw == "" {
				if c.Node.Name == "" {
					return errNoNodeName
				}
				raw, _, _ = strings.Cut(c.Node.Name, "@")
			}
			*p(c) = raw
			return nil
		},
		get: func(c *Config) string { return *p(c) },
	}
}

// parseAllowAnonymous reads allow_anonymous: true, false (or on, off) or
// false_quick_deny.
func parseAllowAnonymous(raw string) (string, error) {
	switch v := strings.ToLower(raw); v {
	case "false_quick_deny":
		return v, nil
	default:
		b, err := parseBool(v)
		if err != nil {
			return "", errors.New("must be true, false or false_quick_deny (on and off are read as true and false)")
		}
		return strconv.FormatBool(b), nil
	}
}

// orderField is auth_order or acl_order: names split at commas and blanks,
// "none" (the default) dropped wherever it is, as EMQX reads them.
func orderField(key string, p func(*Config) *[]string) field {
	return field{key: key, def: "none",
		set: func(c *Config, raw, _ string) error {
			var names []string
			for _, n := range parseList(raw) {
				if n != "none" {
					names = append(names, n)
				}
			}
			*p(c) = names
			return nil
		},
		get: func(c *Config) string {
			if len(*p(c)) == 0 {
				return "none"
			}
			return strings.Join(*p(c), ",")
		},
	}
}

// asIs keeps a list item as it is; the key's owner checks it.
func asIs(s string) (string, error) { return s, nil }

// normalSeed writes a valid node name the way nodename does ("[::1]"
// without brackets); static.Config.CheckKeys reports an invalid one.
func normalSeed(s string) (string, error) {
	if n, err := nodename.Parse(s); err == nil {
		return n.String(), nil
	}
	return s, nil
}

// parsePorts reads a list of port numbers (1 to 65535); an empty list is
// mcast.Config's to report.
func parsePorts(raw string) ([]int, error) {
	items := parseList(raw)
	var bad []string
	ports := make([]int, 0, len(items))
	for _, it := range items {
		n, err := parsePort(it)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		ports = append(ports, n)
	}
	if len(bad) > 0 {
		return nil, errors.New(strings.Join(bad, "; "))
	}
	return ports, nil
}

func formatPorts(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}

func checkMQTTPath(s string) error {
	if !strings.HasPrefix(s, "/") || strings.ContainsAny(s, " \t?#") {
		return errors.New("must be a URL path starting with / (e.g. /mqtt)")
	}
	return nil
}

func checkLogFile(s string) error {
	if s == "" || s == "." || s == ".." || strings.ContainsAny(s, `/\`) {
		return errors.New("must be a plain file name without '/' (e.g. emqx.log); set the folder with log.dir")
	}
	return nil
}

func checkClusterName(s string) error {
	if !clusterRe.MatchString(s) {
		return errors.New("must be letters, digits, '_', '.' or '-' (e.g. emqxcl)")
	}
	if len(s) > 255 { // what a peer link handshake carries
		return errors.New("must be at most 255 characters")
	}
	return nil
}
