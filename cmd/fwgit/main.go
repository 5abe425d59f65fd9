// Command fwgit is the fwgit CLI: offline commands for policy repositories
// (validate, rule parse, compile, plan, test, trace), the controller, and the
// commands that talk to a running controller (status, token).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/fwgit/fwgit/internal/version"
)

func main() { os.Exit(run()) }

// exitError carries an exit status through cobra without printing anything
// more: the command has already told the user what went wrong.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := &cobra.Command{
		Use:           "fwgit",
		Short:         "GitOps for host firewalls",
		Version:       version.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newValidateCmd(),
		newRuleCmd(),
		newCompileCmd(),
		newPlanCmd(),
		newTestCmd(),
		newTraceCmd(),
		newControllerCmd(),
		newStatusCmd(),
		newTokenCmd(),
		newDevCmd(),
	)
	code, report := exitCode(root.ExecuteContext(ctx))
	if report != nil {
		fmt.Fprintln(os.Stderr, "fwgit:", report)
	}
	return code
}

// exitCode is the exit status for a command's error, and the error main
// must still print: an [exitError] has been reported by the command
// already, a [usageError] exits 2, anything else 1.
func exitCode(err error) (code int, report error) {
	var ee exitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		return ee.code, nil
	case isUsage(err):
		return 2, err
	}
	return 1, err
}
