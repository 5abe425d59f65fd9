package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fwgit/fwgit/controller/compile"
)

func newTraceCmd() *cobra.Command {
	var (
		rev, firewall, format string
		q                     compile.Query
		typ, code             int
	)
	cmd := &cobra.Command{
		Use:   "trace [DIR] --firewall NAME --proto P [flags]",
		Short: "Show what a firewall's compiled policy does with one packet",
		Long: `Evaluate one packet against the compiled ruleset of a firewall and print
the verdict (accept or drop) and what decided it: a rule (name, UUID,
file:line) with the nftables rule that matched, an always-present fwgit rule,
or the default policy. The fields and defaults are those of a Test case:
--direction in (default) means --from is the source and the firewall the
destination; out means the firewall is the source and --to the destination.
The firewall's own side defaults to its first address of the family.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if firewall == "" || q.Proto == "" {
				return usageError{errors.New("--firewall and --proto are required")}
			}
			if format != "text" && format != "json" {
				return usageError{fmt.Errorf("--format must be text or json, not %q", format)}
			}
			if cmd.Flags().Changed("type") {
				q.Type = &typ
			}
			if cmd.Flags().Changed("code") {
				q.Code = &code
			}
			p, err := loadPolicy(dirArg(args), rev)
			if err != nil {
				return err
			}
			if !p.requireValid(cmd.ErrOrStderr()) {
				return exitError{1}
			}
			fw := p.inv.FirewallByName(firewall)
			if fw == nil {
				return usageError{fmt.Errorf("no firewall named %q in %s", firewall, p.label)}
			}
			res, err := compile.Trace(p.inv, fw, nil, q)
			if errors.Is(err, compile.ErrQuery) {
				return usageError{err}
			} else if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			var b strings.Builder
			pk := res.Packet
			fmt.Fprintf(&b, "packet:  %s %s %s -> %s %s", pk.Hook, pk.Family, pk.Src, pk.Dst, pk.Proto)
			if pk.Port != 0 {
				fmt.Fprintf(&b, " port %d", pk.Port)
			}
			if pk.Type != nil {
				fmt.Fprintf(&b, " type %d code %d", *pk.Type, *pk.Code)
			}
			fmt.Fprintf(&b, "\nverdict: %s\ndecided: %s\n", res.Verdict, res)
			if res.Rule != nil {
				fmt.Fprintf(&b, "uuid:    %s\n", res.Rule.UUID)
			}
			if res.Match != "" {
				fmt.Fprintf(&b, "nft:     %s\n", res.Match)
			}
			_, err = fmt.Fprint(w, b.String())
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&rev, "rev", "", "read the repository at this Git revision instead of the files on disk")
	f.StringVar(&firewall, "firewall", "", "the firewall that sees the packet (required)")
	f.StringVar(&q.Direction, "direction", "in", "in (to the firewall) or out (from it)")
	f.StringVar(&q.From, "from", "", "source address")
	f.StringVar(&q.To, "to", "", "destination address")
	f.StringVar(&q.Proto, "proto", "", "tcp, udp, icmp, icmp6, ah or esp (required)")
	f.IntVar(&q.Port, "port", 0, "destination port for tcp and udp")
	f.IntVar(&typ, "type", 0, "ICMP type")
	f.IntVar(&code, "code", 0, "ICMP code")
	f.StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}
