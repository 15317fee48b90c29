package peerlink

import (
	"context"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"emqxgo/internal/emqxterm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestCloseTwice: Close is safe twice, before Serve, and makes Serve and
// Dial refuse instead of leaking goroutines.
func TestCloseTwice(t *testing.T) {
	a, _ := linkPair(t, &recorder{got: map[string][]uint64{}})
	a.Close()
	a.Close()
	if len(a.Peers()) != 0 {
		t.Fatal("links left after Close")
	}
	idle := New(Config{Self: "c@127.0.0.1", ClusterName: "c", Cookie: "k"})
	idle.Close()
	idle.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	idle.Serve(ln, &recorder{got: map[string][]uint64{}}) // closes ln at once
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Fatal("a closed Links still accepts")
	}
}

// TestAdmitRefusal: the acceptor's Admit decides after the proofs; the
// dialer gets the reason.
func TestAdmitRefusal(t *testing.T) {
	acc := New(Config{Self: "b@127.0.0.1", ClusterName: "c", Cookie: "k",
		Admit: func(peer, want string) error {
			if want == WantMember {
				return &emqxterm.Error{Reason: emqxterm.ReasonNotMember, Node: peer}
			}
			return nil
		}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	acc.Serve(ln, &recorder{got: map[string][]uint64{}})
	defer acc.Close()
	dia := New(Config{Self: "a@127.0.0.1", ClusterName: "c", Cookie: "k"})
	dia.Serve(mustListen(t), &recorder{got: map[string][]uint64{}})
	defer dia.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := dia.Dial(ctx, "b@127.0.0.1", ln.Addr().String(), WantMember); emqxterm.ReasonOf(err) != emqxterm.ReasonNotMember {
		t.Fatalf("member dial: %v", err)
	}
	if err := dia.Dial(ctx, "b@127.0.0.1", ln.Addr().String(), WantJoin); err != nil || !dia.Has("b@127.0.0.1") {
		t.Fatalf("join dial: %v", err)
	}
	other := New(Config{Self: "x@127.0.0.1", ClusterName: "c", Cookie: "other"})
	if _, err := other.Probe(ctx, "b@127.0.0.1", ln.Addr().String()); emqxterm.ReasonOf(err) != emqxterm.ReasonBadCookie {
		t.Fatalf("probe with another cookie: %v", err)
	}
	wrong := New(Config{Self: "y@127.0.0.1", ClusterName: "d", Cookie: "k"})
	if _, err := wrong.Probe(ctx, "b@127.0.0.1", ln.Addr().String()); emqxterm.ReasonOf(err) != emqxterm.ReasonClusterNameMismatch {
		t.Fatalf("probe from another cluster: %v", err)
	}
}

func mustListen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
