package discovery_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"

	"emqxgo/internal/testutil"
	"emqxgo/internal/testutil/testnode"
)

// etcdServer is a real etcd, embedded, on loopback.
type etcdServer struct {
	t                  *testing.T
	dir                string
	clientURL, peerURL url.URL
	e                  *embed.Etcd
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func newEtcd(t *testing.T) *etcdServer {
	s := &etcdServer{t: t, dir: t.TempDir()}
	s.clientURL = url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	s.peerURL = url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	t.Cleanup(s.stop)
	return s
}

func (s *etcdServer) start() {
	s.t.Helper()
	cfg := embed.NewConfig()
	cfg.Dir = s.dir
	cfg.LogLevel = "error"
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{s.clientURL}, []url.URL{s.clientURL}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{s.peerURL}, []url.URL{s.peerURL}
	cfg.InitialCluster = cfg.Name + "=" + s.peerURL.String()
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		s.t.Fatal("etcd did not become ready")
	}
	s.e = e
}

func (s *etcdServer) stop() {
	if s.e != nil {
		s.e.Close()
		s.e = nil
	}
}

// keys lists what is registered under prefix.
func (s *etcdServer) keys(prefix string) []string {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{s.clientURL.Host}, DialTimeout: 5 * time.Second})
	if err != nil {
		s.t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil
	}
	var out []string
	for _, kv := range r.Kvs {
		out = append(out, string(kv.Key))
	}
	slices.Sort(out)
	return out
}

func etcdEnv(s *etcdServer, clusterName string) []string {
	return []string{"EMQX_CLUSTER__DISCOVERY=etcd", "EMQX_CLUSTER__ETCD__SERVER=" + s.clientURL.String(),
		"EMQX_CLUSTER__ETCD__NODE_TTL=2s", "EMQX_CLUSTER__NAME=" + clusterName}
}

func TestEtcdCluster(t *testing.T) {
	t.Parallel()
	etcd := newEtcd(t)
	etcd.start()
	net := testutil.Subnet(t)
	cl := fmt.Sprintf("cl%d", net)
	env := etcdEnv(etcd, cl)
	var ns []*testnode.Node
	for _, name := range trioNames(net) {
		ns = append(ns, testnode.Start(t, name, env...))
	}
	testnode.WaitRunning(t, formWithin, ns...)
	dir := "emqxcl/" + cl + "/nodes/"
	want := []string{dir + ns[0].Name, dir + ns[1].Name, dir + ns[2].Name}
	testutil.Eventually(t, 10*time.Second, "three keys under the prefix", func() bool { return slices.Equal(etcd.keys(dir), want) })

	// A stopped node's key expires after node_ttl (2s).
	ns[2].Halt()
	start := time.Now()
	testutil.Eventually(t, 15*time.Second, "stopped node's key expired", func() bool { return slices.Equal(etcd.keys(dir), want[:2]) })
	t.Logf("stopped node's key gone after %s (node_ttl 2s)", time.Since(start))

	// etcd down: MQTT across the cluster goes on.
	sub := testutil.DialV5(t, ns[1].Addr, "etcd-sub")
	sub.Sub(t, "e/#", 1)
	pub := testutil.DialV5(t, ns[0].Addr, "etcd-pub")
	testutil.Eventually(t, 5*time.Second, "route on n1", func() bool { return len(ns[0].N.Fabric().RouteNodes("e/x")) == 1 })
	etcd.stop()
	for i := 0; i < 20; i++ {
		pub.Pub(t, "e/x", 1, []byte(fmt.Sprint(i)))
		sub.Expect(t, "e/x", []byte(fmt.Sprint(i)))
	}
	if st := ns[0].N.Cluster().Status(); !slices.Equal(st.Running, testnode.Names(ns[0], ns[1])) {
		t.Fatalf("membership changed while etcd was down: %v", st)
	}
	// etcd back: the nodes register again by themselves.
	etcd.start()
	testutil.Eventually(t, formWithin, "keys registered again", func() bool { return slices.Equal(etcd.keys(dir), want[:2]) })
	pub.Pub(t, "e/x", 1, []byte("after"))
	sub.Expect(t, "e/x", []byte("after"))
}

// TestEtcdSimultaneousStart: three nodes started at the same instant form
// one cluster, not two, ten times over.
func TestEtcdSimultaneousStart(t *testing.T) {
	t.Parallel()
	etcd := newEtcd(t)
	etcd.start()
	for rep := 0; rep < 10; rep++ {
		net := testutil.Subnet(t)
		env := etcdEnv(etcd, fmt.Sprintf("sim%d", net))
		var ns []*testnode.Node
		for _, name := range trioNames(net) {
			ns = append(ns, testnode.Prepare(t, name, env...))
		}
		var wg sync.WaitGroup
		errs := make(chan error, 3)
		for _, n := range ns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := n.RunErr(); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		testnode.WaitRunning(t, formWithin, ns...)
		for _, n := range ns {
			n.Halt()
		}
	}
}

// TestEtcdDownAtStart: the node starts and serves MQTT without etcd, keeps
// trying, and clusters once etcd is there.
func TestEtcdDownAtStart(t *testing.T) {
	t.Parallel()
	etcd := newEtcd(t) // not started yet
	net := testutil.Subnet(t)
	env := etcdEnv(etcd, fmt.Sprintf("down%d", net))
	names := trioNames(net)
	n1 := testnode.Start(t, names[0], env...)
	n2 := testnode.Start(t, names[1], env...)
	c := testutil.DialV5(t, n1.Addr, "no-etcd")
	c.Sub(t, "x", 0)
	c.Pub(t, "x", 0, []byte("served"))
	c.Expect(t, "x", []byte("served"))
	testutil.Eventually(t, 15*time.Second, "the failed registration is logged", func() bool {
		return n1.Logs.FilterMessageSnippet("cannot register").Len() > 0
	})
	etcd.start()
	testnode.WaitRunning(t, formWithin, n1, n2)
}
