package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/session"
	"github.com/eclipse/paho.golang/paho/session/state"
)

const sharedStream = 100000 // stream id of the shared group's publisher

// world is the cluster and the clients' shared record.
type world struct {
	c     config
	nodes []*node

	mu      sync.Mutex
	streams map[int]*stream
	subs    []*subscriber
	kills   []kill
}

type kill struct {
	node       int
	down, back time.Time
}

func newWorld(c config, ns []*node) *world {
	return &world{c: c, nodes: ns, streams: map[int]*stream{}}
}

func (w *world) addr(i int) string { return w.nodes[i%len(w.nodes)].addr }

// dial connects an MQTT 5 client to node i; clean=false keeps the session
// for 10 minutes. onMsg gets every PUBLISH.
func dial(addr, id string, clean bool, sess session.SessionManager, onMsg func(*paho.Publish)) (*paho.Client, *paho.Connack, error) {
	conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return nil, nil, err
	}
	cfg := paho.ClientConfig{ClientID: id, Conn: conn, OnClientError: func(error) {}, Session: sess}
	if onMsg != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){func(r paho.PublishReceived) (bool, error) {
			onMsg(r.Packet)
			return true, nil
		}}
	}
	cl := paho.NewClient(cfg)
	cp := &paho.Connect{ClientID: id, CleanStart: clean, KeepAlive: 10}
	if !clean {
		exp := uint32(600)
		cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: &exp}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ca, err := cl.Connect(ctx, cp)
	if err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	return cl, ca, nil
}

// stream is one publisher's messages.
type stream struct {
	id  int
	qos byte

	mu      sync.Mutex
	sent    int
	acked   map[uint64]ack
	lastSeq uint64
}

type ack struct {
	at   time.Time
	node int
}

func (w *world) newStream(id int, qos byte) *stream {
	s := &stream{id: id, qos: qos, acked: map[uint64]ack{}}
	w.mu.Lock()
	w.streams[id] = s
	w.mu.Unlock()
	return s
}

func (s *stream) topic() string {
	if s.id == sharedStream {
		return "soak/shared/x"
	}
	return fmt.Sprintf("soak/p%d/q%d", s.id, s.qos)
}

// publish sends at the configured rate until ctx ends; a message counts as
// acknowledged when its PUBACK/PUBCOMP came (QoS 0: when it was written).
func (s *stream) publish(ctx context.Context, w *world) {
	at := s.id
	var cl *paho.Client
	t := time.NewTicker(time.Second / time.Duration(w.c.rate))
	defer t.Stop()
	defer func() {
		if cl != nil {
			_ = cl.Disconnect(&paho.Disconnect{})
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if cl == nil {
			var err error
			if cl, _, err = dial(w.addr(at), fmt.Sprintf("pub-%d", s.id), true, nil, nil); err != nil {
				at++
				continue
			}
		}
		s.mu.Lock()
		s.lastSeq++
		seq := s.lastSeq
		s.sent++
		s.mu.Unlock()
		payload := make([]byte, 16)
		binary.BigEndian.PutUint64(payload, uint64(s.id))
		binary.BigEndian.PutUint64(payload[8:], seq)
		pctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := cl.Publish(pctx, &paho.Publish{Topic: s.topic(), QoS: s.qos, Payload: payload})
		cancel()
		if err != nil {
			_ = cl.Disconnect(&paho.Disconnect{})
			cl = nil
			at++ // the next node
			continue
		}
		s.mu.Lock()
		s.acked[seq] = ack{at: time.Now(), node: at % len(w.nodes)}
		s.mu.Unlock()
	}
}

// subscriber is a persistent session that moves between nodes.
type subscriber struct {
	id      int
	streams []int
	shared  bool

	mu         sync.Mutex
	got        map[int]map[uint64]int // stream -> seq -> times received
	last       map[int]uint64         // stream -> highest seq received
	outOfOrder int
	dupNoFlag  int       // copies of a message received before, without DUP
	since      time.Time // first SUBACK
	excused    []window  // sessions lost with a killed node
	subscribed atomic.Bool
	connects   []connect // each connection, for the account of a loss
}

// connect is one connection of a subscriber: when, to which node, and
// whether its session was there.
type connect struct {
	at      time.Time
	node    int
	present bool
}

type window struct{ from, to time.Time }

func (w *world) newSubscriber(id int, streams []int, shared bool) *subscriber {
	s := &subscriber{id: id, streams: streams, shared: shared, got: map[int]map[uint64]int{}, last: map[int]uint64{}}
	w.mu.Lock()
	w.subs = append(w.subs, s)
	w.mu.Unlock()
	return s
}

func (s *subscriber) onMsg(p *paho.Publish) {
	if len(p.Payload) != 16 {
		return
	}
	st := int(binary.BigEndian.Uint64(p.Payload))
	seq := binary.BigEndian.Uint64(p.Payload[8:])
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.got[st]
	if m == nil {
		m = map[uint64]int{}
		s.got[st] = m
	}
	m[seq]++
	if m[seq] > 1 && !p.Duplicate() {
		s.dupNoFlag++
	}
	if m[seq] == 1 {
		if seq < s.last[st] {
			s.outOfOrder++
		} else {
			s.last[st] = seq
		}
	}
}

func (s *subscriber) filters() []paho.SubscribeOptions {
	var out []paho.SubscribeOptions
	for _, st := range s.streams {
		if s.shared {
			out = append(out, paho.SubscribeOptions{Topic: "$share/g/soak/shared/#", QoS: 1})
		} else {
			out = append(out, paho.SubscribeOptions{Topic: fmt.Sprintf("soak/p%d/#", st), QoS: 2})
		}
	}
	return out
}

// run keeps the session connected, moving it to the next node every hop
// (staggered), until ctx ends.
func (s *subscriber) run(ctx context.Context, w *world) {
	at := s.id
	id := fmt.Sprintf("sub-%d", s.id)
	first := true
	stagger := time.Duration(s.id%97) * w.c.hop / 97
	nextHop := time.Now().Add(w.c.hop + stagger)
	var lostAt time.Time // the connection dropped without our hop
	// The client's side of the session lives across its connections, as
	// MQTT wants: a QoS 2 message resent (DUP) after a move is recognised.
	sess := state.NewInMemory()
	defer sess.Close()
	for ctx.Err() == nil {
		cl, ca, err := dial(w.addr(at), id, false, sess, s.onMsg)
		if err != nil {
			at++
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		s.mu.Lock()
		s.connects = append(s.connects, connect{at: time.Now(), node: at % len(w.nodes), present: ca.SessionPresent})
		s.mu.Unlock()
		if !ca.SessionPresent || first {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := cl.Subscribe(sctx, &paho.Subscribe{Subscriptions: s.filters()})
			cancel()
			if !first && !lostAt.IsZero() {
				// The session went with a killed node: nothing was owed
				// from a little before the drop until the new subscription
				// is known cluster-wide (its routes travel within ms; a
				// QoS 2 message is acknowledged well after it was routed).
				s.mu.Lock()
				s.excused = append(s.excused, window{from: lostAt.Add(-2 * time.Second), to: time.Now().Add(time.Second)})
				s.mu.Unlock()
			}
			if err != nil {
				_ = cl.Disconnect(&paho.Disconnect{})
				at++
				continue
			}
			if first {
				s.mu.Lock()
				s.since = time.Now()
				s.mu.Unlock()
				s.subscribed.Store(true)
				first = false
			}
		}
		lostAt = time.Time{}
		select {
		case <-ctx.Done():
			_ = cl.Disconnect(&paho.Disconnect{})
			return
		case <-cl.Done():
			lostAt = time.Now()
		case <-time.After(time.Until(nextHop)):
			_ = cl.Disconnect(&paho.Disconnect{}) // the session stays: it moves
			nextHop = time.Now().Add(w.c.hop)
		}
		at++
	}
}

func (w *world) waitSubscribed(within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		n := 0
		w.mu.Lock()
		for _, s := range w.subs {
			if s.subscribed.Load() {
				n++
			}
		}
		total := len(w.subs)
		w.mu.Unlock()
		if n == total {
			time.Sleep(500 * time.Millisecond) // routes reach every node within milliseconds
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("subscribers not all subscribed within %s", within)
}

// killer kills -9 one node every killEvery (not in the last 20 s of the
// load) and restarts it 3 s later; it rejoins by itself.
func (w *world) killer(ctx context.Context) {
	deadline, _ := ctx.Deadline()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(w.c.killEvery):
		}
		if time.Until(deadline) < 20*time.Second {
			return
		}
		k := (i + 1) % len(w.nodes)
		n := w.nodes[k]
		down := time.Now()
		n.kill()
		time.Sleep(3 * time.Second)
		if err := n.start(); err != nil {
			fmt.Println("restart failed:", err)
		}
		w.mu.Lock()
		w.kills = append(w.kills, kill{node: k, down: down, back: time.Now()})
		w.mu.Unlock()
	}
}

// settle waits until deliveries stop growing for 3 s (at most within).
func (w *world) settle(within time.Duration) {
	deadline := time.Now().Add(within)
	last, stable := -1, time.Now()
	for time.Now().Before(deadline) {
		n := 0
		w.mu.Lock()
		for _, s := range w.subs {
			s.mu.Lock()
			for _, m := range s.got {
				n += len(m)
			}
			s.mu.Unlock()
		}
		w.mu.Unlock()
		if n != last {
			last, stable = n, time.Now()
		} else if time.Since(stable) > 3*time.Second {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}
