package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestShippedFiles: the release's etc/ files load without errors and give
// exactly the built-in defaults.
func TestShippedFiles(t *testing.T) {
	etc, err := filepath.Abs(filepath.Join("..", "..", "etc"))
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	shipped, err := Load(Options{Home: home, EtcDir: etc})
	if err != nil {
		t.Fatalf("shipped files do not load:\n%v", err)
	}
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
	if shipped.Dump() != defaults.Dump() {
		t.Errorf("shipped dump differs from defaults:\n%s\n---\n%s", shipped.Dump(), defaults.Dump())
	}
	shipped.EtcDir, defaults.EtcDir = "", ""
	if !reflect.DeepEqual(shipped, defaults) {
		t.Errorf("shipped config differs from defaults:\n%+v\n%+v", shipped, defaults)
	}
}

// TestShippedFilesDocumentEveryKey: each key appears in one of the files,
// set or as a commented sample, under a ## description block.
func TestShippedFilesDocumentEveryKey(t *testing.T) {
	var text strings.Builder
	for _, name := range []string{EmqxConfFile, ClusterConfFile} {
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
}
