package main

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// receiver counts what one subscriber gets; probe payloads (first byte 'P')
// only tell that the route is in place.
type receiver struct {
	cl        *client
	count     atomic.Int64
	probed    chan struct{}
	probeOnce sync.Once
	mu        sync.Mutex
	first     time.Time
	last      time.Time
	lat       []time.Duration // when payloads carry a send time
	timed     bool
	done      chan struct{}
}

func newReceiver(addr, topic string, qos byte, timed bool) (*receiver, error) {
	cl, err := dial(addr, fmt.Sprintf("sub-%d", rand.Int64()))
	if err != nil {
		return nil, err
	}
	if err := cl.subscribe(topic, qos); err != nil {
		cl.close()
		return nil, err
	}
	r := &receiver{cl: cl, probed: make(chan struct{}), timed: timed, done: make(chan struct{})}
	go r.loop()
	return r, nil
}

func (r *receiver) loop() {
	defer close(r.done)
	for {
		typ, body, err := r.cl.read()
		if err != nil {
			return
		}
		if typ != packets.Publish {
			continue
		}
		r.cl.ackIfNeeded(body)
		if r.cl.r.Buffered() == 0 {
			_ = r.cl.flush()
		}
		p := payloadOf(body)
		if len(p) > 0 && p[0] == 'P' {
			r.probeOnce.Do(func() { close(r.probed) })
			continue
		}
		now := time.Now()
		r.mu.Lock()
		if r.first.IsZero() {
			r.first = now
		}
		r.last = now
		if r.timed && len(p) >= 9 {
			r.lat = append(r.lat, time.Duration(now.UnixNano()-int64(binary.BigEndian.Uint64(p[1:9]))))
		}
		r.mu.Unlock()
		r.count.Add(1)
	}
}

func (r *receiver) close() { r.cl.close(); <-r.done }

// waitRoute publishes probes until the receiver sees one (cross-node routes).
func waitRoute(pub *client, topic string, rs ...*receiver) error {
	deadline := time.Now().Add(10 * time.Second)
	for _, r := range rs {
		for {
			_ = pub.publish(topic, []byte("P"), 0, 0)
			_ = pub.flush()
			select {
			case <-r.probed:
			case <-time.After(20 * time.Millisecond):
				if time.Now().After(deadline) {
					return fmt.Errorf("no route for %s after 10s", topic)
				}
				continue
			}
			break
		}
	}
	return nil
}

// publisher sends QoS 0 as fast as the socket takes it, or QoS 1 with a
// window of unacknowledged messages.
func publishN(pub *client, topic string, qos byte, n, size int) error {
	payload := make([]byte, size)
	payload[0] = 'M'
	if qos == 0 {
		for i := 0; i < n; i++ {
			if err := pub.publish(topic, payload, 0, 0); err != nil {
				return err
			}
		}
		return pub.flush()
	}
	const window = 256
	sem := make(chan struct{}, window)
	acks := make(chan error, 1)
	go func() {
		for got := 0; got < n; {
			typ, _, err := pub.read()
			if err != nil {
				acks <- err
				return
			}
			if typ == packets.Puback {
				got++
				<-sem
			}
		}
		acks <- nil
	}()
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		if err := pub.publish(topic, payload, 1, uint16(i%65535+1)); err != nil {
			return err
		}
		if len(sem) == window || i == n-1 {
			if err := pub.flush(); err != nil {
				return err
			}
		}
	}
	return <-acks
}

// throughput: one publisher, subs subscribers; returns deliveries per
// second and the share of messages (percent) a subscriber never got.
func throughput(pubAddr, subAddr string, subs int, qos byte, n, window int) (float64, float64, error) {
	topic := fmt.Sprintf("bench/tp/%d", rand.Int64())
	var rs []*receiver
	for i := 0; i < subs; i++ {
		r, err := newReceiver(subAddr, topic, qos, false)
		if err != nil {
			return 0, 0, err
		}
		defer r.close()
		rs = append(rs, r)
	}
	pub, err := dial(pubAddr, fmt.Sprintf("pub-%d", rand.Int64()))
	if err != nil {
		return 0, 0, err
	}
	defer pub.close()
	if err := waitRoute(pub, topic, rs...); err != nil {
		return 0, 0, err
	}
	start := time.Now()
	if err := publishN(pub, topic, qos, n, window); err != nil {
		return 0, 0, err
	}
	want := int64(n * subs)
	deadline := time.Now().Add(20 * time.Second)
	total := func() (s int64) {
		for _, r := range rs {
			s += r.count.Load()
		}
		return
	}
	for total() < want && time.Now().Before(deadline) {
		if qos == 0 && time.Since(start) > 3*time.Second && stalled(total) {
			break // QoS 0 may drop under overload: measure what arrived
		}
		time.Sleep(5 * time.Millisecond)
	}
	var first, last time.Time
	for _, r := range rs {
		r.mu.Lock()
		if first.IsZero() || r.first.Before(first) {
			first = r.first
		}
		if r.last.After(last) {
			last = r.last
		}
		r.mu.Unlock()
	}
	el := last.Sub(start)
	if el <= 0 {
		return 0, 0, fmt.Errorf("nothing delivered")
	}
	got := total()
	return float64(got) / el.Seconds(), 100 * float64(want-got) / float64(want), nil
}

// stalled reports whether the total stops growing for 300ms.
func stalled(total func() int64) bool {
	a := total()
	time.Sleep(300 * time.Millisecond)
	return total() == a
}

// paced publishes QoS 0 at rate msg/s for d, with the send time in the
// payload; it returns latency percentiles and the loss ratio.
type pacedResult struct {
	sent, received int64
	p50, p99       time.Duration
}

func paced(pubAddr, subAddr string, rate int, d time.Duration) (pacedResult, error) {
	return pacedQoS(pubAddr, subAddr, rate, d, 0)
}

// pacedQoS is paced at QoS qos (0 or 1; QoS 1 acknowledgements are read
// and dropped, the window is never the limit at a moderate rate).
func pacedQoS(pubAddr, subAddr string, rate int, d time.Duration, qos byte) (pacedResult, error) {
	var res pacedResult
	topic := fmt.Sprintf("bench/lat/%d", rand.Int64())
	r, err := newReceiver(subAddr, topic, qos, true)
	if err != nil {
		return res, err
	}
	defer r.close()
	pub, err := dial(pubAddr, fmt.Sprintf("pub-%d", rand.Int64()))
	if err != nil {
		return res, err
	}
	defer pub.close()
	if err := waitRoute(pub, topic, r); err != nil {
		return res, err
	}
	payload := make([]byte, 64)
	payload[0] = 'M'
	acksDone := make(chan struct{})
	if qos > 0 {
		go func() { // acknowledgements: read until the connection closes
			defer close(acksDone)
			for {
				if _, _, err := pub.read(); err != nil {
					return
				}
			}
		}()
		defer func() { pub.close(); <-acksDone }()
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for time.Since(start) < d {
		<-tick.C
		due := int64(time.Since(start).Seconds() * float64(rate))
		for ; res.sent < due; res.sent++ {
			binary.BigEndian.PutUint64(payload[1:9], uint64(time.Now().UnixNano()))
			var id uint16
			if qos > 0 {
				id = uint16(res.sent%65535 + 1)
			}
			if err := pub.publish(topic, payload, qos, id); err != nil {
				return res, err
			}
		}
		if err := pub.flush(); err != nil {
			return res, err
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.count.Load() < res.sent && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	res.received = r.count.Load()
	r.mu.Lock()
	lat := append([]time.Duration(nil), r.lat...)
	r.mu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		res.p50, res.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	return res, nil
}

// idleConns opens n idle connections and returns them.
func idleConns(addr string, n int) ([]*client, error) {
	var mu sync.Mutex
	var out []*client
	var firstErr error
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := dial(addr, fmt.Sprintf("idle-%d-%d", rand.Int32(), i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			out = append(out, c)
		}(i)
	}
	wg.Wait()
	return out, firstErr
}
