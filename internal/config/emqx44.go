package config

import (
	"sort"
	"strings"
)

// The rest of EMQX 4.4's keys (its emqx.schema and the schemas of the
// plugins whose files the node reads): accepted so that an EMQX 4.4
// configuration loads unchanged, and listed once at boot in one warning
// line when set. Keys the node implements are in the schema (schema.go,
// zones.go, listeners.go, plugins.go); these lists skip them.

// vmKeys concern only the Erlang VM, its distribution, its logger or the
// gen_rpc library: they have no effect here.
var vmKeys = []string{
	"broker.enable_session_registry", "broker.perf.route_lock_type", "broker.perf.trie_compaction",
	"broker.route_batch_clean", "broker.session_locking_strategy", "cluster.mcast.buffer",
	"cluster.mcast.recbuf", "cluster.mcast.sndbuf", "cluster.proto_dist", "log.burst_limit",
	"log.drop_mode_qlen", "log.error_logger", "log.flush_qlen", "log.max_depth", "log.overload_kill",
	"log.overload_kill_mem_size", "log.overload_kill_qlen", "log.overload_kill_restart_after",
	"log.supervisor_reports", "log.sync_mode_qlen", "node.async_threads", "node.backtrace_depth",
	"node.crash_dump", "node.dist_buffer_size", "node.dist_listen_max", "node.dist_listen_min",
	"node.dist_net_ticktime", "node.dist_use_interface", "node.fullsweep_after", "node.global_gc_interval",
	"node.heartbeat", "node.max_ets_tables", "node.max_ports", "node.process_limit", "node.ssl_dist_optfile",
	"plugins.expand_plugins_dir", "rpc.async_batch_size", "rpc.authentication_timeout", "rpc.cacertfile",
	"rpc.call_receive_timeout", "rpc.certfile", "rpc.connect_timeout", "rpc.default_client_driver",
	"rpc.driver", "rpc.enable_ssl", "rpc.insecure_fallback", "rpc.keyfile", "rpc.mode", "rpc.port_discovery",
	"rpc.send_timeout", "rpc.socket_buffer", "rpc.socket_keepalive_count", "rpc.socket_keepalive_idle",
	"rpc.socket_keepalive_interval", "rpc.socket_recbuf", "rpc.socket_sndbuf", "rpc.tcp_client_num",
	"rpc.tcp_server_ip", "rpc.tcp_server_port", "sysmon.busy_dist_port", "sysmon.busy_port",
	"sysmon.large_heap", "sysmon.long_gc", "sysmon.long_schedule", "vm_mon.check_interval",
	"vm_mon.process_high_watermark", "vm_mon.process_low_watermark",
}

// notImplementedKeys are features the node does not have (yet).
var notImplementedKeys = []string{
	"acl_cache_max_size", "acl_cache_ttl", "acl_deny_action", "acl_file", "acl_nomatch", "acl_order",
	"alias_enrichment_module", "allow_anonymous",
	"auth_order", "broker.<name>.shared_subscription_strategy", "broker.client_disconnect_discarded",
	"broker.client_disconnect_takeovered", "broker.shared_dispatch_ack_enabled",
	"broker.shared_subscription_strategy", "broker.sys_heartbeat", "broker.sys_interval", "cluster.autoclean",
	"cluster.autoheal", "cluster.discovery", "cluster.dns.app", "cluster.dns.name", "cluster.dns.type",
	"cluster.etcd.node_ttl", "cluster.etcd.prefix", "cluster.etcd.server", "cluster.etcd.ssl.cacertfile",
	"cluster.etcd.ssl.certfile", "cluster.etcd.ssl.keyfile", "cluster.k8s.address_type",
	"cluster.k8s.apiserver", "cluster.k8s.app_name", "cluster.k8s.namespace", "cluster.k8s.service_name",
	"cluster.k8s.suffix", "cluster.mcast.addr", "cluster.mcast.iface", "cluster.mcast.loop",
	"cluster.mcast.ports", "cluster.mcast.ttl", "cluster.name", "cluster.static.seeds",
	"crl_cache_http_timeout", "crl_cache_refresh_interval", "dashboard.listener.http.acceptors",
	"dashboard.listener.http.access.<id>", "dashboard.listener.http.inet6",
	"dashboard.listener.http.ipv6_v6only",
	"dashboard.listener.https.acceptors",
	"dashboard.listener.https.ciphers", "dashboard.listener.https.dhfile",
	"dashboard.listener.https.honor_cipher_order",
	"dashboard.listener.https.inet6", "dashboard.listener.https.ipv6_v6only",
	"dashboard.listener.https.key_password",
	"dashboard.listener.https.max_clients", "dashboard.listener.https.reuse_sessions",
	"dashboard.listener.https.secure_renegotiate", "dashboard.listener.https.tls_versions",
	"enable_acl_cache", "flapping_detect_policy", "log.<name>.file",
	"log.chars_limit", "log.dir", "log.file", "log.formatter", "log.formatter.text.date.format", "log.level",
	"log.primary_log_level", "log.rotation", "log.rotation.count", "log.rotation.size", "log.single_line",
	"log.size", "log.to", "management.application.default_secret", "management.bootstrap_apps_file",
	"management.listener.http.acceptors", "management.listener.http.backlog", "management.listener.http.buffer",
	"management.listener.http.inet6", "management.listener.http.ipv6_v6only",
	"management.listener.http.nodelay",
	"management.listener.http.proxy_header", "management.listener.http.recbuf",
	"management.listener.http.send_timeout", "management.listener.http.send_timeout_close",
	"management.listener.http.sndbuf", "management.listener.http.tune_buffer", "management.listener.https.acceptors", "management.listener.https.backlog",
	"management.listener.https.buffer", "management.listener.https.ciphers",
	"management.listener.https.inet6",
	"management.listener.https.ipv6_v6only", "management.listener.https.key_password",
	"management.listener.https.max_clients",
	"management.listener.https.nodelay", "management.listener.https.proxy_header",
	"management.listener.https.recbuf", "management.listener.https.send_timeout",
	"management.listener.https.send_timeout_close", "management.listener.https.sndbuf",
	"management.listener.https.tls_versions", "management.listener.https.tune_buffer",
	"module.rewrite.pub.rule.<id>", "module.rewrite.rule.<id>", "module.rewrite.sub.rule.<id>",
	"module.slow_subs.expire_interval", "module.slow_subs.notice_batch_size",
	"module.slow_subs.notice_interval", "module.slow_subs.notice_qos", "module.slow_subs.stats_type",
	"module.slow_subs.threshold", "module.slow_subs.top_k_num", "module.subscription.<id>.nl",
	"module.subscription.<id>.qos", "module.subscription.<id>.rap", "module.subscription.<id>.rh",
	"module.subscription.<id>.topic", "modules.loaded_file", "mqtt.exclusive_subscription",
	"mqtt.ignore_loop_deliver", "mqtt.max_clientid_len", "mqtt.max_packet_size", "mqtt.max_qos_allowed",
	"mqtt.max_topic_alias", "mqtt.max_topic_levels", "mqtt.response_information", "mqtt.retain_available",
	"mqtt.shared_subscription", "mqtt.strict_mode", "mqtt.wildcard_subscription", "node.cookie",
	"node.data_dir", "node.name", "os_mon.cpu_check_interval", "os_mon.cpu_high_watermark",
	"os_mon.cpu_low_watermark", "os_mon.mem_check_interval", "os_mon.memsup_improved_system_memory_data",
	"os_mon.procmem_high_watermark", "os_mon.sysmem_high_watermark", "plugins.etc_dir", "plugins.loaded_file",
	"prometheus.collector.<name>", "prometheus.interval", "prometheus.push.gateway.server",
	"retainer.expiry_interval", "retainer.max_payload_size", "retainer.max_retained_messages",
	"retainer.stop_publish_clear_msg", "retainer.storage_type", "special_auth_module", "telemetry.enabled",
	"telemetry.report_interval", "telemetry.url",
}

// fixedNotImplemented are schema keys (their values checked and kept) the
// node does not act on yet.
var fixedNotImplemented = map[string]bool{
	"mqtt.strict_mode": true,
}

func acceptedWild() []wildField {
	var ws []wildField
	add := func(keys []string, st keyStatus) {
		for _, k := range keys {
			if lookup(k) != nil {
				continue // implemented
			}
			w := newWild(k, false, nil, func(*Config) []wildVal { return nil })
			w.status = st
			ws = append(ws, w)
		}
	}
	add(vmKeys, noEffect)
	add(notImplementedKeys, notImplemented)
	return ws
}

// listAccepted lists the keys set in a file or the environment that the
// node accepts without acting on them.
func (l *loader) listAccepted(c *Config) {
	var ni, ne []string
	for key := range l.wild {
		w, _ := matchWild(key)
		if w == nil {
			continue
		}
		switch w.status {
		case notImplemented:
			ni = append(ni, key)
		case noEffect:
			ne = append(ne, key)
		}
	}
	for key := range l.from {
		if fixedNotImplemented[key] {
			ni = append(ni, key)
		}
	}
	sort.Strings(ni)
	sort.Strings(ne)
	c.NotImplemented, c.NoEffect = ni, ne
	used := map[string]bool{"external": true, "internal": true}
	for _, ln := range c.Listeners.List {
		used[ln.Zone] = true
	}
	c.UnusedZones = nil
	for _, n := range zoneNames(c) {
		if !used[n] {
			c.UnusedZones = append(c.UnusedZones, n)
		}
	}
}

// AcceptedLine is the one line the node logs at boot, and check_config
// prints, about the keys it accepts without acting on them; "" when there
// are none.
func (c *Config) AcceptedLine() string {
	var parts []string
	if len(c.NotImplemented) > 0 {
		parts = append(parts, "accepted, not implemented: "+strings.Join(c.NotImplemented, ", "))
	}
	if len(c.NoEffect) > 0 {
		parts = append(parts, "accepted, no effect here (Erlang VM settings): "+strings.Join(c.NoEffect, ", "))
	}
	return strings.Join(parts, "; ")
}
