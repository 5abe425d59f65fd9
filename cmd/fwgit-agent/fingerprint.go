package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fwgit/fwgit/agent/identity"
)

func newFingerprintCmd(envFile *string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fingerprint",
		Short: "print the TLS certificate's pin for spec.agent.fingerprint",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, *envFile)
			if err != nil {
				return err
			}
			fp, err := identity.FingerprintFile(cfg.TLSCert)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), fp)
			return err
		},
	}
	cmd.Flags().String("tls-cert", "", "certificate file (TLS_CERT)")
	return cmd
}
