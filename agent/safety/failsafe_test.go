package safety

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/internal/nft"
)

var cmpPrefix = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

func pfx(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// policy returns a small valid ruleset with an input, output and forward
// chain; port varies its content (and so its digest).
func policy(port uint16) *nft.Ruleset {
	return &nft.Ruleset{
		Version: nft.IRVersion,
		Table:   nft.DefaultTable,
		Chains: []nft.Chain{
			{Name: "input", Hook: nft.HookInput, Policy: nft.Drop, Rules: []nft.Rule{
				{CTState: nft.CTEstablished | nft.CTRelated, Verdict: nft.Accept, Comment: "fwgit:established"},
				{Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: port, Hi: port}}, Verdict: nft.Accept, Comment: "rule:web"},
			}},
			{Name: "output", Hook: nft.HookOutput, Policy: nft.Accept, Rules: []nft.Rule{
				{Family: nft.FamilyIPv4, Dst: &nft.AddrMatch{Prefixes: pfx("198.18.0.0/24")}, Verdict: nft.Drop, Comment: "rule:block"},
			}},
			{Name: "forward", Hook: nft.HookForward, Policy: nft.Drop},
		},
	}
}

func TestFailsafeApply(t *testing.T) {
	f := Failsafe{
		APIPort:    33033,
		AllowedIPs: pfx("198.18.0.10/32", "198.18.0.0/24", "fd00::1/128"),
		MgmtCIDRs:  pfx("198.19.0.0/16"),
	}
	in := policy(443)
	before := clone(in)
	got := f.Apply(in)

	if diff := cmp.Diff(before, in, cmpPrefix); diff != "" {
		t.Fatalf("Apply modified its input (-before +after):\n%s", diff)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("failsafe ruleset does not validate: %v", err)
	}
	tcp := func(fam nft.Family, src []netip.Prefix, port uint16, comment string) nft.Rule {
		return nft.Rule{Family: fam, Src: &nft.AddrMatch{Prefixes: src}, Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: port, Hi: port}}, Verdict: nft.Accept, Comment: comment}
	}
	nd := nft.Rule{Family: nft.FamilyIPv6, Proto: nft.ProtoICMPv6, ICMP: ndTypes, Verdict: nft.Accept, Comment: CommentFailsafeND}
	wantInput := append([]nft.Rule{
		nd,
		tcp(nft.FamilyIPv4, pfx("198.18.0.0/24"), 33033, CommentFailsafeAPI),
		tcp(nft.FamilyIPv6, pfx("fd00::1/128"), 33033, CommentFailsafeAPI),
		tcp(nft.FamilyIPv4, pfx("198.19.0.0/16"), 22, CommentFailsafeSSH),
	}, before.Chains[0].Rules...)
	wantOutput := append([]nft.Rule{
		nd,
		{Family: nft.FamilyIPv4, CTState: nft.CTEstablished, Dst: &nft.AddrMatch{Prefixes: pfx("198.18.0.0/24", "198.19.0.0/16")}, Proto: nft.ProtoTCP, Verdict: nft.Accept, Comment: CommentFailsafeReply},
		{Family: nft.FamilyIPv6, CTState: nft.CTEstablished, Dst: &nft.AddrMatch{Prefixes: pfx("fd00::1/128")}, Proto: nft.ProtoTCP, Verdict: nft.Accept, Comment: CommentFailsafeReply},
	}, before.Chains[1].Rules...)
	if diff := cmp.Diff(wantInput, got.Chains[0].Rules, cmpPrefix); diff != "" {
		t.Errorf("input chain (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantOutput, got.Chains[1].Rules, cmpPrefix); diff != "" {
		t.Errorf("output chain (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before.Chains[2], got.Chains[2], cmpPrefix); diff != "" {
		t.Errorf("forward chain changed (-want +got):\n%s", diff)
	}
	if got.Digest() == in.Digest() {
		t.Errorf("effective digest equals the controller's; want them to differ")
	}
}

func TestFailsafeEdgeCases(t *testing.T) {
	tests := []struct {
		name      string
		f         Failsafe
		in        *nft.Ruleset
		wantInput int // failsafe rules at the top of the input chain
	}{
		{"everyone allowed needs no address match", Failsafe{APIPort: 33033, AllowedIPs: pfx("0.0.0.0/0", "::/0")}, policy(80), 3},
		{"no mgmt, v4 only: no neighbour discovery rule", Failsafe{APIPort: 33033, AllowedIPs: pfx("127.0.0.1/32")}, policy(80), 1},
		{"v6 management only", Failsafe{APIPort: 33033, AllowedIPs: pfx("127.0.0.1/32"), MgmtCIDRs: pfx("fd00::/8")}, policy(80), 3},
		{"empty ruleset stays empty", Failsafe{APIPort: 33033, AllowedIPs: pfx("127.0.0.1/32")}, &nft.Ruleset{Version: nft.IRVersion, Table: "fwgit"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.f.Apply(tc.in)
			if tc.in.Empty() {
				if !got.Empty() {
					t.Fatalf("Apply(empty) = %d chains, want none", len(got.Chains))
				}
				return
			}
			if err := got.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			n := len(got.Chains[0].Rules) - len(tc.in.Chains[0].Rules)
			if n != tc.wantInput {
				t.Errorf("input chain got %d failsafe rules, want %d", n, tc.wantInput)
			}
			for _, r := range got.Chains[0].Rules[:n] {
				if tc.f.AllowedIPs[0].Bits() == 0 && r.Src != nil {
					t.Errorf("rule %v matches a source, want none for /0", r.String())
				}
			}
		})
	}
}
