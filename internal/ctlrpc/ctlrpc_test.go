package ctlrpc

import (
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStatusLine(t *testing.T) {
	s := ClusterStatus{Running: []string{"emqx@s2.emqx.io", "emqx@s1.emqx.io"}}
	if got, want := s.Line(), "Cluster status: [{running_nodes,['emqx@s1.emqx.io','emqx@s2.emqx.io']}]"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	s = ClusterStatus{Running: []string{"emqx1@127.0.0.1"}, Stopped: []string{"emqx2@127.0.0.1"}}
	if got, want := s.Line(), "Cluster status: [{running_nodes,['emqx1@127.0.0.1']},{stopped_nodes,['emqx2@127.0.0.1']}]"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	b, _ := json.Marshal(ClusterStatus{Running: []string{"b", "a"}}.Sorted())
	if string(b) != `{"running_nodes":["a","b"],"stopped_nodes":[]}` {
		t.Errorf("json %s", b)
	}
}

type echo struct{}

func (echo) Handle(r Request) Response { return Response{Node: r.Op + ":" + r.Node} }

// serve starts a Server answering with echo on a fresh socket.
func serve(t *testing.T) (string, *Server) {
	t.Helper()
	p := filepath.Join(t.TempDir(), SocketName)
	ln, err := net.Listen("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(ln, echo{}, zap.NewNop())
	s.Start()
	return p, s
}

func TestServerClient(t *testing.T) {
	p, s := serve(t)
	defer s.Close()
	c := Client{Path: p}
	r, err := c.Call(Request{Op: OpJoin, Node: "x@h"})
	if err != nil || r.Node != "cluster_join:x@h" {
		t.Fatalf("%+v %v", r, err)
	}
	// Garbage and oversized requests get an answer or a close, never a hang or crash.
	conn, err := net.Dial("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = conn.Write([]byte("not json\n"))
	buf := make([]byte, 100)
	n, _ := conn.Read(buf)
	if !strings.Contains(string(buf[:n]), "bad_request") {
		t.Fatalf("garbage answered %q", buf[:n])
	}
	conn.Close()
	conn, _ = net.Dial("unix", p)
	_, _ = conn.Write([]byte(strings.Repeat("x", maxRequest+10)))
	n, _ = conn.Read(buf)
	if n != 0 {
		t.Fatalf("oversized request answered %q", buf[:n])
	}
	conn.Close()
	if _, err := (&Client{Path: filepath.Join(t.TempDir(), "none.sock")}).Ping(); err == nil {
		t.Fatal("ping of a missing socket succeeded")
	}
}

// TestServerCloseTwice: Close is safe twice, and the socket no longer answers.
func TestServerCloseTwice(t *testing.T) {
	p, s := serve(t)
	if _, err := (&Client{Path: p}).Ping(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close()
	if _, err := (&Client{Path: p}).Ping(); err == nil {
		t.Fatal("a closed server answered")
	}
}

// TestCloseWithIdleConnection: a client that connects and sends nothing
// does not hold Close up (it held `emqx stop` for 30 s, then the node was
// killed), and its connection is closed.
func TestCloseWithIdleConnection(t *testing.T) {
	p, s := serve(t)
	idle, err := net.Dial("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	half, err := net.Dial("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	defer half.Close()
	_, _ = half.Write([]byte(`{"op":"pi`)) // a request that never ends
	if _, err := (&Client{Path: p}).Ping(); err != nil {
		t.Fatal(err) // the server still answers others
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waits for a connection that sends nothing")
	}
	for _, c := range []net.Conn{idle, half} {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err == nil || n != 0 {
			t.Fatalf("idle connection still open: %d %v", n, err)
		}
	}
}
