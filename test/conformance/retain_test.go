package conformance_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"emqxgo/internal/testutil"
)

// collect reads and acknowledges PUBLISHes until one on topic arrives and
// returns them all, that one last.
func collect(r *rawc, topic string) []packets.Packet {
	r.t.Helper()
	var got []packets.Packet
	for {
		m := r.readType(packets.Publish)
		r.ack(m)
		got = append(got, m)
		if m.TopicName == topic {
			return got
		}
	}
}

// retainedEverywhere waits until every node holds a retained message on
// topic (the retained store is replicated to all nodes).
func retainedEverywhere(t testing.TB, topic string) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, "retained "+topic+" on every node", func() bool {
		for _, nd := range cl.nodes {
			if _, ok := nd.Broker().Server().Topics.Retained.Get(topic); !ok {
				return false
			}
		}
		return true
	})
}

// retainedMsg is what a subscriber should see of one message.
type retainedMsg struct {
	topic, payload string
	qos            byte
	retain         bool
}

func (m retainedMsg) String() string {
	return fmt.Sprintf("%s=%q qos %d retain %v", m.topic, m.payload, m.qos, m.retain)
}

func seen(pks []packets.Packet) []retainedMsg {
	var out []retainedMsg
	for _, pk := range pks {
		out = append(out, retainedMsg{pk.TopicName, string(pk.Payload), pk.FixedHeader.Qos, pk.FixedHeader.Retain})
	}
	return out
}

// TestRetained: a PUBLISH with RETAIN 1 is stored with its QoS and
// replaces the retained message of its topic (a QoS 0 one too); one with
// an empty payload is delivered like any other, clears the retained
// message and is not stored itself; a PUBLISH with RETAIN 0 stores and
// replaces nothing. Subscribers that were there get every message (3.1.1:
// with RETAIN 0; 5.0: RETAIN 0 unless Retain As Published, which keeps the
// flag); a new subscription on any node, after the publisher's clean
// session ended, gets the retained messages with RETAIN 1 and nothing
// else.
// [MQTT-3.1.2-7] [MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-7] [MQTT-3.3.1-8] [MQTT-3.3.1-9] [MQTT-3.3.1-10]
// [MQTT-3.3.1-11] [MQTT-3.3.1-12] (3.1.1)
// [MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-7] [MQTT-3.3.1-8] [MQTT-3.3.1-9] [MQTT-3.3.1-12] [MQTT-3.3.1-13] (5.0)
func TestRetained(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		t.Run(fmt.Sprint("v", v), func(t *testing.T) {
			t.Parallel()
			base := uniq(t, "ret")
			// Subscribers that are there before: 3.1.1, and 5.0 without and
			// with Retain As Published.
			var there []*rawc
			for i, rap := range []bool{false, true} {
				if v == 4 && rap {
					break
				}
				e := connectID(t, addr(2*i), v, uniq(t, "e"))
				if rc := e.subscribe(1, packets.Properties{}, packets.Subscription{Filter: base + "/+", Qos: 2, RetainAsPublished: rap}); rc[0] != 2 {
					t.Fatalf("SUBACK %v", rc)
				}
				there = append(there, e)
				waitRoute(t, base+"/x", 2*i)
			}
			p := connectID(t, addr(1), v, uniq(t, "p"))
			sent := []retainedMsg{
				{base + "/a", "a1", 1, true}, {base + "/a", "a2", 2, true},
				{base + "/b", "b1", 1, true}, {base + "/b", "b0", 0, true},
				{base + "/c", "c", 1, true}, {base + "/c", "", 1, true},
				{base + "/d", "d", 1, false},
				{base + "/e", "e1", 1, true}, {base + "/e", "e2", 1, false},
				{base + "/z", "z", 1, true},
			}
			for _, m := range sent {
				p.publish(m.topic, m.qos, m.retain, []byte(m.payload))
			}
			p.disconnect() // the publisher's session ends; its retained messages stay

			for i, e := range there {
				rap := i == 1
				want := slices.Clone(sent)
				for j := range want {
					want[j].retain = want[j].retain && rap
				}
				if got := seen(collect(e, base+"/z")); !slices.Equal(got, want) {
					t.Fatalf("subscriber there before (rap %v) got\n%v\nwant\n%v", rap, got, want)
				}
			}

			retainedEverywhere(t, base+"/z")
			want := []retainedMsg{{base + "/a", "a2", 2, true}, {base + "/b", "b0", 0, true}, {base + "/e", "e1", 1, true}, {base + "/z", "z", 1, true}}
			end := connectID(t, addr(0), v, uniq(t, "end"))
			for i := range clusterSize {
				n := connectID(t, addr(i), v, uniq(t, "n"))
				n.sub(base+"/+", 2)
				var got []retainedMsg
				for range want {
					m := n.readType(packets.Publish)
					n.ack(m)
					got = append(got, retainedMsg{m.TopicName, string(m.Payload), m.FixedHeader.Qos, m.FixedHeader.Retain})
				}
				slices.SortFunc(got, func(a, b retainedMsg) int { return strings.Compare(a.topic, b.topic) })
				if !slices.Equal(got, want) {
					t.Fatalf("new subscriber on node %d got\n%v\nwant\n%v", i, got, want)
				}
				waitRoute(t, base+"/end", i)
				end.publish(base+"/end", 0, false, []byte("end"))
				if more := upTo(n, base+"/end"); len(more) != 0 {
					t.Fatalf("new subscriber on node %d also got %v", i, more)
				}
				n.disconnect()
			}
			for _, tp := range []string{"a", "b", "e", "z"} {
				end.publish(base+"/"+tp, 0, true, nil)
			}
			end.disconnect()
			for _, e := range there {
				e.disconnect()
			}
		})
	}
}

// TestRetainHandling: with Retain Handling 0 a subscription gets the
// retained message every time it is made, also when it replaces an
// existing one; with 1 only when the subscription is new; with 2 never.
// The retained message was published on another node.
// [MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11] [MQTT-3.8.4-4] (5.0)
func TestRetainHandling(t *testing.T) {
	t.Parallel()
	base := uniq(t, "rh")
	p := connectID(t, addr(1), 5, uniq(t, "p"))
	p.publish(base+"/t", 1, true, []byte("r"))
	retainedEverywhere(t, base+"/t")
	s := connectID(t, addr(0), 5, uniq(t, "s"))
	for i, c := range []struct {
		filter string
		rh     byte
		gets   bool
	}{
		{base + "/t", 0, true}, {base + "/t", 0, true}, // new, then replaced
		{base + "/+", 1, true}, {base + "/+", 1, false},
		{base + "/#", 2, false},
	} {
		if rc := s.subscribe(uint16(10+i), packets.Properties{}, packets.Subscription{Filter: c.filter, Qos: 1, RetainHandling: c.rh}); rc[0] != 1 {
			t.Fatalf("SUBACK %v", rc)
		}
		if c.gets {
			m := s.expect(base+"/t", []byte("r"))
			if !m.FixedHeader.Retain {
				t.Fatalf("subscription %d: retained message without RETAIN", i)
			}
			s.ack(m)
		}
	}
	waitRoute(t, base+"/end", 0)
	p.publish(base+"/end", 1, false, []byte("end"))
	if more := upTo(s, base+"/end"); len(more) != 0 {
		t.Fatalf("got %v besides what each Retain Handling allows", more)
	}
	p.publish(base+"/t", 0, true, nil)
	p.disconnect()
	s.disconnect()
}
