package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/fwgit/fwgit/internal/genrepo"
)

func newDevCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Tools for developing fwgit itself",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return usageError{errors.New("dev: missing subcommand (try 'fwgit dev genrepo')")}
		},
	}
	cmd.AddCommand(newDevGenrepoCmd())
	return cmd
}

func newDevGenrepoCmd() *cobra.Command {
	var (
		opts genrepo.Options
		out  string
	)
	cmd := &cobra.Command{
		Use:   "genrepo --out DIR",
		Short: "Write a synthetic policy repository of a given size",
		Long: `Write a synthetic policy repository for benchmarks and scale tests:
firewalls with IPv4 and IPv6 addresses, tags and agents, Tag declarations,
global and owned rules in realistic variety, a Settings object and a small
Test. The output is the same for the same flags and validates without errors
or warnings. DIR is created if needed; existing files of the same names are
overwritten and others are left alone, so use an empty directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageError{errors.New("dev genrepo: --out is required")}
			}
			if opts.Firewalls < 1 || opts.Rules < 0 || opts.Tags < 0 || opts.Owners < 1 {
				return usageError{errors.New("dev genrepo: --firewalls and --owners must be at least 1, --rules and --tags at least 0")}
			}
			files := genrepo.Generate(opts)
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			if err := files.WriteDir(out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d files to %s (%d firewalls, %d rules, %d tags, %d owners, seed %d)\n",
				len(files), out, opts.Firewalls, opts.Rules, opts.Tags, opts.Owners, opts.Seed)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Firewalls, "firewalls", 100, "number of firewalls")
	f.IntVar(&opts.Rules, "rules", 1000, "number of rules")
	f.IntVar(&opts.Tags, "tags", 12, "number of declared tags")
	f.IntVar(&opts.Owners, "owners", 4, "number of owners")
	f.Uint64Var(&opts.Seed, "seed", 1, "random seed; the same seed gives the same repository")
	f.StringVar(&out, "out", "", "directory to write into")
	return cmd
}
