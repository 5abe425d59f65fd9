package nft

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEval(t *testing.T) {
	r := sampleRuleset()
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	a := mustAddr
	in4 := func(src string, proto Proto, port uint16) Packet {
		return Packet{Hook: HookInput, Src: a(src), Dst: a("198.18.0.1"), Proto: proto, DPort: port}
	}
	in6 := func(src string, proto Proto, port uint16) Packet {
		return Packet{Hook: HookInput, Src: a(src), Dst: a("fd00:1::1"), Proto: proto, DPort: port}
	}
	icmp := func(fam Family, src string, proto Proto, typ, code uint8) Packet {
		p := Packet{Hook: HookInput, Family: fam, Src: a(src), Proto: proto, ICMPType: typ, ICMPCode: code}
		return p
	}
	type want struct {
		Verdict Verdict
		Chain   string
		Rule    int
		Comment string
	}
	policy := want{Drop, "input", -1, ""}
	tests := []struct {
		name string
		p    Packet
		want want
	}{
		{"established", Packet{Hook: HookInput, Src: a("203.0.113.9"), Proto: ProtoTCP, DPort: 9999, CTState: CTEstablished}, want{Accept, "input", 0, "fwgit:established"}},
		{"related", Packet{Hook: HookInput, Src: a("fd00::9"), Proto: ProtoUDP, CTState: CTRelated}, want{Accept, "input", 0, "fwgit:established"}},
		{"invalid dropped before allow", Packet{Hook: HookInput, Src: a("198.18.0.10"), Proto: ProtoTCP, DPort: 80, CTState: CTInvalid}, want{Drop, "input", 1, "fwgit:invalid"}},
		{"loopback", Packet{Hook: HookInput, IIF: "lo", Src: a("127.0.0.1"), Proto: ProtoTCP, DPort: 1}, want{Accept, "input", 2, "fwgit:loopback"}},
		{"iif must match exactly", Packet{Hook: HookInput, IIF: "lo0", Src: a("127.0.0.1"), Proto: ProtoTCP, DPort: 1}, policy},
		{"nd", icmp("", "fe80::1", ProtoICMPv6, 135, 0), want{Accept, "input", 3, "fwgit:nd"}},
		{"icmpv6 other type", icmp("", "fe80::1", ProtoICMPv6, 128, 0), policy},
		{"management ssh", in4("198.18.100.200", ProtoTCP, 22), want{Accept, "input", 4, "fwgit:management"}},
		{"management outside prefix", in4("198.18.101.1", ProtoTCP, 22), policy},
		{"management udp", in4("198.18.100.1", ProtoUDP, 22), policy},
		{"set member port", in4("198.18.0.11", ProtoTCP, 443), want{Accept, "input", 5, "rule:1a2b3c4d-0000-4000-8000-000000000001"}},
		{"set member range low", in4("198.18.1.255", ProtoTCP, 8000), want{Accept, "input", 5, "rule:1a2b3c4d-0000-4000-8000-000000000001"}},
		{"set member range high", in4("198.18.1.0", ProtoTCP, 8999), want{Accept, "input", 5, "rule:1a2b3c4d-0000-4000-8000-000000000001"}},
		{"set member outside range", in4("198.18.1.0", ProtoTCP, 9000), policy},
		{"set member other port", in4("198.18.0.10", ProtoTCP, 81), policy},
		{"not a set member", in4("198.18.0.12", ProtoTCP, 80), policy},
		{"set member udp", in4("198.18.0.10", ProtoUDP, 80), policy},
		{"v6 set member", in6("fd00:1::11", ProtoTCP, 80), want{Accept, "input", 6, "rule:1a2b3c4d-0000-4000-8000-000000000001"}},
		{"v6 not member", in6("fd00:1::12", ProtoTCP, 80), policy},
		{"mapped v4 is not the v4 member", in6("::ffff:198.18.0.10", ProtoTCP, 80), policy},
		{"family from packet wins", Packet{Hook: HookInput, Family: FamilyIPv6, Src: a("198.18.0.10"), Proto: ProtoTCP, DPort: 80}, policy},
		{"echo request code 0", icmp(FamilyIPv4, "203.0.113.1", ProtoICMP, 8, 0), want{Accept, "input", 7, "rule:2"}},
		{"echo request code 1", icmp(FamilyIPv4, "203.0.113.1", ProtoICMP, 8, 1), policy},
		{"echo reply", icmp(FamilyIPv4, "203.0.113.1", ProtoICMP, 0, 0), policy},
		{"icmp in v6 packet", icmp(FamilyIPv6, "fd00::1", ProtoICMP, 8, 0), policy},
		{"udp dns drop both matches", Packet{Hook: HookInput, Src: a("198.18.9.9"), Dst: a("198.18.0.1"), Proto: ProtoUDP, DPort: 53}, want{Drop, "input", 8, "rule:3"}},
		{"udp dns other dst", Packet{Hook: HookInput, Src: a("198.18.9.9"), Dst: a("198.18.0.2"), Proto: ProtoUDP, DPort: 53}, policy},
		{"esp any family", Packet{Hook: HookInput, Src: a("fd00::5"), Proto: ProtoESP}, want{Accept, "input", 9, "rule:4"}},
		{"ah log only falls to policy", Packet{Hook: HookInput, Src: a("fd00::5"), Proto: ProtoAH}, policy},
		{"unknown proto", Packet{Hook: HookInput, Src: a("198.18.0.10"), Proto: ProtoAny}, policy},
		{"output default accept", Packet{Hook: HookOutput, Dst: a("198.18.0.1"), Proto: ProtoTCP, DPort: 22}, want{Accept, "output", -1, ""}},
		{"output oif wildcard", Packet{Hook: HookOutput, OIF: "veth-a", Dst: a("fd00:2::1"), Proto: ProtoUDP}, want{Drop, "output", 0, "rule:5"}},
		{"output oif wildcard prefix only", Packet{Hook: HookOutput, OIF: "vet", Dst: a("fd00:2::1"), Proto: ProtoUDP}, want{Accept, "output", -1, ""}},
		{"output other dst", Packet{Hook: HookOutput, OIF: "veth0", Dst: a("fd00:3::1"), Proto: ProtoUDP}, want{Accept, "output", -1, ""}},
		{"no forward chain", Packet{Hook: HookForward, Src: a("198.18.0.1"), Proto: ProtoTCP}, want{Accept, "", -1, ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := r.Eval(tc.p)
			got := want{res.Verdict, res.Chain, res.Rule, res.Comment}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Eval(%+v) mismatch (-want +got):\n%s", tc.p, diff)
			}
			if (res.Rule >= 0) != (res.Matched != nil) {
				t.Errorf("Eval: Rule = %d but Matched = %v", res.Rule, res.Matched)
			}
			if res.Matched != nil && res.Matched != &r.Chains[0].Rules[res.Rule] && res.Matched != &r.Chains[1].Rules[res.Rule] {
				t.Errorf("Eval: Matched does not point at the deciding rule")
			}
		})
	}
}

func TestEvalEmpty(t *testing.T) {
	for _, r := range []*Ruleset{nil, {Version: IRVersion, Table: DefaultTable}} {
		got := r.Eval(Packet{Hook: HookInput, Src: mustAddr("198.18.0.1"), Proto: ProtoTCP, DPort: 22})
		if got.Verdict != Accept || got.Rule != -1 || got.Matched != nil {
			t.Errorf("Eval on an empty ruleset = %+v, want accept by no rule", got)
		}
	}
}

func TestPrefixesContain(t *testing.T) {
	ps := Normalize(pfx("10.0.0.0/8", "198.18.0.0/24", "198.18.2.0/23", "255.255.255.255"))
	tests := []struct {
		addr string
		want bool
	}{
		{"9.255.255.255", false}, {"10.0.0.0", true}, {"10.255.255.255", true}, {"11.0.0.0", false},
		{"198.18.0.255", true}, {"198.18.1.0", false}, {"198.18.3.255", true}, {"198.18.4.0", false},
		{"255.255.255.255", true}, {"0.0.0.0", false}, {"::ffff:10.0.0.1", false},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			if got := prefixesContain(ps, netip.MustParseAddr(tc.addr)); got != tc.want {
				t.Errorf("prefixesContain(%v, %s) = %v, want %v", ps, tc.addr, got, tc.want)
			}
		})
	}
}

func TestPortMatch(t *testing.T) {
	rs := []PortRange{{22, 22}, {80, 80}, {1000, 2000}, {65535, 65535}}
	for port, want := range map[uint16]bool{0: false, 21: false, 22: true, 23: false, 80: true, 999: false, 1000: true, 1500: true, 2000: true, 2001: false, 65534: false, 65535: true} {
		if got := portMatch(rs, port); got != want {
			t.Errorf("portMatch(%v, %d) = %v, want %v", rs, port, got, want)
		}
	}
}
