package dataplanetest

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/fwgit/fwgit/internal/nft"
)

// Sample returns a realistic ruleset that uses every match the IR
// has: the always-present rules, named sets of both families, inline
// prefixes, port lists and ranges, ICMP with and without codes, interface
// names (exact and wildcard), logging and comments.
func Sample() *nft.Ruleset {
	code := uint8(4)
	web4 := nft.Normalize([]netip.Prefix{
		netip.MustParsePrefix("198.18.0.0/24"),
		netip.MustParsePrefix("198.18.7.1/32"),
		netip.MustParsePrefix("203.0.113.0/25"),
	})
	web6 := nft.Normalize([]netip.Prefix{
		netip.MustParsePrefix("fd00:1::/64"),
		netip.MustParsePrefix("fd00:2::5/128"),
	})
	s4 := nft.SetName(nft.SetIPv4, web4)
	s6 := nft.SetName(nft.SetIPv6, web6)
	rs := &nft.Ruleset{
		Version: nft.IRVersion,
		Table:   nft.DefaultTable,
		Sets: []nft.Set{
			{Name: s4, Type: nft.SetIPv4, Elements: web4, Comment: "tag role=web"},
			{Name: s6, Type: nft.SetIPv6, Elements: web6},
		},
		Chains: []nft.Chain{
			{Name: "input", Hook: nft.HookInput, Priority: 0, Policy: nft.Drop, Rules: []nft.Rule{
				{CTState: nft.CTEstablished | nft.CTRelated, Verdict: nft.Accept, Comment: "fwgit:established"},
				{CTState: nft.CTInvalid, Verdict: nft.Drop, Comment: "fwgit:invalid"},
				{IIF: "lo", Verdict: nft.Accept, Comment: "fwgit:loopback"},
				{Family: nft.FamilyIPv6, Proto: nft.ProtoICMPv6, ICMP: []nft.ICMPMatch{{Type: 133}, {Type: 134}, {Type: 135}, {Type: 136}}, Verdict: nft.Accept, Comment: "fwgit:nd"},
				{Family: nft.FamilyIPv4, Src: &nft.AddrMatch{Prefixes: []netip.Prefix{netip.MustParsePrefix("198.18.0.10/32")}}, Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: 33033, Hi: 33033}}, Verdict: nft.Accept, Comment: "fwgit:controller"},
				{Family: nft.FamilyIPv4, Src: &nft.AddrMatch{Prefixes: []netip.Prefix{netip.MustParsePrefix("198.18.128.0/17"), netip.MustParsePrefix("203.0.113.128/26")}}, Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: 22, Hi: 22}}, Verdict: nft.Accept, Comment: "fwgit:management"},
				{Family: nft.FamilyIPv4, Src: &nft.AddrMatch{Set: s4}, Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: 80, Hi: 80}, {Lo: 443, Hi: 443}, {Lo: 8000, Hi: 8099}}, Verdict: nft.Accept, Comment: "rule:7f0c2a6e-0000-4000-8000-000000000001"},
				{Family: nft.FamilyIPv6, Src: &nft.AddrMatch{Set: s6}, Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: 5432, Hi: 5432}}, Log: "fwgit rule 2 ", Verdict: nft.Accept, Comment: "rule:7f0c2a6e-0000-4000-8000-000000000002"},
				{Family: nft.FamilyIPv4, Dst: &nft.AddrMatch{Prefixes: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/15")}}, Proto: nft.ProtoUDP, DPorts: []nft.PortRange{{Lo: 1000, Hi: 2000}}, Verdict: nft.Accept},
				{Family: nft.FamilyIPv4, Proto: nft.ProtoICMP, ICMP: []nft.ICMPMatch{{Type: 3, Code: &code}}, Verdict: nft.Accept},
				{Family: nft.FamilyIPv4, Proto: nft.ProtoICMP, ICMP: []nft.ICMPMatch{{Type: 0}, {Type: 8}}, Verdict: nft.Accept},
				{IIF: "veth*", Proto: nft.ProtoESP, Verdict: nft.Accept},
				{Family: nft.FamilyIPv6, Src: &nft.AddrMatch{Prefixes: []netip.Prefix{netip.MustParsePrefix("fd00:9::/48"), netip.MustParsePrefix("fd00:a::1/128")}}, Dst: &nft.AddrMatch{Prefixes: []netip.Prefix{netip.MustParsePrefix("fd00:b::/56")}}, Proto: nft.ProtoUDP, DPorts: []nft.PortRange{{Lo: 53, Hi: 53}, {Lo: 60000, Hi: 65535}}, Verdict: nft.Accept},
				{Proto: nft.ProtoAH, Log: "ah seen", Comment: "log only"},
				{CTState: nft.CTNew, Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: 1, Hi: 1023}}, Log: "drop low", Verdict: nft.Drop},
			}},
			{Name: "output", Hook: nft.HookOutput, Priority: 10, Policy: nft.Accept, Rules: []nft.Rule{
				{OIF: "eth0", Family: nft.FamilyIPv4, Dst: &nft.AddrMatch{Prefixes: []netip.Prefix{netip.MustParsePrefix("198.19.0.0/16")}}, Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: 25, Hi: 25}}, Verdict: nft.Drop},
			}},
			{Name: "forward", Hook: nft.HookForward, Priority: -5, Policy: nft.Drop},
		},
	}
	return rs
}

// ManyRules returns a ruleset of n rules, each one source address and one
// port: the one-rule-per-entry shape that costs the kernel the most.
func ManyRules(n int) *nft.Ruleset {
	rules := make([]nft.Rule, 0, n+1)
	rules = append(rules, nft.Rule{IIF: "lo", Verdict: nft.Accept})
	for i := range n {
		a := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		rules = append(rules, nft.Rule{
			Family:  nft.FamilyIPv4,
			Src:     &nft.AddrMatch{Prefixes: []netip.Prefix{netip.PrefixFrom(a, 32)}},
			Proto:   nft.ProtoTCP,
			DPorts:  []nft.PortRange{{Lo: uint16(1024 + i%50000), Hi: uint16(1024 + i%50000)}},
			Verdict: nft.Accept,
			Comment: fmt.Sprintf("rule:%d", i),
		})
	}
	return &nft.Ruleset{Version: nft.IRVersion, Table: nft.DefaultTable, Chains: []nft.Chain{
		{Name: "input", Hook: nft.HookInput, Policy: nft.Drop, Rules: rules},
	}}
}

// ManyCIDRs returns a ruleset with n disjoint, non-adjacent IPv4 /30s and
// n/4 IPv6 /64s in two named sets, matched by two rules.
func ManyCIDRs(n int) *nft.Ruleset {
	v4 := make([]netip.Prefix, 0, n)
	for i := range n {
		// every other /30 of 10.0.0.0/8 so no two merge
		x := uint32(10)<<24 | uint32(i)<<3
		v4 = append(v4, netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)}), 30))
	}
	v6 := make([]netip.Prefix, 0, n/4)
	for i := range n / 4 {
		var b [16]byte
		b[0] = 0xfd
		binary.BigEndian.PutUint32(b[4:8], uint32(i)*2) // every other /64
		v6 = append(v6, netip.PrefixFrom(netip.AddrFrom16(b), 64))
	}
	v4 = nft.Normalize(v4)
	v6 = nft.Normalize(v6)
	s4, s6 := nft.SetName(nft.SetIPv4, v4), nft.SetName(nft.SetIPv6, v6)
	return &nft.Ruleset{Version: nft.IRVersion, Table: nft.DefaultTable,
		Sets: []nft.Set{{Name: s4, Type: nft.SetIPv4, Elements: v4}, {Name: s6, Type: nft.SetIPv6, Elements: v6}},
		Chains: []nft.Chain{{Name: "input", Hook: nft.HookInput, Policy: nft.Drop, Rules: []nft.Rule{
			{IIF: "lo", Verdict: nft.Accept},
			{Family: nft.FamilyIPv4, Src: &nft.AddrMatch{Set: s4}, Verdict: nft.Accept},
			{Family: nft.FamilyIPv6, Src: &nft.AddrMatch{Set: s6}, Verdict: nft.Accept},
		}}},
	}
}

// Realistic returns a policy of about n rules shaped like the compiler's
// output for a mid-sized fleet: the always-present rules first, then user
// rules that allow tag groups (named sets of both families, a few hundred
// addresses each), small lists of addresses, port lists and ranges, ICMP,
// some with logging, every rule with its rule comment; and an output chain
// with a few blocks.
func Realistic(n int) *nft.Ruleset {
	code0 := uint8(0)
	rs := &nft.Ruleset{Version: nft.IRVersion, Table: nft.DefaultTable}
	var v4sets, v6sets []string
	for g := range 24 {
		var p4, p6 []netip.Prefix
		for h := range 10 + 17*g%190 {
			p4 = append(p4, netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(g), byte(h)}), 32))
			var b [16]byte
			b[0], b[3], b[15] = 0xfd, byte(g), byte(h)
			p6 = append(p6, netip.PrefixFrom(netip.AddrFrom16(b), 128))
		}
		p4, p6 = nft.Normalize(p4), nft.Normalize(p6)
		n4, n6 := nft.SetName(nft.SetIPv4, p4), nft.SetName(nft.SetIPv6, p6)
		rs.Sets = append(rs.Sets,
			nft.Set{Name: n4, Type: nft.SetIPv4, Elements: p4, Comment: fmt.Sprintf("tag role=group%d", g)},
			nft.Set{Name: n6, Type: nft.SetIPv6, Elements: p6, Comment: fmt.Sprintf("tag role=group%d", g)})
		v4sets, v6sets = append(v4sets, n4), append(v6sets, n6)
	}
	slices.SortFunc(rs.Sets, func(a, b nft.Set) int { return strings.Compare(a.Name, b.Name) })
	in := []nft.Rule{
		{CTState: nft.CTEstablished | nft.CTRelated, Verdict: nft.Accept, Comment: "fwgit:established"},
		{CTState: nft.CTInvalid, Verdict: nft.Drop, Comment: "fwgit:invalid"},
		{IIF: "lo", Verdict: nft.Accept, Comment: "fwgit:loopback"},
		{Family: nft.FamilyIPv6, Proto: nft.ProtoICMPv6, ICMP: []nft.ICMPMatch{{Type: 133}, {Type: 134}, {Type: 135}, {Type: 136}}, Verdict: nft.Accept, Comment: "fwgit:nd"},
		{Family: nft.FamilyIPv4, Src: &nft.AddrMatch{Prefixes: []netip.Prefix{netip.MustParsePrefix("198.18.255.10/32")}}, Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: 33033, Hi: 33033}}, Verdict: nft.Accept, Comment: "fwgit:controller"},
		{Family: nft.FamilyIPv4, Src: &nft.AddrMatch{Prefixes: []netip.Prefix{netip.MustParsePrefix("198.19.0.0/24")}}, Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: 22, Hi: 22}}, Verdict: nft.Accept, Comment: "fwgit:management"},
	}
	for i := 0; len(in) < n-4; i++ {
		c := fmt.Sprintf("rule:7f0c2a6e-0000-4000-8000-%012d", i)
		port := uint16(1000 + i%30000)
		switch i % 6 {
		case 0, 1: // a tag group on one port, both families
			g := i % len(v4sets)
			in = append(in,
				nft.Rule{Family: nft.FamilyIPv4, Src: &nft.AddrMatch{Set: v4sets[g]}, Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: port, Hi: port}}, Verdict: nft.Accept, Comment: c},
				nft.Rule{Family: nft.FamilyIPv6, Src: &nft.AddrMatch{Set: v6sets[g]}, Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: port, Hi: port}}, Verdict: nft.Accept, Comment: c})
		case 2: // a few addresses, a port list
			ps := nft.Normalize([]netip.Prefix{
				netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 200, byte(i)}), 32),
				netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 201, byte(i)}), 32),
				netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 202, byte(i)}), 32),
			})
			in = append(in, nft.Rule{Family: nft.FamilyIPv4, Src: &nft.AddrMatch{Prefixes: ps}, Proto: nft.ProtoTCP,
				DPorts: []nft.PortRange{{Lo: 80, Hi: 80}, {Lo: 443, Hi: 443}, {Lo: port, Hi: port + 9}}, Verdict: nft.Accept, Comment: c})
		case 3: // anyone, udp
			in = append(in, nft.Rule{Proto: nft.ProtoUDP, DPorts: []nft.PortRange{{Lo: port, Hi: port}}, Verdict: nft.Accept, Comment: c})
		case 4: // a subnet, logged
			in = append(in, nft.Rule{Family: nft.FamilyIPv4, Src: &nft.AddrMatch{Prefixes: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(i), 0}), 24)}},
				Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: port, Hi: port}}, Log: c[:20], Verdict: nft.Accept, Comment: c})
		case 5: // ping from a group
			in = append(in, nft.Rule{Family: nft.FamilyIPv4, Src: &nft.AddrMatch{Set: v4sets[i%len(v4sets)]}, Proto: nft.ProtoICMP,
				ICMP: []nft.ICMPMatch{{Type: 8, Code: &code0}}, Verdict: nft.Accept, Comment: c})
		}
	}
	out := []nft.Rule{
		{Family: nft.FamilyIPv4, Dst: &nft.AddrMatch{Prefixes: []netip.Prefix{netip.MustParsePrefix("198.19.128.0/17")}}, Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: 25, Hi: 25}}, Verdict: nft.Drop, Comment: "rule:out-1"},
		{Family: nft.FamilyIPv4, Dst: &nft.AddrMatch{Set: v4sets[0]}, Proto: nft.ProtoUDP, DPorts: []nft.PortRange{{Lo: 53, Hi: 53}}, Verdict: nft.Drop, Comment: "rule:out-2"},
		{Family: nft.FamilyIPv6, Dst: &nft.AddrMatch{Set: v6sets[1]}, Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: 1, Hi: 1023}}, Verdict: nft.Drop, Comment: "rule:out-3"},
		{Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: 6667, Hi: 6669}}, Log: "irc ", Verdict: nft.Drop, Comment: "rule:out-4"},
	}
	rs.Chains = []nft.Chain{
		{Name: "input", Hook: nft.HookInput, Policy: nft.Drop, Rules: in},
		{Name: "output", Hook: nft.HookOutput, Policy: nft.Accept, Rules: out},
		{Name: "forward", Hook: nft.HookForward, Policy: nft.Drop},
	}
	return rs
}
