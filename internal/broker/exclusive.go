package broker

import (
	"strings"
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// mqtt.exclusive_subscription / zone.<name>.exclusive_subscription, as
// EMQX 4.4 (emqx_topic:parse, emqx_mqtt_caps:check_sub,
// emqx_exclusive_subscription): a SUBSCRIBE filter $exclusive/<topic>
// subscribes <topic> if no other client holds it, else SUBACK 0x97 (Quota
// exceeded); with the key off it is 0x8F (Topic Filter invalid). The
// holder's UNSUBSCRIBE of the topic, the end of its session or a new
// session under its client id (clean start) frees it. The holders are
// the node's (EMQX keeps them in a cluster-wide table).

// exclusivePrefix starts an exclusive subscription's filter.
const exclusivePrefix = "$exclusive/"

// exclusives are the topics held by exclusive subscriptions: topic (as
// subscribed, mountpoint included) -> holder's client id.
type exclusives struct {
	n        atomic.Int64 // topics held: 0 skips the lock on the way out
	mu       sync.Mutex
	holder   map[string]string
	byClient map[string]map[string]struct{}
}

// take makes client id the holder of topic, unless another client holds
// it. EMQX 4.4.19 refuses its own holder too; here the holder subscribing
// again is granted (as EMQX 5 does).
func (x *exclusives) take(topic, id string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if h, ok := x.holder[topic]; ok {
		return h == id
	}
	if x.holder == nil {
		x.holder, x.byClient = map[string]string{}, map[string]map[string]struct{}{}
	}
	x.holder[topic] = id
	ts := x.byClient[id]
	if ts == nil {
		ts = map[string]struct{}{}
		x.byClient[id] = ts
	}
	ts[topic] = struct{}{}
	x.n.Add(1)
	return true
}

// free frees topic if client id holds it.
func (x *exclusives) free(topic, id string) {
	if x.n.Load() == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.holder[topic] != id {
		return
	}
	delete(x.holder, topic)
	ts := x.byClient[id]
	delete(ts, topic)
	if len(ts) == 0 {
		delete(x.byClient, id)
	}
	x.n.Add(-1)
}

// freeAll frees every topic client id holds.
func (x *exclusives) freeAll(id string) {
	if x.n.Load() == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for t := range x.byClient[id] {
		delete(x.holder, t)
		x.n.Add(-1)
	}
	delete(x.byClient, id)
}

// Exclusive is the client id holding an exclusive subscription to topic
// (as subscribed, without $exclusive/), or "".
func (b *Broker) Exclusive(topic string) string {
	x := &b.exclusive
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.holder[topic]
}

// exclusiveFilter handles filter f of cl's SUBSCRIBE if it is
// $exclusive/<topic> (ok false: it is not): the filter to subscribe
// (mounted with mp) and 0, or a SUBACK refusal code. The topic is taken
// for cl: OnSubscribed frees it if the subscription fails after all.
func (b *Broker) exclusiveFilter(cl *mqtt.Client, on bool, mp, f string) (sub string, code byte, ok bool) {
	t, ok := strings.CutPrefix(f, exclusivePrefix)
	if !ok {
		return f, 0, false
	}
	switch {
	case !on, t == "", mqtt.IsSharedFilter(t), strings.HasPrefix(t, "$queue/"):
		return f, 0x8F, true // Topic Filter invalid (EMQX: exclusive_subscription off)
	}
	sub = mp + t
	if !b.exclusive.take(sub, cl.ID) {
		return f, 0x97, true // Quota exceeded
	}
	return sub, 0, true
}
