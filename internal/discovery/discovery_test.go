package discovery_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"

	"emqxgo/internal/ctlrpc"
	"emqxgo/internal/discovery"
	dnsd "emqxgo/internal/discovery/dns"
	"emqxgo/internal/testutil"
	"emqxgo/internal/testutil/testnode"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, testutil.IgnoreSerf()...)
}

// formWithin is the bound for a cluster to form by itself: up to 3 s of
// random wait, then a round every 5 s.
const formWithin = 20 * time.Second

func trioNames(net int) []string {
	return []string{fmt.Sprintf("emqx1@127.0.%d.1", net), fmt.Sprintf("emqx2@127.0.%d.2", net), fmt.Sprintf("emqx3@127.0.%d.3", net)}
}

func TestStaticSeeds(t *testing.T) {
	t.Parallel()
	names := trioNames(testutil.Subnet(t))
	env := []string{"EMQX_CLUSTER__DISCOVERY=static", "EMQX_CLUSTER__STATIC__SEEDS=" + strings.Join(names, ", ")}
	// The third seed is down: the first two still form a cluster.
	n1 := testnode.Start(t, names[0], env...)
	n2 := testnode.Start(t, names[1], env...)
	testnode.WaitRunning(t, formWithin, n1, n2)
	// Started later, it joins by itself.
	n3 := testnode.Start(t, names[2], env...)
	testnode.WaitRunning(t, formWithin, n1, n2, n3)

	// leave turns autocluster off on that node: it stays alone.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n3.N.Cluster().Leave(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(discovery.Interval + time.Second) // at least one more round must pass without a rejoin
	for time.Now().Before(deadline) {
		if st := n3.N.Cluster().Status(); len(st.Running) != 1 {
			t.Fatalf("left node rejoined under autocluster: %v", st.Running)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// `cluster discovery enable` turns it back on.
	if r := n3.N.Handle(ctlrpc.Request{Op: ctlrpc.OpDiscoveryEnable}); r.Error != "" {
		t.Fatal(r.Error)
	}
	testnode.WaitRunning(t, formWithin, n1, n2, n3)
}

// dnsServer serves A, AAAA and SRV records for zone emqx.test. on loopback.
func dnsServer(t *testing.T, a []string, aaaa []string, srv []string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := dns.NewServeMux()
	mux.HandleFunc("emqx.test.", func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		hdr := func(t uint16) dns.RR_Header {
			return dns.RR_Header{Name: q.Name, Rrtype: t, Class: dns.ClassINET, Ttl: 5}
		}
		switch {
		case q.Qtype == dns.TypeA && q.Name == "nodes.emqx.test.":
			for _, ip := range a {
				m.Answer = append(m.Answer, &dns.A{Hdr: hdr(dns.TypeA), A: net.ParseIP(ip)})
			}
		case q.Qtype == dns.TypeAAAA && q.Name == "nodes.emqx.test.":
			for _, ip := range aaaa {
				m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: net.ParseIP(ip)})
			}
		case q.Qtype == dns.TypeSRV && q.Name == "_emqx._tcp.emqx.test.":
			for i, target := range srv {
				m.Answer = append(m.Answer, &dns.SRV{Hdr: hdr(dns.TypeSRV), Priority: 10, Weight: uint16(10 + i), Port: 4370, Target: target})
			}
		}
		_ = w.WriteMsg(m)
	})
	srvr := &dns.Server{PacketConn: pc, Handler: mux}
	started := make(chan struct{})
	srvr.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srvr.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srvr.Shutdown() })
	return pc.LocalAddr().String()
}

func TestDNSRecords(t *testing.T) {
	t.Parallel()
	addr := dnsServer(t, []string{"10.0.0.2", "10.0.0.1"}, []string{"fd00::1", "fd00::2"}, []string{"n2.emqx.test.", "n1.emqx.test."})
	for _, c := range []struct {
		typ, name string
		want      []string
	}{
		{"a", "nodes.emqx.test", []string{"emqx@10.0.0.1", "emqx@10.0.0.2"}},
		{"aaaa", "nodes.emqx.test", []string{"emqx@fd00::1", "emqx@fd00::2"}},
		{"srv", "_emqx._tcp.emqx.test", []string{"emqx@n1.emqx.test", "emqx@n2.emqx.test"}},
	} {
		s := dnsd.New(dnsd.Config{Name: c.name, App: "emqx", Type: c.typ, Server: addr})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		got, err := s.Discover(ctx)
		cancel()
		if err != nil || !slices.Equal(got, c.want) {
			t.Fatalf("%s: %v %v, want %v", c.typ, got, err, c.want)
		}
	}
	var problems []string
	dnsd.Config{Name: "x", App: "emqx", Type: "mx"}.Validate(func(key, problem string) { problems = append(problems, key+": "+problem) })
	if !slices.Equal(problems, []string{"cluster.dns.type: must be one of a, aaaa, srv"}) {
		t.Fatalf("type mx: %q", problems)
	}
	if h := dnsd.SelfNameHint(dnsd.Config{App: "emqx", Type: "a"}, "emqx@s1.emqx.io"); !strings.Contains(h, "emqx@<its IP>") {
		t.Fatalf("no hint for a host name under type a: %q", h)
	}
	if h := dnsd.SelfNameHint(dnsd.Config{App: "emqx", Type: "a"}, "emqx@10.0.0.1"); h != "" {
		t.Fatalf("hint for a good name: %q", h)
	}
}

// TestDNSCluster: three nodes named emqx@<ip> find each other through A
// records of a real DNS server and form one cluster.
func TestDNSCluster(t *testing.T) {
	t.Parallel()
	net := testutil.Subnet(t)
	var ips, names []string
	for i := 1; i <= 3; i++ {
		ip := fmt.Sprintf("127.0.%d.%d", net, i)
		ips, names = append(ips, ip), append(names, "emqx@"+ip)
	}
	addr := dnsServer(t, ips, nil, nil)
	env := []string{"EMQX_CLUSTER__DISCOVERY=dns", "EMQX_CLUSTER__DNS__NAME=nodes.emqx.test", "EMQX_CLUSTER__DNS__SERVER=" + addr}
	var ns []*testnode.Node
	for _, n := range names {
		ns = append(ns, testnode.Start(t, n, env...))
	}
	testnode.WaitRunning(t, formWithin, ns...)
}

// TestK8sCluster: three nodes find each other through an API server's
// EndpointSlices (ready addresses only) and form one cluster.
func TestK8sCluster(t *testing.T) {
	t.Parallel()
	net := testutil.Subnet(t)
	var eps []string
	for i := 1; i <= 3; i++ {
		eps = append(eps, fmt.Sprintf(`{"addresses":["127.0.%d.%d"],"conditions":{"ready":true}}`, net, i))
	}
	eps = append(eps, fmt.Sprintf(`{"addresses":["127.0.%d.9"],"conditions":{"ready":false}}`, net))
	body := `{"kind":"EndpointSliceList","apiVersion":"discovery.k8s.io/v1","items":[{"addressType":"IPv4","endpoints":[` + strings.Join(eps, ",") + `]}]}`
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices" || r.URL.Query().Get("labelSelector") != "kubernetes.io/service-name=emqx" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(api.Close)
	env := []string{"EMQX_CLUSTER__DISCOVERY=k8s", "EMQX_CLUSTER__K8S__APISERVER=" + api.URL, "EMQX_CLUSTER__K8S__SERVICE_NAME=emqx"}
	var ns []*testnode.Node
	for i := 1; i <= 3; i++ {
		ns = append(ns, testnode.Start(t, fmt.Sprintf("emqx@127.0.%d.%d", net, i), env...))
	}
	testnode.WaitRunning(t, formWithin, ns...)
}

// TestMcastCluster: three nodes on loopback find each other by multicast
// (deprecated strategy, still working) and form one cluster; a node with
// another cookie on the same group is ignored.
func TestMcastCluster(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"link", "set", "lo", "multicast", "on"}, {"route", "add", "239.192.78.1/32", "dev", "lo"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil && !strings.Contains(string(out), "File exists") {
			t.Fatalf("ip %v (needs root and iproute2): %v %s", args, err, out)
		}
	}
	var ports []string
	for i := 0; i < 4; i++ {
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports = append(ports, fmt.Sprint(pc.LocalAddr().(*net.UDPAddr).Port))
		pc.Close()
	}
	env := []string{"EMQX_CLUSTER__DISCOVERY=mcast", "EMQX_CLUSTER__MCAST__ADDR=239.192.78.1", "EMQX_CLUSTER__MCAST__PORTS=" + strings.Join(ports, ","),
		"EMQX_CLUSTER__MCAST__IFACE=127.0.0.1", "EMQX_CLUSTER__MCAST__LOOP=on"}
	names := trioNames(testutil.Subnet(t))
	var ns []*testnode.Node
	for _, n := range names {
		ns = append(ns, testnode.Start(t, n, env...))
	}
	other := testnode.Start(t, strings.Replace(names[0], "emqx1@", "emqx4@", 1), append(env, "EMQX_NODE__COOKIE=another")...)
	testnode.WaitRunning(t, formWithin, ns...)
	if st := other.N.Cluster().Status(); len(st.Running) != 1 {
		t.Fatalf("node with another cookie clustered: %v", st)
	}
	if ns[0].Logs.FilterMessageSnippet("deprecated").Len() == 0 {
		t.Fatal("no deprecation warning at start")
	}
}
