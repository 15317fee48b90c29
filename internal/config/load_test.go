package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// defaults is every key's default, as Dump writes it; $HOME is the release home.
var defaults = map[string]string{
	"node.name":                                      "emqx@127.0.0.1",
	"node.cookie":                                    "emqxsecretcookie",
	"node.data_dir":                                  "$HOME/data",
	"allow_anonymous":                                "true",
	"acl_nomatch":                                    "allow",
	"acl_file":                                       "$HOME/etc/acl.conf",
	"enable_acl_cache":                               "on",
	"acl_cache_max_size":                             "32",
	"acl_cache_ttl":                                  "1m",
	"acl_deny_action":                                "ignore",
	"auth_order":                                     "none",
	"acl_order":                                      "none",
	"mqtt.max_packet_size":                           "1MB",
	"mqtt.max_clientid_len":                          "65535",
	"mqtt.max_topic_alias":                           "65535",
	"mqtt.max_topic_levels":                          "128",
	"mqtt.max_qos_allowed":                           "2",
	"mqtt.retain_available":                          "true",
	"mqtt.wildcard_subscription":                     "true",
	"mqtt.shared_subscription":                       "true",
	"mqtt.ignore_loop_deliver":                       "false",
	"mqtt.strict_mode":                               "false",
	"mqtt.response_information":                      "",
	"mqtt.exclusive_subscription":                    "false",
	"flapping_detect_policy":                         "30, 1m, 5m",
	"broker.sys_interval":                            "1m",
	"broker.sys_heartbeat":                           "30s",
	"module.presence.qos":                            "1",
	"retainer.storage_type":                          "ram",
	"retainer.max_retained_messages":                 "0",
	"retainer.max_payload_size":                      "1MB",
	"retainer.expiry_interval":                       "off",
	"retainer.stop_publish_clear_msg":                "false",
	"management.listener.http":                       "0.0.0.0:8081",
	"management.listener.https":                      "off",
	"management.listener.https.certfile":             "",
	"management.listener.https.keyfile":              "",
	"management.listener.https.cacertfile":           "",
	"management.listener.https.verify":               "verify_none",
	"management.listener.https.fail_if_no_peer_cert": "false",
	"management.listener.http.max_clients":           "512",
	"management.default_application.id":              "admin",
	"management.default_application.secret":          "public",
	"management.max_row_limit":                       "10000",
	"alarm.actions":                                  "log,publish",
	"alarm.size_limit":                               "1000",
	"alarm.validity_period":                          "24h",
	"dashboard.default_user.login":                   "admin",
	"dashboard.default_user.password":                "public",
	"dashboard.listener.http":                        "0.0.0.0:18083",
	"dashboard.listener.https":                       "off",
	"dashboard.listener.https.certfile":              "",
	"dashboard.listener.https.keyfile":               "",
	"dashboard.listener.https.cacertfile":            "",
	"dashboard.listener.https.verify":                "verify_none",
	"dashboard.listener.https.fail_if_no_peer_cert":  "false",
	"dashboard.listener.http.max_clients":            "512",
	"broker.shared_subscription_strategy":            "random",
	"log.to":                                         "file",
	"log.level":                                      "warning",
	"log.dir":                                        "$HOME/log",
	"log.file":                                       "emqx.log",
	"log.rotation.size":                              "10MB",
	"log.rotation.count":                             "5",
	"cluster.name":                                   "emqxcl",
	"cluster.discovery":                              "manual",
	"cluster.autoheal":                               "on",
	"cluster.autoclean":                              "24h",
	"cluster.static.seeds":                           "",
	"cluster.dns.name":                               "",
	"cluster.dns.app":                                "emqx",
	"cluster.dns.type":                               "a",
	"cluster.dns.server":                             "",
	"cluster.etcd.server":                            "",
	"cluster.etcd.prefix":                            "emqxcl",
	"cluster.etcd.node_ttl":                          "1m",
	"cluster.etcd.ssl.keyfile":                       "",
	"cluster.etcd.ssl.certfile":                      "",
	"cluster.etcd.ssl.cacertfile":                    "",
	"cluster.k8s.apiserver":                          "",
	"cluster.k8s.service_name":                       "",
	"cluster.k8s.address_type":                       "ip",
	"cluster.k8s.app_name":                           "emqx",
	"cluster.k8s.namespace":                          "default",
	"cluster.k8s.suffix":                             "pod.cluster.local",
	"cluster.mcast.addr":                             "239.192.0.1",
	"cluster.mcast.ports":                            "4369",
	"cluster.mcast.iface":                            "0.0.0.0",
	"cluster.mcast.ttl":                              "255",
	"cluster.mcast.loop":                             "on",
	"rpc.port_discovery":                             "stateless",
	"rpc.tcp_server_port":                            "5369",
	"rpc.driver":                                     "tcp",
	"rpc.certfile":                                   "",
	"rpc.keyfile":                                    "",
	"rpc.cacertfile":                                 "",
	"auth.http.auth_req.url":                         "",
	"auth.http.auth_req.method":                      "post",
	"auth.http.auth_req.params":                      "",
	"auth.http.super_req.url":                        "",
	"auth.http.super_req.method":                     "post",
	"auth.http.super_req.params":                     "",
	"auth.http.acl_req.url":                          "",
	"auth.http.acl_req.method":                       "post",
	"auth.http.acl_req.params":                       "",
	"auth.http.timeout":                              "5s",
	"auth.http.connect_timeout":                      "5s",
	"auth.http.pool_size":                            "8",
	"auth.http.enable_pipelining":                    "100",
	"auth.http.ssl.cacertfile":                       "",
	"auth.http.ssl.certfile":                         "",
	"auth.http.ssl.keyfile":                          "",
	"auth.http.ssl.verify":                           "false",
	"auth.http.ssl.server_name_indication":           "",
	"auth.jwt.secret":                                "",
	"auth.jwt.pubkey":                                "",
	"auth.jwt.jwks":                                  "",
	"auth.jwt.jwks.refresh_interval":                 "5m",
	"auth.jwt.from":                                  "password",
	"auth.jwt.signature_format":                      "der",
	"auth.jwt.verify_claims":                         "off",
	"auth.jwt.acl_claim_name":                        "acl",
	"auth.mnesia.password_hash":                      "sha256",
}

func TestDefaults(t *testing.T) {
	r := newRelease(t, "", "# nothing\n")
	c := r.mustLoad(t)
	if len(defaults) != len(schema) {
		t.Errorf("test lists %d keys, schema has %d", len(defaults), len(schema))
	}
	for _, f := range schema {
		want, ok := defaults[f.key]
		if !ok {
			t.Errorf("key %s has no expected default in the test", f.key)
			continue
		}
		want = strings.ReplaceAll(want, "$HOME", r.home)
		if got := get(t, c, f.key); got != want {
			t.Errorf("%s = %q, want %q", f.key, got, want)
		}
	}
	// The typed view of the same defaults.
	switch {
	case c.Home != r.home || c.EtcDir != r.etc:
		t.Errorf("home %q etc %q", c.Home, c.EtcDir)
	case !c.Node.CookieIsDefault || c.Log.ToIsSet:
		t.Errorf("CookieIsDefault %v ToIsSet %v", c.Node.CookieIsDefault, c.Log.ToIsSet)
	case c.MQTT.MaxPacketSize != 1<<20 || c.Log.RotationSize != 10<<20:
		t.Errorf("sizes %d %d", c.MQTT.MaxPacketSize, c.Log.RotationSize)
	case c.ZoneOf("external").IdleTimeout != 15*time.Second || c.Cluster.Autoclean != 24*time.Hour || c.Cluster.Etcd.NodeTTL != time.Minute:
		t.Errorf("durations %v %v %v", c.ZoneOf("external").IdleTimeout, c.Cluster.Autoclean, c.Cluster.Etcd.NodeTTL)
	case !reflect.DeepEqual(c.Access, Access{AllowAnonymous: "true", ACLNomatch: "allow", ACLFile: filepath.Join(r.etc, "acl.conf"),
		EnableACLCache: true, ACLCacheMaxSize: 32, ACLCacheTTL: time.Minute, ACLDenyAction: "ignore"}):
		t.Errorf("access %+v", c.Access)
	case !c.Cluster.Autoheal || !c.Cluster.Mcast.Loop:
		t.Errorf("bools %+v", c)
	case len(c.Cluster.Mcast.Ports) != 1 || c.Cluster.Mcast.Ports[0] != 4369 || c.Cluster.Static.Seeds != nil:
		t.Errorf("lists %v %v", c.Cluster.Mcast.Ports, c.Cluster.Static.Seeds)
	case c.Listeners.Find("tcp", "external").Addr != "0.0.0.0:1883" || c.Listeners.Find("ssl", "external") != nil || len(c.Listeners.List) != 1:
		t.Errorf("listeners %+v", c.Listeners)
	}
}

// goodValues: one key set to a valid value, and the value stored.
var goodValues = []struct{ key, value, want string }{
	{"node.name", "emqx1@10.0.0.1", "emqx1@10.0.0.1"},
	{"node.name", "emqx@s1.emqx.io", "emqx@s1.emqx.io"},
	{"node.name", "emqx@[::1]", "emqx@::1"},
	{"node.cookie", "s3cret cookie", "s3cret cookie"},
	{"node.data_dir", "/var/lib/emqx", "/var/lib/emqx"},
	{"node.data_dir", "var/../data2", "$HOME/data2"},
	{"listener.tcp.external", "1884", "0.0.0.0:1884"},
	{"listener.tcp.external", "127.0.0.1:1884", "127.0.0.1:1884"},
	{"listener.tcp.external", "[::1]:1884", "[::1]:1884"},
	{"listener.tcp.external", "off", "off"},
	{"listener.tcp.external", "false", "off"},
	{"listener.ws.external", "8083", "0.0.0.0:8083"},
	{"listener.ssl.external", "off", "off"}, // on: validate_test.go (needs TLS files)
	{"listener.wss.external", "False", "off"},
	{"listener.ws.external.mqtt_path", "/ws/mqtt", "/ws/mqtt"},
	{"listener.ssl.external.verify", "verify_peer", "verify_peer"},
	{"listener.ssl.external.fail_if_no_peer_cert", "true", "true"},
	{"listener.wss.external.verify", "VERIFY_PEER", "verify_peer"},
	{"listener.wss.external.fail_if_no_peer_cert", "On", "true"},
	{"listener.ssl.external.keyfile", "etc/certs/key.pem", "$HOME/etc/certs/key.pem"},
	{"listener.ssl.external.peer_cert_as_username", "cn", "cn"},
	{"listener.ssl.external.peer_cert_as_username", "DN", "dn"},
	{"listener.ssl.external.peer_cert_as_clientid", "crt", "crt"},
	{"listener.ssl.external.peer_cert_as_clientid", `""`, ""},
	{"listener.wss.external.peer_cert_as_username", "pem", "pem"},
	{"listener.wss.external.peer_cert_as_clientid", "md5", "md5"},
	{"allow_anonymous", "false", "false"},
	{"allow_anonymous", "OFF", "false"},
	{"allow_anonymous", "True", "true"},
	{"allow_anonymous", "on", "true"},
	{"allow_anonymous", "false_quick_deny", "false_quick_deny"},
	{"allow_anonymous", "FALSE_QUICK_DENY", "false_quick_deny"},
	{"acl_nomatch", "deny", "deny"},
	{"acl_nomatch", "Allow", "allow"},
	{"acl_file", "/etc/emqx/acl.conf", "/etc/emqx/acl.conf"},
	{"acl_file", "etc/my_acl.conf", "$HOME/etc/my_acl.conf"},
	{"acl_file", `""`, "$HOME/etc/acl.conf"},
	{"enable_acl_cache", "off", "off"},
	{"enable_acl_cache", "true", "on"},
	{"acl_cache_max_size", "1", "1"},
	{"acl_cache_max_size", "1000000", "1000000"},
	{"acl_cache_ttl", "30s", "30s"},
	{"acl_cache_ttl", "2h", "2h"},
	{"acl_deny_action", "disconnect", "disconnect"},
	{"acl_deny_action", "IGNORE", "ignore"},
	{"auth_order", "jwt,http", "jwt,http"},
	{"auth_order", "none", "none"},
	{"auth_order", `"none, mnesia  http,"`, "mnesia,http"},
	{"acl_order", "internal, http", "internal,http"},
	{"acl_order", "my_acl_module", "my_acl_module"},
	{"mqtt.max_packet_size", "64", "64"},
	{"mqtt.max_packet_size", "256MB", "256MB"},
	{"mqtt.max_packet_size", "64kb", "64KB"},
	{"mqtt.max_packet_size", "1024", "1KB"},
	{"mqtt.max_clientid_len", "23", "23"},
	{"mqtt.max_topic_alias", "0", "0"},
	{"mqtt.max_topic_levels", "0", "0"},
	{"mqtt.max_qos_allowed", "1", "1"},
	{"mqtt.retain_available", "false", "false"},
	{"mqtt.wildcard_subscription", "off", "false"},
	{"mqtt.shared_subscription", "false", "false"},
	{"zone.external.server_keepalive", "60", "60"},
	{"zone.external.idle_timeout", "500ms", "500ms"},
	{"zone.external.idle_timeout", "1h30m", "1h30m"},
	{"zone.external.max_inflight", "65535", "65535"},
	{"zone.external.max_mqueue_len", "1000000", "1000000"},
	{"zone.external.mqueue_store_qos0", "false", "false"},
	{"broker.shared_subscription_strategy", "hash_topic", "hash_topic"},
	{"broker.shared_subscription_strategy", "local", "local"},
	{"log.to", "both", "both"},
	{"mqtt.ignore_loop_deliver", "on", "true"},
	{"mqtt.strict_mode", "true", "true"},
	{"mqtt.response_information", "example", "example"},
	{"mqtt.exclusive_subscription", "true", "true"},
	{"flapping_detect_policy", "3,10s,2m", "3, 10s, 2m"},
	{"broker.sys_interval", "10s", "10s"},
	{"broker.sys_heartbeat", "0", "off"},
	{"module.presence.qos", "0", "0"},
	{"module.presence.qos", "2", "2"},
	{"retainer.storage_type", "disc", "disc"},
	{"retainer.max_retained_messages", "100", "100"},
	{"retainer.max_payload_size", "64KB", "64KB"},
	{"retainer.expiry_interval", "1h", "1h"},
	{"retainer.stop_publish_clear_msg", "on", "true"},
	{"management.listener.http", "127.0.0.1:18081", "127.0.0.1:18081"},
	{"management.listener.http", "off", "off"},
	{"management.listener.https", "8443", "0.0.0.0:8443"},
	{"management.listener.https.verify", "verify_peer", "verify_peer"},
	{"management.listener.https.fail_if_no_peer_cert", "true", "true"},
	{"management.listener.http.max_clients", "64", "64"},
	{"management.default_application.id", "ops", "ops"},
	{"management.default_application.secret", "s3cret", "s3cret"},
	{"management.max_row_limit", "500", "500"},
	{"alarm.actions", "log", "log"},
	{"alarm.actions", "publish, log", "log,publish"},
	{"alarm.size_limit", "10", "10"},
	{"alarm.validity_period", "1h", "1h"},
	{"dashboard.default_user.login", "ops-1", "ops-1"},
	{"dashboard.default_user.login", "''", ""},
	{"dashboard.default_user.password", "s3cret!pw", "s3cret!pw"},
	{"dashboard.listener.http", "127.0.0.1:18083", "127.0.0.1:18083"},
	{"dashboard.listener.http", "28083", "0.0.0.0:28083"},
	{"dashboard.listener.http", "off", "off"},
	{"dashboard.listener.https", "18084", "0.0.0.0:18084"},
	{"dashboard.listener.https.verify", "verify_peer", "verify_peer"},
	{"dashboard.listener.https.fail_if_no_peer_cert", "true", "true"},
	{"dashboard.listener.http.max_clients", "64", "64"},
	{"zone.external.keepalive_backoff", "1.5", "1.5"},
	{"zone.internal.max_inflight", "10", "10"},
	{"zone.myzone.max_subscriptions", "10", "10"},
	{"zone.external.rate_limit.conn_messages_in", "100,10s", "100,10s"},
	{"zone.external.rate_limit.conn_bytes_in", "100KB,10s", "100KB,10s"},
	{"zone.external.quota.overall_messages_routing", "200,1s", "200,1s"},
	{"zone.external.force_shutdown_policy", "10000|64MB", "10000|64MB"},
	{"zone.external.mqueue_priorities", "a/1=10, b/2=8", "a/1=10,b/2=8"},
	{"zone.external.session_expiry_interval", "0", "0"},
	{"zone.external.retry_interval", "2s", "2s"},
	{"zone.external.max_packet_size", "2MB", "2MB"},
	{"listener.tcp.internal", "127.0.0.1:11883", "127.0.0.1:11883"},
	{"listener.tcp.external.max_connections", "10", "10"},
	{"listener.tcp.external.max_connections", "infinity", "infinity"},
	{"listener.tcp.external.max_conn_rate", "50", "50"},
	{"listener.tcp.external.proxy_protocol", "on", "on"},
	{"listener.tcp.external.proxy_protocol_timeout", "5s", "5s"},
	{"listener.tcp.external.zone", "internal", "internal"},
	{"listener.tcp.external.access.1", "deny 10.0.0.0/8", "deny 10.0.0.0/8"},
	{"listener.tcp.external.access.1", "allow 192.168.1.7", "allow 192.168.1.7/32"},
	{"log.to", "console", "console"},
	{"log.level", "debug", "debug"},
	{"log.level", "Critical", "critical"},
	{"log.dir", "/var/log/emqx", "/var/log/emqx"},
	{"log.file", "node.log", "node.log"},
	{"log.rotation.size", "1KB", "1KB"},
	{"log.rotation.size", "1GB", "1GB"},
	{"log.rotation.count", "1000", "1000"},
	{"cluster.name", "my-cluster_1.prod", "my-cluster_1.prod"},
	{"cluster.discovery", "mcast", "mcast"},
	{"cluster.autoheal", "off", "off"},
	{"cluster.autoclean", "off", "off"},
	{"cluster.autoclean", "0", "off"},
	{"cluster.autoclean", "5m", "5m"},
	{"cluster.autoclean", "1w", "168h"},
	{"cluster.autoclean", "1d", "24h"},
	{"cluster.static.seeds", "emqx1@127.0.0.1,emqx2@127.0.0.1", "emqx1@127.0.0.1,emqx2@127.0.0.1"},
	{"cluster.static.seeds", " emqx1@h1  emqx2@h2 ,, ", "emqx1@h1,emqx2@h2"},
	{"cluster.dns.name", "emqx.example.com", "emqx.example.com"},
	{"cluster.dns.app", "my_app-1", "my_app-1"},
	{"cluster.dns.type", "srv", "srv"},
	{"cluster.dns.type", "AAAA", "aaaa"},
	{"cluster.dns.server", "127.0.0.1", "127.0.0.1:53"},
	{"cluster.dns.server", "127.0.0.1:5353", "127.0.0.1:5353"},
	{"cluster.dns.server", "[::1]:5353", "[::1]:5353"},
	{"cluster.dns.server", "::1", "[::1]:53"},
	{"cluster.etcd.server", "http://127.0.0.1:2379, https://e2:2379", "http://127.0.0.1:2379,https://e2:2379"},
	{"cluster.etcd.prefix", "myprefix", "myprefix"},
	{"cluster.etcd.node_ttl", "1s", "1s"},
	{"cluster.etcd.node_ttl", "2m", "2m"},
	{"cluster.k8s.apiserver", "https://10.0.0.1:6443", "https://10.0.0.1:6443"},
	{"cluster.k8s.service_name", "emqx-headless", "emqx-headless"},
	{"cluster.k8s.address_type", "hostname", "hostname"},
	{"cluster.k8s.app_name", "emqx", "emqx"},
	{"cluster.k8s.namespace", "prod", "prod"},
	{"cluster.k8s.suffix", "svc.cluster.local", "svc.cluster.local"},
	{"cluster.mcast.addr", "224.0.0.1", "224.0.0.1"},
	{"cluster.mcast.ports", "4369,4370", "4369,4370"},
	{"cluster.mcast.ports", "4369 4370", "4369,4370"},
	{"cluster.mcast.iface", "192.168.1.10", "192.168.1.10"},
	{"cluster.mcast.ttl", "0", "0"},
	{"cluster.mcast.loop", "off", "off"},
	{"rpc.port_discovery", "manual", "manual"},
	{"rpc.tcp_server_port", "1", "1"},
	{"rpc.tcp_server_port", "65535", "65535"},
	{"rpc.driver", "tcp", "tcp"},
	{"rpc.certfile", "/x/cert.pem", "/x/cert.pem"},
	{"auth.http.auth_req.url", "http://127.0.0.1:80/mqtt/auth", "http://127.0.0.1:80/mqtt/auth"},
	{"auth.http.super_req.url", "https://[::1]:8443/mqtt/superuser", "https://[::1]:8443/mqtt/superuser"},
	{"auth.http.acl_req.url", "127.0.0.1:8080/mqtt/acl", "127.0.0.1:8080/mqtt/acl"},
	{"auth.http.auth_req.method", "GET", "get"},
	{"auth.http.super_req.method", "get", "get"},
	{"auth.http.acl_req.method", "post", "post"},
	{"auth.http.auth_req.params", "clientid=%c,username=%u,password=%P", "clientid=%c,username=%u,password=%P"},
	{"auth.http.super_req.params", "clientid=%c", "clientid=%c"},
	{"auth.http.acl_req.params", "access=%A,topic=%t", "access=%A,topic=%t"},
	{"auth.http.timeout", "3000", "3s"},
	{"auth.http.timeout", "1m", "1m"},
	{"auth.http.connect_timeout", "500", "500ms"},
	{"auth.http.connect_timeout", "10s", "10s"},
	{"auth.http.pool_size", "32", "32"},
	{"auth.http.enable_pipelining", "true", "100"},
	{"auth.http.enable_pipelining", "false", "1"},
	{"auth.http.enable_pipelining", "50", "50"},
	{"auth.http.ssl.verify", "true", "true"},
	{"auth.http.ssl.server_name_indication", "disable", "disable"},
	{"auth.jwt.secret", "emqxsecret", "emqxsecret"},
	{"auth.jwt.jwks", "https://127.0.0.1:8080/jwks", "https://127.0.0.1:8080/jwks"},
	{"auth.jwt.jwks.refresh_interval", "1m", "1m"},
	{"auth.jwt.from", "username", "username"},
	{"auth.jwt.from", "clientid", "clientid"},
	{"auth.jwt.signature_format", "raw", "raw"},
	{"auth.jwt.verify_claims", "on", "on"},
	{"auth.jwt.verify_claims", "false", "off"},
	{"auth.jwt.acl_claim_name", "rules", "rules"},
	{"auth.mnesia.password_hash", "plain", "plain"},
	{"auth.mnesia.password_hash", "SHA512", "sha512"},
	{"auth.mnesia.password_hash", "md5", "md5"},
}

// TestGoodValues sets one key to a valid value and checks the stored value.
func TestGoodValues(t *testing.T) {
	for _, c := range goodValues {
		t.Run(c.key+"="+c.value, func(t *testing.T) {
			r := newRelease(t, "", "")
			r.write(t, "etc/emqx.conf", withListener(t, r, c.key, c.value))
			cfg := r.mustLoad(t)
			want := strings.ReplaceAll(c.want, "$HOME", r.home)
			if got := get(t, cfg, c.key); got != want {
				t.Errorf("%s = %q, want %q", c.key, got, want)
			}
		})
	}
}

// badValues: one key set to an invalid value, and what the error says.
var badValues = []struct{ key, value, msg string }{
	{"node.name", "emqx", "expected name@host"},
	{"node.name", "emqx@bad_host", "expected name@host"},
	{"node.name", "em qx@h", "expected name@host"},
	{"node.cookie", `""`, "must not be empty"},
	{"node.data_dir", `""`, "must be a path"},
	{"listener.tcp.external", "65536", "from 1 to 65535"},
	{"listener.tcp.external", "70000", "from 1 to 65535"},
	{"listener.tcp.external", "on", "must be a port (1883)"},
	{"listener.tcp.external", "localhost:1883", "not an IP address"},
	{"listener.ssl.external", "abc", "must be a port"},
	{"listener.ws.external", "1.2.3.4", "must be a port"},
	{"listener.wss.external", "-1", "must be a port"},
	{"listener.ws.external.mqtt_path", "mqtt", "must be a URL path starting with /"},
	{"listener.ssl.external.verify", "verify_all", "must be one of verify_peer, verify_none"},
	{"listener.ssl.external.fail_if_no_peer_cert", "yes", "must be on, off, true or false"},
	{"listener.wss.external.verify", "none", "must be one of verify_peer, verify_none"},
	{"listener.wss.external.fail_if_no_peer_cert", "1", "must be on, off, true or false"},
	{"listener.ssl.external.peer_cert_as_username", "off", "must be one of cn, dn, crt, pem, md5"},
	{"listener.ssl.external.peer_cert_as_clientid", "sha1", "must be one of cn, dn, crt, pem, md5"},
	{"listener.wss.external.peer_cert_as_username", "username", "must be one of cn, dn, crt, pem, md5"},
	{"listener.wss.external.peer_cert_as_clientid", "cn,dn", "must be one of cn, dn, crt, pem, md5"},
	{"allow_anonymous", "maybe", "must be true, false or false_quick_deny"},
	{"allow_anonymous", "quick_deny", "must be true, false or false_quick_deny"},
	{"acl_nomatch", "maybe", "must be one of allow, deny"},
	{"enable_acl_cache", "yes", "must be on, off, true or false"},
	{"acl_cache_max_size", "0", "must be an integer of at least 1"},
	{"acl_cache_max_size", "many", "must be an integer of at least 1"},
	{"acl_cache_ttl", "0", "must be greater than 0"},
	{"acl_cache_ttl", "60", "must be a duration"},
	{"acl_deny_action", "drop", "must be one of ignore, disconnect"},
	{"mqtt.max_packet_size", "63", "must be from 64 to 256MB"},
	{"mqtt.max_packet_size", "257MB", "must be from 64 to 256MB"},
	{"mqtt.max_packet_size", "1.5MB", "must be a byte size"},
	{"mqtt.max_packet_size", "big", "must be a byte size"},
	{"mqtt.max_clientid_len", "22", "from 23 to 65535"},
	{"mqtt.max_clientid_len", "65536", "from 23 to 65535"},
	{"mqtt.max_clientid_len", "ten", "must be an integer"},
	{"mqtt.max_topic_alias", "65536", "from 0 to 65535"},
	{"mqtt.max_topic_levels", "65536", "from 0 to 65535"},
	{"mqtt.max_qos_allowed", "3", "from 0 to 2"},
	{"mqtt.retain_available", "maybe", "must be on, off, true or false"},
	{"mqtt.wildcard_subscription", "maybe", "must be on, off, true or false"},
	{"mqtt.shared_subscription", "maybe", "must be on, off, true or false"},
	{"zone.external.server_keepalive", "-1", "from 0 to 65535"},
	{"zone.external.idle_timeout", "0", "must be greater than 0"},
	{"zone.external.idle_timeout", "15", "must be a duration"},
	{"zone.external.idle_timeout", "off", "must be a duration"},
	{"zone.external.max_inflight", "0", "from 1 to 65535"},
	{"zone.external.max_mqueue_len", "1000001", "from 1 to 1000000"},
	{"zone.external.mqueue_store_qos0", "sometimes", "must be on, off, true or false"},
	{"broker.shared_subscription_strategy", "fastest", "must be one of random, round_robin, sticky, hash_clientid, hash_topic, local"},
	{"log.to", "off", "must be one of file, console, both"},
	{"log.level", "loud", "must be one of debug, info, notice, warning, error, critical"},
	{"log.dir", `''`, "must be a path"},
	{"log.file", "logs/emqx.log", "plain file name"},
	{"log.file", `""`, "plain file name"},
	{"log.rotation.size", "1023", "must be at least 1KB"},
	{"log.rotation.size", "10XB", "must be a byte size"},
	{"log.rotation.count", "0", "from 1 to 1000"},
	{"log.rotation.count", "1001", "from 1 to 1000"},
	{"cluster.name", "my cluster", "must be letters, digits"},
	{"cluster.name", `""`, "must be letters, digits"},
	{"cluster.name", strings.Repeat("c", 256), "at most 255 characters"},
	{"cluster.discovery", "consul", "must be one of manual, static, dns, etcd, k8s, mcast"},
	{"cluster.autoheal", "sometimes", "must be on, off, true or false"},
	{"cluster.autoclean", "forever", "or 0 or off to disable"},
	{"cluster.autoclean", "-5m", "must be a duration"},
	{"cluster.static.seeds", "emqx1@127.0.0.1,emqx2", `invalid node name "emqx2"`},
	{"cluster.dns.name", "bad_name.com", "must be a DNS name"},
	{"cluster.dns.app", "my.app", "must match ^[0-9A-Za-z_-]+$"},
	{"cluster.dns.type", "cname", "must be one of a, aaaa, srv"},
	{"cluster.dns.server", "dns.google", "must be an IP address"},
	{"cluster.dns.server", "1.1.1.1:99999", "from 1 to 65535"},
	{"cluster.etcd.server", "127.0.0.1:2379", "must be an http:// or https:// URL"},
	{"cluster.etcd.server", "http://a:2379,ftp://b", `"ftp://b" must be an http:// or https:// URL`},
	{"cluster.etcd.prefix", `"a b"`, "without spaces"},
	{"cluster.etcd.node_ttl", "500ms", "must be at least 1s"},
	{"cluster.etcd.node_ttl", "0", "must be at least 1s"},
	{"cluster.k8s.apiserver", "10.0.0.1:6443", "must be an http:// or https:// URL"},
	{"cluster.k8s.service_name", "emqx_svc", "must be a DNS label"},
	{"cluster.k8s.address_type", "ipv6", "must be one of ip, dns, hostname"},
	{"cluster.k8s.app_name", "a@b", "must match"},
	{"cluster.k8s.namespace", "-bad", "must be a DNS label"},
	{"cluster.k8s.suffix", "a..b", "must be a DNS name"},
	{"cluster.mcast.addr", "10.0.0.1", "IPv4 multicast address"},
	{"cluster.mcast.addr", "ff02::1", "IPv4 multicast address"},
	{"cluster.mcast.ports", "4369,0", "from 1 to 65535"},
	{"cluster.mcast.ports", `","`, "must be a list of ports"},
	{"cluster.mcast.iface", "eth0", "must be an IPv4 address"},
	{"cluster.mcast.ttl", "256", "from 0 to 255"},
	{"cluster.mcast.loop", "2", "must be on, off, true or false"},
	{"rpc.port_discovery", "dynamic", "must be one of stateless, manual"},
	{"rpc.tcp_server_port", "0", "from 1 to 65535"},
	{"rpc.driver", "tls", "must be one of tcp, ssl"},
	{"auth.http.auth_req.url", "ftp://127.0.0.1/auth", "must be an http:// or https:// URL"},
	{"auth.http.super_req.url", "http://user:pw@h/su", "without user info"},
	{"auth.http.acl_req.url", "http://h:99999/acl", `port "99999" must be an integer from 1 to 65535`},
	{"auth.http.auth_req.method", "put", "must be post or get"},
	{"auth.http.super_req.method", "delete", "must be post or get"},
	{"auth.http.acl_req.method", "head", "must be post or get"},
	{"auth.http.auth_req.params", "clientid", `"clientid" must be name=value`},
	{"auth.http.super_req.params", "a=b=c", "must be name=value"},
	{"auth.http.acl_req.params", "topic=%t,x", `"x" must be name=value`},
	{"auth.http.timeout", "0", "must be a positive duration"},
	{"auth.http.timeout", "soon", "or an integer of milliseconds"},
	{"auth.http.connect_timeout", "-1", "must be a positive duration"},
	{"auth.http.pool_size", "0", "must be an integer of at least 1"},
	{"auth.http.pool_size", "many", "must be an integer"},
	{"auth.http.enable_pipelining", "0", "must be true, false or an integer of at least 1"},
	{"auth.http.ssl.verify", "maybe", "must be on, off, true or false"},
	{"auth.jwt.jwks", "ftp://h/jwks", "must be an http:// or https:// URL"},
	{"auth.jwt.jwks.refresh_interval", "0", "must be greater than 0"},
	{"auth.jwt.jwks.refresh_interval", "300", "must be a duration"},
	{"auth.jwt.from", "token", "must be password or username"},
	{"auth.jwt.signature_format", "pem", "must be der or raw"},
	{"auth.jwt.verify_claims", "maybe", "must be on, off, true or false"},
	{"auth.jwt.acl_claim_name", `""`, "must be a claim name"},
	{"mqtt.ignore_loop_deliver", "2", "must be on, off, true or false"},
	{"mqtt.strict_mode", "yes", "must be on, off, true or false"},
	{"mqtt.exclusive_subscription", "1", "must be on, off, true or false"},
	{"broker.sys_heartbeat", "-1s", "must be a duration"},
	{"retainer.stop_publish_clear_msg", "maybe", "must be on, off, true or false"},
	{"flapping_detect_policy", "30, 1m", "must be <max count>, <window>, <ban time>"},
	{"broker.sys_interval", "often", "must be a duration"},
	{"module.presence.qos", "3", "must be"},
	{"module.presence.qos", "one", "must be"},
	{"retainer.storage_type", "disk", "must be one of ram, disc, disc_only"},
	{"retainer.max_retained_messages", "-1", "from 0 to"},
	{"retainer.max_payload_size", "huge", "must be a byte size"},
	{"retainer.expiry_interval", "soon", "must be a duration"},
	{"zone.external.keepalive_backoff", "none", "must be a number above 0"},
	{"zone.external.rate_limit.conn_messages_in", "100", "must be <count>,<period>"},
	{"zone.external.rate_limit.conn_bytes_in", "lots,1s", "must be <size>,<period>"},
	{"zone.external.force_shutdown_policy", "10000", "must be <message queue length>|<size>"},
	{"zone.external.mqueue_priorities", "a/1=0", "priorities 1 to 255"},
	{"zone.external.max_qos_allowed", "3", "from 0 to 2"},
	{"zone.internal.enable_acl", "sometimes", "must be on, off, true or false"},
	{"listener.tcp.external.max_connections", "0", "from 1 to"},
	{"listener.tcp.external.max_conn_rate", "fast", "must be an integer"},
	{"listener.tcp.external.access.1", "permit all", "must be allow or deny"},
	{"listener.tcp.external.access.1", "allow 10.0.0.300", "must be allow or deny"},
	{"listener.tcp.external.proxy_protocol_timeout", "0", "must be greater than 0"},
	{"listener.tcp.external.zone", "a.b", "must be a zone name"},
	{"listener.tcp.external.zone", "nozone", "has no zone.nozone.* key"},
	{"management.listener.http", "localhost:8081", "not an IP address"},
	{"management.listener.https", "99999", "must be"},
	{"management.listener.https.verify", "maybe", "must be one of verify_peer, verify_none"},
	{"management.listener.https.fail_if_no_peer_cert", "sometimes", "must be on, off, true or false"},
	{"management.listener.http.max_clients", "0", "from 1 to"},
	{"management.default_application.id", "''", "must not be empty"},
	{"management.default_application.secret", "''", "must not be empty"},
	{"management.max_row_limit", "0", "from 1 to"},
	{"alarm.actions", "log,mail", "must be log, publish or both"},
	{"alarm.size_limit", "0", "from 1 to"},
	{"alarm.validity_period", "soon", "must be a duration"},
	{"dashboard.default_user.login", "bad name", "must be letters, digits, - and _"},
	{"dashboard.default_user.login", "-admin", "must be letters, digits, - and _"},
	{"dashboard.listener.http", "localhost:18083", "not an IP address"},
	{"dashboard.listener.https", "99999", "must be"},
	{"dashboard.listener.https.verify", "maybe", "must be one of verify_peer, verify_none"},
	{"dashboard.listener.https.fail_if_no_peer_cert", "sometimes", "must be on, off, true or false"},
	{"dashboard.listener.http.max_clients", "0", "from 1 to"},
	{"auth.mnesia.password_hash", "bcrypt", "must be one of plain, md5, sha, sha256, sha512"},
}

// TestBadValues sets one key to an invalid value: one error, at the right
// line, naming the key and the value, saying what is allowed.
func TestBadValues(t *testing.T) {
	for _, c := range badValues {
		t.Run(c.key+"="+c.value, func(t *testing.T) {
			r := newRelease(t, "# first line\n\n"+c.key+" = "+c.value+"\n", "")
			e := wantOneError(t, r.mustFail(t), c.msg)
			if e.Source != r.emqxConf() || e.Line != 3 || e.Key != c.key {
				t.Errorf("error at %s:%d key %q, want %s:3 key %q", e.Source, e.Line, e.Key, r.emqxConf(), c.key)
			}
			if v := strings.Trim(c.value, `"'`); e.Value != v {
				t.Errorf("error value %q, want %q", e.Value, v)
			}
		})
	}
}

func TestEveryKeyHasGoodAndBadCase(t *testing.T) {
	// Keys whose only bad case is covered elsewhere (paths take any string;
	// TLS files are checked in validate_test.go).
	anyString := map[string]bool{
		"listener.ssl.external.keyfile": true, "listener.ssl.external.certfile": true,
		"listener.ssl.external.cacertfile": true, "listener.wss.external.keyfile": true,
		"listener.wss.external.certfile": true, "listener.wss.external.cacertfile": true,
		"cluster.etcd.ssl.keyfile": true, "cluster.etcd.ssl.certfile": true, "cluster.etcd.ssl.cacertfile": true,
		"rpc.certfile": true, "rpc.keyfile": true, "rpc.cacertfile": true,
		"acl_file": true, "auth_order": true, "acl_order": true,
		"auth.http.ssl.cacertfile": true, "auth.http.ssl.certfile": true, "auth.http.ssl.keyfile": true,
		"management.listener.https.certfile": true, "management.listener.https.keyfile": true, "management.listener.https.cacertfile": true,
		"auth.http.ssl.server_name_indication": true, "mqtt.response_information": true, "auth.jwt.secret": true, "auth.jwt.pubkey": true,
		"dashboard.default_user.password":   true,
		"dashboard.listener.https.certfile": true, "dashboard.listener.https.keyfile": true, "dashboard.listener.https.cacertfile": true,
	}
	good, bad := map[string]bool{}, map[string]bool{}
	for _, c := range goodValues {
		good[c.key] = true
	}
	for _, c := range badValues {
		bad[c.key] = true
	}
	for _, f := range schema {
		if !good[f.key] && !anyString[f.key] {
			t.Errorf("no good-value case for %s", f.key)
		}
		if !bad[f.key] && !anyString[f.key] {
			t.Errorf("no bad-value case for %s", f.key)
		}
	}
	// Guard: the schema is what the shipped files and Dump describe.
	for _, f := range schema {
		if strings.ToLower(f.key) != f.key || strings.ContainsAny(f.key, " =#") {
			t.Errorf("bad schema key %q", f.key)
		}
		if f.def != "" {
			c := &Config{}
			c.Node.Name = "emqx@127.0.0.1"
			if err := f.set(c, f.def, "/h"); err != nil {
				t.Errorf("default of %s (%q) does not validate: %v", f.key, f.def, err)
			}
		}
	}
}

func TestQuotesAndComments(t *testing.T) {
	r := newRelease(t, `
# comment
node.cookie = "abc # def"   # trailing comment
cluster.name = 'quoted'
log.file = emqx.log # trailing
  log.level   =   info
`, "cluster.dns.app = \"app1\"\n")
	c := r.mustLoad(t)
	if c.Node.Cookie != "abc # def" || c.Cluster.Name != "quoted" || c.Log.File != "emqx.log" ||
		c.Log.Level != "info" || c.Cluster.DNS.App != "app1" {
		t.Errorf("got cookie %q name %q file %q level %q app %q", c.Node.Cookie, c.Cluster.Name, c.Log.File, c.Log.Level, c.Cluster.DNS.App)
	}
}

func TestLastWins(t *testing.T) {
	r := newRelease(t, "log.level = info\nlog.level = debug\ncluster.name = a\n", "cluster.name = b\n")
	c := r.mustLoad(t)
	if c.Log.Level != "debug" || c.Cluster.Name != "b" {
		t.Errorf("level %q name %q", c.Log.Level, c.Cluster.Name)
	}
	// A bad value overridden later is not the effective value: no error.
	r = newRelease(t, "log.level = loud\nlog.level = info\n", "")
	r.mustLoad(t)
}

func TestUnknownKey(t *testing.T) {
	r := newRelease(t, "", "cluster.discovery = static\ncluster.static.seed = \"a@b\"\n")
	errs := r.mustFail(t)
	// unknown key, plus the missing seeds it causes
	if len(errs) != 2 {
		t.Fatalf("got %d errors:\n%s", len(errs), errsText(errs))
	}
	want := r.clusterConf() + `:2: cluster.static.seed = "a@b": unknown key; did you mean cluster.static.seeds?`
	if errs[1].Error() != want {
		t.Errorf("got  %s\nwant %s", errs[1].Error(), want)
	}
	want = r.clusterConf() + `:1: cluster.discovery = "static": cluster.static.seeds is required when cluster.discovery = static`
	if errs[0].Error() != want {
		t.Errorf("got  %s\nwant %s", errs[0].Error(), want)
	}

	r = newRelease(t, "foo = bar\n", "")
	e := wantOneError(t, r.mustFail(t), "foo", "unknown key")
	if strings.Contains(e.Msg, "did you mean") {
		t.Errorf("suggestion for a far key: %s", e.Msg)
	}
}

func TestSyntaxErrors(t *testing.T) {
	r := newRelease(t, "node.name =\n", "")
	e := wantOneError(t, r.mustFail(t), "node.name: missing value")
	if e.Line != 1 || e.Source != r.emqxConf() {
		t.Errorf("at %s:%d", e.Source, e.Line)
	}
	r = newRelease(t, "\nnode.name emqx@h\n", "")
	e = wantOneError(t, r.mustFail(t), `"node.name emqx@h": expected key = value`)
	if e.Line != 2 {
		t.Errorf("line %d", e.Line)
	}
}

func TestAllErrorsAtOnce(t *testing.T) {
	r := newRelease(t, `node.name = emqx@127.0.0.1
log.level = loud
this line has no equals sign

mqtt.max_packet_sise = 1MB
`, "cluster.autoheal = maybe\n")
	errs := r.mustFail(t, "EMQX_LOG__TO=nowhere")
	want := []struct {
		source string
		line   int
		key    string
	}{
		{r.emqxConf(), 2, "log.level"},
		{r.emqxConf(), 3, ""},
		{r.emqxConf(), 5, "mqtt.max_packet_sise"},
		{r.clusterConf(), 1, "cluster.autoheal"},
		{"env EMQX_LOG__TO", 0, "log.to"},
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%s", len(errs), len(want), errsText(errs))
	}
	for i, w := range want {
		if e := errs[i]; e.Source != w.source || e.Line != w.line || e.Key != w.key {
			t.Errorf("error %d = %s; want %s:%d key %q", i, e.Error(), w.source, w.line, w.key)
		}
	}
	if !strings.Contains(errs[2].Msg, "did you mean mqtt.max_packet_size?") {
		t.Errorf("no suggestion: %s", errs[2].Error())
	}
}

func TestMissingFiles(t *testing.T) {
	r := newRelease(t, "", "")
	for _, name := range []string{EmqxConfFile, ClusterConfFile} {
		t.Run(name, func(t *testing.T) {
			r := newRelease(t, "", "")
			p := filepath.Join(r.etc, name)
			if err := removeFile(p); err != nil {
				t.Fatal(err)
			}
			e := wantOneError(t, r.mustFail(t), p, "cannot read config file", "no such file")
			if e.Source != p || e.Line != 0 {
				t.Errorf("source %q line %d", e.Source, e.Line)
			}
		})
	}
	// Both missing: both reported.
	if c, err := Load(Options{Home: t.TempDir()}); c != nil || len(AsErrors(err)) != 2 {
		t.Fatalf("without files: %v", err)
	}
	_, err := Load(Options{Home: r.home, EtcDir: filepath.Join(r.home, "nope")})
	if list := AsErrors(err); len(list) != 2 {
		t.Errorf("got %v", err)
	}
	if _, err := Load(Options{}); err == nil {
		t.Errorf("empty home accepted")
	}
}

func TestEtcDirAndRelativeHome(t *testing.T) {
	r := newRelease(t, "", "")
	other := filepath.Join(r.home, "conf")
	r.write(t, "conf/emqx.conf", "log.level = debug\n")
	r.write(t, "conf/cluster.conf", "")
	c, err := Load(Options{Home: r.home, EtcDir: "conf"})
	if err != nil {
		t.Fatal(err)
	}
	if c.EtcDir != other || c.Log.Level != "debug" {
		t.Errorf("etc %q level %q", c.EtcDir, c.Log.Level)
	}
}
