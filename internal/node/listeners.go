package node

import (
	"fmt"
	"net"
	"strings"
)

// listenersCmd is emqx_mgmt_cli's listeners command: each MQTT listener
// by EMQX's id (mqtt:tcp:external) with indented `~-16s: ~w` lines.
// acceptors is the node's accept loops (one per listener); shutdown_count
// lists the connections the listener closed at accept, by reason.
// Stopping and restarting a listener are not implemented yet.
var listenersUsage = []usageLine{{"listeners", "List listeners"},
	{"listeners stop    <Identifier>", "Stop a listener"},
	{"listeners stop    <Proto> <Port>", "Stop a listener"},
	{"listeners restart <Identifier>", "Restart a listener"}}

func (n *Node) listenersCmd(c *call) string {
	if len(c.args) != 0 {
		return usage(listenersUsage...)
	}
	ls := n.broker.Listeners()
	if c.json {
		return jsonText(ls)
	}
	var b strings.Builder
	for _, l := range ls {
		maxConns := "infinity"
		if l.MaxConns > 0 {
			maxConns = fmt.Sprint(l.MaxConns)
		}
		var shut []string
		for _, r := range []struct {
			name string
			n    int64
		}{{"max_connections", l.RefusedMax}, {"access_denied", l.RefusedAccess}, {"proxy_protocol", l.RefusedProxy}} {
			if r.n > 0 {
				shut = append(shut, fmt.Sprintf("{%s,%d}", r.name, r.n))
			}
		}
		fmt.Fprintf(&b, "mqtt:%s\n", l.ID)
		for _, kv := range [][2]string{{"listen_on", listenOn(l.Addr)}, {"acceptors", "1"}, {"max_conns", maxConns},
			{"current_conn", fmt.Sprint(l.Open)}, {"shutdown_count", "[" + strings.Join(shut, ",") + "]"}} {
			fmt.Fprintf(&b, "  %s: %s\n", pad(kv[0], 16), kv[1])
		}
	}
	return b.String()
}

// listenOn writes an address as EMQX does (inet:ntoa: no brackets around
// an IPv6 address).
func listenOn(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host + ":" + port
}
