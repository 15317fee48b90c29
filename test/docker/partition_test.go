package docker

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"emqxgo/internal/testutil"
)

const partitionFor = 30 * time.Second

// retainedOn subscribes on n and returns the retained messages under filter.
func retainedOn(t *testing.T, n *cnode, filter string) map[string]string {
	t.Helper()
	c, err := testutil.TryDialV5(n.addr, fmt.Sprintf("ret-%d", time.Now().UnixNano()), true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(&paho.Disconnect{})
	c.Sub(t, filter, 1)
	got := map[string]string{}
	for {
		select {
		case m := <-c.Msgs:
			got[m.Topic] = string(m.Payload)
		case <-time.After(500 * time.Millisecond):
			return got
		}
	}
}

func publishRetained(t *testing.T, n *cnode, topic, payload string) {
	t.Helper()
	c := testutil.DialV5(t, n.addr, fmt.Sprintf("rp-%d", time.Now().UnixNano()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Retain: true, Payload: []byte(payload)}); err != nil {
		t.Fatal(err)
	}
}

// roundTrip checks that a message published on from reaches a subscriber on to.
func roundTrip(t *testing.T, from, to *cnode, topic string) {
	t.Helper()
	sub := testutil.DialV5(t, to.addr, fmt.Sprintf("rt-s-%d", time.Now().UnixNano()))
	sub.Sub(t, topic, 1)
	pub := testutil.DialV5(t, from.addr, fmt.Sprintf("rt-p-%d", time.Now().UnixNano()))
	testutil.Eventually(t, 10*time.Second, from.name+" -> "+to.name+" on "+topic, func() bool {
		pub.Pub(t, topic, 1, []byte("x"))
		select {
		case <-sub.Msgs:
			return true
		case <-time.After(200 * time.Millisecond):
			return false
		}
	})
}

func TestPartitionHeals(t *testing.T) {
	t.Parallel()
	for _, isolated := range []int{2, 0} { // s3 away from s1+s2, then s1 (the oldest) away from s2+s3
		t.Run(fmt.Sprintf("isolate-s%d", isolated+1), func(t *testing.T) {
			t.Parallel()
			_, ns := trio(t)
			lone := ns[isolated]
			var rest []*cnode
			for i, n := range ns {
				if i != isolated {
					rest = append(rest, n)
				}
			}
			lone.cut()
			// Both sides keep serving and see the other side as stopped.
			lone.waitStatus(statusLine(names(lone), names(rest...)...), 20*time.Second)
			rest[0].waitStatus(statusLine(names(rest...), lone.name), 20*time.Second)
			roundTrip(t, rest[0], rest[1], "side/majority")
			roundTrip(t, lone, lone, "side/minority")
			publishRetained(t, rest[0], "part/majority", "m")
			publishRetained(t, lone, "part/lone", "l")
			time.Sleep(partitionFor - 10*time.Second) // the partition lasts its stated time; nothing to wait for
			lone.heal()
			start := time.Now()
			for _, n := range ns {
				n.waitStatus(statusLine(names(ns...)), 30*time.Second)
			}
			took := time.Since(start)
			// Routes and retained messages consistent everywhere, seen through MQTT.
			roundTrip(t, lone, rest[0], "healed/a")
			roundTrip(t, rest[1], lone, "healed/b")
			want := map[string]string{"part/majority": "m", "part/lone": "l"}
			for _, n := range ns {
				testutil.Eventually(t, 10*time.Second, "retained consistent on "+n.name, func() bool {
					got := retainedOn(t, n, "part/#")
					return len(got) == 2 && got["part/majority"] == want["part/majority"] && got["part/lone"] == want["part/lone"]
				})
			}
			record(fmt.Sprintf("partition s%d vs the rest, 30s, autoheal on: whole again", isolated+1), "30s", took.Round(time.Millisecond).String(), 0, 0)
		})
	}
}

func TestPartitionWithoutAutoheal(t *testing.T) {
	t.Parallel()
	_, ns := trio(t, "EMQX_CLUSTER__AUTOHEAL=off")
	s1, s2, s3 := ns[0], ns[1], ns[2]
	s3.cut()
	s1.waitStatus(statusLine(names(s1, s2), s3.name), 20*time.Second)
	s3.waitStatus(statusLine(names(s3), s1.name, s2.name), 20*time.Second)
	s3.heal()
	deadline := time.Now().Add(15 * time.Second) // the sides must stay apart: watch a while
	for time.Now().Before(deadline) {
		// Merged means s1 sees s3 running again; s2 may be suspected for
		// a moment on a loaded machine, which is not what this watches.
		got, _ := s1.ctl("cluster", "status")
		running, _, _ := strings.Cut(got, "stopped_nodes")
		if strings.Contains(running, s3.name) {
			t.Fatalf("sides merged without autoheal: %s", got)
		}
		time.Sleep(250 * time.Millisecond)
	}
	s3.mustCtl("cluster", "join", s1.name) // the operator joins them
	for _, n := range ns {
		n.waitStatus(statusLine(names(ns...)), 20*time.Second)
	}
	record("partition with autoheal off: apart until joined", "15s watch", "stayed apart", 0, 0)
}
