package main

import (
	"fmt"
	"io"
	"time"
)

// report is what the run counted.
type report struct {
	duration                     time.Duration
	nodeKills                    int
	published, acknowledged      int // acknowledged: QoS 1 and 2 messages the publisher got PUBACK/PUBCOMP for
	delivered                    int // receipts, duplicates included
	lost, excused                int // QoS 1/2 owed and never received; excused: session or publisher's node killed
	duplicated, duplicatedQoS2   int
	outOfOrder                   int
	dupNoFlag                    int // duplicates the broker sent as new (DUP 0)
	qos0Owed, qos0Missed         int
	sharedLost, sharedExcused    int
	sharedDuplicated, sharedSeen int
	losses                       []string // the first lost messages, each with its subscriber's connections around it
}

func (r *report) failed() bool {
	return r.lost > 0 || r.duplicatedQoS2 > 0 || r.dupNoFlag > 0 || r.sharedLost > 0
}

func (r *report) print(out io.Writer) {
	fmt.Fprintf(out, "\nemqxsoak: 3 nodes, %s, %d node kills (-9, restarted)\n\n", r.duration.Round(time.Second), r.nodeKills)
	fmt.Fprintln(out, "| count | value |")
	fmt.Fprintln(out, "|---|---|")
	row := func(k string, v int) { fmt.Fprintf(out, "| %s | %d |\n", k, v) }
	row("published", r.published)
	row("acknowledged (QoS 1/2)", r.acknowledged)
	row("delivered (receipts)", r.delivered)
	row("lost (acknowledged, subscriber's session kept)", r.lost)
	row("not delivered: session or publisher's node killed", r.excused)
	row("duplicated QoS 1", r.duplicated)
	row("duplicated QoS 2", r.duplicatedQoS2)
	row("duplicated without DUP (sent again as new)", r.dupNoFlag)
	row("out of order", r.outOfOrder)
	row("QoS 0 owed to subscribers", r.qos0Owed)
	row("QoS 0 not delivered (allowed)", r.qos0Missed)
	row("shared group: acknowledged", r.sharedSeen)
	row("shared group: lost", r.sharedLost)
	row("shared group: not delivered, member's session or publisher's node killed", r.sharedExcused)
	row("shared group: delivered more than once", r.sharedDuplicated)
	if len(r.losses) > 0 {
		fmt.Fprintln(out, "\nfirst losses:")
		for _, l := range r.losses {
			fmt.Fprintln(out, "  "+l)
		}
	}
	if r.failed() {
		fmt.Fprintln(out, "\nFAIL: messages the broker owed were lost (or QoS 2 duplicated, or a copy sent as new)")
	} else {
		fmt.Fprintln(out, "\nok: nothing owed was lost")
	}
}

func (w *world) pubNodeKilled(a ack) bool {
	for _, k := range w.kills {
		if k.node == a.node && !k.down.Before(a.at.Add(-time.Second)) && k.down.Before(a.at.Add(2*time.Second)) {
			return true
		}
	}
	return false
}

func (s *subscriber) excusedAt(t time.Time) bool {
	for _, e := range s.excused {
		if !t.Before(e.from) && !t.After(e.to) {
			return true
		}
	}
	return false
}

// count compares what was acknowledged with what each subscriber got.
func (w *world) count() *report {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := &report{duration: w.c.duration, nodeKills: len(w.kills)}
	for _, s := range w.subs {
		s.mu.Lock()
		defer s.mu.Unlock()
		r.outOfOrder += s.outOfOrder
		r.dupNoFlag += s.dupNoFlag
		for _, m := range s.got {
			for _, n := range m {
				r.delivered += n
			}
		}
	}
	for id, st := range w.streams {
		st.mu.Lock()
		defer st.mu.Unlock()
		r.published += st.sent
		if st.qos > 0 {
			r.acknowledged += len(st.acked)
		}
		if id == sharedStream {
			w.countShared(r, st)
			continue
		}
		for _, s := range w.subs {
			if s.shared || (s.streams[0] != id && s.streams[1] != id) {
				continue
			}
			got := s.got[id]
			for seq, a := range st.acked {
				if a.at.Before(s.since) {
					continue
				}
				n := got[seq]
				if st.qos == 0 {
					r.qos0Owed++
					if n == 0 {
						r.qos0Missed++
					}
					continue
				}
				switch {
				case n == 0 && (s.excusedAt(a.at) || w.pubNodeKilled(a)):
					r.excused++
				case n == 0:
					r.lost++
					if len(r.losses) < 20 {
						r.losses = append(r.losses, s.account(id, st.qos, seq, a))
					}
				case n > 1 && st.qos == 2:
					r.duplicatedQoS2 += n - 1
				case n > 1:
					r.duplicated += n - 1
				}
			}
		}
	}
	return r
}

func (w *world) countShared(r *report, st *stream) {
	var members []*subscriber
	for _, s := range w.subs {
		if s.shared {
			members = append(members, s)
		}
	}
	for seq, a := range st.acked {
		r.sharedSeen++
		n, excused := 0, w.pubNodeKilled(a)
		for _, m := range members {
			n += m.got[sharedStream][seq]
			excused = excused || m.excusedAt(a.at)
		}
		switch {
		case n == 0 && excused:
			r.sharedExcused++
		case n == 0:
			r.sharedLost++
		case n > 1:
			r.sharedDuplicated += n - 1
		}
	}
}

// account says what a lost message was and where its subscriber was
// connected around the time it was acknowledged.
func (s *subscriber) account(stream int, qos byte, seq uint64, a ack) string {
	line := fmt.Sprintf("stream %d (QoS %d) #%d acknowledged %s by node %d, for sub-%d:", stream, qos, seq,
		a.at.Format("15:04:05.000"), a.node, s.id)
	for i, c := range s.connects {
		if i+1 < len(s.connects) && s.connects[i+1].at.Before(a.at.Add(-3*time.Second)) {
			continue
		}
		if c.at.After(a.at.Add(3 * time.Second)) {
			break
		}
		line += fmt.Sprintf(" [%s node %d present=%v]", c.at.Format("15:04:05.000"), c.node, c.present)
	}
	return line
}
