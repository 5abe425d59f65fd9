package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/fwgit/fwgit/schema/fwrule"
)

func newRuleCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rule",
		Short: "Work with fwrule text (the Triton FWAPI rule language)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{errors.New("rule: missing subcommand (try 'fwgit rule parse')")}
		},
	}
	cmd.AddCommand(newRuleParseCmd())
	return cmd
}

// ruleParseResult is one line of `fwgit rule parse --json`.
type ruleParseResult struct {
	Rule      string         `json:"rule"`
	OK        bool           `json:"ok"`
	Parsed    *fwrule.Parsed `json:"parsed"`
	Canonical *string        `json:"canonical"`
	Error     *fwrule.Kind   `json:"error"`
	Message   *string        `json:"message"`
	err       *fwrule.Error  // for the human output
}

func newRuleParseCmd() *cobra.Command {
	var (
		check      string
		maxVersion int
		enforce    bool
		logFlag    bool
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "parse [flags] RULE... | -",
		Short: "Parse rules and print their canonical text",
		Long: `Parse each RULE and print its canonical text (spec/fwrule.md §6), or the
error. With the single argument "-" the rules are read from standard input as
a JSON array of strings. --check chooses the layer: parse (grammar and
values), create (also the rule-level checks; the default) or fwapi (create,
then FWAPI's port folding; subnet masks are enforced unless
--enforce-subnet-mask=false). With --json one object per rule is printed per
line: {"rule","ok","parsed","canonical","error","message"}.

Exit status: 0 when every rule is valid, 1 when any is not, 2 on usage errors.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("rule parse: no rules given")}
			}
			var entry func(string, fwrule.Options) (*fwrule.Rule, error)
			switch check {
			case "parse":
				entry = fwrule.Parse
			case "create":
				entry = fwrule.Create
			case "fwapi":
				entry = fwrule.FWAPI
				if !cmd.Flags().Changed("enforce-subnet-mask") {
					enforce = true
				}
			default:
				return usageError{fmt.Errorf("rule parse: --check must be parse, create or fwapi, not %q", check)}
			}
			opts := fwrule.Options{EnforceSubnetMask: enforce}
			if cmd.Flags().Changed("max-version") {
				opts.MaxVersion, opts.MaxVersionSet = maxVersion, true
			}
			rules := args
			if len(args) == 1 && args[0] == "-" {
				var err error
				if rules, err = readRuleList(cmd.InOrStdin()); err != nil {
					return usageError{err}
				}
			}
			out := cmd.OutOrStdout()
			enc := json.NewEncoder(out)
			enc.SetEscapeHTML(false)
			invalid := 0
			for _, text := range rules {
				res := parseOne(entry, text, opts, logFlag)
				if !res.OK {
					invalid++
				}
				if asJSON {
					if err := enc.Encode(res); err != nil {
						return err
					}
					continue
				}
				if res.OK {
					fmt.Fprintln(out, *res.Canonical)
				} else {
					fmt.Fprintln(cmd.ErrOrStderr(), humanError(res))
				}
			}
			if invalid > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&check, "check", "create", "layer to check: parse, create or fwapi")
	f.IntVar(&maxVersion, "max-version", fwrule.CurrentVersion, "newest language version to accept (1-4)")
	f.BoolVar(&enforce, "enforce-subnet-mask", false, "reject subnets with host bits set (default on for --check fwapi)")
	f.BoolVar(&logFlag, "log", false, "set the parsed form's log field (the payload's log)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object per rule and line")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	return cmd
}

// readRuleList reads a JSON array of rule strings.
func readRuleList(r io.Reader) ([]string, error) {
	var rules []string
	dec := json.NewDecoder(r)
	if err := dec.Decode(&rules); err != nil {
		return nil, fmt.Errorf("rule parse: reading standard input: want a JSON array of strings: %w", err)
	}
	if dec.More() {
		return nil, errors.New("rule parse: reading standard input: trailing data after the JSON array")
	}
	return rules, nil
}

func parseOne(entry func(string, fwrule.Options) (*fwrule.Rule, error), text string, opts fwrule.Options, logFlag bool) ruleParseResult {
	res := ruleParseResult{Rule: text}
	r, err := entry(text, opts)
	if err != nil {
		var e *fwrule.Error
		var m *fwrule.MultiError
		switch {
		case errors.As(err, &m) && len(m.Errs) > 0:
			e = m.Errs[0]
		case errors.As(err, &e):
		default:
			e = &fwrule.Error{Kind: "internal", Msg: err.Error()}
		}
		res.err = e
		kind, msg := e.Kind, e.Msg
		res.Error, res.Message = &kind, &msg
		return res
	}
	r.Log = logFlag
	parsed := r.Parsed()
	canonical := r.Text()
	res.OK, res.Parsed, res.Canonical = true, &parsed, &canonical
	return res
}

func humanError(res ruleParseResult) string {
	e := res.err
	if e.Line > 0 {
		return fmt.Sprintf("invalid rule %q: %d:%d: %s [%s]", res.Rule, e.Line, e.Col, e.Msg, e.Kind)
	}
	return fmt.Sprintf("invalid rule %q: %s [%s]", res.Rule, e.Msg, e.Kind)
}
