package discovery_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"emqxgo/internal/discovery"
)

// fakeStrategy counts Start and Close calls; Discover returns names, or
// blocks until its context ends when block is set.
type fakeStrategy struct {
	names    []string
	block    bool
	startErr error

	starts, closes atomic.Int32
	discovering    chan struct{} // closed by the first Discover
	once           sync.Once
}

func newFake(names ...string) *fakeStrategy {
	return &fakeStrategy{names: names, discovering: make(chan struct{})}
}

func (f *fakeStrategy) Name() string { return "fake" }

func (f *fakeStrategy) Discover(ctx context.Context) ([]string, error) {
	f.once.Do(func() { close(f.discovering) })
	if f.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return f.names, nil
}

func (f *fakeStrategy) Start() error {
	f.starts.Add(1)
	return f.startErr
}

func (f *fakeStrategy) Close() error {
	f.closes.Add(1)
	return nil
}

// Lock makes the fake a Locker: the loop then runs its first round at
// once instead of after a random wait.
func (f *fakeStrategy) Lock(context.Context) (func(), error) { return func() {}, nil }

// fakeCluster is a lone node that joins whatever it is told to.
type fakeCluster struct {
	self   string
	epochs map[string]int64 // answering nodes
	joined chan string
}

func (c *fakeCluster) Self() string      { return c.self }
func (c *fakeCluster) Epoch() int64      { return c.epochs[c.self] }
func (c *fakeCluster) Running() []string { return []string{c.self} }
func (c *fakeCluster) Left() bool        { return false }

func (c *fakeCluster) Probe(_ context.Context, name string) (int64, error) {
	if e, ok := c.epochs[name]; ok {
		return e, nil
	}
	return 0, errors.New("no answer")
}

func (c *fakeCluster) Join(_ context.Context, name string) error {
	c.joined <- name
	return nil
}

func lone() *fakeCluster {
	return &fakeCluster{self: "emqx1@h", epochs: map[string]int64{"emqx1@h": 20}, joined: make(chan string, 1)}
}

func TestLoopStopWithoutStart(t *testing.T) {
	f := newFake()
	l := discovery.NewLoop(f, lone(), zap.NewNop())
	l.Stop()
	l.Stop()
	if f.closes.Load() != 1 {
		t.Fatalf("closed %d times, want 1", f.closes.Load())
	}
	if err := l.Start(); !errors.Is(err, discovery.ErrStarted) {
		t.Fatalf("Start after Stop = %v, want ErrStarted", err)
	}
	if f.starts.Load() != 0 {
		t.Fatal("strategy started after Stop")
	}
}

func TestLoopStartFails(t *testing.T) {
	f := newFake()
	f.startErr = errors.New("no free port")
	l := discovery.NewLoop(f, lone(), zap.NewNop())
	if err := l.Start(); !errors.Is(err, f.startErr) {
		t.Fatalf("Start = %v, want the strategy's error", err)
	}
	if f.closes.Load() != 1 {
		t.Fatalf("after a failed Start the strategy was closed %d times, want 1", f.closes.Load())
	}
	l.Stop()
	l.Stop()
	if f.closes.Load() != 1 {
		t.Fatalf("Stop after a failed Start closed again (%d)", f.closes.Load())
	}
	if err := l.Start(); !errors.Is(err, discovery.ErrStarted) {
		t.Fatalf("second Start = %v, want ErrStarted", err)
	}
	if f.starts.Load() != 1 {
		t.Fatalf("strategy started %d times, want 1", f.starts.Load())
	}
}

// TestLoopRound: Start starts the strategy, a round joins the oldest node
// that answers, Stop closes the strategy once.
func TestLoopRound(t *testing.T) {
	f := newFake("emqx1@h", "emqx2@h", "emqx3@h", "down@h")
	c := lone()
	c.epochs["emqx2@h"], c.epochs["emqx3@h"] = 30, 10
	l := discovery.NewLoop(f, c, zap.NewNop())
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	if f.starts.Load() != 1 {
		t.Fatalf("strategy started %d times, want 1", f.starts.Load())
	}
	select {
	case got := <-c.joined:
		if got != "emqx3@h" {
			t.Fatalf("joined %s, want the oldest, emqx3@h", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no join")
	}
	if err := l.Start(); !errors.Is(err, discovery.ErrStarted) {
		t.Fatalf("second Start = %v, want ErrStarted", err)
	}
	l.Stop()
	l.Stop()
	if f.closes.Load() != 1 || f.starts.Load() != 1 {
		t.Fatalf("started %d, closed %d times; want 1, 1", f.starts.Load(), f.closes.Load())
	}
}

// TestLoopStopEndsRound: Stop cuts a round short that waits on the strategy.
func TestLoopStopEndsRound(t *testing.T) {
	f := newFake()
	f.block = true
	l := discovery.NewLoop(f, lone(), zap.NewNop())
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	<-f.discovering
	done := make(chan struct{})
	go func() {
		l.Stop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not end the round")
	}
	if f.closes.Load() != 1 {
		t.Fatalf("closed %d times, want 1", f.closes.Load())
	}
}

// TestLoopOldestJoinsWhenNoOneJoinsIt: the oldest node that answers waits
// for the others to join it, but not for ever: when a round later it still
// runs alone (the others joined each other before it was discovered), it
// joins the next oldest.
func TestLoopOldestJoinsWhenNoOneJoinsIt(t *testing.T) {
	t.Parallel()
	f := newFake("emqx1@h", "emqx2@h", "emqx3@h")
	c := lone()
	c.epochs["emqx1@h"], c.epochs["emqx2@h"], c.epochs["emqx3@h"] = 10, 30, 20
	l := discovery.NewLoop(f, c, zap.NewNop())
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	defer l.Stop()
	start := time.Now()
	select {
	case got := <-c.joined:
		if got != "emqx3@h" {
			t.Fatalf("joined %s, want the next oldest, emqx3@h", got)
		}
		if waited := time.Since(start); waited < discovery.Interval*4/5 {
			t.Fatalf("joined after %s: the oldest waits a round for the others first", waited)
		}
	case <-time.After(3 * discovery.Interval):
		t.Fatal("the oldest node stayed alone")
	}
}
