// Command emqx_ctl manages a running node over its local ctl socket.
// It talks only through ctlrpc.Client; the node is found from the same
// configuration and environment the node uses.
package main

import (
	"errors"
	"fmt"
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

join <Node>, leave and force-leave <Node> are accepted without the "cluster" word.
`

type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func fail() error { return exitError{code: 1} }

// session is what every command needs: the config and a client.
type session struct {
	cfg    *config.Config
	client *ctlrpc.Client
}

func newSession() (*session, error) {
	cfg, err := config.LoadFromHome()
	if err != nil {
		fmt.Fprintf(os.Stderr, "Invalid configuration:\n%v\n", err)
		return nil, fail()
	}
	return &session{cfg: cfg, client: &ctlrpc.Client{Path: ctlrpc.SocketPath(cfg.Node.DataDir), Timeout: 5 * time.Minute}}, nil
}

// call sends req; a node that does not answer gets the SPEC line and exit 1.
func (s *session) call(req ctlrpc.Request) (ctlrpc.Response, error) {
	r, err := s.client.Call(req)
	var nr *ctlrpc.NotRunningError
	if errors.As(err, &nr) {
		fmt.Fprintf(os.Stderr, "Node '%s' not responding to pings.\n", s.cfg.Node.Name)
		return r, fail()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return r, fail()
	}
	return r, nil
}

func main() {
	root := &cobra.Command{
		Use:               "emqx_ctl",
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		Args:              cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			fmt.Print(usage)
			return nil
		},
	}
	root.SetHelpFunc(func(*cobra.Command, []string) { fmt.Print(usage) })
	root.SetUsageTemplate(usage)
	root.AddCommand(statusCmd(), clusterCmd())
	root.AddCommand(memberCmds()...) // seed aliases: join, leave, force-leave
	err := root.Execute()
	if err == nil {
		return
	}
	var ee exitError
	if !errors.As(err, &ee) {
		msg := err.Error()
		if strings.HasPrefix(msg, "unknown command") {
			msg = "Unknown command: " + strings.Join(os.Args[1:], " ")
		}
		fmt.Fprintln(os.Stderr, msg)
		fmt.Fprint(os.Stderr, usage)
		ee.code = 1
	}
	os.Exit(ee.code)
}
