package node

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"

	"emqxgo/internal/broker"
	"emqxgo/internal/mgmt"
	"emqxgo/internal/topic"
)

// The subscriptions of the cluster's clients, as EMQX 4.4's
// emqx_mgmt_cli (subscriptions list, show, add, del),
// emqx_mgmt_api_subscriptions (GET /subscriptions with its filters and
// paging, /subscriptions/{clientid}, /nodes/{node}/subscriptions[/...])
// and emqx_mgmt_api_pubsub (POST /mqtt/subscribe, /mqtt/unsubscribe and
// their _batch forms) show and make them, on the node that has the
// client: subs.query, subs.lookup, subs.add, subs.del.
//
// emqx_ctl prints a subscription as EMQX does, "<clientid> -> <topic>"
// with the plain topic of a shared one; subscriptions list is the node's
// own, with --cluster every running node's, each line ending in
// ", node=<node>". show, add and del find the client on any node.

// subRow is one subscription: the client and the filter as the node
// holds it (a shared one as $share/<group>/<topic>).
type subRow struct {
	ClientID string `json:"clientid"`
	Topic    string `json:"topic"`
	QoS      byte   `json:"qos"`
}

// APISubscription is a subscription as the HTTP API shows it.
type APISubscription struct {
	Node     string `json:"node"`
	ClientID string `json:"clientid"`
	Topic    string `json:"topic"`
	QoS      byte   `json:"qos"`
}

func apiSub(node string, r subRow) APISubscription {
	return APISubscription{Node: node, ClientID: r.ClientID, Topic: r.Topic, QoS: r.QoS}
}

func apiSubs(rows []noded[subRow]) []APISubscription {
	out := make([]APISubscription, 0, len(rows))
	for _, r := range rows {
		out = append(out, apiSub(r.Node, r.Row))
	}
	return out
}

// subFilter is what a subscription must match (?SUBS_QS_SCHEMA); nil
// fields match any. Topic is the plain topic (EMQX keys a shared
// subscription by it); Share its group; SharePrefix, with ?topic=, a
// prefix of the filter as shown ($share/<share>); Match a filter the
// plain topic must match (_match_topic).
type subFilter struct {
	ClientID    *string `json:"clientid,omitempty"`
	Topic       *string `json:"topic,omitempty"`
	Share       *string `json:"share,omitempty"`
	SharePrefix *string `json:"share_prefix,omitempty"`
	QoS         *int64  `json:"qos,omitempty"`
	Match       *string `json:"match,omitempty"`
}

func (f *subFilter) empty() bool { return reflect.ValueOf(*f).IsZero() }

func (f *subFilter) match(clientID string, s broker.Subscription) bool {
	pre, plain := topic.SplitShared(s.Filter)
	group := ""
	switch {
	case pre == "$queue/":
		group = "$queue"
	case pre != "":
		group = pre[len("$share/") : len(pre)-1]
	}
	switch {
	case f.ClientID != nil && *f.ClientID != clientID,
		f.Topic != nil && *f.Topic != plain,
		f.Share != nil && (pre == "" || *f.Share != group),
		f.SharePrefix != nil && !strings.HasPrefix(s.Filter, "$share/"+*f.SharePrefix),
		f.QoS != nil && *f.QoS != int64(s.QoS),
		f.Match != nil && !topicMatch(plain, *f.Match):
		return false
	}
	return true
}

// topicMatch is emqx_topic:match(Name, Filter): name's levels taken as
// they are; a name starting with $ matches no filter starting with a
// wildcard.
func topicMatch(name, filter string) bool {
	if strings.HasPrefix(name, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	nw, fw := strings.Split(name, "/"), strings.Split(filter, "/")
	for i, w := range fw {
		switch {
		case w == "#":
			return true
		case i >= len(nw):
			return false
		case w != "+" && w != nw[i]:
			return false
		}
	}
	return len(nw) == len(fw)
}

// parseSubFilter reads GET /subscriptions' filters (without topic, which
// takes the other path: subsByTopic).
func parseSubFilter(raw string) (f subFilter, conds int, err error) {
	str := func(v string) *string { return &v }
	for _, kv := range queryPairs(raw) {
		k, v := kv[0], kv[1]
		switch k {
		case "clientid":
			f.ClientID = str(v)
		case "topic":
			f.Topic = str(v)
		case "share":
			f.Share = str(v)
		case "_match_topic":
			f.Match = str(v)
		case "qos":
			q, err := erlInteger(v, "integer")
			if err != nil {
				return f, 0, err
			}
			f.QoS = &q
		default:
			continue
		}
		conds++
	}
	return f, conds, nil
}

// querySubs is this node's part of a page of subscriptions: by client id,
// then filter.
func (n *Node) querySubs(q pageReq[subFilter]) pageResp[subRow] {
	b := n.broker
	var cls []*mqtt.Client
	if q.F.ClientID != nil {
		if cl, ok := b.NetworkClient(*q.F.ClientID); ok {
			cls = append(cls, cl)
		}
	} else {
		cls = b.NetworkClients()
	}
	r := pageResp[subRow]{Rows: []subRow{}}
	w := window{skip: q.Skip, limit: q.Limit}
	if q.Limit > 0 {
		broker.SortClients(cls)
	}
	all := q.F.empty()
	for _, cl := range cls {
		k := cl.State.Subscriptions.Len()
		r.Total += k
		if all {
			lo, hi := w.span(k)
			if hi > lo {
				subs := broker.Subscriptions(cl)
				for _, s := range subs[min(lo, len(subs)):min(hi, len(subs))] {
					r.Rows = append(r.Rows, subRow{cl.ID, s.Filter, s.QoS})
				}
			}
			continue
		}
		if k == 0 {
			continue
		}
		var match []broker.Subscription
		for _, s := range broker.Subscriptions(cl) {
			if q.F.match(cl.ID, s) {
				match = append(match, s)
			}
		}
		lo, hi := w.span(len(match))
		for _, s := range match[lo:hi] {
			r.Rows = append(r.Rows, subRow{cl.ID, s.Filter, s.QoS})
		}
	}
	r.Skip, r.Matched = w.skip, w.matched
	return r
}

// subsOf are the subscriptions of the client clientID of this node; found
// false: no such client.
func (n *Node) subsOf(clientID string) (rows []subRow, found bool) {
	cl, ok := n.broker.NetworkClient(clientID)
	if !ok {
		return []subRow{}, false
	}
	rows = []subRow{}
	for _, s := range broker.Subscriptions(cl) {
		rows = append(rows, subRow{cl.ID, s.Filter, s.QoS})
	}
	return rows, true
}

// subsAnywhere are the subscriptions of clientID on every running node.
func (n *Node) subsAnywhere(clientID string) []noded[subRow] {
	ctx, cancel := apiCtx()
	defer cancel()
	var out []noded[subRow]
	for _, r := range callAll[[]subRow](ctx, n, "subs.lookup", clientID) {
		for _, s := range r.Result {
			out = append(out, noded[subRow]{r.Node, s})
		}
	}
	return out
}

// subChange asks a node to subscribe or unsubscribe its client.
type subChange struct {
	ClientID string   `json:"c"`
	Topics   []string `json:"t"`
	QoS      byte     `json:"q,omitempty"`
}

// subChanged is a node's answer: whether it has the client, and the
// SUBACK code of each filter (subscribe).
type subChanged struct {
	Found bool   `json:"f,omitempty"`
	Codes []byte `json:"c,omitempty"`
}

// subscribeHere subscribes the client of this node (subs.add): the
// broker subscribes it, the cluster gets the routes.
func (n *Node) subscribeHere(q subChange) subChanged {
	res, found := n.broker.Subscribe(q.ClientID, q.Topics, q.QoS)
	out := subChanged{Found: found}
	for _, r := range res {
		out.Codes = append(out.Codes, r.Code)
		if r.Filter == "" {
			continue
		}
		n.fabric.AddRoute(r.Filter, q.ClientID)
		if !n.broker.Subscribed(q.ClientID, r.Filter) {
			n.fabric.RemoveRoute(r.Filter, q.ClientID) // unsubscribed meanwhile
		}
	}
	return out
}

func (n *Node) unsubscribeHere(q subChange) subChanged {
	removed, found := n.broker.Unsubscribe(q.ClientID, q.Topics)
	for _, f := range removed {
		n.fabric.RemoveRoute(f, q.ClientID)
	}
	return subChanged{Found: found}
}

// changeAnywhere runs op (subs.add, subs.del) on the node that has the
// client: this one first, then the others in order (emqx_mgmt:subscribe
// tries the running nodes until one has it). found false: none has it.
func (n *Node) changeAnywhere(op string, q subChange) (subChanged, error) {
	ctx, cancel := apiCtx()
	defer cancel()
	self := n.name.String()
	nodes := []string{self}
	for _, node := range n.runningNodes() {
		if node != self {
			nodes = append(nodes, node)
		}
	}
	var lastErr error
	for _, node := range nodes {
		var r subChanged
		if err := n.callNode(ctx, node, op, q, &r); err != nil {
			lastErr = err
			continue
		}
		if r.Found {
			return r, nil
		}
	}
	return subChanged{}, lastErr
}

// ---- emqx_ctl subscriptions

var subscriptionsUsage = []usageLine{{"subscriptions list", "List all subscriptions"},
	{"subscriptions show <ClientId>", "Show subscriptions of a client"},
	{"subscriptions add <ClientId> <Topic> <QoS>", "Add a static subscription manually"},
	{"subscriptions del <ClientId> <Topic>", "Delete a static subscription manually"}}

// subLine is emqx_mgmt_cli's line of a subscription (the plain topic of a
// shared one); node, when set, ends it (--cluster).
func subLine(r subRow, node string) string {
	s := r.ClientID + " -> " + topic.Plain(r.Topic)
	if node != "" {
		s += ", node=" + node
	}
	return s + "\n"
}

func (n *Node) subscriptionsCmd(c *call) string {
	args := c.args
	lines := func(rows []noded[subRow]) string {
		var b strings.Builder
		for _, r := range rows {
			node := ""
			if c.cluster {
				node = r.Node
			}
			b.WriteString(subLine(r.Row, node))
		}
		return b.String()
	}
	switch {
	case len(args) == 1 && args[0] == "list":
		nodes := []string{n.name.String()}
		if c.cluster {
			nodes = n.runningNodes()
		}
		var rows []noded[subRow]
		var failed []string
		for _, node := range nodes {
			r, err := allRows[subFilter, subRow](n, node, "subs.query", subFilter{})
			rows = append(rows, r...)
			if err != nil {
				failed = append(failed, fmt.Sprintf("Error: %s: %v\n", node, err))
			}
		}
		return c.out(apiSubs(rows), func() string { return lines(rows) + strings.Join(failed, "") })
	case len(args) == 2 && args[0] == "show":
		rows := n.subsAnywhere(args[1])
		if len(rows) == 0 {
			return "Not Found.\n"
		}
		return c.out(apiSubs(rows), func() string { return lines(rows) })
	case len(args) == 4 && args[0] == "add":
		q, err := strconv.Atoi(args[3])
		if err != nil || q < 0 || q > 2 {
			return "QoS should be 0, 1, 2\n"
		}
		r, err := n.changeAnywhere("subs.add", subChange{ClientID: args[1], Topics: []string{args[2]}, QoS: byte(q)})
		return ctlChanged(r, err)
	case len(args) == 3 && args[0] == "del":
		r, err := n.changeAnywhere("subs.del", subChange{ClientID: args[1], Topics: []string{args[2]}})
		return ctlChanged(r, err)
	}
	return usage(subscriptionsUsage...)
}

// ctlChanged is emqx_ctl's answer to subscriptions add and del: ok once
// the client's channel has the request (whatever it makes of it), or, as
// EMQX prints it, without a newline, that there is no such client.
func ctlChanged(r subChanged, err error) string {
	switch {
	case r.Found:
		return "ok\n"
	case err != nil:
		return fmt.Sprintf("Error: %v\n", err)
	}
	return "Error: Channel not found!"
}

// ---- HTTP API: GET /subscriptions...

// subsPage is GET /subscriptions (node "": the cluster's) and
// /nodes/{node}/subscriptions.
func (n *Node) subsPage(r *mgmt.Request, node string) (any, error) {
	f, conds, err := parseSubFilter(r.R.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	page, limit, skip, err := pageParams(r)
	if err != nil {
		return nil, err
	}
	if r.Has("topic") {
		return n.subsByTopic(r, node, page, limit, skip)
	}
	var rows []noded[subRow]
	count := -1
	if node == "" {
		var total int
		rows, _, total, err = clusterPage[subFilter, subRow](n, "subs.query", f, skip, limit+1, conds == 0)
		if conds == 0 {
			count = total
		}
	} else {
		var resp pageResp[subRow]
		rows, resp, err = nodePage[subFilter, subRow](n, node, "subs.query", f, skip, limit+1)
		if conds == 0 {
			count = resp.Total
		}
	}
	if err != nil {
		return nil, err
	}
	return pageOf(rows, page, limit, count, apiSub), nil
}

// subsByTopic is GET /subscriptions?topic=...: the subscriptions to that
// topic (shared ones by their plain topic), filtered by qos, clientid and
// share (a prefix of $share/<share>), with their exact count
// (emqx_mgmt_api_subscriptions' add_meta).
func (n *Node) subsByTopic(r *mgmt.Request, node string, page, limit, skip int) (any, error) {
	t := r.Query("topic")
	f := subFilter{Topic: &t}
	if v := r.Query("qos"); r.Has("qos") {
		q, err := erlInteger(v, "integer")
		if err != nil {
			return nil, err
		}
		f.QoS = &q
	}
	if r.Has("clientid") {
		id := r.Query("clientid")
		f.ClientID = &id
	}
	if r.Has("share") {
		s := r.Query("share")
		f.SharePrefix = &s
	}
	var (
		rows    []noded[subRow]
		matched int
		err     error
	)
	if node == "" {
		rows, matched, _, err = clusterPage[subFilter, subRow](n, "subs.query", f, skip, limit+1, true)
	} else {
		var resp pageResp[subRow]
		rows, resp, err = nodePage[subFilter, subRow](n, node, "subs.query", f, skip, limit+1)
		matched = resp.Matched
	}
	if err != nil {
		return nil, err
	}
	p := pageOf(rows, page, limit, matched, apiSub)
	p.Meta.HasNext = skip+limit < matched
	return p, nil
}

// ---- HTTP API: POST /mqtt/subscribe, /mqtt/unsubscribe (emqx_mgmt_api_pubsub)

// pubsubCode is what do_subscribe and do_unsubscribe answer: 0, or an
// error code and its message.
type pubsubCode struct {
	code int
	msg  string
}

func (c pubsubCode) err() error {
	if c.code == 0 {
		return nil
	}
	return mgmt.Errorf(c.code, "%s", c.msg)
}

// jsonString is a JSON string's value; ok false for anything else.
func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// validFilter is emqx_topic:validate({filter, T}).
func validFilter(t string) bool {
	if t == "" || len(t) > 65535 || strings.ContainsRune(t, 0) {
		return false
	}
	ws := strings.Split(t, "/")
	for i, w := range ws {
		switch {
		case w == "#" && i != len(ws)-1:
			return false
		case w != "#" && strings.Contains(w, "#"), w != "+" && strings.Contains(w, "+"):
			return false
		}
	}
	return true
}

// bodyTopics are the valid filters of "topic" (or, without it,
// "topics"), split at commas (emqx_mgmt_api_pubsub's topics/3).
func bodyTopics(p map[string]json.RawMessage) []string {
	raw, ok := p["topic"]
	if !ok {
		raw, ok = p["topics"]
	}
	var s string
	if ok {
		var isStr bool
		if s, isStr = jsonString(raw); !isStr {
			return nil
		}
	}
	var out []string
	for _, t := range strings.Split(s, ",") {
		if validFilter(t) {
			out = append(out, t)
		}
	}
	return out
}

// respTopic is resp_topic: the "topic" given, else "topics" (else "").
func respTopic(p map[string]json.RawMessage) json.RawMessage {
	if t, ok := p["topic"]; ok {
		return t
	}
	if t, ok := p["topics"]; ok {
		return t
	}
	return json.RawMessage(`""`)
}

// respClientID is the clientid given, as given ("undefined" without one).
func respClientID(p map[string]json.RawMessage) json.RawMessage {
	if c, ok := p["clientid"]; ok {
		return c
	}
	return json.RawMessage(`"undefined"`)
}

func (n *Node) apiSubscribe(p map[string]json.RawMessage) pubsubCode {
	id, ok := jsonString(p["clientid"])
	if !ok {
		return pubsubCode{mgmt.CodeParamType, "bad clientid: must be string"}
	}
	topics := bodyTopics(p)
	if len(topics) == 0 {
		return pubsubCode{mgmt.CodeBadTopic, "bad_topic"}
	}
	qos := byte(0)
	if raw, ok := p["qos"]; ok {
		q := strings.TrimSpace(string(raw))
		if q != "0" && q != "1" && q != "2" {
			return pubsubCode{mgmt.CodeBadQoS, "bad_qos"}
		}
		qos = q[0] - '0'
	}
	r, err := n.changeAnywhere("subs.add", subChange{ClientID: id, Topics: topics, QoS: qos})
	if !r.Found {
		if err != nil {
			return pubsubCode{mgmt.CodeRPC, err.Error()}
		}
		return pubsubCode{mgmt.CodeNotOnline, "channel_not_found"}
	}
	return pubsubCode{}
}

func (n *Node) apiUnsubscribe(p map[string]json.RawMessage) pubsubCode {
	id, ok := jsonString(p["clientid"])
	if !ok {
		return pubsubCode{mgmt.CodeParamType, "bad clientid: must be string"}
	}
	t, ok := jsonString(p["topic"])
	if !ok || !validFilter(t) {
		return pubsubCode{mgmt.CodeBadTopic, "bad_topic"}
	}
	r, err := n.changeAnywhere("subs.del", subChange{ClientID: id, Topics: []string{t}})
	if !r.Found {
		if err != nil {
			return pubsubCode{mgmt.CodeRPC, err.Error()}
		}
		return pubsubCode{mgmt.CodeNotOnline, "channel_not_found"}
	}
	return pubsubCode{}
}

// pubsubResult is one entry of a _batch answer.
type pubsubResult struct {
	ClientID json.RawMessage `json:"clientid"`
	Topic    json.RawMessage `json:"topic"`
	Code     int             `json:"code"`
}

// maxBatch bounds the entries of one _batch request.
const maxBatch = 10000

func (n *Node) pubsubBatch(r *mgmt.Request, do func(map[string]json.RawMessage) pubsubCode) (any, error) {
	var ps []map[string]json.RawMessage
	if err := r.JSON(&ps); err != nil {
		return nil, err
	}
	if len(ps) > maxBatch {
		return nil, mgmt.Errorf(mgmt.CodeParamType, "at most %d entries in a batch", maxBatch)
	}
	out := make([]pubsubResult, 0, len(ps))
	for _, p := range ps {
		out = append(out, pubsubResult{ClientID: respClientID(p), Topic: respTopic(p), Code: do(p).code})
	}
	return out, nil
}

func init() {
	registerOp("subs.query", opOf(func(n *Node, q pageReq[subFilter]) (any, error) {
		return n.querySubs(q), nil
	}))
	registerOp("subs.lookup", opOf(func(n *Node, id string) (any, error) {
		rows, _ := n.subsOf(id)
		return rows, nil
	}))
	registerOp("subs.add", opOf(func(n *Node, q subChange) (any, error) {
		return n.subscribeHere(q), nil
	}))
	registerOp("subs.del", opOf(func(n *Node, q subChange) (any, error) {
		return n.unsubscribeHere(q), nil
	}))

	registerCmd(ctlCommand{name: "subscriptions", run: func(n *Node, c *call) string { return n.subscriptionsCmd(c) },
		usage: subscriptionsUsage})

	registerAPI("GET /subscriptions", func(n *Node, r *mgmt.Request) (any, error) { return n.subsPage(r, "") })
	registerAPI("GET /nodes/{node}/subscriptions", func(n *Node, r *mgmt.Request) (any, error) {
		return n.subsPage(r, r.Path("node"))
	})
	registerAPI("GET /subscriptions/{clientid}", func(n *Node, r *mgmt.Request) (any, error) {
		return apiSubs(n.subsAnywhere(r.Path("clientid"))), nil
	})
	registerAPI("GET /nodes/{node}/subscriptions/{clientid}", func(n *Node, r *mgmt.Request) (any, error) {
		ctx, cancel := apiCtx()
		defer cancel()
		var rows []subRow
		if err := n.callNode(ctx, r.Path("node"), "subs.lookup", r.Path("clientid"), &rows); err != nil {
			return nil, err
		}
		out := make([]APISubscription, 0, len(rows))
		for _, s := range rows {
			out = append(out, apiSub(r.Path("node"), s))
		}
		return out, nil
	})

	registerAPI("POST /mqtt/subscribe", func(n *Node, r *mgmt.Request) (any, error) {
		var p map[string]json.RawMessage
		if err := r.JSON(&p); err != nil {
			return nil, err
		}
		return nil, n.apiSubscribe(p).err()
	})
	registerAPI("POST /mqtt/unsubscribe", func(n *Node, r *mgmt.Request) (any, error) {
		var p map[string]json.RawMessage
		if err := r.JSON(&p); err != nil {
			return nil, err
		}
		return nil, n.apiUnsubscribe(p).err()
	})
	registerAPI("POST /mqtt/subscribe_batch", func(n *Node, r *mgmt.Request) (any, error) {
		return n.pubsubBatch(r, n.apiSubscribe)
	})
	registerAPI("POST /mqtt/unsubscribe_batch", func(n *Node, r *mgmt.Request) (any, error) {
		return n.pubsubBatch(r, n.apiUnsubscribe)
	})
}
