package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"emqxgo/internal/ctlrpc"
)

func statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show broker status",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			s, err := newSession(c)
			if err != nil {
				return err
			}
			r, err := s.call(ctlrpc.Request{Op: ctlrpc.OpStatus})
			if err != nil {
				return err
			}
			fmt.Fprintf(s.out, "Node '%s' %s is started\n", r.Node, r.Version)
			return nil
		},
	}
}
