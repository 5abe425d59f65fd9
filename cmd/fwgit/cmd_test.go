package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// runCmd runs a subcommand in process and returns its output and the exit
// status main would report; what main would print goes to stderr too.
func runCmd(t *testing.T, cmd *cobra.Command, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCmdIn(t, cmd, "", args...)
}

// runCmdIn is [runCmd] with standard input.
func runCmdIn(t *testing.T, cmd *cobra.Command, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	code, report := exitCode(cmd.ExecuteContext(context.Background()))
	if report != nil {
		errOut.WriteString(report.Error())
	}
	return out.String(), errOut.String(), code
}
