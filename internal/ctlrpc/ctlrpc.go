// Package ctlrpc is the protocol between emqx_ctl (and `emqx ping|stop|pid`)
// and a running node: a unix socket (mode 0600) under the node's data_dir.
//
// One request per connection: the client writes one JSON Request line, the
// server answers one JSON Response line and closes. Failures of a command
// (a join that was refused) come back in Response.Error as the EMQX-style
// reason term, e.g. {node_down,'emqx2@127.0.0.1'}; transport failures are
// Go errors on the client side and mean "node not responding".
package ctlrpc

import (
	"path/filepath"
	"sort"
	"strings"

	"emqxgo/internal/emqxterm"
)

// SocketName is the socket's file name inside node.data_dir.
const SocketName = "emqx_ctl.sock"

// SocketPath is where a node whose node.data_dir is dataDir listens, and
// where emqx_ctl and `emqx ping|stop|pid` find it.
func SocketPath(dataDir string) string { return filepath.Join(dataDir, SocketName) }

// Operations.
const (
	OpPing            = "ping"
	OpStatus          = "status"
	OpStop            = "stop"
	OpClusterStatus   = "cluster_status"
	OpJoin            = "cluster_join"
	OpLeave           = "cluster_leave"
	OpForceLeave      = "cluster_force_leave"
	OpDiscoveryEnable = "cluster_discovery_enable"
	// OpCommand is any other emqx_ctl command, given as its words; the
	// node answers with the text to print (Output).
	OpCommand = "command"
)

// Request is what the client sends.
type Request struct {
	Op   string   `json:"op"`
	Node string   `json:"node,omitempty"` // join / force-leave target, as typed by the operator
	Args []string `json:"args,omitempty"` // OpCommand: the command's words
}

// Response is what the node answers.
type Response struct {
	Error   string         `json:"error,omitempty"`   // command failed: the reason term
	Ignored bool           `json:"ignored,omitempty"` // join self / force-leave self
	Node    string         `json:"node,omitempty"`    // the answering node's name
	Version string         `json:"version,omitempty"`
	Pid     int            `json:"pid,omitempty"`
	Cluster *ClusterStatus `json:"cluster,omitempty"`
	// Listeners maps protocol (tcp, ssl, ws, wss) to the bound address, on ping/status.
	Listeners map[string]string `json:"listeners,omitempty"`
	// Output is what OpCommand prints.
	Output string `json:"output,omitempty"`
}

// ClusterStatus is the membership as the node sees it.
type ClusterStatus struct {
	Running []string `json:"running_nodes"`
	Stopped []string `json:"stopped_nodes"`
}

// Line renders the one-line status EMQX prints:
// Cluster status: [{running_nodes,['a@h','b@h']},{stopped_nodes,[...]}]
// stopped_nodes appears only when some member is stopped; lists are sorted.
func (s ClusterStatus) Line() string {
	var b strings.Builder
	b.WriteString("Cluster status: [{running_nodes,")
	b.WriteString(atomList(s.Running))
	b.WriteString("}")
	if len(s.Stopped) > 0 {
		b.WriteString(",{stopped_nodes,")
		b.WriteString(atomList(s.Stopped))
		b.WriteString("}")
	}
	b.WriteString("]")
	return b.String()
}

// Sorted returns a copy with both lists sorted and never nil (for JSON).
func (s ClusterStatus) Sorted() ClusterStatus {
	r := ClusterStatus{Running: append([]string{}, s.Running...), Stopped: append([]string{}, s.Stopped...)}
	sort.Strings(r.Running)
	sort.Strings(r.Stopped)
	return r
}

func atomList(names []string) string {
	s := append([]string{}, names...)
	sort.Strings(s)
	for i, n := range s {
		s[i] = emqxterm.Atom(n)
	}
	return "[" + strings.Join(s, ",") + "]"
}
