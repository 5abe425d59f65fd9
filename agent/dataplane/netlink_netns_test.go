//go:build linux && netns

package dataplane

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/fwgit/fwgit/internal/netns"
	"github.com/fwgit/fwgit/internal/nettest"
	"github.com/fwgit/fwgit/internal/nft"
)

func newApplier(t *testing.T, ns *netns.NS) *Netlink {
	t.Helper()
	n, err := NewNetlink(Options{NetNSPath: ns.Path(), Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

func mustApply(t *testing.T, n *Netlink, rs *nft.Ruleset) {
	t.Helper()
	if err := n.Apply(context.Background(), rs); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func mustRead(t *testing.T, n *Netlink) *nft.Ruleset {
	t.Helper()
	rs, err := n.Read(context.Background())
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return rs
}

func TestNetlinkApplyRead(t *testing.T) {
	nettest.Require(t)
	ns := nettest.NewNS(t)
	n := newApplier(t, ns)
	ctx := context.Background()
	empty := &nft.Ruleset{Version: nft.IRVersion, Table: nft.DefaultTable}
	for _, rs := range []*nft.Ruleset{
		sampleRuleset(), manyRules(200), realisticPolicy(500), manyCIDRs(3000), empty, empty, sampleRuleset(),
	} {
		mustApply(t, n, rs)
		got := mustRead(t, n)
		want := rs
		if rs.Empty() {
			want = empty
		}
		if diff := cmp.Diff(want, got, cmpIR); diff != "" {
			t.Fatalf("Read after Apply mismatch (-applied +read):\n%s", diff)
		}
		if got.Digest() != rs.Digest() {
			t.Errorf("Read().Digest() = %s, want %s", got.Digest(), rs.Digest())
		}
		d, err := n.StoredDigest(ctx)
		wantD := rs.Digest()
		if rs.Empty() {
			wantD = ""
		}
		if err != nil || d != wantD {
			t.Errorf("StoredDigest = %q, %v, want %q", d, err, wantD)
		}
		tables := nettest.NFT(t, ns, "list", "tables")
		if has := strings.Contains(tables, "table inet fwgit"); has == rs.Empty() {
			t.Errorf("after applying a ruleset (empty %v) nft lists tables:\n%s", rs.Empty(), tables)
		}
	}
}

func TestNetlinkRuleLessTable(t *testing.T) {
	nettest.Require(t)
	ns := nettest.NewNS(t)
	n := newApplier(t, ns)
	rs := &nft.Ruleset{Version: nft.IRVersion, Table: nft.DefaultTable, Chains: []nft.Chain{
		{Name: "input", Hook: nft.HookInput, Policy: nft.Accept},
		{Name: "output", Hook: nft.HookOutput, Policy: nft.Accept, Priority: 5},
	}}
	mustApply(t, n, rs)
	// No rule carries the digest: StoredDigest falls back to reading.
	if d, err := n.StoredDigest(context.Background()); err != nil || d != rs.Digest() {
		t.Errorf("StoredDigest = %q, %v, want %q", d, err, rs.Digest())
	}
}

// TestNetlinkMatchesRender loads the same rulesets through Apply and
// through `nft -f` of Render in two namespaces; nft must list the same
// table for both (the nft CLI is the oracle).
func TestNetlinkMatchesRender(t *testing.T) {
	nettest.Require(t)
	for name, rs := range map[string]*nft.Ruleset{
		"sample":    sampleRuleset(),
		"realistic": realisticPolicy(500),
		"cidrs":     manyCIDRs(2000),
	} {
		t.Run(name, func(t *testing.T) {
			a, b := nettest.NewNS(t), nettest.NewNS(t)
			mustApply(t, newApplier(t, a), rs)
			nettest.LoadNFT(t, b, rs.RenderReplace())
			got := nettest.NFTList(t, a, "fwgit")
			want := nettest.NFTList(t, b, "fwgit")
			if got != want {
				t.Errorf("nft list table differs (-nft -f +netlink):\n%s", cmp.Diff(want, got))
			}
		})
	}
}

func TestNetlinkForeignTableUntouched(t *testing.T) {
	nettest.Require(t)
	ns := nettest.NewNS(t)
	nettest.LoadNFT(t, ns, `table inet other {
	set blocked { type ipv4_addr; flags interval; elements = { 198.18.9.0/24 } }
	chain input { type filter hook input priority -10; policy accept;
		ip saddr @blocked counter packets 7 bytes 420 drop
		tcp dport 22 counter packets 3 bytes 180 accept comment "ssh"
	}
	chain helper {
		counter packets 1 bytes 2
	}
}
table ip fwgit {
	chain c { type filter hook output priority 0; policy accept;
		counter packets 9 bytes 9
	}
}
`)
	list := func() string {
		return nettest.NFT(t, ns, "-a", "list", "table", "inet", "other") + nettest.NFT(t, ns, "-a", "list", "table", "ip", "fwgit")
	}
	before := list()
	n := newApplier(t, ns)
	empty := &nft.Ruleset{Version: nft.IRVersion, Table: nft.DefaultTable}
	for i := range 30 {
		switch i % 4 {
		case 0:
			mustApply(t, n, sampleRuleset())
		case 1:
			mustApply(t, n, manyCIDRs(500))
		case 2:
			mustApply(t, n, empty)
		case 3:
			mustApply(t, n, manyRules(50))
		}
		if _, err := n.Read(context.Background()); err != nil {
			t.Fatalf("Read: %v", err)
		}
	}
	if after := list(); after != before {
		t.Errorf("foreign tables changed:\n%s", cmp.Diff(before, after))
	}
}

func TestNetlinkLarge(t *testing.T) {
	nettest.Require(t)
	if testing.Short() {
		t.Skip("large rulesets take seconds")
	}
	ns := nettest.NewNS(t)
	n := newApplier(t, ns)
	t.Run("10000 rules", func(t *testing.T) {
		rs := manyRules(10000)
		mustApply(t, n, rs)
		got := mustRead(t, n)
		if count := len(got.Chains[0].Rules); count != 10001 {
			t.Errorf("read back %d rules, want 10001", count)
		}
		if got.Digest() != rs.Digest() {
			t.Errorf("digest %s, want %s", got.Digest(), rs.Digest())
		}
	})
	t.Run("50000 cidrs", func(t *testing.T) {
		rs := manyCIDRs(50000)
		mustApply(t, n, rs)
		got := mustRead(t, n)
		var elems int
		for _, s := range got.Sets {
			elems += len(s.Elements)
		}
		if want := 50000 + 50000/4; elems != want {
			t.Errorf("read back %d elements, want %d", elems, want)
		}
		if got.Digest() != rs.Digest() {
			t.Errorf("digest %s, want %s", got.Digest(), rs.Digest())
		}
		// Count with the nft CLI too: every /30 is listed once.
		out := nettest.NFT(t, ns, "list", "set", "inet", "fwgit", rs.Sets[0].Name)
		if c := strings.Count(out, "/30"); c != 50000 {
			t.Errorf("nft lists %d /30 elements, want 50000", c)
		}
	})
}

func TestNetlinkRejectedKeepsOld(t *testing.T) {
	nettest.Require(t)
	ns := nettest.NewNS(t)
	n := newApplier(t, ns)
	old := sampleRuleset()
	mustApply(t, n, old)
	// The IR cannot express a rule the kernel refuses, so the test appends
	// one after the valid batch: a lookup in a set that does not exist,
	// the last message, as in the probe of spec/nftables-limits.md §4.
	n.testExtra = func(c *nftables.Conn, tb *nftables.Table) {
		c.AddRule(&nftables.Rule{Table: tb, Chain: &nftables.Chain{Name: "input", Table: tb}, Exprs: []expr.Any{
			exprNFProto, exprIsIPv4, exprAddr[0][0], &expr.Lookup{SourceRegister: reg1, SetName: "nosuchset"}, exprAccept,
		}})
	}
	err := n.Apply(context.Background(), manyRules(300))
	if err == nil {
		t.Fatal("Apply succeeded with a batch the kernel must refuse")
	}
	if errors.Is(err, ErrUnknownOutcome) {
		t.Errorf("Apply = %v: a refused batch is a known outcome", err)
	}
	n.testExtra = nil
	if got := mustRead(t, n); got.Digest() != old.Digest() {
		t.Errorf("after a refused apply the table is %s, want the old %s", got.Digest(), old.Digest())
	}
	if d, err := n.StoredDigest(context.Background()); err != nil || d != old.Digest() {
		t.Errorf("StoredDigest = %q, %v, want %q", d, err, old.Digest())
	}
}

// TestNetlinkLostReply forces the G2 case: a receive buffer far too small
// for the acknowledgements, so the reply is lost (ENOBUFS) although the
// batch committed. Apply must find out by reading back and succeed.
func TestNetlinkLostReply(t *testing.T) {
	nettest.Require(t)
	ns := nettest.NewNS(t)
	n := newApplier(t, ns)
	n.testReadBuf = 4096
	rs := manyRules(2000)
	if err := n.Apply(context.Background(), rs); err != nil {
		t.Fatalf("Apply with a lost reply = %v, want nil after reading back", err)
	}
	n.testReadBuf = 0
	if got := mustRead(t, n); got.Digest() != rs.Digest() {
		t.Errorf("table digest %s, want %s", got.Digest(), rs.Digest())
	}
}

// TestNetlinkBatchTooLarge forces G1: a send buffer smaller than the
// batch. Nothing reaches the kernel, so the outcome is known: an error that
// is not ErrUnknownOutcome, and the old table in place.
func TestNetlinkBatchTooLarge(t *testing.T) {
	nettest.Require(t)
	ns := nettest.NewNS(t)
	n := newApplier(t, ns)
	old := sampleRuleset()
	mustApply(t, n, old)
	n.testWriteBuf = 4096
	err := n.Apply(context.Background(), manyRules(2000))
	if err == nil || errors.Is(err, ErrUnknownOutcome) {
		t.Errorf("Apply with a too small send buffer = %v, want a known failure", err)
	}
	n.testWriteBuf = 0
	if got := mustRead(t, n); got.Digest() != old.Digest() {
		t.Errorf("table digest %s, want the old %s", got.Digest(), old.Digest())
	}
}

func TestNetlinkCanceled(t *testing.T) {
	nettest.Require(t)
	ns := nettest.NewNS(t)
	n := newApplier(t, ns)
	old := sampleRuleset()
	mustApply(t, n, old)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.Apply(ctx, manyRules(10)); !errors.Is(err, context.Canceled) {
		t.Errorf("Apply = %v, want context.Canceled", err)
	}
	if _, err := n.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Read = %v, want context.Canceled", err)
	}
	if got := mustRead(t, n); got.Digest() != old.Digest() {
		t.Errorf("a canceled apply changed the table")
	}
}

// ruleHandle returns the handle of the rule in chain whose listing
// contains text.
func ruleHandle(t *testing.T, ns *netns.NS, chain, text string) string {
	t.Helper()
	out := nettest.NFT(t, ns, "-a", "list", "chain", "inet", "fwgit", chain)
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, text) {
			if m := regexp.MustCompile(`# handle (\d+)`).FindStringSubmatch(line); m != nil {
				return m[1]
			}
		}
	}
	t.Fatalf("no rule with %q in:\n%s", text, out)
	return ""
}

func TestNetlinkDetectsEdits(t *testing.T) {
	nettest.Require(t)
	rs := sampleRuleset()
	setName := rs.Sets[0].Name
	type want struct {
		foreign      bool // Read reports ErrForeign
		storedStays  bool // StoredDigest still says rs (the cheap check misses it)
		tableMissing bool
	}
	tests := []struct {
		name string
		edit func(t *testing.T, ns *netns.NS)
		want want
	}{
		{"append a rule", func(t *testing.T, ns *netns.NS) {
			nettest.NFT(t, ns, "add", "rule", "inet", "fwgit", "input", "tcp", "dport", "9999", "accept")
		}, want{storedStays: true}},
		{"append a counter", func(t *testing.T, ns *netns.NS) {
			nettest.NFT(t, ns, "add", "rule", "inet", "fwgit", "input", "counter")
		}, want{foreign: true, storedStays: true}},
		{"insert a rule at the top", func(t *testing.T, ns *netns.NS) {
			nettest.NFT(t, ns, "insert", "rule", "inet", "fwgit", "input", "ip", "saddr", "198.18.0.99", "drop")
		}, want{}},
		{"delete the first rule", func(t *testing.T, ns *netns.NS) {
			nettest.NFT(t, ns, "delete", "rule", "inet", "fwgit", "input", "handle", ruleHandle(t, ns, "input", "fwgit:established"))
		}, want{}},
		{"delete a middle rule", func(t *testing.T, ns *netns.NS) {
			nettest.NFT(t, ns, "delete", "rule", "inet", "fwgit", "input", "handle", ruleHandle(t, ns, "input", "fwgit:management"))
		}, want{storedStays: true}},
		{"flush the input chain", func(t *testing.T, ns *netns.NS) {
			nettest.NFT(t, ns, "flush", "chain", "inet", "fwgit", "input")
		}, want{}},
		{"change a policy", func(t *testing.T, ns *netns.NS) {
			nettest.NFT(t, ns, "add", "chain", "inet", "fwgit", "input", "{ type filter hook input priority 0; policy accept; }")
		}, want{storedStays: true}},
		{"add a set element", func(t *testing.T, ns *netns.NS) {
			nettest.NFT(t, ns, "add", "element", "inet", "fwgit", setName, "{ 198.18.99.1 }")
		}, want{storedStays: true}},
		{"add a chain", func(t *testing.T, ns *netns.NS) {
			nettest.NFT(t, ns, "add", "chain", "inet", "fwgit", "extra")
		}, want{foreign: true, storedStays: true}},
		{"make the table dormant", func(t *testing.T, ns *netns.NS) {
			nettest.NFT(t, ns, "add", "table", "inet", "fwgit", "{ flags dormant; }")
		}, want{foreign: true, storedStays: true}},
		{"delete the table", func(t *testing.T, ns *netns.NS) {
			nettest.NFT(t, ns, "delete", "table", "inet", "fwgit")
		}, want{tableMissing: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			ns := nettest.NewNS(t)
			n := newApplier(t, ns)
			mustApply(t, n, rs)
			tc.edit(t, ns)
			got, err := n.Read(ctx)
			switch {
			case tc.want.foreign:
				if !errors.Is(err, ErrForeign) {
					t.Errorf("Read = %v, want ErrForeign", err)
				}
			case err != nil:
				t.Errorf("Read: %v", err)
			case tc.want.tableMissing && !got.Empty():
				t.Errorf("Read after deleting the table is not empty")
			case got.Digest() == rs.Digest():
				t.Errorf("Read does not see the edit: digest unchanged")
			}
			d, err := n.StoredDigest(ctx)
			switch {
			case err != nil && !errors.Is(err, ErrForeign):
				t.Errorf("StoredDigest: %v", err)
			case tc.want.storedStays && d != rs.Digest():
				t.Errorf("StoredDigest = %q, want the applied %q", d, rs.Digest())
			case !tc.want.storedStays && d == rs.Digest():
				t.Errorf("StoredDigest does not see the edit")
			}
			// Re-applying repairs every edit.
			mustApply(t, n, rs)
			if got := mustRead(t, n); got.Digest() != rs.Digest() {
				t.Errorf("after repair: digest %s, want %s", got.Digest(), rs.Digest())
			}
		})
	}
}

func TestNetlinkForeignChains(t *testing.T) {
	nettest.Require(t)
	ns := nettest.NewNS(t)
	n := newApplier(t, ns)
	mustApply(t, n, sampleRuleset())
	nettest.LoadNFT(t, ns, `table ip filter {
	chain INPUT { type filter hook input priority 0; policy drop; }
	chain FORWARD { type filter hook forward priority 0; policy accept; }
	chain user { }
}
table inet other {
	chain out { type filter hook output priority -10; policy accept; }
}
table ip nat {
	chain pre { type nat hook prerouting priority -100; policy accept; }
}
table ip6 six {
	chain in6 { type filter hook input priority 10; policy drop; }
}
`)
	got, err := n.ForeignChains(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []ForeignChain{
		{Family: "inet", Table: "other", Chain: "out", Hook: "output", Priority: -10, Policy: "accept"},
		{Family: "ip", Table: "filter", Chain: "FORWARD", Hook: "forward", Priority: 0, Policy: "accept"},
		{Family: "ip", Table: "filter", Chain: "INPUT", Hook: "input", Priority: 0, Policy: "drop"},
		{Family: "ip6", Table: "six", Chain: "in6", Hook: "input", Priority: 10, Policy: "drop"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ForeignChains mismatch (-want +got):\n%s", diff)
	}
}

// connects reports whether a TCP connection from the pair's B (the
// client) to addr in A (the firewall) completes within timeout.
func connects(t *testing.T, p *nettest.Pair, addr netip.AddrPort, timeout time.Duration) bool {
	t.Helper()
	ok, err := netns.Probe{Client: p.B, Server: p.A, Timeout: timeout}.TCP(context.Background(), addr)
	if err != nil {
		t.Errorf("dial %s: %v", addr, err)
	}
	return ok
}

// TestNetlinkPackets applies rulesets in a firewall namespace and proves
// with real TCP connections from a client namespace, over a veth pair and
// in both families, that what is allowed connects and what is not does
// not; then replaces the ruleset and proves the change took effect.
func TestNetlinkPackets(t *testing.T) {
	nettest.Require(t)
	// A is the firewall, B the client.
	pair := nettest.NewPair(t)
	ports := []int{22, 80, 5432, 8080}
	fw4, fw6 := pair.A4, pair.A6
	cl4 := []netip.Prefix{netip.PrefixFrom(pair.B4, 32)}
	cl6 := []netip.Prefix{netip.PrefixFrom(pair.B6, 128)}
	clNet4 := netip.PrefixFrom(pair.B4, 24).Masked() // 198.18.0.0/24
	base := []nft.Rule{
		{CTState: nft.CTEstablished | nft.CTRelated, Verdict: nft.Accept},
		{CTState: nft.CTInvalid, Verdict: nft.Drop},
		{IIF: "lo", Verdict: nft.Accept},
		{Family: nft.FamilyIPv6, Proto: nft.ProtoICMPv6, ICMP: []nft.ICMPMatch{{Type: 133}, {Type: 134}, {Type: 135}, {Type: 136}}, Verdict: nft.Accept},
	}
	policy := func(allow4, allow6 []nft.Rule) *nft.Ruleset {
		s4, s6 := nft.SetName(nft.SetIPv4, cl4), nft.SetName(nft.SetIPv6, cl6)
		rules := append(append(append([]nft.Rule{}, base...), allow4...), allow6...)
		for i := range rules {
			if rules[i].Src != nil && rules[i].Src.Set == "v4" {
				rules[i].Src = &nft.AddrMatch{Set: s4}
			}
			if rules[i].Src != nil && rules[i].Src.Set == "v6" {
				rules[i].Src = &nft.AddrMatch{Set: s6}
			}
		}
		return &nft.Ruleset{Version: nft.IRVersion, Table: nft.DefaultTable,
			Sets: []nft.Set{{Name: s4, Type: nft.SetIPv4, Elements: cl4}, {Name: s6, Type: nft.SetIPv6, Elements: cl6}},
			Chains: []nft.Chain{
				{Name: "input", Hook: nft.HookInput, Policy: nft.Drop, Rules: rules},
				{Name: "output", Hook: nft.HookOutput, Policy: nft.Accept},
			}}
	}
	tcp := func(fam nft.Family, src *nft.AddrMatch, ps ...nft.PortRange) nft.Rule {
		return nft.Rule{Family: fam, Src: src, Proto: nft.ProtoTCP, DPorts: ps, Verdict: nft.Accept}
	}
	one := func(p uint16) nft.PortRange { return nft.PortRange{Lo: p, Hi: p} }
	steps := []struct {
		name  string
		rs    *nft.Ruleset
		allow map[int]bool
	}{
		{"ssh by prefix, web by set", policy(
			[]nft.Rule{tcp(nft.FamilyIPv4, &nft.AddrMatch{Prefixes: cl4}, one(22)), tcp(nft.FamilyIPv4, &nft.AddrMatch{Set: "v4"}, one(80))},
			[]nft.Rule{tcp(nft.FamilyIPv6, &nft.AddrMatch{Prefixes: cl6}, one(22)), tcp(nft.FamilyIPv6, &nft.AddrMatch{Set: "v6"}, one(80))},
		), map[int]bool{22: true, 80: true}},
		{"database by range and list, web gone", policy(
			[]nft.Rule{tcp(nft.FamilyIPv4, &nft.AddrMatch{Prefixes: []netip.Prefix{clNet4, netip.MustParsePrefix("198.19.0.0/16")}}, one(22), nft.PortRange{Lo: 5000, Hi: 5999})},
			[]nft.Rule{tcp(nft.FamilyIPv6, &nft.AddrMatch{Set: "v6"}, one(22), one(5432))},
		), map[int]bool{22: true, 5432: true}},
		{"other source only", policy(
			[]nft.Rule{tcp(nft.FamilyIPv4, &nft.AddrMatch{Prefixes: []netip.Prefix{netip.MustParsePrefix("198.18.2.0/24")}}, one(22), one(80), one(5432), one(8080))},
			[]nft.Rule{tcp(nft.FamilyIPv6, &nft.AddrMatch{Prefixes: []netip.Prefix{netip.MustParsePrefix("fd00:2::/64")}}, one(22), one(80), one(5432), one(8080))},
		), map[int]bool{}},
	}
	n := newApplier(t, pair.A)
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			mustApply(t, n, st.rs)
			// Probe in parallel: a blocked port costs the whole timeout.
			var wg sync.WaitGroup
			for _, a := range []netip.Addr{fw4, fw6} {
				for _, p := range ports {
					timeout := 2 * time.Second
					if !st.allow[p] {
						timeout = 400 * time.Millisecond
					}
					wg.Go(func() {
						if got := connects(t, pair, netip.AddrPortFrom(a, uint16(p)), timeout); got != st.allow[p] {
							t.Errorf("connect to %s port %d = %v, want %v", a, p, got, st.allow[p])
						}
					})
				}
			}
			wg.Wait()
		})
	}
	// With our table gone, nothing filters: every port connects.
	mustApply(t, n, &nft.Ruleset{Version: nft.IRVersion, Table: nft.DefaultTable})
	for _, p := range ports {
		if !connects(t, pair, netip.AddrPortFrom(fw4, uint16(p)), 2*time.Second) {
			t.Errorf("port %d blocked after the table was deleted", p)
		}
	}
}

// TestNetlinkUnknownUserdataInvisible checks the assumption the stored
// digest rests on: nft ignores the userdata type that carries it.
func TestNetlinkUnknownUserdataInvisible(t *testing.T) {
	nettest.Require(t)
	ns := nettest.NewNS(t)
	mustApply(t, newApplier(t, ns), sampleRuleset())
	out := nettest.NFTList(t, ns, "fwgit")
	if bytes.Contains([]byte(out), []byte("sha256")) {
		t.Errorf("nft shows the digest:\n%s", out)
	}
}
