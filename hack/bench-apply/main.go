package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fwgit/fwgit/agent/dataplane"
	"github.com/fwgit/fwgit/agent/dataplane/dataplanetest"
	"github.com/fwgit/fwgit/internal/netns"
	"github.com/fwgit/fwgit/internal/nft"
)

func main() { os.Exit(run()) }

// benchCase is one ruleset to apply, with the goal for Go/nft.
type benchCase struct {
	name string
	rs   *nft.Ruleset
	goal float64 // the highest acceptable Go/nft ratio; 0: none
}

func run() int {
	runs := flag.Int("runs", 7, "applies per tool and ruleset (the median is reported)")
	flag.Parse()
	if *runs < 1 {
		fmt.Fprintln(os.Stderr, "bench-apply: -runs must be at least 1")
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench-apply: run as root (it creates a network namespace)")
		return 2
	}
	if err := bench(*runs); err != nil {
		fmt.Fprintln(os.Stderr, "bench-apply:", err)
		return 1
	}
	return 0
}

func bench(runs int) error {
	ctx := context.Background()
	ns, err := netns.NewUnique(ctx, "bench")
	if err != nil {
		return err
	}
	defer func() { _ = ns.Delete(ctx) }()
	dir, err := os.MkdirTemp("", "bench-apply")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ap, err := dataplane.NewNetlink(dataplane.Options{NetNSPath: ns.Path()})
	if err != nil {
		return err
	}
	defer ap.Close()

	cases := []benchCase{
		{name: "rules 10,000", rs: dataplanetest.ManyRules(10000), goal: 1.3},
		{name: "CIDRs 50,000 in sets", rs: dataplanetest.ManyCIDRs(40000), goal: 1.0},
		{name: "policy 500 rules", rs: dataplanetest.Realistic(500)},
	}
	fmt.Printf("atomic replace of table inet fwgit holding the same ruleset; median of %d runs each, alternating\n", runs)
	fmt.Printf("Go: Netlink.Apply in process (validate, digest, encode, one batch); nft: fork+exec of `nft -f` of RenderReplace()\n\n")
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ruleset\tGo ms\tnft ms\tGo/nft\tgoal\t")
	for _, c := range cases {
		file := filepath.Join(dir, "rs.nft")
		if err := os.WriteFile(file, []byte(c.rs.RenderReplace()), 0o600); err != nil {
			return err
		}
		// Start from the table in place, as the agent's replace does.
		if err := ap.Apply(ctx, c.rs); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		var goTimes, nftTimes []time.Duration
		for range runs {
			start := time.Now()
			if err := ap.Apply(ctx, c.rs); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			goTimes = append(goTimes, time.Since(start))
			start = time.Now()
			if err := nftFile(ns, file); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			nftTimes = append(nftTimes, time.Since(start))
		}
		if err := sameListing(ctx, ap, ns, file, c.rs); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		g, n := median(goTimes), median(nftTimes)
		ratio := float64(g) / float64(n)
		goal := "-"
		if c.goal > 0 {
			verdict := "met"
			if ratio > c.goal {
				verdict = "MISSED"
			}
			goal = fmt.Sprintf("≤ %.1f %s", c.goal, verdict)
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.2f\t%s\t\n", c.name, ms(g), ms(n), ratio, goal)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	// Re-applying an unchanged ruleset: the agent compares the digest of
	// what it is sent with the digest it applied last, and skips the
	// kernel when they are equal.
	fmt.Println()
	tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "unchanged ruleset: agent-side check\tmedian ms\tgoal\t")
	for _, c := range cases {
		applied := c.rs.Digest()
		var ts []time.Duration
		for range max(runs, 25) {
			start := time.Now()
			if c.rs.Digest() != applied {
				return errors.New("digest is not deterministic")
			}
			ts = append(ts, time.Since(start))
		}
		verdict := "met"
		if median(ts) > 5*time.Millisecond {
			verdict = "MISSED"
		}
		fmt.Fprintf(tw, "digest compare, %s\t%.2f\t≤ 5 %s\t\n", c.name, ms(median(ts)), verdict)
	}
	// For reference: the kernel reads the agent can use to check for drift.
	rs := cases[2].rs
	if err := ap.Apply(ctx, rs); err != nil {
		return err
	}
	for _, probe := range []struct {
		name string
		fn   func() error
	}{
		{"StoredDigest (one rule read), policy 500", func() error {
			d, err := ap.StoredDigest(ctx)
			if err == nil && d != rs.Digest() {
				err = fmt.Errorf("stored digest %s, want %s", d, rs.Digest())
			}
			return err
		}},
		{"full Read + Digest, policy 500", func() error {
			got, err := ap.Read(ctx)
			if err == nil && got.Digest() != rs.Digest() {
				err = errors.New("read back a different ruleset")
			}
			return err
		}},
	} {
		var ts []time.Duration
		for range max(runs, 15) {
			start := time.Now()
			if err := probe.fn(); err != nil {
				return fmt.Errorf("%s: %w", probe.name, err)
			}
			ts = append(ts, time.Since(start))
		}
		fmt.Fprintf(tw, "%s\t%.2f\t-\t\n", probe.name, ms(median(ts)))
	}
	return tw.Flush()
}

// sameListing checks that both tools leave the same table behind.
func sameListing(ctx context.Context, ap *dataplane.Netlink, ns *netns.NS, file string, rs *nft.Ruleset) error {
	if err := ap.Apply(ctx, rs); err != nil {
		return err
	}
	goList, err := nftOut(ns, "list", "table", "inet", "fwgit")
	if err != nil {
		return err
	}
	if err := nftFile(ns, file); err != nil {
		return err
	}
	nftList, err := nftOut(ns, "list", "table", "inet", "fwgit")
	if err != nil {
		return err
	}
	if goList != nftList {
		return errors.New("nft lists different tables after the two applies")
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// nftFile runs `nft -f file` in namespace ns. The child is forked from a
// thread that has entered the namespace, so no `ip netns exec` wrapper
// adds to its time.
func nftFile(ns *netns.NS, file string) error {
	_, err := nftOut(ns, "-f", file)
	return err
}

func nftOut(ns *netns.NS, args ...string) (string, error) {
	var out []byte
	err := ns.Do(func() error {
		var err error
		out, err = exec.Command("nft", args...).CombinedOutput()
		return err
	})
	if err != nil {
		return "", fmt.Errorf("nft %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}
