package nft

import "net/netip"

func u8(v uint8) *uint8 { return &v }

// sampleRuleset is a small ruleset in the shape the compiler produces,
// using every kind of match.
func sampleRuleset() *Ruleset {
	web4 := pfx("198.18.0.10", "198.18.0.11", "198.18.1.0/24")
	web6 := pfx("fd00:1::10", "fd00:1::11")
	return &Ruleset{
		Version: IRVersion,
		Table:   DefaultTable,
		Sets: []Set{
			{Name: SetName(SetIPv6, web6), Type: SetIPv6, Elements: Normalize(web6), Comment: "tag role = www"},
			{Name: SetName(SetIPv4, web4), Type: SetIPv4, Elements: Normalize(web4), Comment: "tag role = www"},
		},
		Chains: []Chain{
			{Name: "input", Hook: HookInput, Priority: 0, Policy: Drop, Rules: []Rule{
				{CTState: CTEstablished | CTRelated, Verdict: Accept, Comment: "fwgit:established"},
				{CTState: CTInvalid, Verdict: Drop, Comment: "fwgit:invalid"},
				{IIF: "lo", Verdict: Accept, Comment: "fwgit:loopback"},
				{Family: FamilyIPv6, Proto: ProtoICMPv6, ICMP: []ICMPMatch{{Type: 133}, {Type: 134}, {Type: 135}, {Type: 136}}, Verdict: Accept, Comment: "fwgit:nd"},
				{Family: FamilyIPv4, Src: &AddrMatch{Prefixes: pfx("198.18.100.0/24")}, Proto: ProtoTCP, DPorts: []PortRange{{22, 22}}, Verdict: Accept, Comment: "fwgit:management"},
				{Family: FamilyIPv4, Src: &AddrMatch{Set: SetName(SetIPv4, web4)}, Proto: ProtoTCP, DPorts: []PortRange{{80, 80}, {443, 443}, {8000, 8999}}, Log: "fwgit 1a2b3c4d ", Verdict: Accept, Comment: "rule:1a2b3c4d-0000-4000-8000-000000000001"},
				{Family: FamilyIPv6, Src: &AddrMatch{Set: SetName(SetIPv6, web6)}, Proto: ProtoTCP, DPorts: []PortRange{{80, 80}, {443, 443}, {8000, 8999}}, Log: "fwgit 1a2b3c4d ", Verdict: Accept, Comment: "rule:1a2b3c4d-0000-4000-8000-000000000001"},
				{Family: FamilyIPv4, Proto: ProtoICMP, ICMP: []ICMPMatch{{Type: 8, Code: u8(0)}}, Verdict: Accept, Comment: "rule:2"},
				{Family: FamilyIPv4, Src: &AddrMatch{Prefixes: pfx("198.18.7.0/24", "198.18.9.9")}, Dst: &AddrMatch{Prefixes: pfx("198.18.0.1")}, Proto: ProtoUDP, DPorts: []PortRange{{53, 53}}, Verdict: Drop, Comment: "rule:3"},
				{Proto: ProtoESP, Verdict: Accept, Comment: "rule:4"},
				{Family: FamilyIPv6, Proto: ProtoAH, Log: "ah seen"},
			}},
			{Name: "output", Hook: HookOutput, Priority: 0, Policy: Accept, Rules: []Rule{
				{Family: FamilyIPv6, OIF: "veth*", Dst: &AddrMatch{Prefixes: pfx("fd00:2::/64")}, Verdict: Drop, Comment: "rule:5"},
			}},
		},
	}
}

// mustAddr parses an address or panics; for test tables only.
func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
