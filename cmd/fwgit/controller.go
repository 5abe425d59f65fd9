package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/fwgit/fwgit/controller"
	"github.com/fwgit/fwgit/controller/config"
)

// newControllerCmd is `fwgit controller --config FILE`: wiring only.
func newControllerCmd() *cobra.Command {
	var configFile, logFormat, logLevel string
	cmd := &cobra.Command{
		Use:   "controller --config FILE",
		Short: "Run the controller: follow the policy repository and drive every agent to it",
		Long: `Run the controller. It follows a Git branch (or a local directory), compiles
each valid revision, pushes the rulesets to the agents and serves /v1/status,
/metrics, /healthz, /readyz and the POST /hooks/git webhook.
The configuration file is documented in examples/controller.yaml.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configFile == "" {
				return usageError{errors.New("controller: --config is required")}
			}
			var level slog.LevelVar
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usageError{fmt.Errorf("controller: --log-level: %w", err)}
			}
			opts := &slog.HandlerOptions{Level: &level}
			var log *slog.Logger
			switch logFormat {
			case "json":
				log = slog.New(slog.NewJSONHandler(os.Stderr, opts))
			case "text":
				log = slog.New(slog.NewTextHandler(os.Stderr, opts))
			default:
				return usageError{fmt.Errorf("controller: --log-format must be json or text, not %q", logFormat)}
			}
			cfg, err := config.Load(configFile)
			if err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("%s: %w", configFile, err)
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			ctl, err := controller.New(cfg, controller.Deps{Log: log, Registry: reg})
			if err != nil {
				return err
			}
			return ctl.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&configFile, "config", "", "controller configuration file (YAML)")
	cmd.Flags().StringVar(&logFormat, "log-format", "json", "log format: json or text")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}
