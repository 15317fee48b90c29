package peerlink

import (
	"bufio"
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

// behindRecorder keeps each Notify's op and behind flag.
type behindRecorder struct {
	recorder
	calls chan string
}

func (r *behindRecorder) Notify(_, op string, _ []byte, behind bool) {
	r.calls <- fmt.Sprintf("%s:%v", op, behind)
}

// TestNotifyBehindUntilTheLinkWaits: behind is set while the next one-way
// frame was read whole already, and a Notify with it is always followed
// by another before the link waits or ends.
func TestNotifyBehindUntilTheLinkWaits(t *testing.T) {
	h := &behindRecorder{calls: make(chan string, 16)}
	acc := New(Config{Self: "emqx@127.0.0.1", ClusterName: "emqxcl", Cookie: "secret"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	acc.Serve(ln, h)
	t.Cleanup(acc.Close)
	fake := New(Config{Self: "emqx7@127.0.0.1", ClusterName: "emqxcl", Cookie: "secret"})
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := fake.dialHandshake(c, bufio.NewReader(c), "emqx@127.0.0.1", WantJoin); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	notify := func(op string) []byte {
		b, err := appendFrame(nil, &frame{Type: frameNotify, Op: op, Body: []byte{1}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	expect := func(want ...string) {
		t.Helper()
		for _, w := range want {
			select {
			case got := <-h.calls:
				if got != w {
					t.Fatalf("Notify %s, want %s", got, w)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("no Notify; want %s", w)
			}
		}
	}
	write := func(b ...[]byte) {
		t.Helper()
		var all []byte
		for _, p := range b {
			all = append(all, p...)
		}
		if _, err := c.Write(all); err != nil {
			t.Fatal(err)
		}
	}
	n3 := notify("three")
	write(notify("one"), notify("two"), n3[:3]) // three not whole yet
	expect("one:true", "two:false")
	resp, _ := appendFrame(nil, &frame{Type: frameResponse, ID: 9})
	write(n3[3:], notify("four"), resp, notify("five")) // a response is not a one-way message
	expect("three:true", "four:false", "five:false")
	bad := []byte{0, 0, 0, 2, frameNotify, 0xff} // unknown flags: malformed
	write(notify("six"), bad)
	expect("six:true", ":false") // the link ends: told before it closes
}
