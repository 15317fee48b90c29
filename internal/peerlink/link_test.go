package peerlink

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
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
func (r *recorder) Notify(_, op string, body []byte, _ bool) {
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

// TestTryNotifyKeepsOrderWhenTheSocketIsFull: one sender writes on its own
// goroutine (TryNotify), falling back to the queue (Notify) when that
// cannot be done at once, while the receiver stops reading: writes fill
// the socket, some are written only in part and finished by the link's
// writer, and every frame still arrives once, in order.
func TestTryNotifyKeepsOrderWhenTheSocketIsFull(t *testing.T) {
	h := &recorder{got: map[string][]uint64{}, hold: make(chan struct{})}
	a, _ := linkPair(t, h)
	const peer, total = "b@127.0.0.1", 400
	l := a.get(peer)
	if l == nil || !l.direct.w.Usable() {
		t.Fatal("the link is plain TCP: its frames can be written without its writer")
	}
	gen := a.Gen(peer)
	done := make(chan error, 1)
	var accepted atomic.Int64
	go func() {
		for i := uint64(1); i <= total; i++ {
			body := make([]byte, 8+int(i%7)*37000) // 8 B to 222 KB
			binary.BigEndian.PutUint64(body, i)
			if a.TryNotify(peer, gen, "one", body) {
				accepted.Add(1)
				continue
			}
			if err := a.Notify(context.Background(), peer, "one", body); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	testutil.Eventually(t, 10*time.Second, "a frame written in part while the receiver stalls", func() bool {
		return l.direct.rests.Load() > 0
	})
	close(h.hold)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the sender did not finish")
	}
	testutil.Eventually(t, 20*time.Second, "every frame delivered", func() bool { return h.count() == total })
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, v := range h.got["one"] {
		if v != uint64(i+1) {
			t.Fatalf("frame %d carries %d: out of order", i+1, v)
		}
	}
	if accepted.Load() == 0 {
		t.Fatal("TryNotify took no frame")
	}
	t.Logf("%d frames, %d taken by TryNotify, %d written in part", total, accepted.Load(), l.direct.rests.Load())
}
