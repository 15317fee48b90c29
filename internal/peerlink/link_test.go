package peerlink

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"emqxgo/internal/testutil"
)

// recorder is a Handler that keeps notifications; hold blocks them.
type recorder struct {
	mu   sync.Mutex
	got  map[string][]uint64 // op -> sequence numbers in arrival order
	n    int
	hold chan struct{}
}

func (r *recorder) Request(string, string, []byte) ([]byte, error) { return nil, nil }
func (r *recorder) LinkUp(string, int64)                           {}
func (r *recorder) LinkDown(string)                                {}
func (r *recorder) PeerGone(string)                                {}
func (r *recorder) Notify(_, op string, body []byte) {
	if r.hold != nil {
		<-r.hold
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got[op] = append(r.got[op], binary.BigEndian.Uint64(body))
	r.n++
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// linkPair: b listens on 127.0.0.1, a dials it; both are bare Links.
func linkPair(t *testing.T, h *recorder) (a, b *Links) {
	t.Helper()
	mk := func(name string, h Handler) *Links {
		ls := New(Config{Self: name, ClusterName: "c", Cookie: "k"})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls.Serve(ln, h)
		return ls
	}
	a = mk("a@127.0.0.1", &recorder{got: map[string][]uint64{}})
	b = mk("b@127.0.0.1", h)
	t.Cleanup(func() { a.Close(); b.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Dial(ctx, "b@127.0.0.1", b.ln.Addr().String(), WantMember); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// TestLinkConcurrentSendersKeepOrder: frames of concurrent senders, of
// mixed sizes, all arrive, each sender's in its order.
func TestLinkConcurrentSendersKeepOrder(t *testing.T) {
	h := &recorder{got: map[string][]uint64{}}
	a, _ := linkPair(t, h)
	const senders, each = 8, 3000
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := make([]byte, 8+s*100) // mixed sizes
			for i := uint64(1); i <= each; i++ {
				binary.BigEndian.PutUint64(body, i)
				if err := a.Notify(context.Background(), "b@127.0.0.1", fmt.Sprint("s", s), body); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	testutil.Eventually(t, 10*time.Second, "every frame delivered", func() bool { return h.count() == senders*each })
	h.mu.Lock()
	defer h.mu.Unlock()
	for op, seqs := range h.got {
		for i, v := range seqs {
			if v != uint64(i+1) {
				t.Fatalf("%s: frame %d carries %d: out of order", op, i+1, v)
			}
		}
	}
}
