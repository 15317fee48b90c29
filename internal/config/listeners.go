package config

import (
	"errors"
	"math"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Listeners: listener.<proto>.<name> = address, and its keys. A listener
// exists when its address key is set (to something other than off);
// listener.tcp.external is 0.0.0.0:1883 unless set. Keys of a listener
// without an address are accepted and have no effect, as in EMQX.

// listenerProtos in the order listeners are listed.
var listenerProtos = []string{"tcp", "ssl", "ws", "wss"}

// listenerKey is one key of a listener, after listener.<proto>.<name>.
type listenerKey struct {
	name   string
	protos string // the protocols that have it: "tcp ssl ws wss"
	status keyStatus
	def    func(l *Listener) string
	set    func(l *Listener, raw, home string) error
	get    func(l *Listener) string
}

const allProtos = "tcp ssl ws wss"

func lkConst(v string) func(*Listener) string { return func(*Listener) string { return v } }

// lkAccepted is a listener key the node accepts without acting on it.
func lkAccepted(name, protos string) listenerKey {
	return listenerKey{name: name, protos: protos, status: notImplemented}
}

func lkPath(name string, p func(*Listener) *string) listenerKey {
	return listenerKey{name: name, protos: "ssl wss",
		set: func(l *Listener, raw, home string) error {
			*p(l) = ""
			if raw != "" {
				*p(l) = resolvePath(home, raw)
			}
			return nil
		},
		get: func(l *Listener) string { return *p(l) }}
}

func lkEnumOpt(name, protos string, allowed []string, p func(*Listener) *string) listenerKey {
	return listenerKey{name: name, protos: protos,
		set: func(l *Listener, raw, _ string) error {
			if raw == "" {
				*p(l) = ""
				return nil
			}
			v, err := parseEnum(raw, allowed)
			*p(l) = v
			return err
		},
		get: func(l *Listener) string { return *p(l) }}
}

var listenerKeys = []listenerKey{
	{name: "zone", protos: allProtos,
		def: func(l *Listener) string {
			if l.Name == "internal" {
				return "internal"
			}
			return "external"
		},
		set: func(l *Listener, raw, _ string) error {
			if raw == "" || strings.Contains(raw, ".") {
				return errors.New("must be a zone name (external, internal or one of zone.<name>.*)")
			}
			l.Zone = raw
			return nil
		},
		get: func(l *Listener) string { return l.Zone }},
	{name: "max_connections", protos: allProtos, def: lkConst("1024000"),
		set: func(l *Listener, raw, _ string) error {
			if strings.EqualFold(raw, "infinity") {
				l.MaxConnections = 0
				return nil
			}
			v, err := parseInt(raw, 1, math.MaxInt32)
			l.MaxConnections = v
			return err
		},
		get: func(l *Listener) string {
			if l.MaxConnections == 0 {
				return "infinity"
			}
			return strconv.Itoa(l.MaxConnections)
		}},
	{name: "max_conn_rate", protos: allProtos, def: lkConst("0"),
		set: func(l *Listener, raw, _ string) error {
			v, err := parseInt(raw, 0, math.MaxInt32)
			l.MaxConnRate = v
			return err
		},
		get: func(l *Listener) string { return strconv.Itoa(l.MaxConnRate) }},
	{name: "proxy_protocol", protos: allProtos, def: lkConst("off"),
		set: func(l *Listener, raw, _ string) error {
			v, err := parseBool(raw)
			l.ProxyProtocol = v
			return err
		},
		get: func(l *Listener) string { return formatBool(l.ProxyProtocol) }},
	{name: "proxy_protocol_timeout", protos: allProtos, def: lkConst("3s"),
		set: func(l *Listener, raw, _ string) error {
			v, err := parseDuration(raw, false)
			if err == nil && v <= 0 {
				err = errors.New("must be greater than 0")
			}
			l.ProxyProtocolTimeout = v
			return err
		},
		get: func(l *Listener) string { return formatDuration(l.ProxyProtocolTimeout) }},
	{name: "mqtt_path", protos: "ws wss", def: lkConst("/mqtt"),
		set: func(l *Listener, raw, _ string) error {
			if err := checkMQTTPath(raw); err != nil {
				return err
			}
			l.MQTTPath = raw
			return nil
		},
		get: func(l *Listener) string { return l.MQTTPath }},
	lkPath("keyfile", func(l *Listener) *string { return &l.KeyFile }),
	lkPath("certfile", func(l *Listener) *string { return &l.CertFile }),
	lkPath("cacertfile", func(l *Listener) *string { return &l.CACertFile }),
	{name: "verify", protos: "ssl wss", def: lkConst("verify_none"),
		set: func(l *Listener, raw, _ string) error {
			v, err := parseEnum(raw, []string{"verify_peer", "verify_none"})
			l.VerifyPeer = v == "verify_peer"
			return err
		},
		get: func(l *Listener) string {
			if l.VerifyPeer {
				return "verify_peer"
			}
			return "verify_none"
		}},
	{name: "fail_if_no_peer_cert", protos: "ssl wss", def: lkConst("false"),
		set: func(l *Listener, raw, _ string) error {
			v, err := parseBool(raw)
			l.FailIfNoPeerCert = v
			return err
		},
		get: func(l *Listener) string { return strconv.FormatBool(l.FailIfNoPeerCert) }},
	lkEnumOpt("peer_cert_as_username", "ssl wss", peerCertAs, func(l *Listener) *string { return &l.PeerCertAsUsername }),
	lkEnumOpt("peer_cert_as_clientid", "ssl wss", peerCertAs, func(l *Listener) *string { return &l.PeerCertAsClientID }),

	lkAccepted("acceptors", allProtos),
	lkAccepted("active_n", allProtos),
	lkAccepted("rate_limit", allProtos),
	lkAccepted("backlog", allProtos),
	lkAccepted("send_timeout", allProtos),
	lkAccepted("send_timeout_close", allProtos),
	lkAccepted("recbuf", allProtos),
	lkAccepted("sndbuf", allProtos),
	lkAccepted("buffer", allProtos),
	lkAccepted("high_watermark", "tcp ssl"),
	lkAccepted("tune_buffer", allProtos),
	lkAccepted("nodelay", allProtos),
	lkAccepted("reuseaddr", "tcp ssl"),
	lkAccepted("peer_cert_as_username", "tcp ws"),
	lkAccepted("peer_cert_as_clientid", "tcp ws"),
	lkAccepted("tls_versions", "ssl wss"),
	lkAccepted("ciphers", "ssl wss"),
	lkAccepted("psk_ciphers", "ssl wss"),
	lkAccepted("handshake_timeout", "ssl"),
	lkAccepted("depth", "ssl wss"),
	lkAccepted("key_password", "ssl wss"),
	lkAccepted("dhfile", "ssl wss"),
	lkAccepted("partial_chain", "ssl"),
	lkAccepted("verify_peer_ext_key_usage", "ssl"),
	lkAccepted("secure_renegotiate", "ssl wss"),
	lkAccepted("reuse_sessions", "ssl wss"),
	lkAccepted("honor_cipher_order", "ssl wss"),
	lkAccepted("log_level", "ssl wss"),
	lkAccepted("gc_after_handshake", "ssl"),
	lkAccepted("hibernate_after", "ssl"),
	lkAccepted("enable_ocsp_stapling", "ssl"),
	lkAccepted("ocsp_responder_url", "ssl"),
	lkAccepted("ocsp_issuer_pem", "ssl"),
	lkAccepted("ocsp_refresh_interval", "ssl"),
	lkAccepted("ocsp_refresh_http_timeout", "ssl"),
	lkAccepted("enable_crl_check", "ssl"),
	lkAccepted("crl_cache_urls", "ssl"),
	lkAccepted("fail_if_no_subprotocol", "ws wss"),
	lkAccepted("supported_subprotocols", "ws wss"),
	lkAccepted("proxy_address_header", "ws wss"),
	lkAccepted("proxy_port_header", "ws wss"),
	lkAccepted("compress", "ws wss"),
	lkAccepted("deflate_opts.level", "ws wss"),
	lkAccepted("deflate_opts.mem_level", "ws wss"),
	lkAccepted("deflate_opts.strategy", "ws wss"),
	lkAccepted("deflate_opts.server_context_takeover", "ws wss"),
	lkAccepted("deflate_opts.client_context_takeover", "ws wss"),
	lkAccepted("deflate_opts.server_max_window_bits", "ws wss"),
	lkAccepted("deflate_opts.client_max_window_bits", "ws wss"),
	lkAccepted("idle_timeout", "ws wss"),
	lkAccepted("max_frame_size", "ws wss"),
	lkAccepted("mqtt_piggyback", "ws wss"),
	lkAccepted("check_origin_enable", "ws wss"),
	lkAccepted("allow_origin_absence", "ws wss"),
	lkAccepted("check_origins", "ws wss"),
}

func hasProto(protos, p string) bool {
	for _, x := range strings.Fields(protos) {
		if x == p {
			return true
		}
	}
	return false
}

// listenerWild are the wildFields of the listener keys (kept by the loader,
// read by buildListeners, written by Dump).
func listenerWild() []wildField {
	var ws []wildField
	for _, proto := range listenerProtos {
		proto := proto
		ws = append(ws, newWild("listener."+proto+".<name>", false, nil, func(c *Config) []wildVal {
			var out []wildVal
			for _, l := range c.Listeners.List {
				if l.Proto == proto {
					out = append(out, wildVal{l.Name, l.Addr})
				}
			}
			for _, k := range c.Listeners.Off {
				if n, ok := strings.CutPrefix(k, "listener."+proto+"."); ok {
					out = append(out, wildVal{n, "off"})
				}
			}
			if c.Listeners.Find(proto, "external") == nil && !slices.Contains(c.Listeners.Off, "listener."+proto+".external") {
				out = append(out, wildVal{"external", "off"})
			}
			return out
		}))
		ws = append(ws, newWild("listener."+proto+".<name>.access.<id>", false, nil, func(c *Config) []wildVal {
			var out []wildVal
			for _, l := range c.Listeners.List {
				if l.Proto == proto {
					for i, r := range l.Access {
						out = append(out, wildVal{l.Name + "." + strconv.Itoa(i+1), formatAccess(r)})
					}
				}
			}
			return out
		}))
		for i := range listenerKeys {
			k := &listenerKeys[i]
			if !hasProto(k.protos, proto) {
				continue
			}
			w := newWild("listener."+proto+".<name>."+k.name, false, nil, func(c *Config) []wildVal {
				if k.get == nil {
					return nil
				}
				var out []wildVal
				for j := range c.Listeners.List {
					l := &c.Listeners.List[j]
					if l.Proto == proto {
						out = append(out, wildVal{l.Name, k.get(l)})
					}
				}
				return out
			})
			w.status = k.status
			ws = append(ws, w)
		}
	}
	return ws
}

// buildListeners makes every listener whose address key is set.
func (l *loader) buildListeners(c *Config) {
	c.Listeners.List, c.Listeners.Off = nil, nil
	for _, proto := range listenerProtos {
		names := map[string]bool{}
		if proto == "tcp" {
			names["external"] = true
		}
		for key := range l.wild {
			if rest, ok := strings.CutPrefix(key, "listener."+proto+"."); ok {
				if n, _, _ := strings.Cut(rest, "."); n != "" {
					if w, _ := matchWild(key); w != nil {
						names[n] = true
					}
				}
			}
		}
		sorted := make([]string, 0, len(names))
		for n := range names {
			sorted = append(sorted, n)
		}
		sort.Slice(sorted, func(i, j int) bool {
			if (sorted[i] == "external") != (sorted[j] == "external") {
				return sorted[i] == "external"
			}
			return sorted[i] < sorted[j]
		})
		for _, n := range sorted {
			key := "listener." + proto + "." + n
			raw := "off"
			if proto == "tcp" && n == "external" {
				raw = "0.0.0.0:1883"
			}
			if e, ok := l.wild[key]; ok {
				raw = e.value
			}
			addr, err := parseListener(raw)
			if err != nil {
				l.report(key, err.Error())
				continue
			}
			if addr == "" {
				if _, set := l.wild[key]; set {
					c.Listeners.Off = append(c.Listeners.Off, key)
				}
				// Off: its keys are still checked, so a typo in a value
				// is found before the listener is turned on.
				var scratch Listener
				scratch.Proto, scratch.Name = proto, n
				for i := range listenerKeys {
					k := &listenerKeys[i]
					if e, ok := l.wild[key+"."+k.name]; ok && k.set != nil && hasProto(k.protos, proto) {
						if err := k.set(&scratch, e.value, l.home); err != nil {
							l.report(key+"."+k.name, err.Error())
						}
					}
				}
				continue
			}
			ln := Listener{Proto: proto, Name: n, Addr: addr}
			for i := range listenerKeys {
				k := &listenerKeys[i]
				if k.set == nil || !hasProto(k.protos, proto) {
					continue
				}
				kk := key + "." + k.name
				v, explicit := "", false
				if e, ok := l.wild[kk]; ok {
					v, explicit = e.value, true
				} else if k.def != nil {
					v = k.def(&ln)
				}
				if err := k.set(&ln, v, l.home); err != nil && explicit {
					l.report(kk, err.Error())
					l.failed[kk] = true
				}
			}
			l.buildAccess(&ln, key)
			if ln.Zone != "external" && ln.Zone != "internal" && c.Zones[ln.Zone] == nil && !l.failed[key+".zone"] {
				l.report(key+".zone", "zone "+ln.Zone+" has no zone."+ln.Zone+".* key; set one or use external or internal")
			}
			c.Listeners.List = append(c.Listeners.List, ln)
		}
	}
}

// buildAccess reads <key>.access.<n> in the order of n.
func (l *loader) buildAccess(ln *Listener, key string) {
	pre := key + ".access."
	var vals []wildVal
	for k, e := range l.wild {
		if id, ok := strings.CutPrefix(k, pre); ok && !strings.Contains(id, ".") {
			vals = append(vals, wildVal{id, e.value})
		}
	}
	sortWild(vals)
	for _, v := range vals {
		r, err := parseAccess(v.value)
		if err != nil {
			l.report(pre+v.free, err.Error())
			continue
		}
		ln.Access = append(ln.Access, r)
	}
}

// parseAccess reads "allow all", "deny 10.0.0.0/8", "allow 192.168.1.7".
func parseAccess(raw string) (AccessRule, error) {
	bad := errors.New("must be allow or deny, then all or an address or CIDR (allow all, deny 10.0.0.0/8)")
	f := strings.Fields(raw)
	if len(f) != 2 {
		return AccessRule{}, bad
	}
	var r AccessRule
	switch strings.ToLower(f[0]) {
	case "allow":
		r.Allow = true
	case "deny":
	default:
		return AccessRule{}, bad
	}
	if strings.EqualFold(f[1], "all") {
		return r, nil
	}
	if _, n, err := net.ParseCIDR(f[1]); err == nil {
		r.Net = n
		return r, nil
	}
	ip := net.ParseIP(f[1])
	if ip == nil {
		return AccessRule{}, bad
	}
	bits := 128
	if ip4 := ip.To4(); ip4 != nil {
		ip, bits = ip4, 32
	}
	r.Net = &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}
	return r, nil
}

func formatAccess(r AccessRule) string {
	w := "deny "
	if r.Allow {
		w = "allow "
	}
	if r.Net == nil {
		return w + "all"
	}
	return w + r.Net.String()
}

// Allows reports whether the rules let ip connect: the first rule whose
// network holds ip decides; none: allowed.
func (ln *Listener) Allows(ip net.IP) bool {
	for _, r := range ln.Access {
		if r.Net == nil || r.Net.Contains(ip) {
			return r.Allow
		}
	}
	return true
}
