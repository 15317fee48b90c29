package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"emqxgo/internal/ctlrpc"
)

func clusterCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "cluster",
		Short: "Cluster membership",
		Args:  cobra.NoArgs,
		RunE:  usageFail,
	}
	var asJSON bool
	st := &cobra.Command{
		Use:   "status",
		Short: "Cluster status",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			s, err := newSession(c)
			if err != nil {
				return err
			}
			r, err := s.call(ctlrpc.Request{Op: ctlrpc.OpClusterStatus})
			if err != nil {
				return err
			}
			if r.Cluster == nil {
				fmt.Fprintln(s.errOut, "node answered without a cluster status")
				return fail()
			}
			if asJSON {
				b, _ := json.Marshal(r.Cluster.Sorted())
				fmt.Fprintln(s.out, string(b))
			} else {
				fmt.Fprintln(s.out, r.Cluster.Line())
			}
			return nil
		},
	}
	st.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.AddCommand(st)
	disc := &cobra.Command{Use: "discovery", Short: "Automatic cluster discovery", Args: cobra.NoArgs, RunE: usageFail}
	disc.AddCommand(memberCmd("enable", "Enable automatic cluster discovery", ctlrpc.OpDiscoveryEnable, 0,
		"Automatic cluster discovery enabled.", "Failed to enable cluster discovery: "))
	c.AddCommand(disc)
	c.AddCommand(memberCmds()...)
	return c
}

// memberCmds builds join, leave and force-leave (used under "cluster" and at the top level).
func memberCmds() []*cobra.Command {
	return []*cobra.Command{
		memberCmd("join <Node>", "Join the cluster", ctlrpc.OpJoin, 1,
			"Join the cluster successfully.", "Failed to join the cluster: "),
		memberCmd("leave", "Leave the cluster", ctlrpc.OpLeave, 0,
			"Leave the cluster successfully.", "Failed to leave the cluster: "),
		memberCmd("force-leave <Node>", "Force the node leave from cluster", ctlrpc.OpForceLeave, 1,
			"Remove the node from cluster successfully.", "Failed to remove the node from cluster: "),
	}
}

func memberCmd(use, short, op string, nargs int, okMsg, failPrefix string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(nargs),
		RunE: func(c *cobra.Command, args []string) error {
			s, err := newSession(c)
			if err != nil {
				return err
			}
			req := ctlrpc.Request{Op: op}
			if nargs == 1 {
				req.Node = args[0]
			}
			r, err := s.call(req)
			if err != nil {
				return err
			}
			switch {
			case r.Error != "":
				fmt.Fprintln(s.errOut, failPrefix+r.Error)
				return fail()
			case r.Ignored:
				fmt.Fprintln(s.out, "Ignore.")
			default:
				fmt.Fprintln(s.out, okMsg)
				if r.Cluster != nil {
					fmt.Fprintln(s.out, r.Cluster.Line())
				}
			}
			return nil
		},
	}
}
