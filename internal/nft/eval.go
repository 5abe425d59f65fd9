package nft

import (
	"net/netip"
	"sort"
	"strings"
)

// Packet is what the reference evaluator needs to know about one packet.
type Packet struct {
	// Hook is where the packet is seen: input for traffic to the host,
	// output for traffic from it.
	Hook Hook
	// Family is ipv4 or ipv6; when empty it is taken from Src (or Dst).
	Family Family
	Src    netip.Addr
	Dst    netip.Addr
	// Proto is the layer-4 protocol; ProtoAny means one the IR has no name
	// for, which no protocol match accepts.
	Proto Proto
	// DPort is the destination port for tcp and udp.
	DPort uint16
	// ICMPType and ICMPCode are the type and code for icmp and icmpv6.
	ICMPType uint8
	ICMPCode uint8
	// CTState is the packet's conntrack state, one bit. Zero means
	// [CTNew], the state of the first packet of a connection, which is
	// what tests usually describe.
	CTState CTState
	// IIF and OIF are the input and output interface names ("" when the
	// hook has none, as for iif at output).
	IIF, OIF string
}

// Result is the outcome of [Ruleset.Eval].
type Result struct {
	Verdict Verdict
	// Chain is the base chain that decided, or "" when no chain has the
	// packet's hook.
	Chain string
	// Rule is the index of the deciding rule in Chain, or -1 when the
	// chain policy (or the absence of a chain) decided.
	Rule int
	// Comment is the deciding rule's comment.
	Comment string
	// Matched is the deciding rule, or nil.
	Matched *Rule
}

// Eval returns what the ruleset does with p, with nftables semantics: it
// walks the base chain of p's hook in order, and the first matching rule
// with a verdict decides (a log-only rule matches and goes on); when no rule
// decides, the chain's policy does. With no chain for the hook, or an empty
// ruleset, the packet is accepted. Eval expects a ruleset that passes
// [Ruleset.Validate]; a rule that refers to a missing set matches nothing.
func (r *Ruleset) Eval(p Packet) Result {
	if r.Empty() {
		return Result{Verdict: Accept, Rule: -1}
	}
	if p.Family == FamilyAny {
		p.Family = addrFamily(p.Src)
		if p.Family == FamilyAny {
			p.Family = addrFamily(p.Dst)
		}
	}
	if p.CTState == 0 {
		p.CTState = CTNew
	}
	for ci := range r.Chains {
		c := &r.Chains[ci]
		if c.Hook != p.Hook {
			continue
		}
		for ri := range c.Rules {
			ru := &c.Rules[ri]
			if ru.Verdict == "" || !r.matches(ru, &p) {
				continue
			}
			return Result{Verdict: ru.Verdict, Chain: c.Name, Rule: ri, Comment: ru.Comment, Matched: ru}
		}
		return Result{Verdict: c.Policy, Chain: c.Name, Rule: -1}
	}
	return Result{Verdict: Accept, Rule: -1}
}

// Matches reports whether every match of ru holds for p, looking up named
// sets in r. The packet is taken as it is: Family and CTState are not
// defaulted as [Ruleset.Eval] does.
func (r *Ruleset) Matches(ru *Rule, p Packet) bool { return r.matches(ru, &p) }

func (r *Ruleset) matches(ru *Rule, p *Packet) bool {
	if ru.Family != FamilyAny && ru.Family != p.Family {
		return false
	}
	if ru.IIF != "" && !ifNameMatch(ru.IIF, p.IIF) {
		return false
	}
	if ru.OIF != "" && !ifNameMatch(ru.OIF, p.OIF) {
		return false
	}
	if ru.CTState != 0 && ru.CTState&p.CTState == 0 {
		return false
	}
	if ru.Src != nil && !r.addrMatch(ru.Src, ru.Family, p.Src) {
		return false
	}
	if ru.Dst != nil && !r.addrMatch(ru.Dst, ru.Family, p.Dst) {
		return false
	}
	if ru.Proto != ProtoAny && ru.Proto != p.Proto {
		return false
	}
	if len(ru.DPorts) > 0 && !portMatch(ru.DPorts, p.DPort) {
		return false
	}
	if len(ru.ICMP) > 0 && !icmpMatch(ru.ICMP, p.ICMPType, p.ICMPCode) {
		return false
	}
	return true
}

// ifNameMatch mirrors nft's iifname/oifname: an exact match, or a prefix
// match when the pattern ends in '*'.
func ifNameMatch(pattern, name string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(name, prefix)
	}
	return pattern == name
}

// addrMatch mirrors `ip saddr`/`ip6 saddr`: the address is read from the
// header of the rule's family, so an IPv4 address never matches an IPv6
// prefix, and an IPv4-mapped IPv6 address matches only IPv6 prefixes.
func (r *Ruleset) addrMatch(m *AddrMatch, fam Family, a netip.Addr) bool {
	if !a.IsValid() || addrFamily(a) != fam {
		return false
	}
	a = a.WithZone("")
	if m.Set != "" {
		for i := range r.Sets {
			if r.Sets[i].Name == m.Set {
				return setFamily(r.Sets[i].Type) == fam && prefixesContain(r.Sets[i].Elements, a)
			}
		}
		return false
	}
	return prefixesContain(m.Prefixes, a)
}

// prefixesContain reports whether a lies in one of ps, which are
// normalised: sorted and non-overlapping, so a binary search finds the only
// candidate.
func prefixesContain(ps []netip.Prefix, a netip.Addr) bool {
	i := sort.Search(len(ps), func(i int) bool { return ps[i].Addr().Compare(a) > 0 })
	return i > 0 && ps[i-1].Contains(a)
}

func portMatch(rs []PortRange, port uint16) bool {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].Hi >= port })
	return i < len(rs) && rs[i].Lo <= port
}

func icmpMatch(ms []ICMPMatch, typ, code uint8) bool {
	for _, m := range ms {
		if m.Type == typ && (m.Code == nil || *m.Code == code) {
			return true
		}
	}
	return false
}

func addrFamily(a netip.Addr) Family {
	switch {
	case a.Is4():
		return FamilyIPv4
	case a.Is6():
		return FamilyIPv6
	}
	return FamilyAny
}
