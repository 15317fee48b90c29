package discovery

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Cluster is what the loop needs of membership.
type Cluster interface {
	// Self is this node's name.
	Self() string
	// Epoch orders nodes by age: the oldest has the smallest.
	Epoch() int64
	// Running lists the running members, this node included.
	Running() []string
	// Left reports whether `cluster leave` turned autocluster off.
	Left() bool
	// Probe asks a node for its epoch; an error means it does not answer.
	Probe(ctx context.Context, name string) (int64, error)
	// Join makes this node a member of name's cluster.
	Join(ctx context.Context, name string) error
}

// Loop is autocluster: at start and every Interval, while this node runs
// alone (and `cluster leave` has not turned it off), discover, keep the
// names that answer, and join the oldest running one, unless this node is
// the oldest (the others join it). The oldest waits for one Interval at
// most: when no one joined it meanwhile, the others have formed a cluster
// without it (they joined each other before it registered, say), and it
// joins the oldest of them.
type Loop struct {
	s        Strategy
	c        Cluster
	log      *zap.Logger
	interval time.Duration
	jitter   time.Duration

	wake chan struct{}
	// base is cancelled by Stop: the loop's waits and every round's
	// discovery, probes and join derive from it.
	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	state loopState

	// oldestSince: when a round first found this node the oldest of those
	// answering, while it still ran alone (zero: not so; the loop's
	// goroutine only).
	oldestSince time.Time
}

type loopState int

const (
	created loopState = iota
	running
	stopped // by Stop, or by a Start that failed; the strategy is closed
)

// ErrStarted is returned by a second Start, and by Start after Stop: a
// Loop runs once.
var ErrStarted = errors.New("autocluster: the loop was already started or stopped")

// NewLoop starts nothing.
func NewLoop(s Strategy, c Cluster, log *zap.Logger) *Loop {
	l := &Loop{s: s, c: c, log: log.Named("autocluster"), interval: Interval, wake: make(chan struct{}, 1)}
	l.base, l.cancel = context.WithCancel(context.Background())
	if _, ok := s.(Locker); !ok {
		l.jitter = MaxJitter
	}
	return l
}

// Start starts the strategy (a Starter: mcast binds its sockets) and then
// runs the loop in the background. When the strategy cannot start, Start
// closes it and returns the error; the loop is then stopped for good. A
// second Start fails.
func (l *Loop) Start() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state != created {
		return ErrStarted
	}
	if st, ok := l.s.(Starter); ok {
		if err := st.Start(); err != nil {
			l.state = stopped
			l.closeStrategy()
			return err
		}
	}
	l.state = running
	l.wg.Add(1)
	go l.run()
	return nil
}

// Stop ends the loop, waits for a round in progress, and closes the
// strategy. It may be called more than once, without Start, and after a
// failed Start.
func (l *Loop) Stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state == stopped {
		return
	}
	l.state = stopped
	l.cancel()
	l.wg.Wait()
	l.closeStrategy()
}

func (l *Loop) closeStrategy() {
	if c, ok := l.s.(Closer); ok {
		_ = c.Close()
	}
}

// Kick runs a round now (after `cluster discovery enable`).
func (l *Loop) Kick() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Unregister withdraws a registering strategy's record (on cluster leave).
func (l *Loop) Unregister(ctx context.Context) {
	if r, ok := l.s.(Registrar); ok {
		if err := r.Unregister(ctx); err != nil {
			l.log.Warn("cannot withdraw the discovery registration", zap.String("strategy", l.s.Name()), zap.Error(err))
		}
	}
}

func (l *Loop) ctx(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(l.base, d)
}

func (l *Loop) run() {
	defer l.wg.Done()
	if l.jitter > 0 { // lockless: nodes started together do not all decide at once
		select {
		case <-time.After(rand.N(l.jitter)):
		case <-l.base.Done():
			return
		}
	}
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		l.round()
		select {
		case <-t.C:
		case <-l.wake:
		case <-l.base.Done():
			return
		}
	}
}

// round is one attempt; it logs one line when it fails.
func (l *Loop) round() {
	if r, ok := l.s.(Registrar); ok && !r.Registered() && !l.c.Left() {
		ctx, cancel := l.ctx(10 * time.Second)
		if err := r.Register(ctx); err != nil {
			l.log.Warn("autocluster: cannot register this node; retrying", zap.String("strategy", l.s.Name()), zap.Error(err))
		}
		cancel()
	}
	if l.c.Left() || len(l.c.Running()) > 1 {
		l.oldestSince = time.Time{}
		return // turned off by `cluster leave`, or clustered: nothing to do
	}
	ctx, cancel := l.ctx(30 * time.Second)
	defer cancel()
	if lk, ok := l.s.(Locker); ok {
		unlock, err := lk.Lock(ctx)
		if err != nil {
			l.log.Warn("autocluster round failed: cannot take the join lock", zap.String("strategy", l.s.Name()), zap.Error(err))
			return
		}
		defer unlock()
		if len(l.c.Running()) > 1 {
			return // someone joined us while we waited
		}
	}
	names, err := l.s.Discover(ctx)
	if err != nil {
		l.log.Warn("autocluster round failed: discovery error", zap.String("strategy", l.s.Name()), zap.Error(err))
		return
	}
	self := l.c.Self()
	var others []string
	for _, n := range names {
		if n != self && !slices.Contains(others, n) {
			others = append(others, n)
		}
	}
	if len(others) == 0 {
		l.log.Info("autocluster: no other node discovered yet", zap.String("strategy", l.s.Name()))
		return
	}
	type cand struct {
		name  string
		epoch int64
	}
	var mu sync.Mutex
	var up []cand
	failed := map[string]string{}
	var wg sync.WaitGroup
	for _, n := range others {
		wg.Add(1)
		go func(n string) {
			defer wg.Done()
			e, err := l.c.Probe(ctx, n)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed[n] = err.Error()
				return
			}
			up = append(up, cand{n, e})
		}(n)
	}
	wg.Wait()
	if len(up) == 0 {
		l.log.Warn("autocluster round failed: no discovered node answers", zap.String("strategy", l.s.Name()), zap.Any("tried", failed))
		return
	}
	up = append(up, cand{self, l.c.Epoch()})
	sort.Slice(up, func(i, j int) bool {
		if up[i].epoch != up[j].epoch {
			return up[i].epoch < up[j].epoch
		}
		return up[i].name < up[j].name
	})
	oldest := up[0].name
	if oldest == self {
		if l.oldestSince.IsZero() {
			l.oldestSince = time.Now()
		}
		if time.Since(l.oldestSince) < l.interval*4/5 { // the next round, give or take its probes' time
			l.log.Info("autocluster: this node is the oldest; waiting for the others to join it", zap.Int("answering", len(up)-1))
			return
		}
		// Every other node has had a round since, and none joined: they
		// are in a cluster of their own. Waiting longer would keep two.
		oldest = up[1].name
		l.log.Info("autocluster: this node is the oldest, but no other node joined it within a round; joining the next oldest",
			zap.String("node", oldest), zap.Duration("waited", time.Since(l.oldestSince)))
	}
	l.oldestSince = time.Time{}
	if err := l.c.Join(ctx, oldest); err != nil {
		l.log.Warn("autocluster round failed: join", zap.String("node", oldest), zap.Error(err))
		return
	}
	l.log.Info("autocluster: joined the cluster", zap.String("strategy", l.s.Name()), zap.String("via", oldest))
}
