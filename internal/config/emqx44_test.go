package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// stockRelease copies testdata/emqx44 (the keys and values of EMQX 4.4.19's
// stock etc/emqx.conf and plugin files) into a release home, with the
// certificate files its ssl and wss listeners name.
func stockRelease(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	src := filepath.Join("testdata", "emqx44")
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		dst := filepath.Join(home, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"key.pem", "cert.pem", "cacert.pem"} {
		if err := os.MkdirAll(filepath.Join(home, "etc", "certs"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, "etc", "certs", n), []byte("-----BEGIN TEST-----\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

// TestEMQX44Stock: EMQX 4.4's stock configuration loads unchanged; the
// keys the node implements take their values, the others are listed.
func TestEMQX44Stock(t *testing.T) {
	home := stockRelease(t)
	c, err := Load(Options{Home: home})
	if err != nil {
		t.Fatalf("EMQX 4.4's stock configuration does not load:\n%v", err)
	}
	in := c.ZoneOf("internal")
	ext := c.ZoneOf("external")
	switch {
	case len(c.Listeners.List) != 5:
		t.Errorf("listeners %+v", c.Listeners.List)
	case c.Listeners.Find("tcp", "internal").Addr != "127.0.0.1:11883" || c.Listeners.Find("tcp", "internal").Zone != "internal":
		t.Errorf("internal listener %+v", c.Listeners.Find("tcp", "internal"))
	case c.Listeners.Find("ssl", "external").Addr != "0.0.0.0:8883" || c.Listeners.Find("ssl", "external").MaxConnRate != 500:
		t.Errorf("ssl listener %+v", c.Listeners.Find("ssl", "external"))
	case c.Listeners.Find("tcp", "external").MaxConnections != 1024000 || len(c.Listeners.Find("tcp", "external").Access) != 1:
		t.Errorf("tcp listener %+v", c.Listeners.Find("tcp", "external"))
	case in.MaxInflight != 128 || in.MaxMqueueLen != 10000 || in.EnableACL || !in.BypassAuthPlugins || in.AllowAnonymous != "true":
		t.Errorf("zone internal %+v", in)
	case ext.RetryInterval != 30*time.Second || ext.SessionExpiryInterval != 2*time.Hour || ext.KeepaliveBackoff != 0.75 ||
		ext.MaxAwaitingRel != 100 || ext.AwaitRelTimeout != 300*time.Second || ext.MqueueDefaultPriority != "highest":
		t.Errorf("zone external %+v", ext)
	case c.Flapping != FlappingPolicy{MaxCount: 30, Window: time.Minute, BanTime: 5 * time.Minute}:
		t.Errorf("flapping %+v", c.Flapping)
	case c.Cluster.Autoclean != 5*time.Minute || c.Node.DataDir != filepath.Join(home, "data") || c.Log.Dir != filepath.Join(home, "log"):
		t.Errorf("cluster.autoclean %v data %q log %q", c.Cluster.Autoclean, c.Node.DataDir, c.Log.Dir)
	case c.Access.ACLFile != filepath.Join(home, "etc", "acl.conf"):
		t.Errorf("acl_file %q", c.Access.ACLFile)
	case c.Retainer.StorageType != "ram" || c.Retainer.MaxPayloadSize != 1<<20:
		t.Errorf("retainer %+v", c.Retainer)
	}
	for _, k := range []string{"listener.tcp.external.acceptors", "modules.loaded_file", "management.listener.http.acceptors"} {
		if !slices.Contains(c.NotImplemented, k) {
			t.Errorf("%s not listed as not implemented: %v", k, c.NotImplemented)
		}
	}
	for _, k := range []string{"node.global_gc_interval", "rpc.mode", "sysmon.long_schedule", "cluster.proto_dist"} {
		if !slices.Contains(c.NoEffect, k) {
			t.Errorf("%s not listed as without effect: %v", k, c.NoEffect)
		}
	}
	for _, k := range append(slices.Clone(c.NotImplemented), c.NoEffect...) {
		if strings.HasPrefix(k, "zone.external.max_inflight") || k == "mqtt.max_packet_size" || k == "listener.tcp.external" {
			t.Errorf("implemented key %s listed as accepted", k)
		}
	}
	line := c.AcceptedLine()
	if !strings.HasPrefix(line, "accepted, not implemented: ") || !strings.Contains(line, "no effect here") {
		t.Errorf("accepted line %q", line)
	}
}

// TestEMQX44ReleaseTestEnv: the environment EMQX's own release tests run
// with, and the one-word keys, as EMQX 4 reads them.
func TestEMQX44ReleaseTestEnv(t *testing.T) {
	home := stockRelease(t)
	c, err := Load(Options{Home: home, Env: []string{
		"EMQX_ZONE__EXTERNAL__RETRY_INTERVAL=2s", "EMQX_MQTT__MAX_TOPIC_ALIAS=10",
		"EMQX_ALLOW_ANONYMOUS=false", "EMQX_ACL_NOMATCH=deny", "EMQX_ACL_FILE=etc/other_acl.conf",
		"EMQX_LOADED_PLUGINS=emqx_auth_mnesia,emqx_retainer", "EMQX_LISTENER__TCP__INTERNAL=127.0.0.1:21883",
		"EMQX_ZONE__INTERNAL__MAX_INFLIGHT=64", "EMQX_LISTENER__TCP__EXTERNAL__ACCESS__2=deny 10.0.0.0/8",
		"EMQX_CRL_CACHE_HTTP_TIMEOUT=30s", "EMQX_NODE__PROCESS_LIMIT=2097152",
	}})
	if err != nil {
		t.Fatalf("does not load:\n%v", err)
	}
	switch {
	case c.ZoneOf("external").RetryInterval != 2*time.Second:
		t.Errorf("retry_interval %v", c.ZoneOf("external").RetryInterval)
	case c.ZoneOf("external").MaxTopicAlias != 10 || c.MQTT.MaxTopicAlias != 10:
		t.Errorf("max_topic_alias %d", c.ZoneOf("external").MaxTopicAlias)
	case c.Access.AllowAnonymous != "false" || c.Access.ACLNomatch != "deny" || c.Access.ACLFile != filepath.Join(home, "etc/other_acl.conf"):
		t.Errorf("access %+v", c.Access)
	case c.ZoneOf("external").AllowAnonymous != "false" || c.ZoneOf("internal").AllowAnonymous != "true":
		t.Errorf("zones' allow_anonymous %q %q", c.ZoneOf("external").AllowAnonymous, c.ZoneOf("internal").AllowAnonymous)
	case !slices.Equal(c.LoadedPlugins, []string{"emqx_auth_mnesia", "emqx_retainer"}):
		t.Errorf("loaded plugins %v", c.LoadedPlugins)
	case c.Listeners.Find("tcp", "internal").Addr != "127.0.0.1:21883" || c.ZoneOf("internal").MaxInflight != 64:
		t.Errorf("internal %+v %d", c.Listeners.Find("tcp", "internal"), c.ZoneOf("internal").MaxInflight)
	case len(c.Listeners.Find("tcp", "external").Access) != 2:
		t.Errorf("access rules %+v", c.Listeners.Find("tcp", "external").Access)
	case !slices.Contains(c.NotImplemented, "crl_cache_http_timeout") || !slices.Contains(c.NoEffect, "node.process_limit"):
		t.Errorf("accepted lists %v %v", c.NotImplemented, c.NoEffect)
	}
	// A key EMQX does not have is still an error, with did-you-mean.
	_, err = Load(Options{Home: home, Env: []string{"EMQX_ZONE__EXTERNAL__RETRY_INTERVALL=2s"}})
	if es := AsErrors(err); len(es) != 1 || !strings.Contains(es[0].Msg, "did you mean zone.external.retry_interval") {
		t.Errorf("unknown key: %v", err)
	}
}

// TestUnusedZones: a zone no listener uses is reported (a typo in a zone
// name makes a new zone).
func TestUnusedZones(t *testing.T) {
	c := MustFromLines(t.TempDir(), "zone.extrenal.max_inflight = 5", "zone.edge.max_inflight = 6",
		"listener.tcp.edge = 127.0.0.1:0", "listener.tcp.edge.zone = edge")
	if !slices.Equal(c.UnusedZones, []string{"extrenal"}) {
		t.Errorf("unused zones %v, want [extrenal]", c.UnusedZones)
	}
	if c.ZoneOf("edge").MaxInflight != 6 || c.ZoneOf("external").MaxInflight != 32 {
		t.Errorf("max_inflight edge %d external %d", c.ZoneOf("edge").MaxInflight, c.ZoneOf("external").MaxInflight)
	}
}
