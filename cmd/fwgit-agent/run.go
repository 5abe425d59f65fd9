package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/fwgit/fwgit/agent"
	"github.com/fwgit/fwgit/agent/dataplane"
)

func newRunCmd(envFile *string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run",
		Short: "restore the last ruleset, then serve the agent API",
		Long: `run re-applies the persisted ruleset, then serves the HTTPS API under
/api/v1 until SIGINT or SIGTERM. Settings come from the env file, then
environment variables of the same names, then flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, *envFile)
			if err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("invalid settings:\n%w", err)
			}
			log := newLogger(cfg)
			applier, err := dataplane.NewNetlink(dataplane.Options{Table: cfg.Table, Logger: log})
			if err != nil {
				return err
			}
			defer applier.Close()
			a, err := agent.New(cfg, agent.Deps{Applier: applier, Log: log, PullDir: filepath.Dir(*envFile)})
			if err != nil {
				return err
			}
			return a.Run(cmd.Context())
		},
	}
	bindSettings(cmd)
	return cmd
}
