package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"emqxgo/internal/access/acl"
	"emqxgo/internal/access/authmnesia"
	"emqxgo/internal/ctlrpc"
	"emqxgo/internal/plugins"
)

// The emqx_ctl commands the node answers as text, in EMQX 4.4's words
// (emqx_mgmt_cli, emqx_modules, emqx_auth_mnesia_cli, emqx_acl_mnesia_cli):
// plugins, modules, acl, and, while emqx_auth_mnesia runs, user and
// clientid. emqx_ctl sends every command it does not know itself here.

// usageLine is one line of a command's usage.
type usageLine struct{ cmd, descr string }

// usage formats lines as emqx_ctl does ("~-70s# ~s").
func usage(lines ...usageLine) string {
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%-70s# %s\n", l.cmd, l.descr)
	}
	return b.String()
}

// textCommand answers ctlrpc.OpCommand.
func (n *Node) textCommand(req ctlrpc.Request, resp *ctlrpc.Response) {
	out, ok := n.command(req.Args)
	if !ok {
		resp.Error = "unknown_command"
		return
	}
	resp.Output = out
}

var pluginsUsage = []usageLine{{"plugins list", "Show loaded plugins"}, {"plugins load <Plugin>", "Load plugin"},
	{"plugins unload <Plugin>", "Unload plugin"}, {"plugins reload <Plugin>", "Reload plugin"}}

func (n *Node) pluginsCmd(c *call) string {
	pm := n.access.plugins
	args := c.args
	switch {
	case len(args) == 1 && args[0] == "list":
		list := pm.List()
		return c.out(list, func() string {
			var b strings.Builder
			for _, p := range list {
				fmt.Fprintf(&b, "Plugin(%s, description=%s, active=%t)\n", p.Name, p.Description, p.Active)
			}
			return b.String()
		})
	case len(args) == 2 && args[0] == "load":
		if err := pm.Load(args[1]); err != nil {
			return fmt.Sprintf("Load plugin %s error: %s.\n", args[1], errTerm(err))
		}
		return fmt.Sprintf("Plugin %s loaded successfully.\n", args[1])
	case len(args) == 2 && args[0] == "unload":
		if args[1] == "emqx_management" {
			return "Plugin emqx_management can not be unloaded.\n"
		}
		if err := pm.Unload(args[1]); err != nil {
			return fmt.Sprintf("Unload plugin %s error: %s.\n", args[1], errTerm(err))
		}
		return fmt.Sprintf("Plugin %s unloaded successfully.\n", args[1])
	case len(args) == 2 && args[0] == "reload":
		if err := pm.Reload(args[1]); err != nil {
			if errors.Is(err, plugins.ErrNotFound) {
				return fmt.Sprintf("Reload plugin %s error: The plugin doesn't exist.\n", args[1])
			}
			return fmt.Sprintf("Reload plugin %s error: %s.\n", args[1], errTerm(err))
		}
		return fmt.Sprintf("Plugin %s reloaded successfully.\n", args[1])
	}
	return usage(pluginsUsage...)
}

// errTerm writes an error as EMQX prints a reason: an atom as it is,
// anything else as a quoted string.
func errTerm(err error) string {
	s := err.Error()
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_')
	}) < 0 {
		return s
	}
	return fmt.Sprintf("%q", s)
}

var modulesUsage = []usageLine{{"modules list", "Show loaded modules"}, {"modules load <Module>", "Load module"},
	{"modules unload <Module>", "Unload module"}, {"modules reload <Module>", "Reload module"}}

func (n *Node) modulesCmd(args []string) string {
	switch {
	case len(args) == 1 && args[0] == "list":
		return "Module(" + acl.Name + ", description=EMQX Internal ACL Module, active=true)\n"
	case len(args) == 2 && args[0] == "reload" && args[1] == acl.Name:
		return n.reloadACL()
	case len(args) == 2 && args[0] == "reload":
		return fmt.Sprintf("Module: %q does not need to be reloaded.\n", args[1])
	case len(args) == 2 && args[0] == "load":
		if args[1] == acl.Name {
			return fmt.Sprintf("Load module %s error: already_started.\n", args[1])
		}
		return fmt.Sprintf("Load module %s error: not_found.\n", args[1])
	case len(args) == 2 && args[0] == "unload":
		if args[1] == acl.Name {
			return fmt.Sprintf("Unload module %s error: %q.\n", args[1], "the acl.conf module is always on here; empty acl_file's rules instead")
		}
		return fmt.Sprintf("Unload module %s error: not_found.\n", args[1])
	}
	return usage(modulesUsage...)
}

// reloadACL reads acl_file again: a bad file keeps the rules in force.
// Every client's ACL cache is emptied.
func (n *Node) reloadACL() string {
	if err := n.access.file.Reload(); err != nil {
		return fmt.Sprintf("Reload module %s error: %q.\n", acl.Name, err.Error())
	}
	n.access.guard.CleanCache("")
	return fmt.Sprintf("Module %s reloaded successfully.\n", acl.Name)
}

var aclCacheUsage = []usageLine{{"acl cache-clean all", "Clears acl cache on all nodes"},
	{"acl cache-clean node <Node>", "Clears acl cache on given node"},
	{"acl cache-clean <ClientId>", "Clears acl cache for given client"},
	{"acl reload", "Reload acl_file (as modules reload emqx_mod_acl_internal)"}}

// aclCacheCmd is emqx_mgmt's acl command (ACL caches), with reload.
func (n *Node) aclCacheCmd(args []string) string {
	switch {
	case len(args) == 1 && args[0] == "reload":
		return n.reloadACL()
	case len(args) == 2 && args[0] == "cache-clean" && args[1] == "all":
		return withLog("ACL cache drain start", n.forAllNodes([]string{"acl", "cache-clean", "node", ""}))
	case len(args) == 3 && args[0] == "cache-clean" && args[1] == "node":
		if args[2] == "" || args[2] == n.name.String() {
			n.access.guard.CleanCache("")
			return withLog("ACL cache drain start", nil)
		}
		return withLog("ACL cache drain start", n.onNode(args[2], []string{"acl", "cache-clean", "node", ""}))
	case len(args) == 2 && args[0] == "cache-clean":
		n.access.guard.CleanCache(args[1])
		_ = n.forAllNodes([]string{"acl", "cache-clean-local", args[1]})
		return ""
	case len(args) == 2 && args[0] == "cache-clean-local":
		n.access.guard.CleanCache(args[1])
		return ""
	}
	return usage(aclCacheUsage...)
}

func withLog(msg string, err error) string {
	if err != nil {
		return fmt.Sprintf("%s FAILED\n%s\n", msg, errTerm(err))
	}
	return msg + " OK\n"
}

// peerTimeout bounds a command sent to a peer.
const peerTimeout = 10 * time.Second

// forAllNodes runs args here and on every peer (the peers' own commands,
// never user or clientid changes, which replicate by themselves).
func (n *Node) forAllNodes(args []string) error {
	n.peerCommand(args)
	var errs []error
	for _, p := range n.fabric.Peers() {
		if err := n.onNode(p, args); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

func (n *Node) onNode(node string, args []string) error {
	if !slices.Contains(n.fabric.Peers(), node) {
		return errors.New("unknown_node")
	}
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	_, err := n.fabric.Command(ctx, node, append([]string{"$cluster"}, args...))
	return err
}

// peerCommand runs what a peer asked: a management operation (rpc.go) or
// an ACL cache command.
func (n *Node) peerCommand(args []string) string {
	if len(args) == 3 && args[0] == "$mgmt" {
		return n.runOp(args[1], args[2])
	}
	if len(args) >= 1 && args[0] == "acl" {
		return n.aclCacheCmd(args[1:])
	}
	return ""
}

func userUsage(noun, what string) []usageLine {
	return []usageLine{{noun + " list", "List " + what + " auth rules"},
		{noun + " add <Username> <Password>", "Add " + what + " auth rule"},
		{noun + " update <Username> <NewPassword>", "Update " + what + " auth rule"},
		{noun + " delete <Username>", "Delete " + what + " auth rule"}}
}

func (n *Node) userCmd(kind authmnesia.Kind, noun, what string, args []string) string {
	db := n.access.db
	alg := n.cfg.Plugins.Mnesia.PasswordHash
	if cfg, err := n.pluginConfig(); err == nil {
		alg = cfg.Plugins.Mnesia.PasswordHash
	}
	result := func(err error) string {
		if err != nil {
			return fmt.Sprintf("Error: %s\n", errTerm(err))
		}
		return "ok\n"
	}
	switch {
	case len(args) == 1 && args[0] == "list":
		var b strings.Builder
		for _, id := range db.Users(kind) {
			b.WriteString(id + "\n")
		}
		return b.String()
	case len(args) == 3 && args[0] == "add":
		return result(db.AddUser(kind, args[1], []byte(args[2]), alg))
	case len(args) == 3 && args[0] == "update":
		return result(db.UpdateUser(kind, args[1], []byte(args[2]), alg))
	case len(args) == 2 && (args[0] == "del" || args[0] == "delete"):
		db.DeleteUser(kind, args[1])
		return "ok\n"
	}
	return usage(userUsage(noun, what)...)
}

var mnesiaACLUsage = []usageLine{
	{"acl list clientid", "List clientid acls"},
	{"acl list username", "List username acls"},
	{"acl list _all", "List $all acls"},
	{"acl list ", "List all acls"},
	{"acl show clientid <Clientid>", "Lookup clientid acl detail"},
	{"acl show username <Username>", "Lookup username acl detail"},
	{"acl add clientid <Clientid> <Topic> <Action> <Access>", "Add clientid acl"},
	{"acl add username <Username> <Topic> <Action> <Access>", "Add username acl"},
	{"acl add _all <Topic> <Action> <Access>", "Add $all acl"},
	{"acl delete clientid <Clientid> <Topic>", "Delete clientid acl"},
	{"acl delete username <Username> <Topic>", "Delete username acl"},
	{"acl delete _all <Topic>", "Delete $all acl"},
	{"acl reload", "Reload acl_file (as modules reload emqx_mod_acl_internal)"}}

func (n *Node) mnesiaACLCmd(args []string) string {
	db := n.access.db
	list := func(rs []authmnesia.Rule) string {
		var b strings.Builder
		for _, r := range rs {
			b.WriteString(r.String() + "\n")
		}
		return b.String()
	}
	kindOf := map[string]authmnesia.Kind{"clientid": authmnesia.ClientID, "username": authmnesia.Username, "_all": authmnesia.All}
	valid := func(action, acc string) bool {
		return slices.Contains([]string{"pub", "sub", "pubsub"}, action) && (acc == "allow" || acc == "deny")
	}
	add := func(k authmnesia.Kind, login, topic, action, acc string) string {
		if !valid(action, acc) {
			return "Error: Input is illegal\n"
		}
		if err := db.AddACL(k, login, topic, action, acc); err != nil {
			return fmt.Sprintf("Error: %s\n", errTerm(err))
		}
		return "ok\n"
	}
	switch {
	case len(args) == 1 && args[0] == "reload":
		return n.reloadACL()
	case len(args) == 1 && args[0] == "list":
		return list(db.Rules("", ""))
	case len(args) == 2 && args[0] == "list" && kindOf[args[1]] != "":
		return list(db.Rules(kindOf[args[1]], ""))
	case len(args) == 3 && args[0] == "show" && (args[1] == "clientid" || args[1] == "username"):
		return list(db.Rules(kindOf[args[1]], args[2]))
	case len(args) == 6 && args[0] == "add" && (args[1] == "clientid" || args[1] == "username"):
		return add(kindOf[args[1]], args[2], args[3], args[4], args[5])
	case len(args) == 5 && args[0] == "add" && args[1] == "_all":
		return add(authmnesia.All, "", args[2], args[3], args[4])
	case len(args) == 4 && (args[0] == "del" || args[0] == "delete") && (args[1] == "clientid" || args[1] == "username"):
		db.DeleteACL(kindOf[args[1]], args[2], args[3])
		return "ok\n"
	case len(args) == 3 && (args[0] == "del" || args[0] == "delete") && args[1] == "_all":
		db.DeleteACL(authmnesia.All, "", args[2])
		return "ok\n"
	}
	return usage(mnesiaACLUsage...)
}
