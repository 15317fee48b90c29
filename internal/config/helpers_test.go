package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// release is a throwaway release home with etc/emqx.conf and etc/cluster.conf.
type release struct {
	home, etc string
}

func newRelease(t *testing.T, emqxConf, clusterConf string) release {
	t.Helper()
	home := t.TempDir()
	r := release{home: home, etc: filepath.Join(home, "etc")}
	if err := os.MkdirAll(r.etc, 0o755); err != nil {
		t.Fatal(err)
	}
	r.write(t, EmqxConfFile, emqxConf)
	r.write(t, ClusterConfFile, clusterConf)
	return r
}

func (r release) write(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(r.home, name)
	if name == EmqxConfFile || name == ClusterConfFile {
		p = filepath.Join(r.etc, name)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (r release) emqxConf() string    { return filepath.Join(r.etc, EmqxConfFile) }
func (r release) clusterConf() string { return filepath.Join(r.etc, ClusterConfFile) }

func (r release) load(env ...string) (*Config, error) {
	return Load(Options{Home: r.home, Env: env})
}

func (r release) mustLoad(t *testing.T, env ...string) *Config {
	t.Helper()
	c, err := r.load(env...)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return c
}

// mustFail loads and returns the error list, failing the test on success.
func (r release) mustFail(t *testing.T, env ...string) []Error {
	t.Helper()
	c, err := r.load(env...)
	if err == nil {
		t.Fatalf("load succeeded, want errors; dump:\n%s", c.Dump())
	}
	if c != nil {
		t.Errorf("load returned a config together with errors")
	}
	var es *Errors
	if !errors.As(err, &es) || len(es.List) == 0 {
		t.Fatalf("error %T %v is not a non-empty *Errors", err, err)
	}
	return es.List
}

// get is the effective value of key in file syntax, as Dump writes it.
func get(t *testing.T, c *Config, key string) string {
	t.Helper()
	if f := lookup(key); f != nil {
		return f.get(c)
	}
	w, free := matchWild(key)
	if w == nil {
		t.Fatalf("no key %s in schema", key)
	}
	for _, v := range w.get(c) {
		if v.free == free {
			return v.value
		}
	}
	t.Fatalf("key %s has no value (its listener or zone does not exist)", key)
	return ""
}

// withListener returns the text that sets key = value, preceded, for a key
// of a listener (listener.<proto>.<name>.<key>), by the listener's address
// and, for a TLS listener, its files (written by certs).
func withListener(t *testing.T, r release, key, value string) string {
	text := key + " = " + value + "\n"
	segs := strings.Split(key, ".")
	if segs[0] != "listener" || len(segs) < 4 {
		return text
	}
	ln := strings.Join(segs[:3], ".")
	pre := ln + " = 127.0.0.1:0\n"
	if segs[1] == "ssl" || segs[1] == "wss" {
		certs(t, r)
		for _, f := range []string{"keyfile", "certfile"} {
			if segs[3] != f {
				pre += ln + "." + f + " = etc/certs/" + map[string]string{"keyfile": "key.pem", "certfile": "cert.pem"}[f] + "\n"
			}
		}
	}
	return pre + text
}

func errsText(errs []Error) string {
	return (&Errors{List: errs}).Error()
}

func wantOneError(t *testing.T, errs []Error, substrs ...string) Error {
	t.Helper()
	if len(errs) != 1 {
		t.Fatalf("got %d errors, want 1:\n%s", len(errs), errsText(errs))
	}
	msg := errs[0].Error()
	for _, s := range substrs {
		if !strings.Contains(msg, s) {
			t.Errorf("error %q does not contain %q", msg, s)
		}
	}
	return errs[0]
}

func removeFile(p string) error { return os.Remove(p) }
