package nettest

import (
	"bufio"
	"context"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	vnetns "github.com/vishvananda/netns"

	"github.com/fwgit/fwgit/internal/netns"
)

// capNetAdmin is the bit of CAP_NET_ADMIN in the capability sets.
const capNetAdmin = 12

// cleanupTimeout bounds the removal of a namespace when a test ends.
const cleanupTimeout = 10 * time.Second

var (
	requireOnce sync.Once
	requireMsg  string
)

// Require skips the test unless it can run real-kernel tests: not in
// -short mode, with CAP_NET_ADMIN in the effective set, with the `ip` and
// `nft` commands on PATH, and where `ip netns add` works (checked once per
// test binary). The message says what is missing. Like
// tailscale's RequireRoot, it is the first line of every kernel test.
func Require(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("kernel test skipped in -short mode")
	}
	requireOnce.Do(func() { requireMsg = missing() })
	if requireMsg != "" {
		t.Skip("kernel test skipped: " + requireMsg)
	}
}

// missing returns what the kernel tests lack, or "".
func missing() string {
	eff, err := effectiveCaps()
	if err != nil {
		return "reading capabilities: " + err.Error()
	}
	if eff&(1<<capNetAdmin) == 0 {
		return "needs CAP_NET_ADMIN (run as root or under `unshare -rn`, see make test-netns)"
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "needs the " + tool + " command on PATH"
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	ns, err := netns.NewUnique(ctx, "probe")
	if err != nil {
		return "cannot create a network namespace: " + err.Error()
	}
	if err := ns.Delete(ctx); err != nil {
		return "cannot delete a network namespace: " + err.Error()
	}
	return ""
}

// effectiveCaps reads CapEff from /proc/self/status.
func effectiveCaps() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, sc.Err()
}

// NewNS calls [Require], creates a fresh namespace named after the test
// ("fwgit-t-…") and deletes it in t.Cleanup.
func NewNS(t testing.TB) *netns.NS {
	t.Helper()
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	ns, err := netns.NewUnique(ctx, "t")
	if err != nil {
		t.Fatalf("creating network namespace: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := ns.Delete(ctx); err != nil {
			t.Errorf("removing network namespace: %v", err)
		}
	})
	return ns
}

// Pair is two fresh namespaces joined by a veth pair, with an IPv4 and an
// IPv6 address on each end.
type Pair struct {
	// A and B are the namespaces; AIf and BIf their ends of the pair.
	A, B     *netns.NS
	AIf, BIf string
	// A4, A6, B4, B6 are the addresses of A's and B's ends.
	A4, A6, B4, B6 netip.Addr
}

// The addresses of every [Pair]: benchmarking (198.18.0.0/15) and unique
// local (fd00::/8) space, the same in every pair since each pair lives in
// its own namespaces.
var (
	pairA4 = netip.MustParsePrefix("198.18.0.1/24")
	pairB4 = netip.MustParsePrefix("198.18.0.2/24")
	pairA6 = netip.MustParsePrefix("fd00:18::1/64")
	pairB6 = netip.MustParsePrefix("fd00:18::2/64")
)

// NewPair creates two namespaces (removed in t.Cleanup) joined by a veth
// pair: A's end "veth-a" holds 198.18.0.1/24 and fd00:18::1/64, B's end
// "veth-b" 198.18.0.2/24 and fd00:18::2/64. Both ends are up and the IPv6
// addresses usable at once.
func NewPair(t testing.TB) *Pair {
	t.Helper()
	p := &Pair{A: NewNS(t), B: NewNS(t), AIf: "veth-a", BIf: "veth-b",
		A4: pairA4.Addr(), A6: pairA6.Addr(), B4: pairB4.Addr(), B6: pairB6.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	err := netns.Veth(ctx,
		netns.End{NS: p.A, Name: p.AIf, Addrs: []netip.Prefix{pairA4, pairA6}},
		netns.End{NS: p.B, Name: p.BIf, Addrs: []netip.Prefix{pairB4, pairB6}})
	if err != nil {
		t.Fatalf("joining namespaces: %v", err)
	}
	return p
}

// NFTList returns the text of `nft list table inet NAME` in ns. It fails
// the test when the table does not exist.
func NFTList(t testing.TB, ns *netns.NS, table string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	out, err := ns.Run(ctx, nil, "nft", "list", "table", "inet", table)
	if err != nil {
		t.Fatalf("listing table inet %s in %s: %v", table, ns.Name, err)
	}
	return out
}

// NFT runs the nft command with args in ns and returns its standard
// output, failing the test on error.
func NFT(t testing.TB, ns *netns.NS, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := ns.Run(ctx, nil, "nft", args...)
	if err != nil {
		t.Fatalf("in %s: %v", ns.Name, err)
	}
	return out
}

// LoadNFT loads an nft script into ns with `nft -f -`, failing the test on
// error.
func LoadNFT(t testing.TB, ns *netns.NS, script string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := ns.LoadNFT(ctx, script); err != nil {
		t.Fatal(err)
	}
}

// NFTConn returns a google/nftables connection bound to ns; the namespace
// handle is closed in t.Cleanup. Options such as socket buffer sizes may
// be added.
func NFTConn(t testing.TB, ns *netns.NS, opts ...nftables.ConnOption) *nftables.Conn {
	t.Helper()
	h, err := vnetns.GetFromName(ns.Name)
	if err != nil {
		t.Fatalf("opening namespace %s: %v", ns.Name, err)
	}
	t.Cleanup(func() { h.Close() })
	c, err := nftables.New(append([]nftables.ConnOption{nftables.WithNetNSFd(int(h))}, opts...)...)
	if err != nil {
		t.Fatalf("nftables connection in %s: %v", ns.Name, err)
	}
	return c
}
