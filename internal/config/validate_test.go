package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRequiredByDiscovery(t *testing.T) {
	cases := []struct {
		discovery, extra string
		missing          []string
	}{
		{"static", "", []string{"cluster.static.seeds"}},
		{"static", "cluster.static.seeds = emqx1@h", nil},
		{"dns", "", []string{"cluster.dns.name"}},
		{"dns", "cluster.dns.name = emqx.local", nil},
		{"etcd", "", []string{"cluster.etcd.server"}},
		{"etcd", "cluster.etcd.server = http://127.0.0.1:2379", nil},
		{"k8s", "", []string{"cluster.k8s.apiserver", "cluster.k8s.service_name"}},
		{"k8s", "cluster.k8s.apiserver = https://k8s:6443", []string{"cluster.k8s.service_name"}},
		{"k8s", "cluster.k8s.apiserver = https://k8s:6443\ncluster.k8s.service_name = emqx", nil},
		{"mcast", "", nil},
		{"manual", "", nil},
	}
	for _, c := range cases {
		t.Run(c.discovery+"/"+c.extra, func(t *testing.T) {
			r := newRelease(t, "", "# c\n\n\n\ncluster.discovery = "+c.discovery+"\n"+c.extra+"\n")
			cfg, err := r.load()
			if len(c.missing) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.Cluster.Discovery != c.discovery {
					t.Errorf("discovery %q", cfg.Cluster.Discovery)
				}
				return
			}
			errs := AsErrors(err)
			if len(errs) != len(c.missing) {
				t.Fatalf("got %v, want %d errors", err, len(c.missing))
			}
			for i, m := range c.missing {
				want := r.clusterConf() + `:5: cluster.discovery = "` + c.discovery + `": ` + m +
					" is required when cluster.discovery = " + c.discovery
				if errs[i].Error() != want {
					t.Errorf("got  %s\nwant %s", errs[i].Error(), want)
				}
			}
		})
	}
}

// certs writes key.pem, cert.pem and ca.pem under home/etc/certs.
func certs(t *testing.T, r release) {
	t.Helper()
	for _, n := range []string{"key.pem", "cert.pem", "ca.pem"} {
		r.write(t, "etc/certs/"+n, "-----BEGIN TEST-----\n")
	}
}

func TestTLSListeners(t *testing.T) {
	for _, l := range []string{"ssl", "wss"} {
		key := "listener." + l + ".external"
		t.Run(l+" ok", func(t *testing.T) {
			r := newRelease(t, key+" = 8883\n"+key+".keyfile = etc/certs/key.pem\n"+key+".certfile = "+
				"etc/certs/cert.pem\n"+key+".cacertfile = etc/certs/ca.pem\n"+key+".verify = verify_peer\n"+
				key+".fail_if_no_peer_cert = true\n", "")
			certs(t, r)
			c := r.mustLoad(t)
			ln := *c.Listeners.Find(l, "external")
			want := Listener{Proto: l, Name: "external", Zone: "external", MaxConnections: 1024000, ProxyProtocolTimeout: 3 * time.Second,
				Addr: "0.0.0.0:8883", KeyFile: filepath.Join(r.home, "etc/certs/key.pem"),
				CertFile: filepath.Join(r.home, "etc/certs/cert.pem"), CACertFile: filepath.Join(r.home, "etc/certs/ca.pem"),
				VerifyPeer: true, FailIfNoPeerCert: true}
			if l == "wss" {
				want.MQTTPath = "/mqtt"
			}
			if !reflect.DeepEqual(ln, want) {
				t.Errorf("got %+v\nwant %+v", ln, want)
			}
		})
		t.Run(l+" files required", func(t *testing.T) {
			r := newRelease(t, key+" = 8883\n", "")
			errs := r.mustFail(t)
			if len(errs) != 2 {
				t.Fatalf("got:\n%s", errsText(errs))
			}
			for i, f := range []string{"keyfile", "certfile"} {
				want := r.emqxConf() + ":1: " + key + ` = "8883": ` + key + "." + f + " is required when " + key + " is on"
				if errs[i].Error() != want {
					t.Errorf("got  %s\nwant %s", errs[i].Error(), want)
				}
			}
		})
		t.Run(l+" files missing", func(t *testing.T) {
			r := newRelease(t, key+" = 8883\n"+key+".keyfile = etc/certs/nokey.pem\n"+key+".certfile = /nonexistent/cert.pem\n"+
				key+".cacertfile = etc/certs\n", "")
			certs(t, r)
			errs := r.mustFail(t)
			if len(errs) != 3 {
				t.Fatalf("got:\n%s", errsText(errs))
			}
			wants := []string{
				r.emqxConf() + ":2: " + key + `.keyfile = "etc/certs/nokey.pem": cannot read file ` +
					filepath.Join(r.home, "etc/certs/nokey.pem") + ": no such file or directory",
				r.emqxConf() + ":3: " + key + `.certfile = "/nonexistent/cert.pem": cannot read file /nonexistent/cert.pem: no such file or directory`,
				r.emqxConf() + ":4: " + key + `.cacertfile = "etc/certs": cannot read file ` + filepath.Join(r.home, "etc/certs") + ": is a directory",
			}
			for i, w := range wants {
				if errs[i].Error() != w {
					t.Errorf("got  %s\nwant %s", errs[i].Error(), w)
				}
			}
		})
	}
	t.Run("off listener files unchecked", func(t *testing.T) {
		r := newRelease(t, "listener.ssl.external.keyfile = /nonexistent\n", "")
		r.mustLoad(t)
	})
}

func TestUnreadableFile(t *testing.T) {
	if os.Geteuid() == 0 {
		// Permission bits do not stop root; a folder where a file belongs cannot be read either.
		r := newRelease(t, "listener.ssl.external = 8883\nlistener.ssl.external.keyfile = k\nlistener.ssl.external.certfile = c\n", "")
		r.write(t, "k", "x")
		p := r.write(t, "c/x", "x")
		errs := r.mustFail(t)
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), filepath.Dir(p)) {
			t.Fatalf("got:\n%s", errsText(errs))
		}
		return
	}
	r := newRelease(t, "listener.ssl.external = 8883\nlistener.ssl.external.keyfile = k\nlistener.ssl.external.certfile = c\n", "")
	r.write(t, "k", "x")
	p := r.write(t, "c", "x")
	if err := os.Chmod(p, 0); err != nil {
		t.Fatal(err)
	}
	wantOneError(t, r.mustFail(t), "cannot read file "+p, "permission denied")
}

func TestRPCSSL(t *testing.T) {
	r := newRelease(t, "", "rpc.driver = ssl\n")
	errs := r.mustFail(t)
	if len(errs) != 3 {
		t.Fatalf("got:\n%s", errsText(errs))
	}
	for i, k := range []string{"rpc.certfile", "rpc.keyfile", "rpc.cacertfile"} {
		want := r.clusterConf() + `:1: rpc.driver = "ssl": ` + k + " is required when rpc.driver = ssl"
		if errs[i].Error() != want {
			t.Errorf("got  %s\nwant %s", errs[i].Error(), want)
		}
	}
	r = newRelease(t, "", "rpc.driver = ssl\nrpc.certfile = etc/certs/cert.pem\nrpc.keyfile = etc/certs/key.pem\nrpc.cacertfile = etc/certs/nope.pem\n")
	certs(t, r)
	e := wantOneError(t, r.mustFail(t), "rpc.cacertfile", "nope.pem", "no such file")
	if e.Line != 4 {
		t.Errorf("line %d", e.Line)
	}
	r.write(t, "etc/certs/nope.pem", "x")
	c := r.mustLoad(t)
	if c.RPC.Driver != "ssl" || c.RPC.CACertFile != filepath.Join(r.home, "etc/certs/nope.pem") {
		t.Errorf("%+v", c.RPC)
	}
}

func TestEtcdSSLFiles(t *testing.T) {
	base := "cluster.discovery = etcd\ncluster.etcd.server = https://127.0.0.1:2379\n"
	r := newRelease(t, "", base+"cluster.etcd.ssl.certfile = etc/certs/cert.pem\ncluster.etcd.ssl.keyfile = etc/certs/none.pem\n")
	certs(t, r)
	wantOneError(t, r.mustFail(t), "cluster.etcd.ssl.keyfile", "no such file")

	r = newRelease(t, "", base+"cluster.etcd.ssl.certfile = etc/certs/cert.pem\n")
	certs(t, r)
	wantOneError(t, r.mustFail(t), "cluster.etcd.ssl.keyfile is required when cluster.etcd.ssl.certfile is set")

	r = newRelease(t, "", base+"cluster.etcd.ssl.certfile = etc/certs/cert.pem\ncluster.etcd.ssl.keyfile = etc/certs/key.pem\ncluster.etcd.ssl.cacertfile = etc/certs/ca.pem\n")
	certs(t, r)
	if c := r.mustLoad(t); c.Cluster.Etcd.KeyFile != filepath.Join(r.home, "etc/certs/key.pem") {
		t.Errorf("%+v", c.Cluster.Etcd)
	}

	// Not checked while discovery is not etcd.
	r = newRelease(t, "", "cluster.etcd.ssl.cacertfile = /nonexistent\n")
	r.mustLoad(t)
}

func TestDuplicateListenerPorts(t *testing.T) {
	cases := []struct {
		conf  string
		clash string // "" = no error; else the key reported
		with  string
	}{
		{"listener.ws.external = 1883\n", "listener.ws.external", "listener.tcp.external"},
		{"listener.tcp.external = 127.0.0.1:1883\nlistener.ws.external = 1883\n", "listener.ws.external", "listener.tcp.external"},
		{"listener.tcp.external = 127.0.0.1:1883\nlistener.ws.external = 127.0.0.2:1883\n", "", ""},
		{"listener.tcp.external = 127.0.0.1:1883\nlistener.ws.external = 127.0.0.1:1883\n", "listener.ws.external", "listener.tcp.external"},
		{"listener.ws.external = 8083\nlistener.wss.external = 8083\n" + tlsKeys("wss"), "listener.wss.external", "listener.ws.external"},
		{"listener.ws.external = 8083\nlistener.wss.external = 8084\n" + tlsKeys("wss"), "", ""},
		{"listener.tcp.external = [::]:1883\nlistener.ws.external = 127.0.0.1:1883\n", "listener.ws.external", "listener.tcp.external"},
		{"listener.tcp.external = off\nlistener.ws.external = 1883\n", "", ""},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.conf, "\n", ";"), func(t *testing.T) {
			r := newRelease(t, c.conf, "")
			certs(t, r)
			_, err := r.load()
			if c.clash == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			e := wantOneError(t, AsErrors(err), "port already used by "+c.with)
			if e.Key != c.clash || e.Source != r.emqxConf() || e.Line == 0 {
				t.Errorf("%+v", e)
			}
		})
	}
}

func tlsKeys(l string) string {
	k := "listener." + l + ".external"
	return k + ".keyfile = etc/certs/key.pem\n" + k + ".certfile = etc/certs/cert.pem\n"
}

func TestDerivedAppNames(t *testing.T) {
	r := newRelease(t, "node.name = node-7@host.example\n", "")
	c := r.mustLoad(t)
	if c.Cluster.DNS.App != "node-7" || c.Cluster.K8s.AppName != "node-7" {
		t.Errorf("app %q %q", c.Cluster.DNS.App, c.Cluster.K8s.AppName)
	}
	c = r.mustLoad(t, "EMQX_NODE_NAME=other@h", "EMQX_CLUSTER__K8S__APP_NAME=k8sapp")
	if c.Cluster.DNS.App != "other" || c.Cluster.K8s.AppName != "k8sapp" {
		t.Errorf("app %q %q", c.Cluster.DNS.App, c.Cluster.K8s.AppName)
	}
	// A bad node name gives one error, not extra ones for the derived keys.
	r = newRelease(t, "node.name = bad\n", "")
	wantOneError(t, r.mustFail(t), "node.name")
}
