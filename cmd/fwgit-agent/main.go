// Command fwgit-agent runs on every firewall: it serves the agent API over
// HTTPS and applies rulesets to its own nftables table. Subcommands: init
// (credentials and env file), run (the daemon), status (local state),
// fingerprint (the certificate pin), enroll (pull mode) and version. main is wiring only; the
// agent lives in package agent.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/fwgit/fwgit/agent/agentconfig"
	"github.com/fwgit/fwgit/internal/version"
)

func main() { os.Exit(run()) }

// errUsage marks errors that are the user's invocation, not the system.
var errUsage = errors.New("usage")

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := &cobra.Command{
		Use:           "fwgit-agent",
		Short:         "the fwgit firewall agent: applies rulesets to table inet fwgit",
		Version:       version.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	envFile := root.PersistentFlags().String("env-file", agentconfig.DefaultEnvFile, "settings file (KEY=VALUE lines)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return fmt.Errorf("%w: %v", errUsage, err) })
	root.AddCommand(
		newInitCmd(),
		newRunCmd(envFile),
		newStatusCmd(envFile),
		newFingerprintCmd(envFile),
		newVersionCmd(),
		newEnrollCmd(envFile),
	)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(os.Stderr, "fwgit-agent:", err)
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}
