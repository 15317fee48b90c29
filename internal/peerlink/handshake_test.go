package peerlink

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"emqxgo/internal/emqxterm"
	"emqxgo/internal/testutil"
)

// The acceptor of these tests: everything a stranger must not learn.
const (
	secretNode    = "secretnode@127.0.0.1"
	secretCluster = "hiddencluster"
	secretEpoch   = int64(0x1122334455667788)
)

// acceptor serves Links on 127.0.N.1 of a subnet of the test's own; the
// raw clients below dial it from other addresses of that subnet.
type acceptor struct {
	*Links
	addr string
	net  int
	logs *observer.ObservedLogs
}

func newAcceptor(t *testing.T, hs time.Duration) *acceptor {
	t.Helper()
	n := testutil.Subnet(t)
	core, logs := observer.New(zapcore.DebugLevel)
	ls := New(Config{Self: secretNode, ClusterName: secretCluster, Cookie: "the-real-cookie", Epoch: secretEpoch, Log: zap.New(core)})
	if hs > 0 {
		ls.hsTimeout = hs
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.%d.1:0", n))
	if err != nil {
		t.Fatal(err)
	}
	ls.Serve(ln, &recorder{got: map[string][]uint64{}})
	t.Cleanup(ls.Close)
	return &acceptor{Links: ls, addr: ln.Addr().String(), net: n, logs: logs}
}

// dialFrom opens a raw TCP connection to a from 127.0.N.host.
func (a *acceptor) dialFrom(t *testing.T, host int) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 3 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, byte(a.net), byte(host))}}
	c, err := d.Dial("tcp", a.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readAll reads what the acceptor sends until it closes (failing past 10 s).
func readAll(t *testing.T, c net.Conn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var buf bytes.Buffer
	_, err := io.Copy(&buf, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("acceptor kept the connection open (got %d bytes)", buf.Len())
	}
	return buf.Bytes()
}

func mustFrame(t *testing.T, f *frame) []byte {
	t.Helper()
	b, err := appendFrame(nil, f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// splitFrames cuts what a stranger received into frames.
func splitFrames(t *testing.T, b []byte) []*frame {
	t.Helper()
	var out []*frame
	r := bufio.NewReader(bytes.NewReader(b))
	for {
		f, err := readFrameMax(r, maxHandshakeFrame)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("received bytes %x are not whole frames: %v", b, err)
		}
		out = append(out, f)
	}
}

// checkNothingLearned fails unless got is exactly a bare challenge,
// followed by the bare refusal want if want is not "", and holds none of
// the acceptor's name, cluster name or epoch.
func checkNothingLearned(t *testing.T, got []byte, want string) {
	t.Helper()
	fs := splitFrames(t, got)
	if len(fs) == 0 {
		t.Fatal("no challenge")
	}
	ch := fs[0]
	if ch.Type != frameChallenge || ch.Ver != protoVersion || len(ch.Nonce) != nonceLen {
		t.Fatalf("first frame %+v, want a challenge", ch)
	}
	expect := mustFrame(t, &frame{Type: frameChallenge, Ver: protoVersion, Nonce: ch.Nonce})
	if want != "" {
		expect = append(expect, mustFrame(t, &frame{Type: frameRefuse, Err: want})...)
	}
	if !bytes.Equal(got, expect) {
		t.Fatalf("a stranger received\n%x\nwant only the nonce frame and refusal %q:\n%x", got, want, expect)
	}
	var epoch [binary.MaxVarintLen64]byte
	for _, secret := range [][]byte{[]byte("secretnode"), []byte(secretCluster), epoch[:binary.PutVarint(epoch[:], secretEpoch)]} {
		if bytes.Contains(got, secret) {
			t.Fatalf("a stranger received %q", secret)
		}
	}
}

// strangerHello is a well-formed hello whose proof is made with a cookie
// the acceptor does not have.
func strangerHello(nA []byte, name string) *frame {
	h := &frame{Type: frameHello, Ver: protoVersion, Node: name, To: secretNode, Clust: secretCluster, Want: WantJoin, Nonce: nonce()}
	h.Proof = dialerProof(linkKey("a-guess"), nA, h)
	return h
}

// readChallenge reads the acceptor's first frame.
func readChallenge(t *testing.T, c net.Conn, r *bufio.Reader) *frame {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	ch, err := readFrameMax(r, maxHandshakeFrame)
	if err != nil || ch.Type != frameChallenge {
		t.Fatalf("challenge: %+v %v", ch, err)
	}
	return ch
}

// TestStrangerLearnsNothing: whatever an unproven dialer sends, it gets the
// nonce frame, at most a bare refusal, and the connection closed: no node
// name, cluster name or epoch, and no proof to guess the cookie on.
func TestStrangerLearnsNothing(t *testing.T) {
	a := newAcceptor(t, 500*time.Millisecond)
	t.Run("silent", func(t *testing.T) {
		checkNothingLearned(t, readAll(t, a.dialFrom(t, 2)), "")
	})
	t.Run("old hello first", func(t *testing.T) { // protocol 4's opening: the acceptor used to prove first
		c := a.dialFrom(t, 2)
		_, _ = c.Write(mustFrame(t, &frame{Type: frameHello, Ver: 4, Node: "x@127.0.0.1", Clust: secretCluster, Nonce: nonce()}))
		checkNothingLearned(t, readAll(t, c), emqxterm.ReasonProtocol)
	})
	t.Run("wrong proof", func(t *testing.T) {
		c := a.dialFrom(t, 2)
		r := bufio.NewReader(c)
		ch := readChallenge(t, c, r)
		_, _ = c.Write(mustFrame(t, strangerHello(ch.Nonce, "member@127.0.0.2")))
		rest := readAll(t, c)
		checkNothingLearned(t, append(mustFrame(t, ch), rest...), emqxterm.ReasonBadCookie)
	})
	t.Run("replayed proof", func(t *testing.T) { // a proof made for another nonce
		c := a.dialFrom(t, 2)
		r := bufio.NewReader(c)
		ch := readChallenge(t, c, r)
		h := &frame{Type: frameHello, Ver: protoVersion, Node: "member@127.0.0.2", To: secretNode, Clust: secretCluster, Want: WantJoin, Nonce: nonce()}
		h.Proof = dialerProof(linkKey("the-real-cookie"), nonce(), h)
		_, _ = c.Write(mustFrame(t, h))
		checkNothingLearned(t, append(mustFrame(t, ch), readAll(t, c)...), emqxterm.ReasonBadCookie)
	})
	t.Run("no proof", func(t *testing.T) {
		c := a.dialFrom(t, 2)
		r := bufio.NewReader(c)
		ch := readChallenge(t, c, r)
		_, _ = c.Write(mustFrame(t, &frame{Type: frameHello, Ver: protoVersion, Node: "m@h", To: secretNode, Nonce: nonce()}))
		checkNothingLearned(t, append(mustFrame(t, ch), readAll(t, c)...), "")
	})
	t.Run("junk", func(t *testing.T) {
		c := a.dialFrom(t, 2)
		ch := readChallenge(t, c, bufio.NewReader(c)) // before the junk: closed unread, it may be reset
		_, _ = c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
		checkNothingLearned(t, append(mustFrame(t, ch), readAll(t, c)...), "")
	})
	if len(a.Peers()) != 0 {
		t.Fatal("a stranger got a link")
	}
}

// TestDialerChecksAcceptor: a listener without the cookie that takes any
// proof and welcomes the dialer gets no link (and its own name is not
// trusted), and one speaking another protocol is refused as such.
func TestDialerChecksAcceptor(t *testing.T) {
	for _, tc := range []struct {
		name   string
		serve  func(c net.Conn, r *bufio.Reader)
		reason string
	}{
		{"impostor", func(c net.Conn, r *bufio.Reader) {
			_ = writeFrame(c, &frame{Type: frameChallenge, Ver: protoVersion, Nonce: nonce()})
			h, err := readFrameMax(r, maxHandshakeFrame)
			if err != nil {
				return
			}
			w := &frame{Type: frameWelcome, Ver: protoVersion, Node: h.To, Clust: h.Clust}
			w.Proof = acceptorProof(linkKey("a-guess"), nonce(), h.Nonce, w, h.Node)
			_ = writeFrame(c, w)
		}, emqxterm.ReasonBadCookie},
		{"other protocol", func(c net.Conn, _ *bufio.Reader) {
			_ = writeFrame(c, &frame{Type: frameChallenge, Ver: protoVersion + 1, Nonce: nonce()})
		}, emqxterm.ReasonProtocol},
		{"long refusal", func(c net.Conn, _ *bufio.Reader) {
			_ = writeFrame(c, &frame{Type: frameRefuse, Err: strings.Repeat("x", 500)})
		}, emqxterm.ReasonProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln := mustListen(t)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				tc.serve(c, bufio.NewReader(c))
				_, _ = io.Copy(io.Discard, c)
			}()
			defer wg.Wait()
			defer ln.Close()
			d := New(Config{Self: "a@127.0.0.1", ClusterName: "c", Cookie: "k"})
			d.Serve(mustListen(t), &recorder{got: map[string][]uint64{}})
			defer d.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := d.Dial(ctx, "b@127.0.0.1", ln.Addr().String(), WantJoin); emqxterm.ReasonOf(err) != tc.reason || d.Has("b@127.0.0.1") {
				t.Fatalf("dial: %v, want %s", err, tc.reason)
			}
		})
	}
}

// TestRefusalsAfterProof: a dialer holding the cookie hears why it is
// refused: another node name at that address, another cluster.name, Admit.
func TestRefusalsAfterProof(t *testing.T) {
	a := newAcceptor(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, tc := range []struct {
		cluster, dialed, reason string
	}{
		{secretCluster, "other@127.0.0.1", emqxterm.ReasonNodeNameMismatch},
		{"othercl", secretNode, emqxterm.ReasonClusterNameMismatch},
		{secretCluster, secretNode, ""},
	} {
		d := New(Config{Self: "d@127.0.0.1", ClusterName: tc.cluster, Cookie: "the-real-cookie"})
		epoch, err := d.Probe(ctx, tc.dialed, a.addr)
		if emqxterm.ReasonOf(err) != tc.reason || (err == nil && epoch != secretEpoch) {
			t.Fatalf("dial %s from cluster %s: %v (epoch %x), want %q", tc.dialed, tc.cluster, err, epoch, tc.reason)
		}
	}
}

// TestOversizedBeforeProof: a frame header announcing megabytes before the
// proof is refused on the header: nothing of that size is allocated, by 40
// connections at once (a hello with a 15 MB name, a 16 MB frame), or by
// the decoder itself.
func TestOversizedBeforeProof(t *testing.T) {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], 16<<20)
	var ms0, ms1 runtime.MemStats
	br := bytes.NewReader(nil)
	r := bufio.NewReaderSize(br, 64)
	runtime.ReadMemStats(&ms0)
	for i := 0; i < 40; i++ {
		br.Reset(append(hdr[:], 1, 0))
		r.Reset(br)
		if _, err := readFrameMax(r, maxHandshakeFrame); !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("16 MB header: %v", err)
		}
	}
	runtime.ReadMemStats(&ms1)
	if d := ms1.TotalAlloc - ms0.TotalAlloc; d > 64<<10 {
		t.Fatalf("40 refused headers allocated %d bytes", d)
	}
	if n := testing.AllocsPerRun(20, func() {
		br.Reset(hdr[:])
		r.Reset(br)
		_, _ = readFrameMax(r, maxHandshakeFrame)
	}); n > 8 {
		t.Fatalf("%v allocations to refuse a header", n)
	}

	a := newAcceptor(t, 2*time.Second)
	bigHello := func() []byte { // a hello whose name is 15 MB: its header and the start of it
		b := binary.BigEndian.AppendUint32(nil, 15<<20+100)
		b = append(b, frameHello, fHandshake)
		b = binary.AppendUvarint(b, 15<<20)
		return append(b, bytes.Repeat([]byte("n"), 60<<10)...)
	}()
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var received [][]byte
	for i := 0; i < 40; i++ {
		c := a.dialFrom(t, 2+i/maxUnprovenPerSource) // within the per-source bound
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch := readChallenge(t, c, bufio.NewReader(c))
			if i%2 == 0 {
				_, _ = c.Write(bigHello)
			} else {
				_, _ = c.Write(hdr[:])
				_, _ = c.Write(make([]byte, 1000))
			}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			b, _ := io.ReadAll(c) // an error: reset, the node closed what it did not read
			mu.Lock()
			received = append(received, append(mustFrame(t, ch), b...))
			mu.Unlock()
		}()
	}
	wg.Wait()
	runtime.ReadMemStats(&ms1)
	// Each accepted connection costs its read buffer (32 KB) and change.
	d := ms1.TotalAlloc - ms0.TotalAlloc
	t.Logf("40 oversized frames before the proof: %d KB allocated in all", d>>10)
	if d > 8<<20 {
		t.Fatalf("40 oversized frames before the proof allocated %d MB", d>>20)
	}
	for _, b := range received {
		checkNothingLearned(t, b, "")
	}
	if n := a.logs.FilterMessageSnippet("handshake failed").Len(); n != 5 {
		t.Fatalf("handshake failures logged %d times, want once per source (5)", n)
	}
}

// TestUnprovenBounds: past maxUnprovenPerSource connections in their
// handshake from one source, or maxUnproven in all, a connection is closed
// before a byte is read or sent; others still get in; places come back
// when connections finish.
func TestUnprovenBounds(t *testing.T) {
	a := newAcceptor(t, 30*time.Second) // the held ones stay for the whole test
	// hold opens a connection that is accepted and stays in its handshake.
	hold := func(host int) net.Conn {
		c := a.dialFrom(t, host)
		readChallenge(t, c, bufio.NewReader(c))
		return c
	}
	// shut opens a connection that is closed at once, unread, unanswered.
	shut := func(host int) {
		t.Helper()
		c := a.dialFrom(t, host)
		_, _ = c.Write([]byte{0, 0, 0, 1})
		if b := readAll(t, c); len(b) != 0 {
			t.Fatalf("from 127.0.%d.%d past the bound: got %x", a.net, host, b)
		}
	}
	var held []net.Conn
	for i := 0; i < maxUnprovenPerSource; i++ {
		held = append(held, hold(2))
	}
	shut(2)
	shut(2)
	for host := 3; len(held) < maxUnproven; host++ {
		for i := 0; i < maxUnprovenPerSource && len(held) < maxUnproven; i++ {
			held = append(held, hold(host))
		}
	}
	shut(100)
	// Genuine peers are let in again once places are free.
	for _, c := range held {
		c.Close()
	}
	testutil.Eventually(t, 5*time.Second, "places given back", func() bool {
		a.unproven.mu.Lock()
		defer a.unproven.mu.Unlock()
		return a.unproven.total == 0 && len(a.unproven.per) == 0
	})
	hold(2)
	d := New(Config{Self: "d@127.0.0.1", ClusterName: secretCluster, Cookie: "the-real-cookie"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := d.Probe(ctx, secretNode, a.addr); err != nil {
		t.Fatalf("genuine probe after the crowd: %v", err)
	}
	if n := a.logs.FilterMessageSnippet("too many connections").Len(); n != 2 {
		t.Fatalf("crowding logged %d times, want once per source (2)", n)
	}
}

// TestHandshakeDeadline: a dialer that says nothing, or trickles a frame,
// is closed when the handshake time is up.
func TestHandshakeDeadline(t *testing.T) {
	const hs = 400 * time.Millisecond
	a := newAcceptor(t, hs)
	for _, trickle := range []bool{false, true} {
		c := a.dialFrom(t, 2)
		r := bufio.NewReader(c)
		start := time.Now()
		readChallenge(t, c, r)
		done := make(chan struct{})
		if trickle {
			go func() {
				_, _ = c.Write([]byte{0, 0, 0, 200})
				for i := 0; i < 100; i++ {
					select {
					case <-done:
						return
					case <-time.After(20 * time.Millisecond):
					}
					if _, err := c.Write([]byte{0}); err != nil {
						return
					}
				}
			}()
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := io.Copy(io.Discard, r) // nil at the close, or a reset if the trickle was not read
		close(done)
		var ne net.Error
		if took := time.Since(start); errors.As(err, &ne) && ne.Timeout() || took < hs-50*time.Millisecond || took > hs+2*time.Second {
			t.Fatalf("trickle %v: closed after %s (%v), handshake time %s", trickle, took, err, hs)
		}
	}
}

// TestHandshakeLogs: wrong proofs are logged once per source address,
// whatever name they claim, so a stranger using a member's name does not
// silence that member's own warning; every line is short, however long
// what the peer sent.
func TestHandshakeLogs(t *testing.T) {
	a := newAcceptor(t, time.Second)
	member := fmt.Sprintf("member@127.0.%d.3", a.net)
	ugly := strings.Repeat("\x1b[31m\"\n", maxName/8) // control characters, quotes, newlines
	for i := 0; i < 20; i++ {
		c := a.dialFrom(t, 2)
		r := bufio.NewReader(c)
		ch := readChallenge(t, c, r)
		name := member
		if i%2 == 1 {
			name = ugly
		}
		_, _ = c.Write(mustFrame(t, strangerHello(ch.Nonce, name)))
		readAll(t, c)
	}
	// A name or cluster name over maxName bytes, and junk.
	for _, h := range []*frame{
		{Type: frameHello, Ver: protoVersion, Node: strings.Repeat("n", maxName+1), Nonce: nonce(), Proof: nonce()},
		{Type: frameHello, Ver: protoVersion, Node: "x@h", Clust: strings.Repeat("c", maxName+1), Nonce: nonce(), Proof: nonce()},
	} {
		c := a.dialFrom(t, 4)
		ch := readChallenge(t, c, bufio.NewReader(c))
		_, _ = c.Write(mustFrame(t, h))
		checkNothingLearned(t, append(mustFrame(t, ch), readAll(t, c)...), "")
	}
	if n := a.logs.FilterMessageSnippet("different cookie").Len(); n != 1 {
		t.Fatalf("20 wrong proofs from one source logged %d times, want 1", n)
	}
	// The member itself, with a wrong cookie, from its own address.
	m := New(Config{Self: member, ClusterName: secretCluster, Cookie: "members-old-cookie", LocalIP: net.IPv4(127, 0, byte(a.net), 3)})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := m.Probe(ctx, secretNode, a.addr); emqxterm.ReasonOf(err) != emqxterm.ReasonBadCookie {
		t.Fatalf("member with a wrong cookie: %v", err)
	}
	lines := a.logs.FilterMessageSnippet("different cookie").All()
	if len(lines) != 2 || !strings.HasPrefix(lines[1].ContextMap()["remote"].(string), fmt.Sprintf("127.0.%d.3:", a.net)) {
		t.Fatalf("the member's own bad cookie was not logged: %v", lines)
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	for _, e := range a.logs.All() {
		b, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			t.Fatal(err)
		}
		if b.Len() > 512 {
			t.Fatalf("log line of %d bytes: %s", b.Len(), b)
		}
		for _, f := range e.Context {
			limit := map[string]int{"peer": maxLogValue, "error": maxLogError}[f.Key]
			if limit == 0 {
				continue
			}
			v, err := strconv.Unquote(strings.TrimSuffix(f.String, "..."))
			if err != nil || len(v) > limit {
				t.Fatalf("field %s = %s: not quoted, or over %d bytes", f.Key, f.String, limit)
			}
		}
		b.Free()
	}
	if n := a.logs.FilterMessageSnippet("handshake failed").Len(); n != 1 {
		t.Fatalf("malformed hellos from one source logged %d times, want 1", n)
	}
}
