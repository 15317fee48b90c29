package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"emqxgo/internal/alarm"
	"emqxgo/internal/mgmt"
)

// The node's alarms are EMQX 4.4's emqx_alarm (package alarm): with
// EMQX's defaults of alarm.size_limit (1000) and alarm.validity_period
// (24h), which the configuration accepts without acting on yet. Each
// change is logged ("Alarm <name> is activated, <message>") and published
// on $SYS/brokers/<node>/alarms/activate or /deactivate (QoS 0, JSON,
// content type application/json), as emqx_alarm's actions log and publish.
// The lists are kept in <data_dir>/alarms/<node>.json.
//
// EMQX 4.4 raises alarms for the Erlang VM and the host (high_cpu_usage,
// too_many_processes, ...), which this node does not watch. It raises,
// checking every alarmCheckInterval:
//
//   - peer_link_down/<peer>, details {"peer": <peer>}: a member of the
//     cluster (running or stopped, not one that left) to which this node
//     has had no link for peerDownGrace; cleared when the link is back or
//     the member leaves.
//   - too_many_connections/<listener>, details {"listener", "connections",
//     "max_connections"} (listener as EMQX names it: mqtt:tcp:external):
//     a listener with a max_connections has 90% of them open; cleared
//     when fewer than 80% are.
//
// Deactivating one by the API while its condition holds raises it again
// at the next check, as EMQX's monitors do.
const (
	alarmPeerLinkDown  = "peer_link_down/"
	alarmTooManyConns  = "too_many_connections/"
	alarmCheckInterval = time.Second
	peerDownGrace      = 3 * time.Second
)

// alarmParts is the node's alarms and what watches for them.
type alarmParts struct {
	*alarm.Alarms
	downSince           map[string]time.Time // peer -> when its link was first seen down (watch's)
	startOnce, stopOnce sync.Once
	stop, done          chan struct{}
}

func (n *Node) newAlarms() {
	n.alarms = &alarmParts{downSince: map[string]time.Time{}, stop: make(chan struct{}), done: make(chan struct{})}
	n.alarms.Alarms = alarm.New(alarm.Config{SizeLimit: n.cfg.Alarm.SizeLimit, ValidityPeriod: n.cfg.Alarm.ValidityPeriod,
		File: filepath.Join(n.cfg.Node.DataDir, "alarms", n.name.String()+".json"), Changed: n.alarmChanged, Log: n.log})
}

// alarmChanged is emqx_alarm's actions (alarm.actions): log and publish.
func (n *Node) alarmChanged(activated bool, a alarm.Alarm) {
	topic := "alarms/deactivate"
	if activated {
		topic = "alarms/activate"
	}
	switch {
	case !n.cfg.Alarm.Log:
	case activated:
		n.log.Warn(fmt.Sprintf("Alarm %s is activated, %s", a.Name, a.Message))
	default:
		n.log.Warn(fmt.Sprintf("Alarm %s is deactivated", a.Name))
	}
	if !n.cfg.Alarm.Publish {
		return
	}
	b, err := json.Marshal(a)
	if err != nil {
		return
	}
	n.sys.PublishSys(topic, b, "application/json")
}

// startAlarms reads the kept alarms and starts watching.
func (n *Node) startAlarms() {
	a := n.alarms
	a.startOnce.Do(func() {
		a.Alarms.Start()
		go n.watchAlarms()
	})
}

// stopAlarms stops watching (before the node's links close, so that its
// own stop raises nothing). Safe to call twice, and without startAlarms.
func (n *Node) stopAlarms() {
	a := n.alarms
	a.stopOnce.Do(func() { close(a.stop) })
	a.startOnce.Do(func() { close(a.done) })
	<-a.done
	a.Alarms.Stop()
}

func (n *Node) watchAlarms() {
	a := n.alarms
	defer close(a.done)
	t := time.NewTicker(alarmCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case now := <-t.C:
			n.checkPeerLinks(now)
			n.checkConnections()
		}
	}
}

// checkPeerLinks raises and clears peer_link_down/<peer>.
func (n *Node) checkPeerLinks(now time.Time) {
	a := n.alarms
	st := n.cluster.Status()
	links := n.cluster.Links()
	members := map[string]bool{}
	for _, m := range append(st.Running, st.Stopped...) {
		if m == n.name.String() {
			continue
		}
		members[m] = true
		name := alarmPeerLinkDown + m
		if links.Has(m) {
			delete(a.downSince, m)
			n.clearAlarm(name)
			continue
		}
		since, ok := a.downSince[m]
		if !ok {
			a.downSince[m] = now
			continue
		}
		if now.Sub(since) >= peerDownGrace && !a.IsActive(name) {
			n.raiseAlarm(name, map[string]any{"peer": m}, fmt.Sprintf("The link to cluster member %s is down", m))
		}
	}
	for p := range a.downSince {
		if !members[p] {
			delete(a.downSince, p)
		}
	}
	for _, al := range a.Activated() {
		if p, ok := strings.CutPrefix(al.Name, alarmPeerLinkDown); ok && !members[p] {
			n.clearAlarm(al.Name) // it left the cluster
		}
	}
}

// checkConnections raises too_many_connections/<listener> at 90% of its
// max_connections and clears it under 80%.
func (n *Node) checkConnections() {
	for _, l := range n.broker.Listeners() {
		if l.MaxConns <= 0 {
			continue
		}
		id := "mqtt:" + l.ID
		name := alarmTooManyConns + id
		on, limit := n.alarms.IsActive(name), int64(l.MaxConns)
		switch {
		case !on && l.Open*10 >= limit*9:
			n.raiseAlarm(name, map[string]any{"listener": id, "connections": l.Open, "max_connections": l.MaxConns},
				fmt.Sprintf("%d connections on listener %s, 90%% or more of its max_connections %d", l.Open, id, l.MaxConns))
		case on && l.Open*10 < limit*8:
			n.clearAlarm(name)
		}
	}
}

func (n *Node) raiseAlarm(name string, details map[string]any, message string) {
	if err := n.alarms.Activate(name, details, message); err != nil && !errors.Is(err, alarm.ErrAlreadyExists) {
		n.log.Warn("alarm not activated", zap.String("alarm", name), zap.Error(err))
	}
}

func (n *Node) clearAlarm(name string) {
	if n.alarms.IsActive(name) {
		_ = n.alarms.Deactivate(name)
	}
}

// alarmList answers emqx_mgmt:get_alarms(Node, Type): EMQX's order
// (the active ones, then the history, the whole reversed) with each
// alarm's duration.
func (n *Node) alarmList(which string) ([]alarm.Alarm, error) {
	var l []alarm.Alarm
	switch which {
	case "all":
		l = n.alarms.All()
	case "activated":
		l = n.alarms.Activated()
	case "deactivated":
		l = n.alarms.Deactivated()
	default:
		return nil, fmt.Errorf("unknown alarm list %q", which)
	}
	slices.Reverse(l)
	now := time.Now()
	for i := range l {
		l[i] = l[i].WithDuration(now)
	}
	return l, nil
}

// alarmReq is the request of the alarm operations.
type alarmReq struct {
	Which string `json:"which,omitempty"` // all, activated, deactivated
	Name  string `json:"name,omitempty"`
}

// nodeAlarms is one node in the cluster-wide lists.
type nodeAlarms struct {
	Node   string        `json:"node"`
	Alarms []alarm.Alarm `json:"alarms"`
}

// alarmsAll is GET /alarms[/activated|/deactivated]: every running node's.
func alarmsAll(n *Node, which string) []any {
	ctx, cancel := apiCtx()
	defer cancel()
	var out []any
	for _, r := range callAll[[]alarm.Alarm](ctx, n, "alarm.list", alarmReq{Which: which}) {
		if r.Err != nil {
			out = append(out, map[string]any{"node": r.Node, "error": r.Err.Error()})
			continue
		}
		out = append(out, nodeAlarms{Node: r.Node, Alarms: nonNilAlarms(r.Result)})
	}
	return out
}

func nonNilAlarms(l []alarm.Alarm) []alarm.Alarm {
	if l == nil {
		return []alarm.Alarm{}
	}
	return l
}

// minirestError is minirest's return({error, Reason}): HTTP 200 with only a
// message, no code.
func minirestError(s string) mgmt.Raw {
	b, _ := json.Marshal(map[string]string{"message": s})
	return mgmt.Raw{ContentType: "application/json", Body: b}
}

// deactivateAlarm is POST /alarms/deactivated: the alarm "name" on the
// node "node" (query string or JSON body, the query first, as minirest).
func deactivateAlarm(n *Node, r *mgmt.Request) (any, error) {
	var body map[string]any
	if len(r.Body) > 0 {
		var v any
		if err := json.Unmarshal(r.Body, &v); err != nil {
			return mgmt.Raw{Status: 400, Body: []byte("Bad Request")}, nil // minirest's answer to a body not JSON
		}
		body, _ = v.(map[string]any)
	}
	param := func(k string) (string, bool) {
		if r.Has(k) {
			return r.Query(k), true
		}
		s, ok := body[k].(string)
		return s, ok
	}
	node, okNode := param("node")
	name, okName := param("name")
	if !okNode || !okName {
		// EMQX: binary_to_atom(undefined) crashes the handler (500)
		return nil, mgmt.Errorf(mgmt.CodeMissingParam, "node and name are required")
	}
	if !slices.Contains(n.runningNodes(), node) {
		return minirestError("nodedown"), nil
	}
	ctx, cancel := apiCtx()
	defer cancel()
	if err := n.callNode(ctx, node, "alarm.deactivate", alarmReq{Name: name}, nil); err != nil {
		var me *mgmt.Error
		if errors.As(err, &me) {
			return minirestError(me.Message), nil
		}
		return minirestError(err.Error()), nil
	}
	return nil, nil
}

func init() {
	registerOp("alarm.list", opOf(func(n *Node, q alarmReq) (any, error) {
		return n.alarmList(q.Which)
	}))
	registerOp("alarm.deactivate", opOf(func(n *Node, q alarmReq) (any, error) {
		return nil, n.alarms.Deactivate(q.Name)
	}))
	registerOp("alarm.delete_deactivated", func(n *Node, _ []byte) (any, error) {
		n.alarms.DeleteDeactivated()
		return nil, nil
	})

	for _, which := range []string{"all", "activated", "deactivated"} {
		path := "/alarms"
		if which != "all" {
			path += "/" + which
		}
		registerAPI("GET "+path, func(n *Node, _ *mgmt.Request) (any, error) { return alarmsAll(n, which), nil })
		registerAPI("GET /nodes/{node}"+path, func(n *Node, r *mgmt.Request) (any, error) {
			l, err := onNodePath[[]alarm.Alarm](n, r, "alarm.list", alarmReq{Which: which})
			return nonNilAlarms(l), err
		})
	}
	registerAPI("POST /alarms/deactivated", deactivateAlarm)
	// DELETE: emqx_mgmt:delete_all_deactivated_alarms, whose result EMQX
	// does not look at.
	registerAPI("DELETE /alarms/deactivated", func(n *Node, _ *mgmt.Request) (any, error) {
		ctx, cancel := apiCtx()
		defer cancel()
		callAll[struct{}](ctx, n, "alarm.delete_deactivated", struct{}{})
		return nil, nil
	})
	registerAPI("DELETE /nodes/{node}/alarms/deactivated", func(n *Node, r *mgmt.Request) (any, error) {
		_, _ = onNodePath[struct{}](n, r, "alarm.delete_deactivated", struct{}{})
		return nil, nil
	})
}
