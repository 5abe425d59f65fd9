package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/internal/gitfs"
	"github.com/fwgit/fwgit/schema/load"
	v1 "github.com/fwgit/fwgit/schema/v1"
)

// validateOptions are the flags of `fwgit validate`.
type validateOptions struct {
	dir, rev, sub, format string
	strict                bool
	max                   int
}

func newValidateCmd() *cobra.Command {
	var o validateOptions
	cmd := &cobra.Command{
		Use:   "validate [DIR]",
		Short: "Check a policy repository and report every problem with file:line:col",
		Long: `Validate the policy repository in DIR (default "."): decode every manifest
strictly, parse every rule, and check what spans objects (unique names and
UUIDs, declared tags and values, vm targets, test cases, selectors that match
no firewall). Every problem is reported, sorted by position, followed by a
summary line.

With --rev the repository is read from that Git revision (branch, tag, HEAD~1,
a full or short hash) of the repository holding DIR, without checking it out.
--path validates a subdirectory of DIR.

File names are printed relative to the working directory as DIR/--path/FILE
(exactly as DIR was given), so that editors and GitHub can open them; with
--rev they name the files of that commit at those paths.

Formats: text (the default; "file:line:col: error: message [code]" and the
summary on standard output), github (workflow-command annotations on standard
output, summary on standard error) and json (a JSON array of diagnostics on
standard output, summary on standard error).

Exit status: 0 when valid, 1 when there are errors (or, with --strict,
warnings), 2 on usage errors, including a missing DIR or an unknown revision.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError{fmt.Errorf("validate: takes at most one DIR, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.dir = dirArg(args)
			return runValidate(cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.rev, "rev", "", "validate this Git revision instead of the files on disk")
	f.StringVar(&o.sub, "path", "", "validate this subdirectory of DIR")
	f.StringVar(&o.format, "format", "text", "output format: text, github or json")
	f.BoolVar(&o.strict, "strict", false, "fail on warnings too")
	f.IntVar(&o.max, "max-diagnostics", 1000, "print at most this many diagnostics, errors first (0: all)")
	return cmd
}

// repoSummary counts what a validation looked at.
type repoSummary struct {
	label   string
	files   int
	objects int
	kinds   map[string]int
}

func (s repoSummary) String() string {
	var parts []string
	for _, k := range []struct{ kind, one, many string }{
		{v1.KindFirewall, "firewall", "firewalls"},
		{v1.KindRule, "rule", "rules"},
		{v1.KindTag, "tag", "tags"},
		{v1.KindTest, "test", "tests"},
		{v1.KindSettings, "settings", "settings"},
	} {
		n := s.kinds[k.kind]
		parts = append(parts, plural(n, k.one, k.many))
	}
	return fmt.Sprintf("%s: %s, %s (%s)", s.label, plural(s.files, "file", "files"),
		plural(s.objects, "object", "objects"), strings.Join(parts, ", "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func runValidate(stdout, stderr io.Writer, o validateOptions) error {
	switch o.format {
	case "text", "github", "json":
	default:
		return usageError{fmt.Errorf("validate: --format must be text, github or json, not %q", o.format)}
	}
	if o.max < 0 {
		return usageError{errors.New("validate: --max-diagnostics must not be negative")}
	}
	fsys, prefix, revision, err := openPolicy(o.dir, o.rev, o.sub)
	if err != nil {
		return usageError{fmt.Errorf("validate: %w", err)}
	}
	repo := load.Load(fsys)
	_, diags := model.Build(repo)
	sum := repoSummary{label: cmpOr(prefix, "."), files: repo.Files, objects: len(repo.Objects), kinds: map[string]int{}}
	if revision != "" {
		sum.label += " at " + revision
	}
	for _, obj := range repo.Objects {
		sum.kinds[obj.Kind]++
	}
	for i := range diags {
		diags[i].Pos.File = displayPath(prefix, diags[i].Pos.File)
	}
	shown, more := diags, 0
	if o.max > 0 {
		shown, more = diags.Cap(o.max)
	}
	summary := fmt.Sprintf("%s: %s, %s", sum, plural(diags.Errors(), "error", "errors"), plural(diags.Warnings(), "warning", "warnings"))
	if more > 0 {
		summary += fmt.Sprintf(" (%d not shown)", more)
	}
	switch o.format {
	case "text":
		if err := shown.WriteText(stdout); err != nil {
			return err
		}
		fmt.Fprintln(stdout, summary)
	case "github":
		if err := shown.WriteGitHub(stdout); err != nil {
			return err
		}
		fmt.Fprintln(stderr, summary)
	case "json":
		if err := shown.WriteJSON(stdout); err != nil {
			return err
		}
		fmt.Fprintln(stderr, summary)
	}
	if diags.HasErrors() || (o.strict && diags.Warnings() > 0) {
		return exitError{1}
	}
	return nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// openPolicy returns the policy tree to validate: the directory dir/sub on
// disk, or with rev that directory in the Git commit rev names. prefix is
// dir/sub as given, slash-separated and cleaned ("" for "."), to put in
// front of file names; revision is the commit's Flux revision with rev.
func openPolicy(dir, rev, sub string) (fsys fs.FS, prefix, revision string, err error) {
	sub = path.Clean(filepath.ToSlash(cmpOr(sub, ".")))
	if sub != "." && !fs.ValidPath(sub) {
		return nil, "", "", fmt.Errorf("--path %q must be a relative path inside DIR", sub)
	}
	prefix = path.Join(filepath.ToSlash(filepath.Clean(dir)), sub)
	if prefix == "." {
		prefix = ""
	}
	if rev != "" {
		repo, err := gitfs.Open(dir)
		if err != nil {
			return nil, "", "", err
		}
		f, c, err := repo.SubFS(rev, sub)
		if err != nil {
			return nil, "", "", err
		}
		return f, prefix, c.Revision(), nil
	}
	full := filepath.Join(dir, filepath.FromSlash(sub))
	st, err := os.Stat(full)
	if err != nil {
		return nil, "", "", err
	}
	if !st.IsDir() {
		return nil, "", "", fmt.Errorf("%s is not a directory", full)
	}
	return os.DirFS(full), prefix, "", nil
}

// displayPath puts prefix in front of a repository-relative file name.
func displayPath(prefix, file string) string {
	switch {
	case prefix == "":
		return cmpOr(file, ".")
	case file == "" || file == ".":
		return prefix
	}
	return path.Join(prefix, file)
}
