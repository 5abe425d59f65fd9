package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fwgit/fwgit/controller/ca"
	"github.com/fwgit/fwgit/controller/config"
	"github.com/fwgit/fwgit/controller/enroll"
)

// defaultControllerConfig is read by the token commands when neither
// --config nor --state-dir is given.
const defaultControllerConfig = "/etc/fwgit/controller.yaml"

// tokenFlags locate the controller's state directory and agent URL.
type tokenFlags struct {
	configFile, stateDir string
}

func (f *tokenFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.configFile, "config", "", "controller configuration file (default "+defaultControllerConfig+")")
	cmd.Flags().StringVar(&f.stateDir, "state-dir", "", "controller state directory (instead of --config)")
	cmd.MarkFlagsMutuallyExclusive("config", "state-dir")
}

// resolve returns the state directory and, from the configuration, the
// agent-facing URL (empty when unknown).
func (f *tokenFlags) resolve() (stateDir, url string, err error) {
	if f.stateDir != "" {
		return f.stateDir, "", nil
	}
	path := f.configFile
	if path == "" {
		path = defaultControllerConfig
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return "", "", usageError{fmt.Errorf("token: give --config FILE or --state-dir DIR (%s does not exist)", path)}
		}
	}
	cfg, err := config.Load(path)
	if err != nil {
		return "", "", err
	}
	if cfg.StateDir == "" {
		return "", "", fmt.Errorf("token: %s: stateDir is not set", path)
	}
	url, _ = cfg.AgentURL()
	return cfg.StateDir, url, nil
}

func (f *tokenFlags) store() (*enroll.Store, error) {
	dir, _, err := f.resolve()
	if err != nil {
		return nil, err
	}
	return enroll.Open(dir, enroll.Options{})
}

// newTokenCmd is `fwgit token`: enrollment tokens for pull-mode agents.
func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke enrollment tokens for pull-mode agents",
		Long: `Enrollment tokens let a pull-mode agent (one the controller cannot reach,
e.g. behind NAT) join: ` + "`fwgit-agent enroll TOKEN`" + ` on the firewall generates a key,
and the controller signs its certificate once it sees a valid token.

A token holds the controller's agent-facing URL, the fingerprint of its CA
(so the agent trusts only this controller) and a secret; the controller
keeps only a hash of the secret. Tokens expire and have a use count.

The commands work on the controller's state directory (enroll.db, ca.pem)
directly, also while the controller runs: run them as the user the
controller runs as.`,
	}
	cmd.AddCommand(newTokenCreateCmd(), newTokenListCmd(), newTokenRevokeCmd())
	return cmd
}

func newTokenCreateCmd() *cobra.Command {
	var (
		f        tokenFlags
		firewall string
		ttl      time.Duration
		uses     int
		url      string
	)
	cmd := &cobra.Command{
		Use:   "create --firewall NAME",
		Short: "Issue an enrollment token (printed once on standard output)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if firewall == "" {
				return usageError{errors.New("token create: --firewall is required")}
			}
			if ttl <= 0 || ttl > enroll.MaxTTL {
				return usageError{fmt.Errorf("token create: --ttl must be between 0 and %v", enroll.MaxTTL)}
			}
			if uses < 1 || uses > enroll.MaxUses {
				return usageError{fmt.Errorf("token create: --uses must be between 1 and %d", enroll.MaxUses)}
			}
			dir, cfgURL, err := f.resolve()
			if err != nil {
				return err
			}
			if url == "" {
				url = cfgURL
			}
			if url == "" {
				return usageError{errors.New("token create: no agent-facing URL: give --url https://host:port or set pull.url in the controller configuration")}
			}
			authority, err := ca.LoadOrCreate(dir, time.Now())
			if err != nil {
				return fmt.Errorf("token create: %w", err)
			}
			store, err := enroll.Open(dir, enroll.Options{})
			if err != nil {
				return fmt.Errorf("token create: %w", err)
			}
			tok, et, err := store.Create(enroll.NewTokenOptions{Firewall: firewall, TTL: ttl, Uses: uses, URL: url, CAFingerprint: authority.Fingerprint()})
			if err != nil {
				return fmt.Errorf("token create: %w", err)
			}
			errw := cmd.ErrOrStderr()
			fmt.Fprintf(errw, "token %s for firewall %s: %d use(s), expires %s\n", tok.ID, tok.Firewall, tok.Uses, tok.ExpiresAt.Local().Format(time.RFC3339))
			fmt.Fprintf(errw, "controller %s, CA %s\n", url, authority.Fingerprint())
			fmt.Fprintf(errw, "on the firewall, run: fwgit-agent enroll TOKEN\n")
			fmt.Fprintln(cmd.OutOrStdout(), et.Encode())
			return nil
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&firewall, "firewall", "", "name of the Firewall the agent enrolls as (required)")
	cmd.Flags().DurationVar(&ttl, "ttl", enroll.DefaultTTL, "how long the token is valid")
	cmd.Flags().IntVar(&uses, "uses", 1, "how many agents may enroll with it")
	cmd.Flags().StringVar(&url, "url", "", "controller URL agents dial (default: pull.url of the configuration)")
	return cmd
}

func newTokenListCmd() *cobra.Command {
	var (
		f      tokenFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List enrollment tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := f.store()
			if err != nil {
				return err
			}
			toks, err := store.List()
			if err != nil {
				return fmt.Errorf("token list: %w", err)
			}
			out := cmd.OutOrStdout()
			now := time.Now()
			if asJSON {
				type entry struct {
					enroll.Token
					State     string `json:"state"`
					Remaining int    `json:"remaining"`
				}
				list := make([]entry, 0, len(toks))
				for _, t := range toks {
					list = append(list, entry{t, t.State(now), t.Remaining()})
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tFIREWALL\tSTATE\tUSES LEFT\tEXPIRES\tCREATED")
			for _, t := range toks {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\n", t.ID, t.Firewall, t.State(now), t.Remaining(), t.Uses,
					t.ExpiresAt.Local().Format(time.DateTime), t.CreatedAt.Local().Format(time.DateTime))
			}
			return tw.Flush()
		},
	}
	f.bind(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newTokenRevokeCmd() *cobra.Command {
	var f tokenFlags
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an enrollment token at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := f.store()
			if err != nil {
				return err
			}
			tok, err := store.Revoke(args[0])
			if errors.Is(err, enroll.ErrNotFound) {
				return fmt.Errorf("token revoke: no token %s (see `fwgit token list`)", args[0])
			}
			if err != nil {
				return fmt.Errorf("token revoke: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked token %s for firewall %s\n", tok.ID, tok.Firewall)
			return nil
		},
	}
	f.bind(cmd)
	return cmd
}
