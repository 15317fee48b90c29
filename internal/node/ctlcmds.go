package node

import (
	"encoding/json"
	"slices"
	"strings"

	"emqxgo/internal/access/authmnesia"
)

// call is one emqx_ctl command as the node runs it: its words after the
// command's name, with the flags every command takes taken out.
type call struct {
	args []string
	// json: print the result as JSON (--json); cluster: every running
	// node's rows, each with its node (--cluster), where EMQX lists one
	// node's.
	json, cluster bool
}

// out is the command's answer: data as JSON with --json, else text().
func (c *call) out(data any, text func() string) string {
	if !c.json {
		return text()
	}
	return jsonText(data)
}

// jsonText is v as indented JSON and a newline.
func jsonText(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	return string(b) + "\n"
}

// ctlCommand is one emqx_ctl command the node answers.
type ctlCommand struct {
	name string
	// run answers; it prints the usage itself for words it does not know.
	run func(n *Node, c *call) string
	// usage is the command's usage lines (emqx_ctl with no arguments
	// prints every command's).
	usage []usageLine
	// when, if set, tells whether the command exists now (user and
	// clientid only while emqx_auth_mnesia runs).
	when func(n *Node) bool
}

// ctlCommands is every command, in the order registered (helpOrder
// orders emqx_ctl's help).
var ctlCommands []ctlCommand

// registerCmd adds a command (from an init func of the file that has it).
func registerCmd(c ctlCommand) { ctlCommands = append(ctlCommands, c) }

// command runs one text command; ok false: no such command.
func (n *Node) command(args []string) (out string, ok bool) {
	if len(args) == 0 {
		return "", false
	}
	if args[0] == "$cluster" {
		return n.peerCommand(args[1:]), true
	}
	if args[0] == "$usage" {
		return n.help(), true
	}
	c := &call{}
	for _, a := range args[1:] {
		switch a {
		case "--json":
			c.json = true
		case "--cluster":
			c.cluster = true
		default:
			c.args = append(c.args, a)
		}
	}
	for _, cmd := range ctlCommands {
		if cmd.name == args[0] && (cmd.when == nil || cmd.when(n)) {
			text := cmd.run(n, c)
			if c.json && !looksJSON(text) {
				// A command without rows of its own (a confirmation, a
				// usage): its lines as a JSON list.
				lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
				if text == "" {
					lines = []string{}
				}
				return jsonText(lines), true
			}
			return text, true
		}
	}
	return "", false
}

func looksJSON(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[")
}

// helpOrder is the order emqx_ctl's help lists the commands in: EMQX's
// registration order (emqx_mgmt_cli's commands first, then those of the
// plugins as they boot). A command of this node not listed here comes
// after them, in the order it was registered.
var helpOrder = []string{"status", "broker", "cluster", "clients", "routes", "subscriptions", "plugins", "listeners",
	"vm", "mnesia", "trace", "traces", "log", "mgmt", "data", "acl", "pem_cache", "modules", "retainer", "admins",
	"user", "clientid"}

// clientUsage is the usage of the commands cmd/emqx_ctl answers itself
// (it asks the node for status and cluster operations, not for text).
var clientUsage = map[string][]usageLine{
	"status": {{"status", "Show broker status"}},
	"cluster": {{"cluster join <Node>", "Join the cluster"},
		{"cluster leave", "Leave the cluster"},
		{"cluster force-leave <Node>", "Force the node leave from cluster"},
		{"cluster status", "Cluster status"},
		{"cluster discovery enable", "Turn automatic discovery back on after a leave"}},
}

// help is emqx_ctl's usage with no arguments: "Usage: emqx_ctl", then
// each command's usage after a line of 110 dashes.
func (n *Node) help() string {
	var b strings.Builder
	b.WriteString("Usage: emqx_ctl\n")
	section := func(lines []usageLine) {
		if len(lines) == 0 {
			return
		}
		b.WriteString(strings.Repeat("-", 110) + "\n")
		b.WriteString(usage(lines...))
	}
	active := func(cmd ctlCommand) bool { return cmd.when == nil || cmd.when(n) }
	for _, name := range helpOrder {
		if lines, ok := clientUsage[name]; ok {
			section(lines)
			continue
		}
		for _, cmd := range ctlCommands {
			if cmd.name == name && active(cmd) {
				section(cmd.usage)
				break
			}
		}
	}
	for _, cmd := range ctlCommands {
		if !slices.Contains(helpOrder, cmd.name) && active(cmd) {
			section(cmd.usage)
		}
	}
	return b.String()
}

func mnesiaActive(n *Node) bool { return n.access.plugins.Active(authmnesia.Name) }

func init() {
	registerCmd(ctlCommand{name: "broker", run: func(n *Node, c *call) string { return n.brokerCmd(c) }, usage: brokerUsage})
	registerCmd(ctlCommand{name: "plugins", run: func(n *Node, c *call) string { return n.pluginsCmd(c) }, usage: pluginsUsage})
	registerCmd(ctlCommand{name: "listeners", run: func(n *Node, c *call) string { return n.listenersCmd(c) }, usage: listenersUsage})
	registerCmd(ctlCommand{name: "acl", run: func(n *Node, c *call) string { return n.aclCacheCmd(c.args) }, usage: aclCacheUsage,
		when: func(n *Node) bool { return !mnesiaActive(n) }})
	registerCmd(ctlCommand{name: "acl", run: func(n *Node, c *call) string { return n.mnesiaACLCmd(c.args) }, usage: mnesiaACLUsage,
		when: mnesiaActive})
	registerCmd(ctlCommand{name: "modules", run: func(n *Node, c *call) string { return n.modulesCmd(c.args) }, usage: modulesUsage})
	registerCmd(ctlCommand{name: "user", run: func(n *Node, c *call) string {
		return n.userCmd(authmnesia.Username, "user", "username", c.args)
	}, usage: userUsage("user", "username"), when: mnesiaActive})
	registerCmd(ctlCommand{name: "clientid", run: func(n *Node, c *call) string {
		return n.userCmd(authmnesia.ClientID, "clientid", "clientid", c.args)
	}, usage: userUsage("clientid", "clientid"), when: mnesiaActive})
}
