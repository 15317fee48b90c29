// Command emqx_ctl manages a running node over its local ctl socket.
// It talks only through ctlrpc.Client; the node is found from the same
// configuration and environment the node uses.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"emqxgo/internal/config"
	"emqxgo/internal/ctlrpc"
)

const usage = `Usage: emqx_ctl <command> [args]

cluster join <Node>          # Join the cluster
cluster leave                # Leave the cluster
cluster force-leave <Node>   # Force the node leave from cluster
cluster status [--json]      # Cluster status
cluster discovery enable     # Turn automatic discovery back on after a leave

status                       # Show broker status

broker [stats|metrics]                       # Broker version, uptime and description; statistics; metrics
plugins list|load|unload|reload <Plugin>     # EMQX plugins (emqx_auth_http, emqx_auth_jwt, emqx_auth_mnesia)
listeners [stop|restart <Identifier>]        # MQTT and HTTP listeners
vm [all|load|memory|process|io|ports]        # Runtime figures under the Erlang VM's names
log set-level|primary-level|handlers ...     # Log levels and handlers, changed at once
mgmt list|insert|update|lookup|delete ...    # Applications of the HTTP API
acl reload|cache-clean ...                   # ACL (acl_file, caches; the built-in database's rules with emqx_auth_mnesia)
modules list|reload emqx_mod_acl_internal    # Reload acl_file
retainer info|topics|clean [<Topic>]         # Retained messages (cluster-wide)
admins add|passwd|del ...                    # Dashboard users
user|clientid list|add|update|delete ...     # The built-in database (with emqx_auth_mnesia loaded)

join <Node>, leave and force-leave <Node> are accepted without the "cluster" word.
With the node running, emqx_ctl without arguments prints every command's usage.
`

type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func fail() error { return exitError{code: 1} }

// session is what every command needs: the config, a client and where to write.
type session struct {
	cfg    *config.Config
	client *ctlrpc.Client
	out    io.Writer // the command's stdout
	errOut io.Writer // the command's stderr
}

func newSession(c *cobra.Command) (*session, error) {
	cfg, err := config.LoadFromHome()
	if err != nil {
		fmt.Fprintf(c.ErrOrStderr(), "Invalid configuration:\n%v\n", err)
		return nil, fail()
	}
	return &session{
		cfg:    cfg,
		client: &ctlrpc.Client{Path: ctlrpc.SocketPath(cfg.Node.DataDir), Timeout: 5 * time.Minute},
		out:    c.OutOrStdout(),
		errOut: c.ErrOrStderr(),
	}, nil
}

// call sends req; a node that does not answer gets the SPEC line and exit 1.
func (s *session) call(req ctlrpc.Request) (ctlrpc.Response, error) {
	r, err := s.client.Call(req)
	var nr *ctlrpc.NotRunningError
	if errors.As(err, &nr) {
		fmt.Fprintf(s.errOut, "Node '%s' not responding to pings.\n", s.cfg.Node.Name)
		return r, fail()
	}
	if err != nil {
		fmt.Fprintln(s.errOut, err)
		return r, fail()
	}
	return r, nil
}

// usageFail prints the usage on the command's stderr and exits 1 (a command
// group such as "cluster" given without its subcommand).
func usageFail(c *cobra.Command, _ []string) error {
	fmt.Fprint(c.ErrOrStderr(), usage)
	return fail()
}

// newRoot builds the command tree; output goes to the root's Out and Err.
func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:               "emqx_ctl",
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		Args:              cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			fmt.Fprint(c.OutOrStdout(), help())
			return nil
		},
	}
	root.SetHelpFunc(func(c *cobra.Command, _ []string) {
		if c == root {
			fmt.Fprint(c.OutOrStdout(), help())
			return
		}
		fmt.Fprint(c.OutOrStdout(), usage)
	})
	root.SetUsageTemplate(usage)
	root.AddCommand(statusCmd(), clusterCmd())
	root.AddCommand(memberCmds()...) // seed aliases: join, leave, force-leave
	return root
}

// helpTimeout bounds the wait for the node's usage.
const helpTimeout = 30 * time.Second

// help is the usage emqx_ctl prints without arguments: the running node's
// (every command it answers, as EMQX's emqx_ctl), else the static one
// (the node is not running, or the configuration cannot be read).
func help() string {
	cfg, err := config.LoadFromHome()
	if err != nil {
		return usage
	}
	c := &ctlrpc.Client{Path: ctlrpc.SocketPath(cfg.Node.DataDir), Timeout: helpTimeout}
	r, err := c.Call(ctlrpc.Request{Op: ctlrpc.OpCommand, Args: []string{"$usage"}})
	if err != nil || r.Error != "" || r.Output == "" {
		return usage
	}
	return r.Output
}

// builtin are the commands emqx_ctl itself knows; every other one is sent
// to the node as its words (ctlrpc.OpCommand), which prints its answer.
var builtin = map[string]bool{"status": true, "cluster": true, "join": true, "leave": true, "force-leave": true, "help": true}

// execute runs emqx_ctl with args (without the program name) and returns the exit code.
func execute(args []string, stdout, stderr io.Writer) int {
	if args == nil {
		args = []string{} // cobra reads os.Args when given nil
	}
	if len(args) > 0 && !builtin[args[0]] && !strings.HasPrefix(args[0], "-") {
		return nodeCommand(args, stdout, stderr)
	}
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "unknown command") {
		msg = "Unknown command: " + strings.Join(args, " ")
	}
	fmt.Fprintln(stderr, msg)
	fmt.Fprint(stderr, usage)
	return 1
}

// nodeCommand sends a command emqx_ctl does not know itself to the node.
func nodeCommand(args []string, stdout, stderr io.Writer) int {
	c := &cobra.Command{}
	c.SetOut(stdout)
	c.SetErr(stderr)
	s, err := newSession(c)
	if err != nil {
		return 1
	}
	r, err := s.call(ctlrpc.Request{Op: ctlrpc.OpCommand, Args: args})
	if err != nil {
		return 1
	}
	if r.Error == "unknown_command" {
		fmt.Fprintln(stderr, "Unknown command: "+strings.Join(args, " "))
		fmt.Fprint(stderr, usage)
		return 1
	}
	if r.Error != "" {
		fmt.Fprintln(stderr, r.Error)
		return 1
	}
	fmt.Fprint(stdout, r.Output)
	return 0
}

func main() { os.Exit(execute(os.Args[1:], os.Stdout, os.Stderr)) }
