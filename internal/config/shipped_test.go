package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"emqxgo/internal/access/authhttp"
	"emqxgo/internal/access/authjwt"
	"emqxgo/internal/access/passwd"
)

// emqxShippedPlugins is what EMQX 4.4.19's etc/plugins/emqx_auth_http.conf,
// emqx_auth_jwt.conf and emqx_auth_mnesia.conf set (their uncommented
// lines), over the schema's defaults.
func emqxShippedPlugins() Plugins {
	const form = "application/x-www-form-urlencoded"
	h := authhttp.Defaults()
	h.AuthReq = authhttp.Request{URL: "http://127.0.0.1:80/mqtt/auth", Method: "post",
		Headers: map[string]string{"content_type": form}, Params: "clientid=%c,username=%u,password=%P"}
	h.ACLReq = authhttp.Request{URL: "http://127.0.0.1:80/mqtt/acl", Method: "post",
		Headers: map[string]string{"content-type": form},
		Params:  "access=%A,username=%u,clientid=%c,ipaddr=%a,topic=%t,mountpoint=%m"}
	h.Timeout, h.ConnectTimeout = 5e9, 5e9
	h.PoolSize, h.EnablePipelining = 32, 100
	j := authjwt.Defaults()
	j.Secret, j.From, j.VerifyClaims = "emqxsecret", "password", false
	return Plugins{HTTP: h, JWT: j, Mnesia: Mnesia{PasswordHash: passwd.SHA256}}
}

// TestShippedFiles: the release's etc/ files load without errors; emqx.conf
// and cluster.conf give exactly the built-in defaults, the plugins' files
// the values EMQX's own files set.
func TestShippedFiles(t *testing.T) {
	etc, err := filepath.Abs(filepath.Join("..", "..", "etc"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range PluginConfFiles {
		if _, err := os.Stat(filepath.Join(etc, PluginsDir, name)); err != nil {
			t.Errorf("plugin file not shipped: %v", err)
		}
	}
	home := t.TempDir()
	shipped, err := Load(Options{Home: home, EtcDir: etc})
	if err != nil {
		t.Fatalf("shipped files do not load:\n%v", err)
	}
	if want := emqxShippedPlugins(); !reflect.DeepEqual(shipped.Plugins, want) {
		t.Errorf("shipped plugin settings differ from EMQX's:\n%+v\n%+v", shipped.Plugins, want)
	}
	shipped.Plugins.HTTP.Validate(func(key, problem string) { t.Errorf("shipped emqx_auth_http.conf: %s: %s", key, problem) })

	empty := newRelease(t, "", "")
	defaults, err := Load(Options{Home: home, EtcDir: empty.etc})
	if err != nil {
		t.Fatal(err)
	}
	// acl_file defaults to acl.conf beside emqx.conf, which differs here.
	for _, c := range []*Config{shipped, defaults} {
		if want := filepath.Join(c.EtcDir, "acl.conf"); c.Access.ACLFile != want {
			t.Errorf("acl_file %q, want %q", c.Access.ACLFile, want)
		}
	}
	defaults.Access.ACLFile = shipped.Access.ACLFile
	defaults.Plugins = emqxShippedPlugins()
	if shipped.Dump() != defaults.Dump() {
		t.Errorf("shipped dump differs from defaults:\n%s\n---\n%s", shipped.Dump(), defaults.Dump())
	}
	shipped.EtcDir, defaults.EtcDir = "", ""
	if !reflect.DeepEqual(shipped, defaults) {
		t.Errorf("shipped config differs from defaults:\n%+v\n%+v", shipped, defaults)
	}
	if _, err := os.Stat(filepath.Join(etc, "acl.conf")); err != nil {
		t.Errorf("acl.conf not shipped: %v", err)
	}
}

// TestShippedFilesDocumentEveryKey: each key appears in one of the files,
// set or as a commented sample (a wildcard key with some name), under a
// ## description block.
func TestShippedFilesDocumentEveryKey(t *testing.T) {
	var text strings.Builder
	names := []string{EmqxConfFile, ClusterConfFile}
	for _, p := range PluginConfFiles {
		names = append(names, filepath.Join(PluginsDir, p))
	}
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join("..", "..", "etc", name))
		if err != nil {
			t.Fatal(err)
		}
		text.Write(b)
	}
	for _, f := range schema {
		re := regexp.MustCompile(`(?m)^(## )?` + regexp.QuoteMeta(f.key) + ` = `)
		if !re.MatchString(text.String()) {
			t.Errorf("key %s is not in the shipped files", f.key)
		}
	}
	for _, w := range wildSchema {
		var pat strings.Builder
		for i, sg := range w.segs {
			if i > 0 {
				pat.WriteString(`\.`)
			}
			if sg == "" {
				pat.WriteString(`[^.\s]+`)
			} else {
				pat.WriteString(regexp.QuoteMeta(sg))
			}
		}
		re := regexp.MustCompile(`(?m)^(## )?` + pat.String() + ` = `)
		if !re.MatchString(text.String()) {
			t.Errorf("key %s is not in the shipped files", w.key)
		}
	}
}
