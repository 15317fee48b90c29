package fabric

import (
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sync/atomic"
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
	rr       syncMap[string, *atomic.Uint64] // filter -> round robin counter
	sticky   syncMap[string, string]         // filter -> member key
}

func hash(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// pick returns the chosen member key of the group filter; members are
// sorted (the index keeps them so): round robin and hashes rely on one order.
func (p *picker) pick(filter string, members []string, topic, publisher string) string {
	if len(members) == 1 {
		return members[0]
	}
	switch p.strategy {
	case StrategyRoundRobin:
		c, ok := p.rr.Load(filter)
		if !ok {
			c = p.rr.LoadOrStore(filter, new(atomic.Uint64))
		}
		return members[(c.Add(1)-1)%uint64(len(members))]
	case StrategySticky:
		if k, ok := p.sticky.Load(filter); ok {
			if _, still := slices.BinarySearch(members, k); still {
				return k
			}
		}
		k := members[rand.IntN(len(members))]
		p.sticky.Store(filter, k)
		return k
	case StrategyHashClientID:
		return members[hash(publisher)%uint64(len(members))]
	case StrategyHashTopic:
		return members[hash(topic)%uint64(len(members))]
	case StrategyLocal:
		local := 0
		for _, k := range members {
			if n, _ := splitKey(k); n == p.self {
				local++
			}
		}
		if local > 0 {
			i := rand.IntN(local)
			for _, k := range members {
				if n, _ := splitKey(k); n == p.self {
					if i == 0 {
						return k
					}
					i--
				}
			}
		}
	}
	return members[rand.IntN(len(members))]
}
