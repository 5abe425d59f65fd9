package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fwgit/fwgit/controller/compile"
	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/internal/diag"
	"github.com/fwgit/fwgit/internal/gitfs"
	"github.com/fwgit/fwgit/internal/nft"
	"github.com/fwgit/fwgit/schema/load"
)

// policyRev is one revision of a policy repository, loaded and resolved.
type policyRev struct {
	inv   *model.Inventory
	diags diag.List
	// label names the revision: "worktree" or branch@sha1:<hash>.
	label string
}

// loadPolicy loads the repository in dir: the files on disk when rev is
// empty, else the commit rev names in the Git repository holding dir.
func loadPolicy(dir, rev string) (*policyRev, error) {
	var fsys fs.FS
	label := "worktree"
	if rev == "" {
		st, err := os.Stat(dir)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("%s is not a directory", dir)
		}
		fsys = os.DirFS(dir)
	} else {
		repo, err := gitfs.Open(dir)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", dir, err)
		}
		f, c, err := repo.FS(rev)
		if err != nil {
			return nil, fmt.Errorf("reading revision %s: %w", rev, err)
		}
		fsys, label = f, c.Revision()
	}
	inv, diags := model.Build(load.Load(fsys))
	diags.Sort()
	return &policyRev{inv: inv, diags: diags, label: label}, nil
}

// requireValid prints the diagnostics of p to w and reports whether p has
// no errors. Warnings alone are printed and do not fail.
func (p *policyRev) requireValid(w io.Writer) bool {
	if len(p.diags) > 0 {
		_ = p.diags.WriteText(w)
	}
	if p.diags.HasErrors() {
		fmt.Fprintf(w, "%s: %d errors, %d warnings: not compiled\n", p.label, p.diags.Errors(), p.diags.Warnings())
		return false
	}
	return true
}

// dirArg returns the repository directory argument, "." by default.
func dirArg(args []string) string {
	if len(args) > 0 {
		return args[0]
	}
	return "."
}

func newCompileCmd() *cobra.Command {
	var (
		rev       string
		firewalls []string
		format    string
	)
	cmd := &cobra.Command{
		Use:   "compile [DIR]",
		Short: "Print the nftables ruleset of each firewall",
		Long: `Compile the policy repository in DIR (default ".") and print each
firewall's ruleset: in nft -f syntax (--format nft, the default), or as the
JSON IR the agent receives (--format json). With --rev the repository is read
from that Git revision instead of the files on disk. An invalid repository
prints its diagnostics and exits 1.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "nft" && format != "json" {
				return usageError{fmt.Errorf("--format must be nft or json, not %q", format)}
			}
			p, err := loadPolicy(dirArg(args), rev)
			if err != nil {
				return err
			}
			if !p.requireValid(cmd.ErrOrStderr()) {
				return exitError{1}
			}
			var fws []*model.Firewall
			if len(firewalls) == 0 {
				fws = p.inv.Firewalls
			}
			for _, name := range firewalls {
				f := p.inv.FirewallByName(name)
				if f == nil {
					return usageError{fmt.Errorf("no firewall named %q in %s", name, p.label)}
				}
				fws = append(fws, f)
			}
			slices.SortFunc(fws, func(a, b *model.Firewall) int { return strings.Compare(a.Name, b.Name) })
			fws = slices.Compact(fws)
			var rs map[string]*nft.Ruleset
			if len(firewalls) == 0 {
				rs = compile.All(p.inv)
			} else {
				rs = map[string]*nft.Ruleset{}
				for _, f := range fws {
					rs[f.Name] = compile.Firewall(p.inv, f)
				}
			}
			return writeRulesets(cmd.OutOrStdout(), format, fws, rs)
		},
	}
	cmd.Flags().StringVar(&rev, "rev", "", "read the repository at this Git revision instead of the files on disk")
	cmd.Flags().StringArrayVar(&firewalls, "firewall", nil, "compile only this firewall (repeatable)")
	cmd.Flags().StringVar(&format, "format", "nft", "output format: nft or json")
	return cmd
}

// writeRulesets prints the rulesets of fws. In nft form each firewall's
// table follows a comment naming it and its digest; a single firewall's
// output is exactly what `nft -f` loads.
func writeRulesets(w io.Writer, format string, fws []*model.Firewall, rs map[string]*nft.Ruleset) error {
	if format == "json" {
		type entry struct {
			Name    string       `json:"name"`
			Digest  string       `json:"digest"`
			Enabled bool         `json:"enabled"`
			Ruleset *nft.Ruleset `json:"ruleset"`
		}
		out := make([]entry, 0, len(fws))
		for _, f := range fws {
			out = append(out, entry{Name: f.Name, Digest: rs[f.Name].Digest(), Enabled: f.Enabled, Ruleset: rs[f.Name]})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	// One firewall at a time: the output for a large fleet is far bigger
	// than what any one firewall needs in memory.
	bw := bufio.NewWriterSize(w, 1<<16)
	for i, f := range fws {
		r := rs[f.Name]
		if i > 0 {
			bw.WriteString("\n")
		}
		if r.Empty() {
			fmt.Fprintf(bw, "# firewall %s: disabled, no table\n", f.Name)
			continue
		}
		text := r.Render()
		fmt.Fprintf(bw, "# firewall %s %s\n", f.Name, nft.TextDigest(text))
		bw.WriteString(text)
	}
	return bw.Flush()
}
