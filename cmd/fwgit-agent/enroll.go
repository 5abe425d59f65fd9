package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/fwgit/fwgit/agent/pull"
)

// newEnrollCmd is `fwgit-agent enroll TOKEN`: pull-mode enrollment.
func newEnrollCmd(envFile *string) *cobra.Command {
	var (
		dir     string
		url     string
		force   bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "enroll TOKEN",
		Short: "join a controller in pull mode with a token from `fwgit token create`",
		Long: `enroll generates an ECDSA P-256 key on this host, sends a certificate
request with the token to the controller (verified by the CA fingerprint the
token holds; the key never leaves the host), and stores the signed
certificate and key (DIR/pull.pem, mode 0600), the controller's CA
(DIR/pull-ca.crt) and its URL (DIR/pull.json). From then on the agent dials
the controller over mutual TLS and long-polls its desired ruleset.
DIR defaults to the env file's directory.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%w: enroll takes one TOKEN", errUsage)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				dir = filepath.Dir(*envFile)
			}
			id, err := pull.Enroll(cmd.Context(), pull.EnrollOptions{Token: args[0], Dir: dir, URL: url, Force: force, Timeout: timeout})
			if err != nil {
				return fmt.Errorf("enroll: %w", err)
			}
			out := cmd.OutOrStdout()
			leaf := id.Certificate().Leaf
			fmt.Fprintf(out, "enrolled as firewall %s at %s\n", id.Firewall, id.URL)
			fmt.Fprintf(out, "certificate valid until %s (renewed automatically)\n", leaf.NotAfter.Local().Format(time.RFC3339))
			fmt.Fprintf(out, "wrote %s, %s and %s in %s\n", pull.KeyPairFileName, pull.CAFileName, pull.ConfigFileName, dir)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "directory for pull.pem, pull-ca.crt and pull.json (default: the env file's directory)")
	f.StringVar(&url, "url", "", "dial the controller at this https:// URL instead of the token's (trust still comes from the token's CA pin)")
	f.BoolVar(&force, "force", false, "replace an existing enrollment")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "deadline of the enrollment request")
	return cmd
}
