package fabric

import (
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/mochi-mqtt/server/v2/packets"
)

// Strategies of broker.shared_subscription_strategy.
const (
	StrategyRandom       = "random"
	StrategyRoundRobin   = "round_robin"
	StrategySticky       = "sticky"
	StrategyHashClientID = "hash_clientid"
	StrategyHashTopic    = "hash_topic"
	StrategyLocal        = "local"
)

// picker chooses one member of a shared group, cluster-wide. Members are
// index keys node|client; the node that received the publish decides.
type picker struct {
	strategy string
	self     string
	rr       sync.Map // filter -> *atomic.Uint64
	sticky   sync.Map // filter -> member key
}

func hash(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// pick returns the chosen member key of the group filter.
func (p *picker) pick(filter string, members map[string]packets.Subscription, topic, publisher string) string {
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	if len(keys) == 1 {
		return keys[0]
	}
	slices.Sort(keys) // the same order on every call: round robin and hashes rely on it
	switch p.strategy {
	case StrategyRoundRobin:
		c, _ := p.rr.LoadOrStore(filter, new(atomic.Uint64))
		return keys[(c.(*atomic.Uint64).Add(1)-1)%uint64(len(keys))]
	case StrategySticky:
		if k, ok := p.sticky.Load(filter); ok {
			if _, still := members[k.(string)]; still {
				return k.(string)
			}
		}
		k := keys[rand.IntN(len(keys))]
		p.sticky.Store(filter, k)
		return k
	case StrategyHashClientID:
		return keys[hash(publisher)%uint64(len(keys))]
	case StrategyHashTopic:
		return keys[hash(topic)%uint64(len(keys))]
	case StrategyLocal:
		var local []string
		for _, k := range keys {
			if n, _ := splitKey(k); n == p.self {
				local = append(local, k)
			}
		}
		if len(local) > 0 {
			return local[rand.IntN(len(local))]
		}
	}
	return keys[rand.IntN(len(keys))]
}
