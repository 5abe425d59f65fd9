package safety

import (
	"net/netip"
	"slices"

	"github.com/fwgit/fwgit/internal/nft"
)

// Comments of the failsafe rules. They start with "fwgit-agent:" so that a
// reader of `nft list table inet fwgit` sees which rules the agent added.
const (
	CommentFailsafeAPI   = "fwgit-agent:failsafe-api"
	CommentFailsafeSSH   = "fwgit-agent:failsafe-ssh"
	CommentFailsafeReply = "fwgit-agent:failsafe-reply"
	CommentFailsafeND    = "fwgit-agent:failsafe-nd"
)

// ndTypes are the ICMPv6 neighbour discovery types (router solicitation and
// advertisement, neighbour solicitation and advertisement) without which
// IPv6 peers on the link cannot reach the host at all.
var ndTypes = []nft.ICMPMatch{{Type: 133}, {Type: 134}, {Type: 135}, {Type: 136}}

// SSHPort is the port [Failsafe] keeps open to the management CIDRs.
const SSHPort = 22

// Failsafe describes the rules the agent adds to every ruleset it applies,
// so that no ruleset, however wrong, cuts off the controller or the
// operators:
//
//   - at the top of each input-hook chain: tcp to APIPort from AllowedIPs,
//     and tcp/22 from MgmtCIDRs, accepted (one rule per family);
//   - at the top of each output-hook chain: established tcp towards
//     AllowedIPs and MgmtCIDRs accepted, so a drop policy or a BLOCK rule on
//     output cannot swallow the replies;
//   - when AllowedIPs or MgmtCIDRs hold IPv6 prefixes, ICMPv6 neighbour
//     discovery accepted first in both, since without it an IPv6 controller
//     or operator loses the host once the neighbour caches expire (IPv4's
//     ARP is not filtered by inet tables).
//
// Chains on other hooks are left alone, and an empty ruleset (no table) stays
// empty: with no table nothing is filtered.
//
// The output rule relies on connection tracking, which the kernel runs in a
// namespace only while some rule uses it. A connection opened while no such
// rule existed (before the agent's very first ruleset, or while our table
// was deleted) is picked up mid-stream as "new", so under an output policy
// of drop the reply on that one connection can be lost; the next connection
// works. The agent restores its ruleset before it listens, so at boot every
// connection is tracked from its first packet. Accepting all tcp to these
// addresses instead would silently override outbound BLOCK rules whenever
// ALLOWED_IPS is wide, so the narrower rule was chosen.
type Failsafe struct {
	APIPort    uint16
	AllowedIPs []netip.Prefix
	MgmtCIDRs  []netip.Prefix
}

// Apply returns rs with the failsafe rules prepended. It never modifies rs:
// the result has its own Chains slice and rule slices, and shares only
// read-only values (sets, address matches) with rs.
func (f Failsafe) Apply(rs *nft.Ruleset) *nft.Ruleset {
	if rs.Empty() {
		return rs
	}
	out := *rs
	out.Chains = slices.Clone(rs.Chains)
	for i := range out.Chains {
		c := &out.Chains[i]
		var pre []nft.Rule
		switch c.Hook {
		case nft.HookInput:
			pre = slices.Concat(f.nd(), f.inbound(f.AllowedIPs, f.APIPort, CommentFailsafeAPI), f.inbound(f.MgmtCIDRs, SSHPort, CommentFailsafeSSH))
		case nft.HookOutput:
			pre = slices.Concat(f.nd(), f.replies())
		}
		if len(pre) == 0 {
			continue
		}
		c.Rules = append(pre, c.Rules...)
	}
	return &out
}

// inbound returns the rules accepting tcp to port from prefixes.
func (f Failsafe) inbound(prefixes []netip.Prefix, port uint16, comment string) []nft.Rule {
	if port == 0 {
		return nil
	}
	var out []nft.Rule
	for _, fam := range []nft.Family{nft.FamilyIPv4, nft.FamilyIPv6} {
		src, ok := match(prefixes, fam)
		if !ok {
			continue
		}
		out = append(out, nft.Rule{
			Family:  fam,
			Src:     src,
			Proto:   nft.ProtoTCP,
			DPorts:  []nft.PortRange{{Lo: port, Hi: port}},
			Verdict: nft.Accept,
			Comment: comment,
		})
	}
	return out
}

// nd returns the rule accepting ICMPv6 neighbour discovery when any allowed
// or management prefix is IPv6.
func (f Failsafe) nd() []nft.Rule {
	if !slices.ContainsFunc(slices.Concat(f.AllowedIPs, f.MgmtCIDRs), func(p netip.Prefix) bool { return !p.Addr().Is4() }) {
		return nil
	}
	return []nft.Rule{{
		Family:  nft.FamilyIPv6,
		Proto:   nft.ProtoICMPv6,
		ICMP:    ndTypes,
		Verdict: nft.Accept,
		Comment: CommentFailsafeND,
	}}
}

// replies returns the output rules accepting established tcp towards the
// allowed and management addresses.
func (f Failsafe) replies() []nft.Rule {
	all := slices.Concat(f.AllowedIPs, f.MgmtCIDRs)
	var out []nft.Rule
	for _, fam := range []nft.Family{nft.FamilyIPv4, nft.FamilyIPv6} {
		dst, ok := match(all, fam)
		if !ok {
			continue
		}
		out = append(out, nft.Rule{
			Family:  fam,
			CTState: nft.CTEstablished,
			Dst:     dst,
			Proto:   nft.ProtoTCP,
			Verdict: nft.Accept,
			Comment: CommentFailsafeReply,
		})
	}
	return out
}

// match returns the address match for the prefixes of family fam: nil when
// they cover the whole family (no match needed), and ok false when there
// are none.
func match(prefixes []netip.Prefix, fam nft.Family) (m *nft.AddrMatch, ok bool) {
	var ps []netip.Prefix
	for _, p := range prefixes {
		if p.Addr().Is4() == (fam == nft.FamilyIPv4) {
			ps = append(ps, p)
		}
	}
	ps = nft.Normalize(ps)
	switch {
	case len(ps) == 0:
		return nil, false
	case ps[0].Bits() == 0:
		return nil, true
	}
	return &nft.AddrMatch{Prefixes: ps}, true
}
