package node

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"

	"emqxgo/internal/broker"
	"emqxgo/internal/config"
	"emqxgo/internal/mgmt"
)

// listenersCmd is emqx_mgmt_cli's listeners command: each MQTT listener
// by EMQX's id (mqtt:tcp:external) with indented `~-16s: ~w` lines.
// acceptors is the node's accept loops (one per listener); shutdown_count
// lists the connections the listener closed at accept, by reason.
//
// stop and restart are EMQX's (emqx_listeners over esockd and cowboy): a
// listener stops with the connections it accepted, and is no longer
// listed; restart closes it (and its connections) and binds it again on
// its address. A stopped listener of any kind restarts (in EMQX 4.4 a
// stopped tcp or ssl listener cannot: esockd forgot it, not_found, until
// the node restarts).
var listenersUsage = []usageLine{{"listeners", "List listeners"},
	{"listeners stop    <Identifier>", "Stop a listener"},
	{"listeners stop    <Proto> <Port>", "Stop a listener"},
	{"listeners restart <Identifier>", "Restart a listener"}}

func (n *Node) listenersCmd(c *call) string {
	args := c.args
	switch {
	case len(args) == 0:
		return n.listListeners(c)
	case len(args) >= 2 && args[0] == "stop" && strings.HasPrefix(args[1], "http"):
		return n.stopHTTPListener(args[1])
	case len(args) == 2 && args[0] == "stop" && strings.HasPrefix(args[1], "mqtt:"):
		lc, ok := n.listenerByID(args[1])
		if !ok {
			return fmt.Sprintf("No such listener %s\n", erlString(args[1]))
		}
		return n.stopListenerLine(lc)
	case len(args) == 3 && args[0] == "stop":
		// The protocol is not looked at (as EMQX): the address names it.
		lc, term, ok := n.listenerByListenOn(args[2])
		if term == "" {
			break // not a port: the usage
		}
		if !ok {
			return fmt.Sprintf("No such listener %s\n", term)
		}
		return n.stopListenerLine(lc)
	case len(args) == 2 && args[0] == "restart" && isMgmtHTTP(args[1]):
		return n.restartHTTPListener(args[1])
	case len(args) == 2 && args[0] == "restart":
		if err := n.restartListener(args[1]); err != nil {
			return fmt.Sprintf("Failed to restart %s listener: %s\n", args[1], listenerErrTerm(err, erlString))
		}
		return fmt.Sprintf("Restarted %s listener successfully.\n", args[1])
	}
	return usage(listenersUsage...)
}

func (n *Node) listListeners(c *call) string {
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
		for _, r := range shutdownCounts(l) {
			shut = append(shut, fmt.Sprintf("{%s,%d}", r.reason, r.n))
		}
		fmt.Fprintf(&b, "mqtt:%s\n", l.ID)
		for _, kv := range [][2]string{{"listen_on", listenOn(l.Addr)}, {"acceptors", "1"}, {"max_conns", maxConns},
			{"current_conn", fmt.Sprint(l.Open)}, {"shutdown_count", "[" + strings.Join(shut, ",") + "]"}} {
			fmt.Fprintf(&b, "  %s: %s\n", pad(kv[0], 16), kv[1])
		}
	}
	return b.String()
}

type shutdownCount struct {
	reason string
	n      int64
}

// shutdownCounts are the listener's refusals at accept by reason (those
// not zero).
func shutdownCounts(l broker.ListenerInfo) []shutdownCount {
	var out []shutdownCount
	for _, r := range []shutdownCount{{"max_connections", l.RefusedMax}, {"access_denied", l.RefusedAccess}, {"proxy_protocol", l.RefusedProxy}} {
		if r.n > 0 {
			out = append(out, r)
		}
	}
	return out
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

// listenerByID is the configured listener with EMQX's identifier id
// ("mqtt:tcp:external").
func (n *Node) listenerByID(id string) (config.Listener, bool) {
	for _, l := range n.cfg.Listeners.List {
		if "mqtt:"+l.ID() == id {
			return l, true
		}
	}
	return config.Listener{}, false
}

// listenerByListenOn is the listener on listenOn ("1883" or
// "127.0.0.1:1883"), as emqx_listeners:find_by_listen_on; term is the
// address as EMQX prints it (1883, {"127.0.0.1",1883}), "" when it names
// no port. A port alone names a listener on every interface (0.0.0.0).
func (n *Node) listenerByListenOn(s string) (lc config.Listener, term string, ok bool) {
	host, portText, found := strings.Cut(s, ":")
	if !found {
		host, portText = "", s
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || strings.Contains(portText, ":") {
		return config.Listener{}, "", false
	}
	term = strconv.Itoa(port)
	if found {
		term = fmt.Sprintf("{%s,%d}", erlString(host), port)
	}
	for _, l := range n.cfg.Listeners.List {
		addr, _, known := n.broker.ListenerState(l.ID())
		if !known {
			addr = l.Addr
		}
		h, p, err := net.SplitHostPort(addr)
		if err != nil || p != strconv.Itoa(port) {
			continue
		}
		if (!found && (h == "0.0.0.0" || h == "::")) || (found && h == host) {
			return l, term, true
		}
	}
	return config.Listener{}, term, false
}

// stopListenerLine stops lc and says how it went, as emqx_mgmt_cli.
func (n *Node) stopListenerLine(lc config.Listener) string {
	id := "mqtt:" + lc.ID()
	addr, _, known := n.broker.ListenerState(lc.ID())
	if !known {
		addr = lc.Addr
	}
	if err := n.broker.StopListener(lc.ID()); err != nil {
		return fmt.Sprintf("Failed to stop %s listener on %s: %s\n", id, listenOn(addr), listenerErrTerm(err, erlString))
	}
	return fmt.Sprintf("Stop %s listener on %s successfully.\n", id, listenOn(addr))
}

// errNoSuchListener: no listener has the identifier.
var errNoSuchListener = errors.New("no_such_listener")

// restartListener is emqx_listeners:restart_listener(Identifier).
func (n *Node) restartListener(id string) error {
	lc, ok := n.listenerByID(id)
	if !ok {
		return fmt.Errorf("%w: %s", errNoSuchListener, id)
	}
	return n.broker.RestartListener(lc.ID())
}

// listenerErrTerm writes a stop or restart failure as EMQX prints its
// reason (~0p): {no_such_listener,Id} with the identifier as str writes
// it (a string for emqx_ctl, a binary for the HTTP API), a socket error's
// POSIX name, not_found, or the error as a string.
func listenerErrTerm(err error, str func(string) string) string {
	var errno syscall.Errno
	switch {
	case errors.Is(err, errNoSuchListener):
		_, id, _ := strings.Cut(err.Error(), ": ")
		return "{no_such_listener," + str(id) + "}"
	case errors.Is(err, broker.ErrListenerNotFound):
		return "not_found"
	case errors.As(err, &errno):
		if name, ok := posixNames[errno]; ok {
			return name
		}
	}
	return errTerm(err)
}

// posixNames are the socket errors a bind may give, as inet names them.
var posixNames = map[syscall.Errno]string{
	syscall.EADDRINUSE: "eaddrinuse", syscall.EACCES: "eacces", syscall.EADDRNOTAVAIL: "eaddrnotavail",
	syscall.EPERM: "eperm", syscall.EMFILE: "emfile", syscall.ENFILE: "enfile", syscall.ENOBUFS: "enobufs",
}

// isMgmtHTTP tells whether id names one of the HTTP listeners
// emqx_mgmt_cli restarts itself.
func isMgmtHTTP(id string) bool {
	switch id {
	case "http:management", "https:management", "http:dashboard", "https:dashboard":
		return true
	}
	return false
}

// mgmtHTTPHere: the HTTP listeners (management API, dashboard) are not
// stopped or restarted alone here; they stop with the node.
const mgmtHTTPHere = `"not supported here: the HTTP API's listeners stop and start with the node"`

// httpServer is the node's HTTP server of app ("management",
// "dashboard"; nil: none).
func (n *Node) httpServer(app string) *mgmt.Server {
	switch app {
	case "management":
		return n.api
	case "dashboard":
		return n.dash
	}
	return nil
}

// stopHTTPListener is `listeners stop http...` (minirest:stop_http): the
// management API's and the dashboard's listeners are the node's.
func (n *Node) stopHTTPListener(name string) string {
	scheme, app, _ := strings.Cut(name, ":")
	if s := n.httpServer(app); s != nil && s.Addrs()[scheme] != "" {
		return fmt.Sprintf("Failed to stop %s listener: %s\n", name, mgmtHTTPHere)
	}
	return fmt.Sprintf("Failed to stop %s listener: not_found\n", name)
}

// restartHTTPListener is `listeners restart http:management` and the like.
func (n *Node) restartHTTPListener(name string) string {
	scheme, app, _ := strings.Cut(name, ":")
	if s := n.httpServer(app); s == nil || s.Addrs()[scheme] == "" {
		return "Listener emqx_" + app + " not exists!\n"
	}
	return fmt.Sprintf("Failed to restart %s listener: %s\n", name, mgmtHTTPHere)
}

// erlString is s as Erlang prints a string with ~p: in double quotes,
// with " and \ escaped.
func erlString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// erlAtom is s as Erlang prints an atom: quoted unless it is a plain
// lowercase name ('emqx@127.0.0.1' is quoted, for its dots).
func erlAtom(s string) string {
	plain := s != "" && s[0] >= 'a' && s[0] <= 'z'
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '@') {
			plain = false
		}
	}
	if plain {
		return s
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
