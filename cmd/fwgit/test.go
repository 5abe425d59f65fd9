package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fwgit/fwgit/controller/compile"
	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/internal/netns"
	"github.com/fwgit/fwgit/internal/nft"
	v1 "github.com/fwgit/fwgit/schema/v1"
)

func newTestCmd() *cobra.Command {
	var (
		rev     string
		inNetns bool
	)
	cmd := &cobra.Command{
		Use:   "test [DIR]",
		Short: "Check the Test manifests against the compiled policy",
		Long: `Run every case of every Test manifest in the repository in DIR (default
".") against the compiled policy and print pass or fail per case with the
rule that decided (name and file:line) or the default policy. Any failure
exits 1.

With --netns each firewall under test gets a throwaway pair of network
namespaces joined by a veth pair: its compiled ruleset is loaded into one,
the other plays the peers of its cases, and real TCP connections, UDP
datagrams and ICMP messages check each expectation. This needs root (or
CAP_NET_ADMIN and CAP_NET_RAW) and the ip and nft commands; without them it
says so and exits 2. The namespaces are removed on every exit path.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if inNetns {
				if msg := netnsMissing(); msg != "" {
					fmt.Fprintf(cmd.ErrOrStderr(), "fwgit test --netns: %s\n", msg)
					return exitError{2}
				}
			}
			p, err := loadPolicy(dirArg(args), rev)
			if err != nil {
				return err
			}
			if !p.requireValid(cmd.ErrOrStderr()) {
				return exitError{1}
			}
			rs := compile.All(p.inv)
			results := compile.Check(p.inv, rs)
			w := cmd.OutOrStdout()
			if len(results) == 0 {
				fmt.Fprintf(w, "%s: no Test cases\n", p.label)
				return nil
			}
			var failed, skipped int
			if inNetns {
				failed, skipped, err = runNetns(cmd.Context(), w, p.inv, rs, results)
				if err != nil {
					return err
				}
			} else {
				for _, r := range results {
					if !r.Pass {
						failed++
					}
					printCase(w, r)
				}
			}
			if skipped > 0 {
				fmt.Fprintf(w, "%s: %d cases, %d passed (%d by the evaluator only: they cannot be sent as packets), %d failed\n",
					p.label, len(results), len(results)-failed, skipped, failed)
			} else {
				fmt.Fprintf(w, "%s: %d cases, %d passed, %d failed\n", p.label, len(results), len(results)-failed, failed)
			}
			if failed > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&rev, "rev", "", "read the repository at this Git revision instead of the files on disk")
	cmd.Flags().BoolVar(&inNetns, "netns", false, "send real packets through the compiled rulesets in network namespaces (root)")
	return cmd
}

// caseName names a case for people: its own name, or the Test's and its
// index.
func caseName(r compile.CaseResult) string {
	if r.Case.Name != "" {
		return r.Test + "/" + r.Case.Name
	}
	return fmt.Sprintf("%s[%d]", r.Test, r.Index)
}

// caseText describes the packet of a case.
func caseText(tc v1.TestCase) string {
	dir := tc.Direction
	if dir == "" {
		dir = v1.DirectionIn
	}
	from, to := tc.From, tc.To
	if from == "" {
		from = "*"
	}
	if to == "" {
		to = "*"
	}
	s := fmt.Sprintf("%s %s %s %s -> %s", tc.Firewall, dir, tc.Proto, from, to)
	if tc.Port != 0 {
		s += " port " + strconv.Itoa(tc.Port)
	}
	if tc.Type != nil {
		s += " type " + strconv.Itoa(*tc.Type)
	}
	if tc.Code != nil {
		s += " code " + strconv.Itoa(*tc.Code)
	}
	return s
}

func printCase(w io.Writer, r compile.CaseResult) {
	switch {
	case r.Err != "":
		fmt.Fprintf(w, "FAIL %s %s: %s: %s\n", r.Case.Pos, caseName(r), caseText(r.Case.TestCase), r.Err)
	case r.Pass:
		fmt.Fprintf(w, "PASS %s %s: %s: %s by %s\n", r.Case.Pos, caseName(r), caseText(r.Case.TestCase), r.Trace.Verdict, r.Trace)
	default:
		fmt.Fprintf(w, "FAIL %s %s: %s: want %s, got %s by %s\n", r.Case.Pos, caseName(r), caseText(r.Case.TestCase), r.Case.Expect, r.Trace.Verdict, r.Trace)
	}
}

// netnsMissing says what `fwgit test --netns` lacks on this machine, or "".
func netnsMissing() string {
	if !hasCapNetAdmin() {
		return "needs root or CAP_NET_ADMIN to create network namespaces (run it with sudo)"
	}
	for _, c := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(c); err != nil {
			return fmt.Sprintf("needs the %s command on PATH", c)
		}
	}
	return ""
}

// hasCapNetAdmin reads the effective capabilities of this process.
func hasCapNetAdmin() bool {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<12) != 0
		}
	}
	return false
}

// cleanupTimeout bounds the removal of the namespaces of one firewall.
const cleanupTimeout = 15 * time.Second

// runNetns checks the cases of each firewall with real packets. It returns
// how many cases failed and how many could not be sent as packets (those are
// judged by the evaluator alone); an error only when the lab itself cannot
// be built.
func runNetns(ctx context.Context, w io.Writer, inv *model.Inventory, rs map[string]*nft.Ruleset, results []compile.CaseResult) (failed, skipped int, err error) {
	var order []string
	byFW := map[string][]compile.CaseResult{}
	for _, r := range results {
		if r.Err != "" {
			printCase(w, r)
			failed++
			continue
		}
		if _, ok := byFW[r.Case.Firewall]; !ok {
			order = append(order, r.Case.Firewall)
		}
		byFW[r.Case.Firewall] = append(byFW[r.Case.Firewall], r)
	}
	for _, name := range order {
		if err := ctx.Err(); err != nil {
			return failed, skipped, fmt.Errorf("interrupted: %w", err)
		}
		n, err := netnsFirewall(ctx, w, inv.FirewallByName(name), rs[name], byFW[name], &skipped)
		failed += n
		if err != nil {
			return failed, skipped, fmt.Errorf("firewall %s: %w", name, err)
		}
	}
	return failed, skipped, nil
}

// lab is the pair of namespaces of one firewall under test.
type lab struct {
	fw, peer       *netns.NS
	fw4, fw6       netip.Addr
	peerRouteSrc   map[netip.Addr]netip.Addr
	fwDev, peerDev string
}

// netnsFirewall builds the lab of fw, loads its ruleset and probes every
// case, then removes the lab whatever happened.
func netnsFirewall(ctx context.Context, w io.Writer, fw *model.Firewall, rs *nft.Ruleset, cases []compile.CaseResult, skipped *int) (failed int, err error) {
	l := &lab{fwDev: "fw0", peerDev: "peer0", peerRouteSrc: map[netip.Addr]netip.Addr{}}
	for _, a := range fw.Addresses {
		if a.Is4() && !l.fw4.IsValid() {
			l.fw4 = a
		}
		if a.Is6() && !l.fw6.IsValid() {
			l.fw6 = a
		}
	}
	// The peers of the cases: the source of inbound and the destination of
	// outbound packets.
	peers := map[netip.Addr]bool{}
	skip := make([]string, len(cases))
	for i, r := range cases {
		peer, why := peerOf(r, l)
		if why != "" {
			skip[i] = why
			continue
		}
		peers[peer] = true
	}
	defer func() {
		// Clean up with a fresh context: ctx may be the one a signal
		// cancelled, and the namespaces must go anyway.
		cctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		for _, ns := range []*netns.NS{l.fw, l.peer} {
			if ns == nil {
				continue
			}
			if derr := ns.Delete(cctx); derr != nil && err == nil {
				err = derr
			}
		}
	}()
	if l.fw, err = netns.NewUnique(ctx, "test-fw"); err != nil {
		return 0, err
	}
	if l.peer, err = netns.NewUnique(ctx, "test-peer"); err != nil {
		return 0, err
	}
	host := func(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }
	var fwAddrs, peerAddrs []netip.Prefix
	for _, a := range []netip.Addr{l.fw4, l.fw6} {
		if a.IsValid() {
			fwAddrs = append(fwAddrs, host(a))
		}
	}
	for a := range peers {
		peerAddrs = append(peerAddrs, host(a))
	}
	if err := netns.Veth(ctx, netns.End{NS: l.fw, Name: l.fwDev, Addrs: fwAddrs}, netns.End{NS: l.peer, Name: l.peerDev, Addrs: peerAddrs}); err != nil {
		return 0, err
	}
	// Host routes both ways: the firewall reaches every peer from its own
	// address; the peer's route to the firewall is set per case so that
	// packets leave from the case's source address.
	for a := range peers {
		if _, err := l.fw.Run(ctx, nil, "ip", "route", "replace", host(a).String(), "dev", l.fwDev); err != nil {
			return 0, fmt.Errorf("routing to %s: %w", a, err)
		}
	}
	if err := l.fw.LoadNFT(ctx, rs.RenderReplace()); err != nil {
		return 0, fmt.Errorf("loading the ruleset: %w", err)
	}
	for i, r := range cases {
		if err := ctx.Err(); err != nil {
			return failed, fmt.Errorf("interrupted: %w", err)
		}
		if skip[i] != "" {
			*skipped++
			fmt.Fprintf(w, "SKIP %s %s: %s: %s (the evaluator says %s by %s)\n", r.Case.Pos, caseName(r), caseText(r.Case.TestCase), skip[i], r.Trace.Verdict, r.Trace)
			if !r.Pass {
				failed++
				printCase(w, r)
			}
			continue
		}
		got, err := l.probe(ctx, r)
		if err != nil {
			fmt.Fprintf(w, "FAIL %s %s: %s: probe: %v\n", r.Case.Pos, caseName(r), caseText(r.Case.TestCase), err)
			failed++
			continue
		}
		verdict := v1.ExpectDrop
		if got {
			verdict = v1.ExpectAccept
		}
		switch {
		case verdict == r.Case.Expect:
			fmt.Fprintf(w, "PASS %s %s: %s: %s on the wire (evaluator: %s by %s)\n", r.Case.Pos, caseName(r), caseText(r.Case.TestCase), verdict, r.Trace.Verdict, r.Trace)
		default:
			failed++
			fmt.Fprintf(w, "FAIL %s %s: %s: want %s, got %s on the wire (evaluator: %s by %s)\n", r.Case.Pos, caseName(r), caseText(r.Case.TestCase), r.Case.Expect, verdict, r.Trace.Verdict, r.Trace)
		}
	}
	return failed, nil
}

// peerOf returns the address the peer namespace takes for a case, or why
// the case cannot be sent on a wire.
func peerOf(r compile.CaseResult, l *lab) (netip.Addr, string) {
	s, why := compile.Peer(r.Case.TestCase)
	if why != "" {
		return netip.Addr{}, why
	}
	if s == "" {
		return netip.Addr{}, "the case names no peer address"
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, "bad peer address"
	}
	if !a.IsGlobalUnicast() && !a.IsPrivate() {
		return netip.Addr{}, "the peer address is not a unicast address"
	}
	if a == l.fw4 || a == l.fw6 {
		return netip.Addr{}, "the peer address is the firewall's own"
	}
	if (a.Is4() && !l.fw4.IsValid()) || (a.Is6() && !l.fw6.IsValid()) {
		return netip.Addr{}, "the firewall has no address of the peer's family"
	}
	return a, ""
}

// probe sends the packets of one case and reports whether they got
// through.
func (l *lab) probe(ctx context.Context, r compile.CaseResult) (bool, error) {
	tc := r.Case.TestCase
	peer, _ := peerOf(r, l)
	own := l.fw4
	if peer.Is6() {
		own = l.fw6
	}
	pr := netns.Probe{Client: l.peer, Server: l.fw}
	dst := own
	if tc.Direction == v1.DirectionOut {
		pr = netns.Probe{Client: l.fw, Server: l.peer}
		dst = peer
	}
	if l.peerRouteSrc[own] != peer {
		// The peer reaches the firewall from the case's address: the
		// source of inbound packets, the sender of outbound replies.
		host := netip.PrefixFrom(own, own.BitLen()).String()
		if _, err := l.peer.Run(ctx, nil, "ip", "route", "replace", host, "dev", l.peerDev, "src", peer.String()); err != nil {
			return false, fmt.Errorf("routing from %s: %w", peer, err)
		}
		l.peerRouteSrc[own] = peer
	}
	switch tc.Proto {
	case "tcp":
		return pr.TCP(ctx, netip.AddrPortFrom(dst, uint16(tc.Port)))
	case "udp":
		return pr.UDP(ctx, netip.AddrPortFrom(dst, uint16(tc.Port)))
	case "icmp", "icmp6":
		typ, code := 0, 0
		if tc.Type != nil {
			typ = *tc.Type
		}
		if tc.Code != nil {
			code = *tc.Code
		}
		if (tc.Proto == "icmp" && typ == 8 || tc.Proto == "icmp6" && typ == 128) && code == 0 {
			return pr.Ping(ctx, dst)
		}
		return pr.ICMP(ctx, dst, uint8(typ), uint8(code))
	}
	return false, errors.New("no probe for " + tc.Proto)
}
