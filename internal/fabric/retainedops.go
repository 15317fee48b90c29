package fabric

import (
	"slices"
	"strings"
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
