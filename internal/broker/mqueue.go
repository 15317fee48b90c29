package broker

import (
	"slices"

	"emqxgo/internal/config"
)

// zone.<name>.mqueue_priorities and mqueue_default_priority, as EMQX's
// emqx_mqueue: with a priority table, a session's queue (messages waiting
// for an inflight slot or for their client to come back) is kept in
// priority order, higher first and in arrival order within a priority; a
// topic not in the table has the default priority, above every listed one
// (highest) or below (lowest). A full queue drops the oldest message of
// its lowest priority (the new message itself when it is lower than every
// queued one). Without a table (the default) the queue is a plain FIFO
// and none of this runs.
//
// EMQX 4.4's own queue differs in two ways that the node does not copy:
// it bounds each priority to max_mqueue_len on its own (a queue of n
// priorities can hold n times it, and drops the oldest of the new
// message's priority), and it takes from lower priorities now and then
// (shift_multiplier) rather than strictly by priority.

const (
	lowestPriority  = 0
	highestPriority = 256 // above every listed priority (1..255)
)

// priority is the queue priority of a message on topic under zone z
// (whose MqueuePriorities is set).
func priority(z *config.Zone, topic string) uint16 {
	if p, ok := z.MqueuePriorities[topic]; ok {
		return uint16(p)
	}
	if z.MqueueDefaultPriority == "lowest" {
		return lowestPriority
	}
	return highestPriority
}

// pushByPriority queues m behind every message of its priority or higher
// and ahead of the lower ones; under mu.
func (s *session) pushByPriority(m qmsg) {
	s.q = append(s.q, m)
	i := len(s.q) - 1
	for i > s.head && s.q[i-1].prio < m.prio {
		s.q[i] = s.q[i-1]
		i--
	}
	s.q[i] = m
}

// dropLowest drops the oldest queued message of the lowest priority
// queued, unless a new message of priority p is lower still (false: drop
// that one instead); under mu.
func (s *session) dropLowest(p uint16) bool {
	if s.len() == 0 {
		return false
	}
	last := len(s.q) - 1
	low := s.q[last].prio
	if p < low {
		return false
	}
	i := last
	for i > s.head && s.q[i-1].prio == low {
		i--
	}
	if i == s.head {
		s.pop()
		return true
	}
	copy(s.q[i:], s.q[i+1:])
	s.q[last] = qmsg{}
	s.q = s.q[:last]
	return true
}

// sortByPriority gives the messages of q (a session that moved here) their
// priorities under z and puts them in priority order, keeping the order
// within a priority.
func sortByPriority(z *config.Zone, q []qmsg) {
	for i := range q {
		q[i].prio = priority(z, q[i].pk.TopicName)
	}
	slices.SortStableFunc(q, func(a, b qmsg) int { return int(b.prio) - int(a.prio) })
}
