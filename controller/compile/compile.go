package compile

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/internal/nft"
	"github.com/fwgit/fwgit/schema/fwrule"
)

// Comments of the always-present rules. They come before every user rule and
// no user rule can override them.
const (
	CommentEstablished = "fwgit:established"
	CommentInvalid     = "fwgit:invalid"
	CommentLoopback    = "fwgit:loopback"
	CommentNeighbour   = "fwgit:icmpv6-nd"
	CommentAgent       = "fwgit:agent"
	CommentManagement  = "fwgit:management"
)

// Chain names of the compiled table.
const (
	ChainInput  = "input"
	ChainOutput = "output"
)

// MaxInline is the largest address group written inline in a rule; larger
// groups become named interval sets shared by every rule that uses them.
const MaxInline = 4

// SSHPort is the port the management (anti-lockout) rule opens.
const SSHPort = 22

const rulePrefix = "rule:"

// RuleComment returns the comment carried by every nftables rule compiled
// from the Rule with this UUID.
func RuleComment(uuid string) string { return rulePrefix + uuid }

// RuleUUID returns the UUID named by a comment made by [RuleComment], and
// false for any other comment (such as the fwgit:… rules).
func RuleUUID(comment string) (string, bool) {
	return strings.CutPrefix(comment, rulePrefix)
}

// LogPrefix returns the log prefix of a rule with log: true. It names the
// rule's UUID and stays well under the kernel's 127-byte limit.
func LogPrefix(uuid string) string { return "fwgit " + uuid + " " }

// Empty returns the ruleset of a firewall that filters nothing: no table.
func Empty() *nft.Ruleset { return &nft.Ruleset{Version: nft.IRVersion, Table: nft.DefaultTable} }

// Firewall compiles the ruleset of one firewall. A disabled firewall gets
// [Empty]. fw must belong to inv.
func Firewall(inv *model.Inventory, fw *model.Firewall) *nft.Ruleset {
	c := newCompiler(inv)
	return c.firewall(fw)
}

// All compiles every firewall of inv, keyed by firewall name.
func All(inv *model.Inventory) map[string]*nft.Ruleset {
	c := newCompiler(inv)
	var rules []*model.Rule
	for _, r := range inv.Rules {
		if usable(r) {
			rules = append(rules, r)
		}
	}
	// Walking the rules in each chain's precedence order builds every
	// firewall's lists already sorted.
	in := make([][]*ruleCode, len(inv.Firewalls))
	out := make([][]*ruleCode, len(inv.Firewalls))
	for _, inbound := range []bool{true, false} {
		order := slices.Clone(rules)
		slices.SortStableFunc(order, func(a, b *model.Rule) int { return Precedence(a, b, inbound) })
		lists, mine := out, func(r *model.Rule) []fwrule.Target { return r.Parsed.From }
		if inbound {
			lists, mine = in, func(r *model.Rule) []fwrule.Target { return r.Parsed.To }
		}
		for _, r := range order {
			fws := c.side(r, mine(r))
			if len(fws) == 0 {
				continue
			}
			rc := c.code(r)
			if (inbound && len(rc.in) == 0) || (!inbound && len(rc.out) == 0) {
				continue
			}
			for _, f := range fws {
				if f.Enabled {
					i := c.idx[f]
					lists[i] = append(lists[i], rc)
				}
			}
		}
	}
	res := make(map[string]*nft.Ruleset, len(inv.Firewalls))
	for i, f := range inv.Firewalls {
		res[f.Name] = c.assemble(f, in[i], out[i])
	}
	return res
}

// usable reports whether a rule can apply to any firewall at all.
func usable(r *model.Rule) bool { return r.Enabled && r.Parsed != nil }

// compiler holds the per-rule memo of one compilation. It is not shared
// between calls, so the package keeps no state.
type compiler struct {
	inv   *model.Inventory
	idx   map[*model.Firewall]int
	codes map[*model.Rule]*ruleCode
	sides map[string]*addrSide
	// sets are the named sets of user rules, numbered by setIDs;
	// setStamp marks those already taken by the firewall being
	// assembled (stamp == gen).
	sets     []nft.Set
	setID    map[string]int
	setStamp []uint32
	gen      uint32
	// rank is each set's position in name order (see setRanks).
	rank []int
}

func newCompiler(inv *model.Inventory) *compiler {
	c := &compiler{
		inv:   inv,
		idx:   make(map[*model.Firewall]int, len(inv.Firewalls)),
		codes: map[*model.Rule]*ruleCode{},
		sides: map[string]*addrSide{},
		setID: map[string]int{},
	}
	for i, f := range inv.Firewalls {
		c.idx[f] = i
	}
	return c
}

// side returns the firewalls, disabled ones included, that the targets of
// one side of r select within r's scope (any, ip and subnet select none).
func (c *compiler) side(r *model.Rule, targets []fwrule.Target) []*model.Firewall {
	return c.inv.SideFirewalls(r, targets)
}

// rulesOf returns the rules compiled into fw's input and output chains.
func (c *compiler) rulesOf(fw *model.Firewall) (in, out []*ruleCode) {
	for _, r := range c.inv.RulesFor(fw) {
		if !usable(r) {
			continue
		}
		onFrom, onTo := c.inv.Applies(r, fw)
		if onTo {
			in = append(in, c.code(r))
		}
		if onFrom {
			out = append(out, c.code(r))
		}
	}
	return in, out
}

func (c *compiler) firewall(fw *model.Firewall) *nft.Ruleset {
	in, out := c.rulesOf(fw)
	sortCodes(in, true)
	sortCodes(out, false)
	return c.assemble(fw, in, out)
}

// assemble builds the ruleset of fw from the compiled rules of each chain,
// given in precedence order.
func (c *compiler) assemble(fw *model.Firewall, in, out []*ruleCode) *nft.Ruleset {
	if !fw.Enabled {
		return Empty()
	}
	sets := setCollector{}
	addSets := sets.add
	builtIn := builtinInput(c.inv.Settings.AgentPort, c.inv.Settings.ControllerAddresses, fw.Management, addSets)
	builtOut := builtinOutput()
	nIn, nOut := len(builtIn), len(builtOut)
	for _, rc := range in {
		nIn += len(rc.in)
	}
	for _, rc := range out {
		nOut += len(rc.out)
	}
	input := append(make([]nft.Rule, 0, nIn), builtIn...)
	output := append(make([]nft.Rule, 0, nOut), builtOut...)
	c.gen++
	var userSets []int
	take := func(ids []int) {
		for _, id := range ids {
			if c.setStamp[id] != c.gen {
				c.setStamp[id] = c.gen
				userSets = append(userSets, id)
			}
		}
	}
	for _, rc := range in {
		input = append(input, rc.in...)
		take(rc.inSets)
	}
	for _, rc := range out {
		output = append(output, rc.out...)
		take(rc.outSets)
	}
	rs := &nft.Ruleset{
		Version: nft.IRVersion,
		Table:   nft.DefaultTable,
		Chains: []nft.Chain{
			{Name: ChainInput, Hook: nft.HookInput, Priority: 0, Policy: nft.Drop, Rules: input},
			{Name: ChainOutput, Hook: nft.HookOutput, Priority: 0, Policy: nft.Accept, Rules: output},
		},
	}
	// User sets come sorted by name through their ranks; a set of the
	// always-present rules with the same content gives way to the user
	// set, whose empty comment sorts first.
	rank := c.setRanks()
	slices.SortFunc(userSets, func(a, b int) int { return cmp.Compare(rank[a], rank[b]) })
	var builtin []nft.Set
	for _, s := range sets {
		if _, user := c.setID[s.Name]; !user || c.setStamp[c.setID[s.Name]] != c.gen {
			builtin = append(builtin, s)
		}
	}
	slices.SortFunc(builtin, func(a, b nft.Set) int { return strings.Compare(a.Name, b.Name) })
	if n := len(userSets) + len(builtin); n > 0 {
		rs.Sets = make([]nft.Set, 0, n)
	}
	for _, id := range userSets {
		s := &c.sets[id]
		for len(builtin) > 0 && builtin[0].Name < s.Name {
			rs.Sets = append(rs.Sets, builtin[0])
			builtin = builtin[1:]
		}
		rs.Sets = append(rs.Sets, *s)
	}
	rs.Sets = append(rs.Sets, builtin...)
	return rs
}

// setRanks returns the position of each numbered set in name order,
// computed again only when sets were added since.
func (c *compiler) setRanks() []int {
	if len(c.rank) == len(c.sets) {
		return c.rank
	}
	ids := make([]int, len(c.sets))
	for i := range ids {
		ids[i] = i
	}
	slices.SortFunc(ids, func(a, b int) int { return strings.Compare(c.sets[a].Name, c.sets[b].Name) })
	c.rank = make([]int, len(c.sets))
	for r, id := range ids {
		c.rank[id] = r
	}
	return c.rank
}

// Precedence orders the rules of one chain: higher priority first; at equal
// priority, inbound ALLOW before BLOCK and outbound BLOCK before ALLOW (the
// rule that goes against the chain's default wins); then by UUID and name so
// that the order is stable. It returns a negative number when a goes first.
func Precedence(a, b *model.Rule, inbound bool) int {
	return cmp.Or(
		cmp.Compare(b.Parsed.Priority, a.Parsed.Priority),
		cmp.Compare(actionRank(a.Parsed.Action, inbound), actionRank(b.Parsed.Action, inbound)),
		strings.Compare(a.UUID, b.UUID),
		strings.Compare(a.Name, b.Name),
	)
}

func actionRank(a fwrule.Action, inbound bool) int {
	if (a == fwrule.Allow) == inbound {
		return 0
	}
	return 1
}

func sortCodes(rcs []*ruleCode, inbound bool) {
	slices.SortStableFunc(rcs, func(a, b *ruleCode) int { return Precedence(a.r, b.r, inbound) })
}

// builtinInput returns the always-present rules of the input chain.
// setCollector gathers the named sets of one firewall by name; of two sets
// with one (content-derived) name it keeps the lower comment, so the result
// does not depend on the order the sets were added in.
type setCollector map[string]nft.Set

func (c setCollector) add(ss []nft.Set) {
	for _, s := range ss {
		if old, ok := c[s.Name]; !ok || s.Comment < old.Comment {
			c[s.Name] = s
		}
	}
}

func builtinInput(agentPort int, controllers, management []netip.Prefix, addSets func([]nft.Set)) []nft.Rule {
	rules := []nft.Rule{
		{CTState: nft.CTEstablished | nft.CTRelated, Verdict: nft.Accept, Comment: CommentEstablished},
		{CTState: nft.CTInvalid, Verdict: nft.Drop, Comment: CommentInvalid},
		{IIF: "lo", Verdict: nft.Accept, Comment: CommentLoopback},
		neighbourDiscovery(),
	}
	if agentPort > 0 && agentPort < 65536 {
		rules = append(rules, portFrom(controllers, uint16(agentPort), CommentAgent, "controller addresses", addSets)...)
	}
	rules = append(rules, portFrom(management, SSHPort, CommentManagement, "management addresses", addSets)...)
	return rules
}

// builtinOutput returns the always-present rules of the output chain.
func builtinOutput() []nft.Rule {
	return []nft.Rule{
		{CTState: nft.CTEstablished | nft.CTRelated, Verdict: nft.Accept, Comment: CommentEstablished},
		{CTState: nft.CTInvalid, Verdict: nft.Drop, Comment: CommentInvalid},
		{OIF: "lo", Verdict: nft.Accept, Comment: CommentLoopback},
		neighbourDiscovery(),
	}
}

// neighbourDiscovery admits ICMPv6 router and neighbour solicitations and
// advertisements (types 133–136), without which IPv6 stops working. ICMPv6
// errors (types 1–4) need no rule: conntrack marks those that belong to a
// known flow as related, and the established,related rule admits them.
func neighbourDiscovery() nft.Rule {
	return nft.Rule{
		Family: nft.FamilyIPv6, Proto: nft.ProtoICMPv6,
		ICMP:    []nft.ICMPMatch{{Type: 133}, {Type: 134}, {Type: 135}, {Type: 136}},
		Verdict: nft.Accept, Comment: CommentNeighbour,
	}
}

// portFrom admits tcp to port from the given prefixes, one rule per family.
func portFrom(prefixes []netip.Prefix, port uint16, comment, what string, addSets func([]nft.Set)) []nft.Rule {
	v4, v6 := splitFamilies(prefixes)
	var rules []nft.Rule
	for _, fam := range []struct {
		f  nft.Family
		ps group
	}{{nft.FamilyIPv4, v4}, {nft.FamilyIPv6, v6}} {
		if len(fam.ps.prefixes) == 0 {
			continue
		}
		m, set := addrMatch(fam.f, fam.ps, what)
		if set != nil {
			addSets([]nft.Set{*set})
		}
		rules = append(rules, nft.Rule{
			Family: fam.f, Src: m, Proto: nft.ProtoTCP,
			DPorts: []nft.PortRange{{Lo: port, Hi: port}}, Verdict: nft.Accept, Comment: comment,
		})
	}
	return rules
}

// group is an address group of one family: its normalised prefixes and
// how many distinct members (addresses or CIDRs) it was made of.
type group struct {
	prefixes []netip.Prefix
	members  int
}

// splitFamilies normalises prefixes and returns the IPv4 and IPv6 groups.
// An IPv4-mapped IPv6 address stays IPv6, as nftables sees it.
func splitFamilies(ps []netip.Prefix) (v4, v6 group) {
	var p4, p6 []netip.Prefix
	for _, p := range ps {
		if !p.IsValid() {
			continue
		}
		if p.Addr().Is4() {
			p4 = append(p4, p.Masked())
		} else {
			p6 = append(p6, p.Masked())
		}
	}
	count := func(ps []netip.Prefix) int {
		slices.SortFunc(ps, func(a, b netip.Prefix) int {
			return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
		})
		return len(slices.Compact(ps))
	}
	v4 = group{prefixes: nft.Normalize(p4)}
	v6 = group{prefixes: nft.Normalize(p6)}
	v4.members, v6.members = count(p4), count(p6)
	return v4, v6
}

// addrMatch matches the address group g of family f: inline when it has at
// most [MaxInline] members, otherwise through a content-named set, which it
// returns. Counting members rather than merged prefixes keeps a tag's hosts
// in a set even when their addresses happen to be adjacent.
func addrMatch(f nft.Family, g group, what string) (*nft.AddrMatch, *nft.Set) {
	ps := g.prefixes
	if len(ps) == 0 {
		return nil, nil
	}
	if g.members <= MaxInline {
		return &nft.AddrMatch{Prefixes: ps}, nil
	}
	t := nft.SetIPv4
	if f == nft.FamilyIPv6 {
		t = nft.SetIPv6
	}
	name := nft.SetName(t, ps)
	return &nft.AddrMatch{Set: name}, &nft.Set{Name: name, Type: t, Elements: ps, Comment: what}
}
