package fabric

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"emqxgo/internal/broker"
	"emqxgo/internal/peerlink"

	mqtt "github.com/mochi-mqtt/server/v2"
	"go.uber.org/zap"
)

// Bounds of one peer's outbox. QoS 0 beyond queueCap is dropped; QoS 1/2
// (and retained replication) are kept up to keepCap, queued plus awaiting
// acknowledgement. A publisher is never blocked by a slow peer.
const (
	queueCap = 65536
	keepCap  = 262144
	batchMax = 512
	// batchBytes bounds a batch by size (about its bytes on the wire): a
	// large message goes in a frame of its own.
	batchBytes = 4 << 20
	// maxForward is the largest message a frame can carry. Every packet
	// the node accepts (mqtt.max_packet_size, at most 256 MB) fits.
	maxForward = peerlink.MaxFrame - 1<<20
)

// wireSize is about the bytes m takes in a batch.
func wireSize(m *message) int {
	n := 64 + len(m.Topic) + len(m.Payload) + len(m.CT) + len(m.Resp) + len(m.Corr) + len(m.From) + len(m.Node)
	for _, u := range m.User {
		n += 4 + len(u[0]) + len(u[1])
	}
	for k, v := range m.Groups {
		n += 4 + len(k) + len(v)
	}
	return n
}

// batchLen is how many of ms (at least one) make the next batch.
func batchLen(ms []*message) int {
	n, size := 0, 0
	for n < len(ms) && n < batchMax {
		size += wireSize(ms[n])
		if n > 0 && size > batchBytes {
			break
		}
		n++
	}
	return n
}

// outbox is what this node still has to send one peer, and what the peer
// has not acknowledged yet.
type outbox struct {
	f    *Fabric
	peer string
	wake chan struct{}

	mu        sync.Mutex
	queue     []*message // not sent yet
	pending   []*message // sent, QoS>0 or store, awaiting ack; seq ascending
	resendIdx int        // pending[resendIdx:] must be (re)sent on the current link
	seq       uint64
	busy      bool   // run has taken a batch and not yet handed it to the link
	epoch     int64  // the peer's start time, from its link handshake
	synced    uint64 // the link generation linkUp last prepared the resend for
	dropped   uint64
	// forwarded and resent count what went on a link (peerstats.go);
	// resending tells run whether its batch is a resend.
	forwarded, resent uint64
	resending         bool
	batched           uint64 // forwarded in frames of more than one (tests)
}

func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func reliable(m *message) bool { return m.QoS > 0 || m.TS != 0 }

// put enqueues a copy of m (each peer numbers its own) without blocking;
// now: it may be written on the caller's goroutine (sendNow).
func (o *outbox) put(m *message, now bool) {
	if len(m.Payload) > maxForward/2 && wireSize(m) > maxForward { // the size is summed for large payloads only
		n := wireSize(m)
		o.f.log.Error("message too large for a peer link; not forwarded", zap.String("peer", o.peer),
			zap.String("topic", m.Topic), zap.Int("bytes", n), zap.Int("limit", maxForward))
		return
	}
	c := *m
	m = &c
	o.mu.Lock()
	full := (!reliable(m) && len(o.queue) >= queueCap) || len(o.queue)+len(o.pending) >= keepCap
	if full {
		o.dropped++
		n := o.dropped
		o.mu.Unlock()
		if n == 1 || n%10000 == 0 {
			o.f.log.Warn("peer is not keeping up; messages to it dropped", zap.String("peer", o.peer), zap.Uint64("dropped", n))
		}
		return
	}
	if o.sendNow(m, now) {
		o.mu.Unlock()
		return
	}
	o.queue = append(o.queue, m)
	o.mu.Unlock()
	o.signal()
}

// sendNow hands m straight to the link when nothing is ahead of it (no
// queue, no resend, no batch of run's in flight) and the link is the one
// linkUp prepared: the publisher's goroutine does what run would, one
// goroutine switch sooner. False: m must take the queue. o.mu held.
//
// A publisher that is behind its input (not now) leaves m to the queue:
// run sends what gathers there meanwhile as one batch, where a frame per
// message cost both nodes a fifth more CPU at full speed (QoS 0 cross-node
// measured at 110k msg/s against 128k this way).
func (o *outbox) sendNow(m *message, now bool) bool {
	if !now || len(o.queue) > 0 || o.busy || o.resendIdx < len(o.pending) {
		return false
	}
	rel := reliable(m)
	if rel {
		m.Seq = o.seq + 1
	}
	if !o.f.links.TryNotify(o.peer, o.synced, opForward, encodeBatch(o.f.epoch, []*message{m})) {
		m.Seq = 0
		return false
	}
	if rel {
		o.seq++
		o.pending = append(o.pending, m)
		o.resendIdx = len(o.pending)
	}
	o.forwarded++
	return true
}

// linkUp: resend what the peer has not acknowledged, unless it restarted.
func (o *outbox) linkUp(epoch int64) {
	o.mu.Lock()
	if o.epoch != 0 && epoch != o.epoch {
		o.pending, o.resendIdx = nil, 0 // a new incarnation: it has no use for them
	}
	o.epoch = epoch
	o.resendIdx = 0
	o.synced = o.f.links.Gen(o.peer)
	o.mu.Unlock()
	o.signal()
}

// ready reports whether a link is up and linkUp has run for it: a new link
// is visible a moment before its LinkUp, and sending new messages on it
// before the resend would put them ahead of older unacknowledged ones.
func (o *outbox) ready() bool {
	if !o.f.links.Has(o.peer) {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.synced == o.f.links.Gen(o.peer)
}

// ack drops everything up to seq.
func (o *outbox) ack(seq uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	k := 0
	for k < len(o.pending) && o.pending[k].Seq <= seq {
		k++
	}
	if k == 0 {
		return
	}
	o.pending = append(o.pending[:0:0], o.pending[k:]...)
	o.resendIdx = max(0, o.resendIdx-k)
}

// next takes the next batch: resends first, then new messages.
func (o *outbox) next() []*message {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.resendIdx < len(o.pending) {
		end := o.resendIdx + batchLen(o.pending[o.resendIdx:])
		b := append([]*message(nil), o.pending[o.resendIdx:end]...)
		o.resendIdx = end
		o.busy, o.resending = true, true
		return b
	}
	if len(o.queue) == 0 {
		return nil
	}
	n := batchLen(o.queue)
	b := o.queue[:n:n]
	o.queue = append(o.queue[:0:0], o.queue[n:]...)
	o.busy, o.resending = true, false
	for _, m := range b {
		if reliable(m) {
			o.seq++
			m.Seq = o.seq
			o.pending = append(o.pending, m)
		}
	}
	o.resendIdx = len(o.pending)
	return b
}

// run sends batches while the link is up.
func (o *outbox) run() {
	defer o.f.wg.Done()
	for {
		select {
		case <-o.wake:
		case <-o.f.stop:
			return
		}
		for o.ready() {
			b := o.next()
			if len(b) == 0 {
				break
			}
			body := encodeBatch(o.f.epoch, b)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := o.f.links.Notify(ctx, o.peer, opForward, body)
			cancel()
			o.mu.Lock()
			o.busy = false
			o.countSent(len(b), err)
			o.mu.Unlock()
			if err != nil {
				break // reliable ones are in pending: resent when the link is back
			}
		}
	}
}

// inbound is the receiving state for one origin peer.
type inbound struct {
	mu      sync.Mutex
	epoch   int64
	lastSeq uint64              // every seq up to here was delivered
	above   map[uint64]struct{} // delivered seqs past a gap (a resend fills it)
	client  *mqtt.Client        // inline client that injects this peer's messages
	batch   *broker.Batch       // its deliveries' writes, released when the link has read no more
	ackWake chan struct{}
	// choice is what the message client injects names, while it does
	// (nil between messages); Fabric.injecting holds it by the client's
	// id, once, so that a message costs no map insert.
	choice atomic.Pointer[choice]
}

// fresh reports whether seq is new and records it; only the contiguous
// prefix is acknowledged, so a message lost in a broken link is resent.
func (in *inbound) fresh(seq uint64) bool {
	if seq <= in.lastSeq {
		return false
	}
	if _, dup := in.above[seq]; dup {
		return false
	}
	if seq != in.lastSeq+1 {
		if in.above == nil {
			in.above = map[uint64]struct{}{}
		}
		in.above[seq] = struct{}{}
		return true
	}
	in.lastSeq = seq
	for {
		if _, ok := in.above[in.lastSeq+1]; !ok {
			return true
		}
		delete(in.above, in.lastSeq+1)
		in.lastSeq++
	}
}

// receive injects a batch for local subscribers, skipping what a resend
// repeats, and schedules the acknowledgement. The deliveries are written
// on the link's goroutine and held (broker.Batch); behind: another frame
// was read already and follows at once: they stay held for it, and go out
// in one write per subscriber once the link has nothing more read
// (released after each frame instead, a burst at 20k msg/s cost the
// receiving node a quarter more CPU and tripled p99; handed to the
// subscribers' goroutines, a goroutine was started per message).
func (f *Fabric) receive(peer string, b *fwdBatch, behind bool) {
	b.age(time.Now().Unix())
	in := f.inbound(peer)
	in.mu.Lock()
	if b.Epoch != in.epoch {
		in.epoch, in.lastSeq, in.above = b.Epoch, 0, nil
	}
	acked := false
	for _, m := range b.Msgs {
		if m.Seq != 0 {
			acked = true
			if !in.fresh(m.Seq) {
				continue // already delivered before the link broke
			}
		}
		if m.TS != 0 {
			f.retained.remote(m)
			continue
		}
		if m.Marker { // through this node, which the session left
			f.queues.Marker(m.Topic, m.From)
			continue
		}
		if m.expired { // it waited in the sender's outbox past its expiry
			f.queues.DroppedExpired()
			continue
		}
		f.inject(in, m)
	}
	if !behind {
		in.batch.Release()
	}
	in.mu.Unlock()
	if acked {
		select {
		case in.ackWake <- struct{}{}:
		default:
		}
	}
}

// released sends what the deliveries of peer's forwarded frames hold.
func (f *Fabric) released(peer string) {
	f.mu.Lock()
	in := f.in[peer]
	f.mu.Unlock()
	if in != nil {
		in.mu.Lock()
		in.batch.Release()
		in.mu.Unlock()
	}
}

// inject delivers m to this node's subscribers through in's inline
// client; Groups says which shared groups this node serves for it. The
// caller holds in.mu.
//
// The retain flag goes with it, so that subscribers with Retain As
// Published see it [MQTT-3.3.1-12] (mochi clears it for the others); the
// retained store itself follows the replication messages (retained.go), so
// mochi's own storing of the injected copy is undone.
func (f *Fabric) inject(in *inbound, m *message) {
	cl := in.client
	pk := m.toPacket(m.Retain)
	broker.SetMessageID(&pk, m.ID)
	c := noChoice // most messages name no shared group: no allocation for them
	if m.Groups != nil || m.SharedOnly {
		c = &choice{groups: m.Groups, sharedOnly: m.SharedOnly}
	}
	in.choice.Store(c)
	defer in.choice.Store(nil)
	do := func() {
		if err := f.srv.InjectPacket(cl, pk); err != nil {
			f.log.Debug("inject failed", zap.String("topic", m.Topic), zap.Error(err))
		}
	}
	if m.Retain {
		f.retained.unstored(cl.ID, m.Topic, do)
		return
	}
	do()
}

// injectedChoice returns what the message that origin (a peer's inline
// client) is injecting names; nil: origin is injecting nothing.
func (f *Fabric) injectedChoice(origin string) *choice {
	if in, ok := f.injecting.Load(origin); ok {
		return in.choice.Load()
	}
	return nil
}

// sharedOnly reports whether the message origin (a peer's inline client)
// is injecting is for the shared groups this node serves alone.
func (f *Fabric) sharedOnly(origin string) bool {
	c := f.injectedChoice(origin)
	return c != nil && c.sharedOnly
}

// choice is what OnSelectSubscribers applies to one message: the shared
// groups this node serves (filter -> member) and whether only those.
type choice struct {
	groups     map[string]string
	sharedOnly bool
}

var noChoice = &choice{}

// takeGroups removes the shared-group messages from the outbox of a peer
// that went away, so they can go to another member.
func (o *outbox) takeGroups() []*message {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []*message
	keep := func(ms []*message) []*message {
		kept := ms[:0:0]
		for _, m := range ms {
			if len(m.Groups) > 0 {
				out = append(out, m)
				if m.SharedOnly {
					continue
				}
				c := *m
				c.Groups = nil
				m = &c
			}
			kept = append(kept, m)
		}
		return kept
	}
	o.pending = keep(o.pending)
	o.queue = keep(o.queue)
	o.resendIdx = min(o.resendIdx, len(o.pending))
	return out
}

// inbound returns (creating) the receiving state of a peer.
func (f *Fabric) inbound(peer string) *inbound {
	f.mu.Lock()
	defer f.mu.Unlock()
	in := f.in[peer]
	if in == nil {
		cl := f.srv.NewClient(nil, "cluster", reservedPrefix+peer, true)
		cl.Properties.ProtocolVersion = 5 // so message expiry of stored copies is honoured
		in = &inbound{client: cl, batch: f.queues.InlineBatch(cl), ackWake: make(chan struct{}, 1)}
		f.in[peer] = in
		f.injecting.Store(cl.ID, in)
		f.wg.Add(1)
		go f.acker(peer, in)
	}
	return in
}

// acker sends the latest cumulative acknowledgement to a peer, off the
// link's read path so that two busy peers never wait on each other.
func (f *Fabric) acker(peer string, in *inbound) {
	defer f.wg.Done()
	for {
		select {
		case <-in.ackWake:
		case <-f.stop:
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		f.sendAck(ctx, peer, in)
		cancel()
	}
}

// sendAck tells peer everything up to the contiguous prefix arrived here.
func (f *Fabric) sendAck(ctx context.Context, peer string, in *inbound) {
	in.mu.Lock()
	a := fwdAck{Epoch: in.epoch, Seq: in.lastSeq}
	in.mu.Unlock()
	if a.Seq == 0 {
		return
	}
	if body, err := encode(&a); err == nil {
		_ = f.links.Notify(ctx, peer, opAck, body)
	}
}

// outbox returns (creating) the outbox of a peer.
func (f *Fabric) outbox(peer string) *outbox {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.out[peer]
	if o == nil {
		// A new outbox has nothing to resend: it may use the current link.
		o = &outbox{f: f, peer: peer, wake: make(chan struct{}, 1), synced: f.links.Gen(peer)}
		f.out[peer] = o
		f.wg.Add(1)
		go o.run()
	}
	return o
}
