package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/fwgit/fwgit/agent/agentconfig"
	"github.com/fwgit/fwgit/agent/identity"
)

func newInitCmd() *cobra.Command {
	var (
		dir     string
		force   bool
		showKey bool
		sans    []string
	)
	cmd := &cobra.Command{
		Use:   "init",
		Short: "create the API key, TLS key and certificate, and the env file",
		Long: `init writes DIR/agent.env (mode 0600) with a fresh random API key, an
ECDSA P-256 key (DIR/agent.key, 0600) and a self-signed certificate
(DIR/agent.crt) for the host's names and addresses, then prints the
certificate's fingerprint for the Firewall manifest (spec.agent.fingerprint).
It refuses to replace an existing env file or key without --force.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			settings := agentconfig.Default()
			for _, k := range agentconfig.Keys() {
				fl := cmd.Flags().Lookup(k.Flag)
				if fl == nil || !fl.Changed {
					continue
				}
				if err := settings.Set(k.Name, fl.Value.String()); err != nil {
					return fmt.Errorf("%w: --%s: %v", errUsage, k.Flag, err)
				}
			}
			res, err := identity.Init(identity.InitOptions{Dir: dir, Force: force, Settings: settings, SANs: sans})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "wrote %s (mode 0600; the API key is its API_KEY line)\n", res.EnvFile)
			fmt.Fprintf(out, "wrote %s and %s\n", res.KeyFile, res.CertFile)
			fmt.Fprintf(out, "certificate for %v %v\n", res.SANs.DNS, res.SANs.IPs)
			fmt.Fprintf(out, "fingerprint (spec.agent.fingerprint):\n  %s\n", res.Fingerprint)
			if showKey {
				fmt.Fprintf(out, "API key:\n  %s\n", res.APIKey.Reveal())
			}
			if len(settings.AllowedIPs) == 0 {
				fmt.Fprintf(os.Stderr, "note: set ALLOWED_IPS in %s to the controller's addresses before `fwgit-agent run`\n", res.EnvFile)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "/etc/fwgit", "directory for agent.env, agent.key and agent.crt")
	f.BoolVar(&force, "force", false, "replace an existing env file and key")
	f.BoolVar(&showKey, "show-key", false, "also print the API key")
	f.StringSliceVar(&sans, "san", nil, "extra DNS name or address for the certificate (repeatable)")
	for _, flag := range []string{"allowed-ips", "mgmt-cidrs", "listen", "state-dir", "drift-mode", "drift-interval", "table", "log-format", "log-level"} {
		for _, k := range agentconfig.Keys() {
			if k.Flag == flag {
				f.String(k.Flag, "", k.Usage+" (written to the env file)")
			}
		}
	}
	return cmd
}
