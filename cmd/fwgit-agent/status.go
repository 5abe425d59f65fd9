package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/fwgit/fwgit/agent/safety"
)

func newStatusCmd(envFile *string) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "print the state persisted in STATE_DIR",
		Long: `status prints what the agent last applied, from the state directory, without
asking the running agent. GET /api/v1/state adds live facts (drift, foreign
chains).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, *envFile)
			if err != nil {
				return err
			}
			st, err := safety.ReadState(cfg.StateDir, cfg.Table)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			printState(cmd.OutOrStdout(), cfg.StateDir, st)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the state file's content as JSON")
	cmd.Flags().String("state-dir", "", "state directory (STATE_DIR)")
	cmd.Flags().String("table", "", "the agent's table (TABLE)")
	return cmd
}

func printState(w io.Writer, dir string, st *safety.Persisted) {
	if st == nil {
		fmt.Fprintf(w, "no state in %s: nothing applied yet\n", dir)
		return
	}
	if c := st.Current; c != nil {
		fmt.Fprintf(w, "generation:  %d\n", c.Request.Generation)
		fmt.Fprintf(w, "digest:      %s\n", c.Request.Digest)
		if c.Request.Revision != "" {
			fmt.Fprintf(w, "revision:    %s\n", c.Request.Revision)
		}
		fmt.Fprintf(w, "applied at:  %s\n", c.AppliedAt.Format(time.RFC3339))
	} else {
		fmt.Fprintln(w, "current:     no table")
	}
	if p := st.Previous; p != nil {
		fmt.Fprintf(w, "previous:    generation %d (%s)\n", p.Request.Generation, p.Request.Digest)
	}
	if p := st.Pending; p != nil {
		fmt.Fprintf(w, "pending:     generation %d must be confirmed by %s\n", p.Generation, p.Deadline.Format(time.RFC3339))
	}
	if r := st.RolledBack; r != nil {
		fmt.Fprintf(w, "rolled back: generation %d at %s: %s\n", r.Generation, r.At.Format(time.RFC3339), r.Reason)
	}
}
