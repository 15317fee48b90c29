package node

import (
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"emqxgo/internal/broker"
	"emqxgo/internal/mgmt"
)

// The clients of the cluster, as EMQX 4.4's emqx_mgmt_cli (clients list,
// show, kick) and emqx_mgmt_api_clients (GET /clients with its filters
// and paging, /nodes/{node}/clients, /clients/{clientid},
// /clients/username/{username}, DELETE /clients/{clientid}) show them.
// Both read one set of operations, run on the node that has the clients:
// clients.query (a page of a node's clients matching a filter),
// clients.lookup and clients.kick.
//
// emqx_ctl clients list is the node's own clients, as EMQX; with
// --cluster, every running node's, each line ending in ", node=<node>"
// inside the parentheses. show and kick find the client on any node.

// ---- paging over the cluster (emqx_mgmt_api:cluster_query, node_query)

// ctlChunk is how many rows one node sends emqx_ctl at a time.
const ctlChunk = 10000

// pageReq asks a node for the rows of a page: of the rows matching F, in
// the node's order, skip Skip and send at most Limit.
type pageReq[F any] struct {
	F     F   `json:"f"`
	Skip  int `json:"s,omitempty"`
	Limit int `json:"l"`
}

// pageResp is a node's part of a page: its rows, what is left to skip on
// the next node (it had fewer matching rows than Skip), how many rows
// match on it, and how many it has.
type pageResp[R any] struct {
	Rows    []R `json:"r"`
	Skip    int `json:"s,omitempty"`
	Matched int `json:"m"`
	Total   int `json:"t"`
}

// window is what is left of a page as a node goes through its matching
// rows in order.
type window struct{ skip, limit, matched, taken int }

// span notes k more matching rows and tells which of them are in the
// page: [lo, hi).
func (w *window) span(k int) (lo, hi int) {
	w.matched += k
	lo = min(w.skip, k)
	w.skip -= lo
	hi = lo + max(0, min(k-lo, w.limit-w.taken))
	w.taken += hi - lo
	return lo, hi
}

// noded is a row and the node it came from.
type noded[R any] struct {
	Node string
	Row  R
}

// clusterPage is emqx_mgmt_api's do_cluster_query: the running nodes in
// their sorted order are asked one after the other, each for at most the
// rows still missing (want: the page and one more, for hasnext), skipping
// what the nodes before had too few of. all: every node is asked, for its
// counts, after the page is full too.
func clusterPage[F, R any](n *Node, op string, f F, skip, want int, all bool) (rows []noded[R], matched, total int, err error) {
	ctx, cancel := apiCtx()
	defer cancel()
	for _, node := range n.runningNodes() {
		need := want - len(rows)
		if need <= 0 && !all {
			break
		}
		var r pageResp[R]
		if err := n.callNode(ctx, node, op, pageReq[F]{F: f, Skip: skip, Limit: max(need, 0)}, &r); err != nil {
			return nil, 0, 0, err
		}
		for _, row := range r.Rows {
			rows = append(rows, noded[R]{node, row})
		}
		skip = r.Skip
		matched += r.Matched
		total += r.Total
	}
	return rows, matched, total, nil
}

// nodePage is emqx_mgmt_api's node_query: one node's rows of a page.
func nodePage[F, R any](n *Node, node, op string, f F, skip, want int) ([]noded[R], pageResp[R], error) {
	ctx, cancel := apiCtx()
	defer cancel()
	var r pageResp[R]
	if err := n.callNode(ctx, node, op, pageReq[F]{F: f, Skip: skip, Limit: want}, &r); err != nil {
		return nil, r, err
	}
	rows := make([]noded[R], 0, len(r.Rows))
	for _, row := range r.Rows {
		rows = append(rows, noded[R]{node, row})
	}
	return rows, r, nil
}

// allRows is every row of op on node, fetched ctlChunk at a time (emqx_ctl
// listings).
func allRows[F, R any](n *Node, node, op string, f F) ([]noded[R], error) {
	var out []noded[R]
	for skip := 0; ; {
		rows, _, err := nodePage[F, R](n, node, op, f, skip, ctlChunk)
		if err != nil {
			return out, err
		}
		out = append(out, rows...)
		if len(rows) < ctlChunk {
			return out, nil
		}
		skip += len(rows)
	}
}

// pageParams are _page and _limit, and the rows to skip.
func pageParams(r *mgmt.Request) (page, limit, skip int, err error) {
	if page, limit, err = r.Paging(); err != nil {
		return
	}
	return page, limit, (page - 1) * limit, nil
}

// pageOf is the page's body: at most limit rows; count -1 when filters
// make it unknown (as EMQX).
func pageOf[R, O any](rows []noded[R], page, limit, count int, format func(node string, r R) O) mgmt.Paged {
	out := make([]O, 0, min(len(rows), limit))
	for i, r := range rows {
		if i == limit {
			break
		}
		out = append(out, format(r.Node, r.Row))
	}
	return mgmt.Paged{Data: out, Meta: mgmt.Meta{Page: page, Limit: limit, Count: count, HasNext: len(rows) > limit}}
}

// ---- query strings (emqx_mgmt_api:params2qs)

// queryPairs are the query's key=value pairs in order, decoded.
func queryPairs(raw string) [][2]string {
	var out [][2]string
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if d, err := url.QueryUnescape(k); err == nil {
			k = d
		}
		if d, err := url.QueryUnescape(v); err == nil {
			v = d
		}
		out = append(out, [2]string{k, v})
	}
	return out
}

// badValue is EMQX's answer to a query value of the wrong type.
func badValue(v, typ string) error {
	return mgmt.Errorf(mgmt.CodeParamType, "Can't convert %s to %s type", erlBinary(v), typ)
}

// erlBinary is s as Erlang's ~p prints a binary: <<"abc">>, or its
// bytes when they are not all printable.
func erlBinary(s string) string {
	printable := true
	for i := 0; i < len(s); i++ {
		if s[i] < 32 || s[i] > 126 {
			printable = false
			break
		}
	}
	if printable {
		return `<<"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `">>`
	}
	b := make([]string, len(s))
	for i := 0; i < len(s); i++ {
		b[i] = strconv.Itoa(int(s[i]))
	}
	return "<<" + strings.Join(b, ",") + ">>"
}

// erlInteger is binary_to_integer: an optional sign and decimal digits.
func erlInteger(s, typ string) (int64, error) {
	if s == "" || strings.ContainsAny(s, "_ ") {
		return 0, badValue(s, typ)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, badValue(s, typ)
	}
	return v, nil
}

// ---- the filter of GET /clients (emqx_mgmt_api_clients' ?CLIENT_QS_SCHEMA)

// clientFilter is what a client must match; nil fields match any. Times
// are unix milliseconds.
type clientFilter struct {
	ClientID     *string `json:"clientid,omitempty"`
	Username     *string `json:"username,omitempty"`
	Zone         *string `json:"zone,omitempty"`
	IP           []int64 `json:"ip,omitempty"`
	ConnState    *string `json:"conn_state,omitempty"`
	CleanStart   *string `json:"clean_start,omitempty"`
	ProtoName    *string `json:"proto_name,omitempty"`
	ProtoVer     *int64  `json:"proto_ver,omitempty"`
	LikeClientID *string `json:"like_clientid,omitempty"`
	LikeUsername *string `json:"like_username,omitempty"`
	CreatedGTE   *int64  `json:"created_gte,omitempty"`
	CreatedLTE   *int64  `json:"created_lte,omitempty"`
	ConnectedGTE *int64  `json:"connected_gte,omitempty"`
	ConnectedLTE *int64  `json:"connected_lte,omitempty"`
	MqueueGTE    *int64  `json:"mqueue_gte,omitempty"`
	MqueueLTE    *int64  `json:"mqueue_lte,omitempty"`
	DroppedGTE   *int64  `json:"dropped_gte,omitempty"`
	DroppedLTE   *int64  `json:"dropped_lte,omitempty"`
}

// parseClientFilter reads the query's filters; conds is how many there
// are (0: the count of every client is known).
func parseClientFilter(raw string) (f clientFilter, conds int, err error) {
	str := func(v string) *string { return &v }
	for _, kv := range queryPairs(raw) {
		k, v := kv[0], kv[1]
		var p **int64
		typ, scale := "integer", int64(1)
		switch k {
		case "clientid":
			f.ClientID = str(v)
		case "username":
			f.Username = str(v)
		case "zone":
			f.Zone = str(v)
		case "conn_state":
			f.ConnState = str(v)
		case "clean_start":
			f.CleanStart = str(v)
		case "proto_name":
			f.ProtoName = str(v)
		case "_like_clientid":
			f.LikeClientID = str(v)
		case "_like_username":
			f.LikeUsername = str(v)
		case "ip_address":
			var ip []int64
			for _, part := range strings.Split(v, ".") {
				n, err := erlInteger(part, "ip")
				if err != nil {
					return f, 0, badValue(v, "ip")
				}
				ip = append(ip, n)
			}
			f.IP = ip
		case "proto_ver":
			p = &f.ProtoVer
		case "_gte_created_at":
			p, typ, scale = &f.CreatedGTE, "timestamp", 1000
		case "_lte_created_at":
			p, typ, scale = &f.CreatedLTE, "timestamp", 1000
		case "_gte_connected_at":
			p, typ, scale = &f.ConnectedGTE, "timestamp", 1000
		case "_lte_connected_at":
			p, typ, scale = &f.ConnectedLTE, "timestamp", 1000
		case "_gte_mqueue_len":
			p = &f.MqueueGTE
		case "_lte_mqueue_len":
			p = &f.MqueueLTE
		case "_gte_mqueue_dropped":
			p = &f.DroppedGTE
		case "_lte_mqueue_dropped":
			p = &f.DroppedLTE
		default:
			continue
		}
		conds++
		if p != nil {
			n, err := erlInteger(v, typ)
			if err != nil {
				return f, 0, err
			}
			n *= scale
			*p = &n
		}
	}
	return f, conds, nil
}

// empty: the filter matches every client.
func (f *clientFilter) empty() bool { return reflect.ValueOf(*f).IsZero() }

func (f *clientFilter) match(in *broker.ClientInfo) bool {
	eq := func(p *string, v string) bool { return p == nil || *p == v }
	ge := func(p *int64, v int64) bool { return p == nil || v >= *p }
	le := func(p *int64, v int64) bool { return p == nil || v <= *p }
	user := ""
	if in.HasUsername {
		user = in.Username
	}
	state := "disconnected"
	if in.Connected {
		state = "connected"
	}
	switch {
	case !eq(f.ClientID, in.ClientID), !eq(f.Zone, in.Zone), !eq(f.ConnState, state),
		!eq(f.CleanStart, strconv.FormatBool(in.CleanStart)), !eq(f.ProtoName, in.ProtoName),
		f.Username != nil && (!in.HasUsername || *f.Username != in.Username),
		f.ProtoVer != nil && *f.ProtoVer != int64(in.ProtoVer),
		f.IP != nil && !ipIs(in.PeerHost, f.IP),
		f.LikeClientID != nil && !strings.Contains(in.ClientID, *f.LikeClientID),
		f.LikeUsername != nil && !strings.Contains(user, *f.LikeUsername),
		!ge(f.CreatedGTE, in.CreatedAt), !le(f.CreatedLTE, in.CreatedAt),
		!ge(f.ConnectedGTE, in.ConnectedAt), !le(f.ConnectedLTE, in.ConnectedAt),
		!ge(f.MqueueGTE, int64(in.MqueueLen)), !le(f.MqueueLTE, int64(in.MqueueLen)),
		!ge(f.DroppedGTE, in.MqueueDropped), !le(f.DroppedLTE, in.MqueueDropped):
		return false
	}
	return true
}

// ipIs: host is the address whose parts (EMQX's tuple) are parts.
func ipIs(host string, parts []int64) bool {
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	var have []int64
	if v4 := ip.To4(); v4 != nil {
		for _, b := range v4 {
			have = append(have, int64(b))
		}
	} else {
		for i := 0; i < 16; i += 2 {
			have = append(have, int64(ip[i])<<8|int64(ip[i+1]))
		}
	}
	if len(have) != len(parts) {
		return false
	}
	for i := range have {
		if have[i] != parts[i] {
			return false
		}
	}
	return true
}

// ---- the operations

// clientLookup asks a node for a client by id, or by user name.
type clientLookup struct {
	ClientID   string `json:"c,omitempty"`
	Username   string `json:"u,omitempty"`
	ByUsername bool   `json:"bu,omitempty"`
}

// queryClients is this node's part of a page of clients: those matching
// the filter, by client id.
func (n *Node) queryClients(q pageReq[clientFilter]) pageResp[broker.ClientInfo] {
	b := n.broker
	all := b.NetworkClients()
	r := pageResp[broker.ClientInfo]{Total: len(all), Rows: []broker.ClientInfo{}}
	matched := all
	if !q.F.empty() {
		matched = all[:0]
		for _, cl := range all {
			in := b.Info(cl)
			if q.F.match(&in) {
				matched = append(matched, cl)
			}
		}
	}
	w := window{skip: q.Skip, limit: q.Limit}
	lo, hi := w.span(len(matched))
	if hi > lo {
		broker.SortClients(matched)
		for _, cl := range matched[lo:hi] {
			r.Rows = append(r.Rows, b.Info(cl))
		}
	}
	r.Skip, r.Matched = w.skip, w.matched
	return r
}

func (n *Node) lookupClients(q clientLookup) []broker.ClientInfo {
	b := n.broker
	out := []broker.ClientInfo{}
	if !q.ByUsername {
		if cl, ok := b.NetworkClient(q.ClientID); ok {
			out = append(out, b.Info(cl))
		}
		return out
	}
	cls := b.NetworkClients()
	broker.SortClients(cls)
	for _, cl := range cls {
		if broker.UsernameIs(cl, q.Username) {
			out = append(out, b.Info(cl))
		}
	}
	return out
}

// clientsAnywhere are the clients of lookup q on every running node (a
// node that does not answer is left out, as EMQX's lookup_client).
func (n *Node) clientsAnywhere(q clientLookup) []noded[broker.ClientInfo] {
	ctx, cancel := apiCtx()
	defer cancel()
	var out []noded[broker.ClientInfo]
	for _, r := range callAll[[]broker.ClientInfo](ctx, n, "clients.lookup", q) {
		for _, in := range r.Result {
			out = append(out, noded[broker.ClientInfo]{r.Node, in})
		}
	}
	return out
}

// clientsOn are the clients of lookup q on node.
func (n *Node) clientsOn(node string, q clientLookup) ([]noded[broker.ClientInfo], error) {
	ctx, cancel := apiCtx()
	defer cancel()
	var ins []broker.ClientInfo
	if err := n.callNode(ctx, node, "clients.lookup", q, &ins); err != nil {
		return nil, err
	}
	out := make([]noded[broker.ClientInfo], 0, len(ins))
	for _, in := range ins {
		out = append(out, noded[broker.ClientInfo]{node, in})
	}
	return out, nil
}

// kickAnywhere kicks the client clientID on every running node
// (emqx_mgmt:kickout_client); found: one had it.
func (n *Node) kickAnywhere(clientID string) (found bool) {
	ctx, cancel := apiCtx()
	defer cancel()
	for _, r := range callAll[bool](ctx, n, "clients.kick", clientID) {
		found = found || r.Result
	}
	return found
}

// ---- formats

// clientLine is emqx_mgmt_cli's line of a client; node, when set, ends
// it (--cluster).
func clientLine(in *broker.ClientInfo, node string) string {
	user := "undefined"
	if in.HasUsername {
		user = in.Username
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Client(%s, username=%s, peername=%s:%d, clean_start=%t, keepalive=%d, session_expiry_interval=%d, "+
		"subscriptions=%d, inflight=%d, awaiting_rel=%d, delivered_msgs=%d, enqueued_msgs=%d, dropped_msgs=%d, "+
		"connected=%t, created_at=%d, connected_at=%d",
		in.ClientID, user, in.PeerHost, in.PeerPort, in.CleanStart, in.Keepalive, in.ExpiryInterval,
		in.Subscriptions, in.Inflight, in.AwaitingRel, in.Traffic.SendMsgs(), in.MqueueLen, in.MqueueDropped,
		in.Connected, in.CreatedAt, in.ConnectedAt)
	if in.DisconnectedAt != 0 {
		fmt.Fprintf(&b, ", disconnected_at=%d", in.DisconnectedAt)
	}
	if node != "" {
		fmt.Fprintf(&b, ", node=%s", node)
	}
	b.WriteString(")\n")
	return b.String()
}

// APIClient is a client as the HTTP API shows it (emqx_mgmt_api_clients'
// format_channel_info). The counters of packets, messages and bytes are
// the current connection's; the Erlang process' figures (heap_size,
// reductions, mailbox_len) are 0, and so are the drops by reason, which
// are counted per node (delivery.dropped.* in the metrics).
type APIClient struct {
	Node           string `json:"node"`
	ClientID       string `json:"clientid"`
	Username       string `json:"username"`
	ProtoName      string `json:"proto_name"`
	ProtoVer       int    `json:"proto_ver"`
	IPAddress      string `json:"ip_address"`
	Port           int    `json:"port"`
	IsBridge       bool   `json:"is_bridge"`
	Zone           string `json:"zone"`
	Connected      bool   `json:"connected"`
	CleanStart     bool   `json:"clean_start"`
	Keepalive      int    `json:"keepalive"`
	ExpiryInterval int64  `json:"expiry_interval"`
	CreatedAt      string `json:"created_at"`
	ConnectedAt    string `json:"connected_at"`
	DisconnectedAt string `json:"disconnected_at,omitempty"`
	Mountpoint     string `json:"mountpoint"`

	broker.SessionCounts
	HeapSize   int `json:"heap_size"`
	Reductions int `json:"reductions"`
	MailboxLen int `json:"mailbox_len"`

	RecvCnt               int `json:"recv_cnt"`
	RecvMsg               int `json:"recv_msg"`
	RecvMsgQoS0           int `json:"recv_msg.qos0"`
	RecvMsgQoS1           int `json:"recv_msg.qos1"`
	RecvMsgQoS2           int `json:"recv_msg.qos2"`
	RecvMsgDropped        int `json:"recv_msg.dropped"`
	RecvMsgDroppedExpired int `json:"recv_msg.dropped.expired"`
	RecvOct               int `json:"recv_oct"`
	RecvPkt               int `json:"recv_pkt"`
	SendCnt               int `json:"send_cnt"`
	SendMsg               int `json:"send_msg"`
	SendMsgQoS0           int `json:"send_msg.qos0"`
	SendMsgQoS1           int `json:"send_msg.qos1"`
	SendMsgQoS2           int `json:"send_msg.qos2"`
	SendMsgDropped        int `json:"send_msg.dropped"`
	SendMsgDroppedExpired int `json:"send_msg.dropped.expired"`
	SendMsgDroppedFull    int `json:"send_msg.dropped.queue_full"`
	SendMsgDroppedLarge   int `json:"send_msg.dropped.too_large"`
	SendOct               int `json:"send_oct"`
	SendPkt               int `json:"send_pkt"`
}

// strftime is emqx_mgmt_util:strftime of a time in milliseconds: the
// node's local time.
func strftime(ms int64) string {
	return time.Unix(ms/1000, 0).Format("2006-01-02 15:04:05")
}

func apiClient(node string, in broker.ClientInfo) APIClient {
	a := APIClient{Node: node, ClientID: in.ClientID, Username: "undefined", ProtoName: in.ProtoName, ProtoVer: in.ProtoVer,
		IPAddress: in.PeerHost, Port: in.PeerPort, Zone: in.Zone, Connected: in.Connected, CleanStart: in.CleanStart,
		Keepalive: in.Keepalive, ExpiryInterval: in.ExpiryInterval,
		CreatedAt: strftime(in.CreatedAt), ConnectedAt: strftime(in.ConnectedAt), Mountpoint: "undefined",
		SessionCounts: in.SessionCounts}
	t := in.Traffic
	a.RecvCnt, a.RecvOct, a.RecvPkt = int(t.RecvCnt), int(t.RecvOct), int(t.RecvPkt)
	a.RecvMsg, a.RecvMsgQoS0, a.RecvMsgQoS1, a.RecvMsgQoS2 = int(t.RecvMsgs()), int(t.RecvMsg[0]), int(t.RecvMsg[1]), int(t.RecvMsg[2])
	a.SendCnt, a.SendOct, a.SendPkt = int(t.SendCnt), int(t.SendOct), int(t.SendPkt)
	a.SendMsg, a.SendMsgQoS0, a.SendMsgQoS1, a.SendMsgQoS2 = int(t.SendMsgs()), int(t.SendMsg[0]), int(t.SendMsg[1]), int(t.SendMsg[2])
	if in.HasUsername {
		a.Username = in.Username
	}
	if in.Mountpoint != "" {
		a.Mountpoint = in.Mountpoint
	}
	if in.DisconnectedAt != 0 {
		a.DisconnectedAt = strftime(in.DisconnectedAt)
	}
	return a
}

func apiClients(rows []noded[broker.ClientInfo]) []APIClient {
	out := make([]APIClient, 0, len(rows))
	for _, r := range rows {
		out = append(out, apiClient(r.Node, r.Row))
	}
	return out
}

// ---- emqx_ctl clients

var clientsUsage = []usageLine{{"clients list", "List all clients"}, {"clients show <ClientId>", "Show a client"},
	{"clients kick <ClientId>", "Kick out a client"}}

func (n *Node) clientsCmd(c *call) string {
	args := c.args
	switch {
	case len(args) == 1 && args[0] == "list":
		nodes := []string{n.name.String()}
		if c.cluster {
			nodes = n.runningNodes()
		}
		var rows []noded[broker.ClientInfo]
		var failed []string
		for _, node := range nodes {
			r, err := allRows[clientFilter, broker.ClientInfo](n, node, "clients.query", clientFilter{})
			rows = append(rows, r...)
			if err != nil {
				failed = append(failed, fmt.Sprintf("Error: %s: %v\n", node, err))
			}
		}
		return c.out(apiClients(rows), func() string {
			var b strings.Builder
			for i := range rows {
				node := ""
				if c.cluster {
					node = rows[i].Node
				}
				b.WriteString(clientLine(&rows[i].Row, node))
			}
			b.WriteString(strings.Join(failed, ""))
			return b.String()
		})
	case len(args) == 2 && args[0] == "show":
		rows := n.clientsAnywhere(clientLookup{ClientID: args[1]})
		if len(rows) == 0 {
			return "Not Found.\n"
		}
		return c.out(apiClients(rows), func() string {
			var b strings.Builder
			for i := range rows {
				node := ""
				if c.cluster {
					node = rows[i].Node
				}
				b.WriteString(clientLine(&rows[i].Row, node))
			}
			return b.String()
		})
	case len(args) == 2 && args[0] == "kick":
		n.kickAnywhere(args[1]) // EMQX answers ok for a client it does not have too
		return "ok\n"
	}
	return usage(clientsUsage...)
}

// ---- HTTP API

// clientsPage is GET /clients (node "": the cluster's) and
// /nodes/{node}/clients.
func (n *Node) clientsPage(r *mgmt.Request, node string) (any, error) {
	f, conds, err := parseClientFilter(r.R.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	page, limit, skip, err := pageParams(r)
	if err != nil {
		return nil, err
	}
	var rows []noded[broker.ClientInfo]
	count := -1
	if node == "" {
		var total int
		rows, _, total, err = clusterPage[clientFilter, broker.ClientInfo](n, "clients.query", f, skip, limit+1, conds == 0)
		if conds == 0 {
			count = total
		}
	} else {
		var resp pageResp[broker.ClientInfo]
		rows, resp, err = nodePage[clientFilter, broker.ClientInfo](n, node, "clients.query", f, skip, limit+1)
		if conds == 0 {
			count = resp.Total
		}
	}
	if err != nil {
		return nil, err
	}
	return pageOf(rows, page, limit, count, apiClient), nil
}

func init() {
	registerOp("clients.query", opOf(func(n *Node, q pageReq[clientFilter]) (any, error) {
		return n.queryClients(q), nil
	}))
	registerOp("clients.lookup", opOf(func(n *Node, q clientLookup) (any, error) {
		return n.lookupClients(q), nil
	}))
	registerOp("clients.kick", opOf(func(n *Node, id string) (any, error) {
		return n.broker.Kick(id), nil
	}))

	registerCmd(ctlCommand{name: "clients", run: func(n *Node, c *call) string { return n.clientsCmd(c) }, usage: clientsUsage})

	registerAPI("GET /clients", func(n *Node, r *mgmt.Request) (any, error) { return n.clientsPage(r, "") })
	registerAPI("GET /nodes/{node}/clients", func(n *Node, r *mgmt.Request) (any, error) { return n.clientsPage(r, r.Path("node")) })
	registerAPI("GET /clients/{clientid}", func(n *Node, r *mgmt.Request) (any, error) {
		return apiClients(n.clientsAnywhere(clientLookup{ClientID: r.Path("clientid")})), nil
	})
	registerAPI("GET /nodes/{node}/clients/{clientid}", func(n *Node, r *mgmt.Request) (any, error) {
		rows, err := n.clientsOn(r.Path("node"), clientLookup{ClientID: r.Path("clientid")})
		return apiClients(rows), err
	})
	registerAPI("GET /clients/username/{username}", func(n *Node, r *mgmt.Request) (any, error) {
		return apiClients(n.clientsAnywhere(clientLookup{Username: r.Path("username"), ByUsername: true})), nil
	})
	registerAPI("GET /nodes/{node}/clients/username/{username}", func(n *Node, r *mgmt.Request) (any, error) {
		rows, err := n.clientsOn(r.Path("node"), clientLookup{Username: r.Path("username"), ByUsername: true})
		return apiClients(rows), err
	})
	// EMQX 4.4.19 kicks through emqx_cm:kick_session, which answers ok for
	// a client id it does not have: {"code":0} then too.
	registerAPI("DELETE /clients/{clientid}", func(n *Node, r *mgmt.Request) (any, error) {
		n.kickAnywhere(r.Path("clientid"))
		return nil, nil
	})
}
