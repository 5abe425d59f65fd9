package compile

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/internal/nft"
	"github.com/fwgit/fwgit/schema/fwrule"
)

// ruleCode is what one manifest rule compiles to, whichever firewall it lands
// on: the input-chain rules for firewalls on its TO side and the output-chain
// rules for firewalls on its FROM side, with the named sets each uses.
type ruleCode struct {
	r       *model.Rule
	in, out []nft.Rule
	// inSets and outSets index the compiler's sets.
	inSets, outSets []int
}

// code compiles r once per compilation.
func (c *compiler) code(r *model.Rule) *ruleCode {
	if rc, ok := c.codes[r]; ok {
		return rc
	}
	rc := &ruleCode{r: r}
	p := r.Parsed
	if !noop(r, true) {
		var sets []nft.Set
		rc.in, sets = c.direction(r, p.From, true)
		rc.inSets = c.setIDs(sets)
	}
	if !noop(r, false) {
		var sets []nft.Set
		rc.out, sets = c.direction(r, p.To, false)
		rc.outSets = c.setIDs(sets)
	}
	c.codes[r] = rc
	return rc
}

// setIDs numbers the named sets of one compilation, so that assembling a
// firewall can collect them with array stamps instead of map lookups.
func (c *compiler) setIDs(sets []nft.Set) []int {
	var ids []int
	for _, s := range sets {
		id, ok := c.setID[s.Name]
		if !ok {
			id = len(c.sets)
			c.setID[s.Name] = id
			c.sets = append(c.sets, s)
			c.setStamp = append(c.setStamp, 0)
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// addrSide is the address expansion of one side of a rule.
type addrSide struct {
	any    bool
	v4, v6 group
	// The matches of each family, and their named sets when the group
	// is large.
	m4, m6     *nft.AddrMatch
	set4, set6 *nft.Set
}

// addresses expands the targets of the other side of r: any means no
// address match; ip and subnet are taken as written; tag, vm and all vms
// become the addresses of the firewalls they select within r's scope,
// disabled firewalls included. Rules of one scope often share a side
// ("tag role = web"), so expansions are memoised per scope and side.
func (c *compiler) addresses(r *model.Rule, targets []fwrule.Target) *addrSide {
	key := sideKey(r, targets)
	if s, ok := c.sides[key]; ok {
		return s
	}
	s := &addrSide{}
	c.sides[key] = s
	var ps []netip.Prefix
	for _, t := range targets {
		switch t.Kind {
		case fwrule.TargetAny:
			s.any = true
			return s
		case fwrule.TargetIP:
			if a, err := netip.ParseAddr(t.Value); err == nil {
				ps = append(ps, netip.PrefixFrom(a, a.BitLen()))
			}
		case fwrule.TargetSubnet:
			if p, err := parseSubnet(t.Value); err == nil {
				ps = append(ps, p)
			}
		}
	}
	for _, f := range c.side(r, targets) {
		for _, a := range f.Addresses {
			ps = append(ps, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	s.v4, s.v6 = splitFamilies(ps)
	s.m4, s.set4 = addrMatch(nft.FamilyIPv4, s.v4, "")
	s.m6, s.set6 = addrMatch(nft.FamilyIPv6, s.v6, "")
	return s
}

// sideKey identifies a side within a rule's scope.
func sideKey(r *model.Rule, targets []fwrule.Target) string {
	var b strings.Builder
	if r.Global {
		b.WriteString("*")
	} else {
		b.WriteString(r.Owner)
	}
	for _, t := range targets {
		b.WriteByte(0)
		b.WriteByte(byte('0' + t.Kind))
		b.WriteString(t.Value)
		if t.HasValue {
			b.WriteByte(1)
			b.WriteString(t.TagValue)
		}
	}
	return b.String()
}

// parseSubnet parses a CIDR as the rule language writes it, tolerating the
// leading zeros fwrule accepts ("010.0.0.0/08"), and masks host bits.
func parseSubnet(s string) (netip.Prefix, error) {
	addr, bits, ok := strings.Cut(s, "/")
	if !ok {
		return netip.Prefix{}, fmt.Errorf("subnet %q has no prefix length", s)
	}
	a, err := netip.ParseAddr(addr)
	if err != nil && !strings.Contains(addr, ":") {
		// fwrule's subnet check accepts leading zeros in IPv4 octets.
		parts := strings.Split(addr, ".")
		for i, p := range parts {
			parts[i] = strings.TrimLeft(p, "0")
			if parts[i] == "" {
				parts[i] = "0"
			}
		}
		a, err = netip.ParseAddr(strings.Join(parts, "."))
	}
	if err != nil {
		return netip.Prefix{}, err
	}
	n := 0
	for _, ch := range bits {
		if ch < '0' || ch > '9' {
			return netip.Prefix{}, fmt.Errorf("subnet %q: bad prefix length", s)
		}
		n = n*10 + int(ch-'0')
		if n > 128 {
			return netip.Prefix{}, fmt.Errorf("subnet %q: bad prefix length", s)
		}
	}
	p, err := a.Prefix(n)
	if err != nil {
		return netip.Prefix{}, err
	}
	return p, nil
}

// direction compiles r for one chain: inbound rules match the source against
// the FROM side, outbound rules the destination against the TO side.
func (c *compiler) direction(r *model.Rule, other []fwrule.Target, inbound bool) ([]nft.Rule, []nft.Set) {
	p := r.Parsed
	side := c.addresses(r, other)
	type famAddrs struct {
		fam nft.Family
		ps  group
	}
	var fams []famAddrs
	switch {
	case side.any && p.Protocol == fwrule.ICMP:
		fams = []famAddrs{{fam: nft.FamilyIPv4}}
	case side.any && p.Protocol == fwrule.ICMP6:
		fams = []famAddrs{{fam: nft.FamilyIPv6}}
	case side.any:
		fams = []famAddrs{{fam: nft.FamilyAny}}
	default:
		if len(side.v4.prefixes) > 0 && p.Protocol != fwrule.ICMP6 {
			fams = append(fams, famAddrs{nft.FamilyIPv4, side.v4})
		}
		if len(side.v6.prefixes) > 0 && p.Protocol != fwrule.ICMP {
			fams = append(fams, famAddrs{nft.FamilyIPv6, side.v6})
		}
	}
	base := nft.Rule{Verdict: nft.Accept, Comment: RuleComment(r.UUID)}
	if p.Action == fwrule.Block {
		base.Verdict = nft.Drop
	}
	if r.Log {
		base.Log = LogPrefix(r.UUID)
	}
	var rules []nft.Rule
	var sets []nft.Set
	for _, fa := range fams {
		nr := base
		nr.Family = fa.fam
		if !side.any {
			m, set := side.m4, side.set4
			if fa.fam == nft.FamilyIPv6 {
				m, set = side.m6, side.set6
			}
			if set != nil {
				sets = append(sets, *set)
			}
			if inbound {
				nr.Src = m
			} else {
				nr.Dst = m
			}
		}
		rules = append(rules, protoRules(nr, p)...)
	}
	return rules, sets
}

// protoRules adds the protocol matches of p to nr: tcp/udp ports, icmp types
// (one rule for the entries without a code, one per entry with a code), or
// the bare protocol for ah and esp.
func protoRules(nr nft.Rule, p *fwrule.Rule) []nft.Rule {
	switch p.Protocol {
	case fwrule.TCP, fwrule.UDP:
		nr.Proto = nft.ProtoTCP
		if p.Protocol == fwrule.UDP {
			nr.Proto = nft.ProtoUDP
		}
		if !p.AllPorts {
			nr.DPorts = portRanges(p.Ports)
		}
		return []nft.Rule{nr}
	case fwrule.ICMP, fwrule.ICMP6:
		nr.Proto = nft.ProtoICMP
		if p.Protocol == fwrule.ICMP6 {
			nr.Proto = nft.ProtoICMPv6
		}
		if p.AllTypes {
			return []nft.Rule{nr}
		}
		var plain []nft.ICMPMatch
		var coded []nft.ICMPMatch
		for _, t := range p.Types {
			m := nft.ICMPMatch{Type: uint8(t.Type)}
			if t.HasCode {
				code := uint8(t.Code)
				m.Code = &code
				coded = append(coded, m)
			} else {
				plain = append(plain, m)
			}
		}
		slices.SortFunc(plain, func(a, b nft.ICMPMatch) int { return cmp.Compare(a.Type, b.Type) })
		plain = slices.CompactFunc(plain, func(a, b nft.ICMPMatch) bool { return a.Type == b.Type })
		slices.SortFunc(coded, func(a, b nft.ICMPMatch) int {
			return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(*a.Code, *b.Code))
		})
		coded = slices.CompactFunc(coded, func(a, b nft.ICMPMatch) bool { return a.Type == b.Type && *a.Code == *b.Code })
		var out []nft.Rule
		if len(plain) > 0 {
			r := nr
			r.ICMP = plain
			out = append(out, r)
		}
		for _, m := range coded {
			r := nr
			r.ICMP = []nft.ICMPMatch{m}
			out = append(out, r)
		}
		return out
	case fwrule.AH:
		nr.Proto = nft.ProtoAH
		return []nft.Rule{nr}
	case fwrule.ESP:
		nr.Proto = nft.ProtoESP
		return []nft.Rule{nr}
	}
	return nil
}

// portRanges converts the port list to the IR's sorted, merged ranges.
func portRanges(ports []fwrule.Port) []nft.PortRange {
	rs := make([]nft.PortRange, 0, len(ports))
	for _, p := range ports {
		if p.Lo < 1 || p.Hi > 65535 || p.Lo > p.Hi {
			continue
		}
		rs = append(rs, nft.PortRange{Lo: uint16(p.Lo), Hi: uint16(p.Hi)})
	}
	return nft.NormalizePorts(rs)
}
