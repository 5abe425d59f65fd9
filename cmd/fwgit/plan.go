package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fwgit/fwgit/controller/compile"
	"github.com/fwgit/fwgit/controller/plan"
)

func newPlanCmd() *cobra.Command {
	var (
		base, head string
		worktree   bool
		format     string
	)
	cmd := &cobra.Command{
		Use:   "plan [DIR] --base REV [--head REV|--worktree]",
		Short: "Show what a change does to every firewall",
		Long: `Compare two revisions of the policy repository in DIR (default "."):
--base (for example origin/main) against --head (default HEAD) or, with
--worktree, the files on disk. For every firewall it shows whether the
change adds, removes or changes its ruleset, the unified diff of the
rendered nftables ruleset, the rules that caused it, and warnings (selectors
that match nothing, shadowed rules, ports opened to any).
--format markdown is made for a pull-request comment. An invalid head
revision prints its diagnostics and exits 1.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case base == "":
				return usageError{errors.New("--base is required")}
			case worktree && head != "":
				return usageError{errors.New("--head and --worktree exclude each other")}
			case format != "markdown" && format != "text" && format != "json":
				return usageError{fmt.Errorf("--format must be markdown, text or json, not %q", format)}
			}
			dir := dirArg(args)
			headRev := head
			if !worktree && headRev == "" {
				headRev = "HEAD"
			}
			b, err := loadPolicy(dir, base)
			if err != nil {
				return err
			}
			h, err := loadPolicy(dir, headRev)
			if err != nil {
				return err
			}
			if !h.requireValid(cmd.ErrOrStderr()) {
				return exitError{1}
			}
			if b.diags.HasErrors() {
				// The base is what runs today; compare against what it
				// compiles to even if it was never valid.
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: base %s has %d errors; comparing with what it compiles to anyway\n", b.label, b.diags.Errors())
			}
			baseRS := compile.All(b.inv)
			// The head is compiled incrementally from the base: only the
			// firewalls the change can touch are compiled again (the
			// result is the same as compile.All's; TestUpdateMatchesAll).
			headRS := compile.Update(baseRS, b.inv, h.inv)
			if b.diags.HasErrors() {
				headRS = compile.All(h.inv)
			}
			p := plan.Compute(b.inv, h.inv, baseRS, headRS)
			p.Base, p.Head = b.label, h.label
			w := cmd.OutOrStdout()
			switch format {
			case "json":
				return p.WriteJSON(w)
			case "text":
				return p.WriteText(w)
			}
			return p.WriteMarkdown(w)
		},
	}
	cmd.Flags().StringVar(&base, "base", "", "the revision to compare against, e.g. origin/main (required)")
	cmd.Flags().StringVar(&head, "head", "", "the revision to compare (default HEAD)")
	cmd.Flags().BoolVar(&worktree, "worktree", false, "compare the files on disk instead of a revision")
	cmd.Flags().StringVar(&format, "format", "markdown", "output format: markdown, text or json")
	return cmd
}
