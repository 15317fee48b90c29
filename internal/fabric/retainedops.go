package fabric

import (
	"slices"
	"strings"
	"time"

	"emqxgo/internal/wire"
)

// The operator's side of the retained messages (emqx_ctl retainer): what
// the cluster's table holds, and clearing it cluster-wide.

// RetainedTopics is the topics of the retained messages the cluster's
// table holds, sorted.
func (f *Fabric) RetainedTopics() []string {
	var out []string
	f.retained.t.Range(func(topic string, _ []byte) bool {
		out = append(out, topic)
		return true
	})
	slices.Sort(out)
	return out
}

// ClearRetained clears retained messages cluster-wide, as a client
// publishing an empty retained message on each would: every one with
// filter "", else the one of topic filter, or those its wildcards match
// (emqx_retainer:clean/1: + one level, a trailing # any number, none
// too). It returns how many it cleared.
func (f *Fabric) ClearRetained(filter string) int {
	r := f.retained
	if filter != "" && !strings.ContainsAny(filter, "+#") {
		if _, ok := r.t.Get(filter); !ok {
			return 0
		}
		r.local(clearPacket(filter))
		return 1
	}
	var topics []string
	r.t.Range(func(topic string, _ []byte) bool {
		if filter == "" || retainedMatch(topic, filter) {
			topics = append(topics, topic)
		}
		return true
	})
	for _, t := range topics {
		r.local(clearPacket(t))
	}
	return len(topics)
}

// retainedMatch tells whether topic matches filter word by word: + is any
// one word, a trailing # the rest (nothing too: a/# matches a).
func retainedMatch(topic, filter string) bool {
	tw, fw := strings.Split(topic, "/"), strings.Split(filter, "/")
	for i, w := range fw {
		if w == "#" && i == len(fw)-1 {
			return true
		}
		if i >= len(tw) || w != "+" && w != tw[i] {
			return false
		}
	}
	return len(tw) == len(fw)
}

// RetainedMessage is one retained message as the operator lists it.
type RetainedMessage struct {
	Topic   string
	QoS     byte
	Payload []byte
	From    string // the publishing client's id
	Created int64  // unix seconds, where it was published
}

// RetainedMessages is a page of the retained messages whose topics
// filter matches ("" every one), by topic: skip the first skip, then at
// most limit; total is how many match. Messages expired but not yet swept
// are left out.
func (f *Fabric) RetainedMessages(filter string, skip, limit int) (page []RetainedMessage, total int) {
	r := f.retained
	var topics []string
	r.t.Range(func(topic string, _ []byte) bool {
		if filter == "" || retainedMatch(topic, filter) {
			topics = append(topics, topic)
		}
		return true
	})
	slices.Sort(topics)
	now := time.Now()
	for i, t := range topics {
		if i < skip {
			continue
		}
		if len(page) >= limit {
			break
		}
		val, ok := r.t.Get(t)
		if !ok || r.expiredValue(val, now) {
			continue
		}
		rd := &wire.Reader{B: val}
		created, _, err := retainedTimes(rd)
		if err != nil {
			continue
		}
		m := readMessage(rd)
		if rd.Err != nil {
			continue
		}
		page = append(page, RetainedMessage{Topic: t, QoS: m.QoS, Payload: m.Payload, From: m.From, Created: created})
	}
	return page, len(topics)
}
