package compile

import (
	"slices"
	"strings"

	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/internal/nft"
	"github.com/fwgit/fwgit/schema/fwrule"
)

// Update returns the rulesets of next given those of prev (compiled from
// old): it copies prev and recompiles only the firewalls [model.Diff] names,
// dropping those that no longer exist. prev is not modified; the rulesets
// of unchanged firewalls are prev's own values.
//
// A recompiled firewall reuses the nft rules of its previous ruleset for
// every rule whose manifest and other-side addresses are unchanged: those
// compile to the same nft rules, in the same relative order. Only the
// rules that changed or newly apply are compiled and merged in, so the work
// per firewall is proportional to its own rules.
func Update(prev map[string]*nft.Ruleset, old, next *model.Inventory) map[string]*nft.Ruleset {
	if old == nil {
		old = &model.Inventory{}
	}
	res := make(map[string]*nft.Ruleset, len(next.Firewalls))
	for k, v := range prev {
		if next.FirewallByName(k) != nil {
			res[k] = v
		}
	}
	u := &updater{c: newCompiler(next), old: old, next: next,
		same: map[*model.Rule]*[2]bool{}, sameSide: map[string]bool{}}
	names := model.Diff(old, next)
	if len(names) > 0 {
		u.classify()
	}
	for _, name := range names {
		delete(res, name)
		f := next.FirewallByName(name)
		if f == nil {
			continue
		}
		var p *nft.Ruleset
		if of := old.FirewallByName(name); of != nil && of.Enabled {
			p = prev[name]
		}
		res[name] = u.firewall(f, p)
	}
	return res
}

// updater recompiles firewalls of next reusing the pieces of their rulesets
// compiled from old.
type updater struct {
	c         *compiler
	old, next *model.Inventory
	// same memoises, per rule of next, whether its input and output nft
	// rules are those it compiled to in old; sameSide whether a side
	// (by [sideKey]) expands to the same addresses in both.
	same     map[*model.Rule]*[2]bool
	sameSide map[string]bool
	// byUUID classifies the usable rules of next; redo lists those that
	// changed or whose sides' addresses did (see [updater.classify]).
	byUUID map[string]*ruleInfo
	redo   []*ruleInfo
	// bad lists, for the input and output chains, the usable rules of old
	// whose nft rules cannot stay in that chain: gone, changed or to be
	// recompiled.
	bad [2][]*model.Rule
}

// ruleInfo is what Update knows of one rule of next: whether the manifest
// changed (or is new), and for each chain whether its nft rules are those
// it compiled to in old.
type ruleInfo struct {
	r       *model.Rule
	changed bool
	reuse   [2]bool
}

// classify fills byUUID and redo for every usable rule of next. The cost is
// one pass over the rules and one comparison per distinct side.
func (u *updater) classify() {
	u.byUUID = make(map[string]*ruleInfo, len(u.next.Rules))
	infos := make([]ruleInfo, len(u.next.Rules))
	for i, r := range u.next.Rules {
		if !usable(r) {
			continue
		}
		ri := &infos[i]
		ri.r = r
		o := u.old.RuleByUUID(r.UUID)
		ri.changed = o == nil || o.Parsed == nil || !sameRule(o, r)
		if !ri.changed {
			ri.reuse = u.reusable(r)
		}
		u.byUUID[r.UUID] = ri
		if ri.changed || !ri.reuse[0] || !ri.reuse[1] {
			u.redo = append(u.redo, ri)
		}
	}
	for _, o := range u.old.Rules {
		if !usable(o) {
			continue
		}
		ri := u.byUUID[o.UUID]
		for dir := range 2 {
			if ri == nil || ri.changed || !ri.reuse[dir] {
				u.bad[dir] = append(u.bad[dir], o)
			}
		}
	}
}

// piece is the nft rules one manifest rule contributes to one chain.
type piece struct {
	r     *model.Rule
	rules []nft.Rule
	// sets are the compiler's numbers of the named sets the rules use,
	// unless reused: the rules come from the previous ruleset, whose sets
	// hold those they name.
	sets   []int
	reused bool
	// at is the index of the first of rules in the previous chain, when
	// reused by patch.
	at int
}

func (u *updater) firewall(f *model.Firewall, p *nft.Ruleset) *nft.Ruleset {
	if !f.Enabled {
		return Empty()
	}
	of := u.old.FirewallByName(f.Name)
	if p.Empty() || of == nil || !sameSelection(of, f) {
		return u.rebuild(f, of, p)
	}
	// f is selected by the same rules as before: the previous chains are
	// right but for the rules in redo.
	var prevIn, prevOut []nft.Rule
	for _, ch := range p.Chains {
		switch ch.Name {
		case ChainInput:
			prevIn = ch.Rules
		case ChainOutput:
			prevOut = ch.Rules
		}
	}
	if rs := u.insert(f, of, prevIn, prevOut, p.Sets); rs != nil {
		return rs
	}
	in, inIntact := u.patch(f, prevIn, true)
	out, outIntact := u.patch(f, prevOut, false)
	if inIntact && outIntact {
		if rs := u.extend(f, prevIn, prevOut, in, out, p.Sets); rs != nil {
			return rs
		}
	}
	return u.finish(f, in, out, p.Sets)
}

// insert is the fastest path of a firewall f (of in old) whose selection is
// unchanged: when no rule of old that applied to of must leave its chains
// or be recompiled, the chains are the previous ones with the pieces of the
// changed or new rules inserted, found without walking the previous rules.
// It returns nil when that does not hold.
func (u *updater) insert(f, of *model.Firewall, prevIn, prevOut []nft.Rule, prevSets []nft.Set) *nft.Ruleset {
	for dir, inbound := range [2]bool{true, false} {
		for _, o := range u.bad[dir] {
			side := o.Parsed.From
			if inbound {
				side = o.Parsed.To
			}
			if !noop(o, inbound) && onSide(u.old.SideFirewalls(o, side), of) {
				return nil
			}
		}
	}
	var chains [2][]piece
	for dir, inbound := range [2]bool{true, false} {
		chains[dir] = u.redone(f, dir, inbound, nil)
	}
	c := u.c
	builtIn := builtinInput(c.inv.Settings.AgentPort, c.inv.Settings.ControllerAddresses, f.Management, func([]nft.Set) {})
	builtOut := builtinOutput()
	if !sameBuiltin(builtIn, prevIn) || !sameBuiltin(builtOut, prevOut) {
		return nil
	}
	input, ok := u.insertPieces(prevIn, len(builtIn), chains[0], true)
	if !ok {
		return nil
	}
	output, ok := u.insertPieces(prevOut, len(builtOut), chains[1], false)
	if !ok {
		return nil
	}
	var fresh []int
	for _, pcs := range chains {
		for _, pc := range pcs {
			fresh = append(fresh, pc.sets...)
		}
	}
	return &nft.Ruleset{
		Version: nft.IRVersion,
		Table:   nft.DefaultTable,
		Sets:    u.addSets(prevSets, fresh),
		Chains: []nft.Chain{
			{Name: ChainInput, Hook: nft.HookInput, Priority: 0, Policy: nft.Drop, Rules: input},
			{Name: ChainOutput, Hook: nft.HookOutput, Priority: 0, Policy: nft.Accept, Rules: output},
		},
	}
}

// insertPieces returns prev (whose first nb rules are the always-present
// ones) with the fresh pieces inserted in precedence order, as [merge]
// places them: each before the first rule that goes after it. It reports
// false when a rule of prev names no usable rule of next.
func (u *updater) insertPieces(prev []nft.Rule, nb int, fresh []piece, inbound bool) ([]nft.Rule, bool) {
	if len(fresh) == 0 {
		return prev[:len(prev):len(prev)], true
	}
	slices.SortStableFunc(fresh, func(a, b piece) int { return Precedence(a.r, b.r, inbound) })
	n := len(prev)
	for _, pc := range fresh {
		n += len(pc.rules)
	}
	rules := append(make([]nft.Rule, 0, n), prev[:nb]...)
	lo := nb
	bad := false
	for _, pc := range fresh {
		k, _ := slices.BinarySearchFunc(prev[lo:], pc.r, func(x nft.Rule, r *model.Rule) int {
			uuid, _ := RuleUUID(x.Comment)
			ri := u.byUUID[uuid]
			if ri == nil {
				bad = true
				return -1
			}
			if Precedence(ri.r, r, inbound) <= 0 {
				return -1
			}
			return 1
		})
		rules = append(rules, prev[lo:lo+k]...)
		rules = append(rules, pc.rules...)
		lo += k
	}
	return append(rules, prev[lo:]...), !bad
}

// extend is the fast path of a firewall none of whose previous user rules
// went away or were recompiled: when its always-present rules are also
// those of prev (prevIn, prevOut and prevSets), every previous set is still
// used, so the sets are prev's plus those of the fresh pieces, and a chain
// without fresh pieces is prev's own rules. It returns nil when the
// always-present rules differ.
func (u *updater) extend(f *model.Firewall, prevIn, prevOut []nft.Rule, in, out []piece, prevSets []nft.Set) *nft.Ruleset {
	c := u.c
	builtIn := builtinInput(c.inv.Settings.AgentPort, c.inv.Settings.ControllerAddresses, f.Management, func([]nft.Set) {})
	builtOut := builtinOutput()
	if !sameBuiltin(builtIn, prevIn) || !sameBuiltin(builtOut, prevOut) {
		return nil
	}
	var fresh []int
	for _, pcs := range [2][]piece{in, out} {
		for _, pc := range pcs {
			if !pc.reused {
				fresh = append(fresh, pc.sets...)
			}
		}
	}
	return &nft.Ruleset{
		Version: nft.IRVersion,
		Table:   nft.DefaultTable,
		Sets:    u.addSets(prevSets, fresh),
		Chains: []nft.Chain{
			{Name: ChainInput, Hook: nft.HookInput, Priority: 0, Policy: nft.Drop, Rules: join(builtIn, in, prevIn)},
			{Name: ChainOutput, Hook: nft.HookOutput, Priority: 0, Policy: nft.Accept, Rules: join(builtOut, out, prevOut)},
		},
	}
}

// sameBuiltin reports whether prev starts with exactly the always-present
// rules builtin (those whose comment names no rule).
func sameBuiltin(builtin, prev []nft.Rule) bool {
	n := 0
	for n < len(prev) {
		if _, ok := RuleUUID(prev[n].Comment); ok {
			break
		}
		n++
	}
	if n != len(builtin) {
		return false
	}
	for i := range builtin {
		if !sameNFTRule(&builtin[i], &prev[i]) {
			return false
		}
	}
	return true
}

// sameNFTRule reports whether two nft rules are equal field by field.
func sameNFTRule(a, b *nft.Rule) bool {
	sameAddr := func(x, y *nft.AddrMatch) bool {
		if x == nil || y == nil {
			return x == y
		}
		return x.Set == y.Set && slices.Equal(x.Prefixes, y.Prefixes)
	}
	return a.Family == b.Family && a.IIF == b.IIF && a.OIF == b.OIF && a.CTState == b.CTState &&
		sameAddr(a.Src, b.Src) && sameAddr(a.Dst, b.Dst) && a.Proto == b.Proto &&
		slices.Equal(a.DPorts, b.DPorts) &&
		slices.EqualFunc(a.ICMP, b.ICMP, func(x, y nft.ICMPMatch) bool {
			return x.Type == y.Type && (x.Code == nil) == (y.Code == nil) && (x.Code == nil || *x.Code == *y.Code)
		}) &&
		a.Log == b.Log && a.Verdict == b.Verdict && a.Comment == b.Comment
}

// join returns the chain of builtin rules (equal to prev's) followed by the
// pieces: prev itself when every piece is reused, since the pieces then are
// all of prev's user rules in order, and otherwise one exactly sized copy
// that appends runs of adjacent reused pieces at once.
func join(builtin []nft.Rule, pieces []piece, prev []nft.Rule) []nft.Rule {
	n := len(builtin)
	all := true
	for _, pc := range pieces {
		n += len(pc.rules)
		all = all && pc.reused
	}
	if all && n == len(prev) {
		return prev[:len(prev):len(prev)]
	}
	rules := append(make([]nft.Rule, 0, n), builtin...)
	lo, hi := 0, 0 // the run prev[lo:hi] not yet appended
	for _, pc := range pieces {
		if pc.reused && pc.at == hi {
			hi += len(pc.rules)
			continue
		}
		rules = append(rules, prev[lo:hi]...)
		lo, hi = 0, 0
		if pc.reused {
			lo, hi = pc.at, pc.at+len(pc.rules)
		} else {
			rules = append(rules, pc.rules...)
		}
	}
	return append(rules, prev[lo:hi]...)
}

// addSets returns prevSets (sorted by name) with the compiler's sets ids
// added: prevSets itself when it already holds them all, as user sets
// (empty comment), and otherwise a sorted copy.
func (u *updater) addSets(prevSets []nft.Set, ids []int) []nft.Set {
	byName := func(s nft.Set, name string) int { return strings.Compare(s.Name, name) }
	var add []nft.Set
	for _, id := range ids {
		s := u.c.sets[id]
		if i, ok := slices.BinarySearchFunc(prevSets, s.Name, byName); ok && prevSets[i].Comment == "" {
			continue
		}
		if !slices.ContainsFunc(add, func(x nft.Set) bool { return x.Name == s.Name }) {
			add = append(add, s)
		}
	}
	if len(add) == 0 {
		return prevSets
	}
	sets := make([]nft.Set, 0, len(prevSets)+len(add))
	for _, s := range prevSets {
		if !slices.ContainsFunc(add, func(x nft.Set) bool { return x.Name == s.Name }) {
			sets = append(sets, s)
		}
	}
	sets = append(sets, add...)
	slices.SortFunc(sets, func(a, b nft.Set) int { return strings.Compare(a.Name, b.Name) })
	return sets
}

// rebuild recompiles f from the rules that apply to it, reusing the pieces
// of p (its ruleset in old, where it was of) that still hold.
func (u *updater) rebuild(f, of *model.Firewall, p *nft.Ruleset) *nft.Ruleset {
	// The rules that apply to f, by chain, from the sides the inventory
	// has already resolved: the work is proportional to f's rules.
	var inRules, outRules []*model.Rule
	for _, r := range u.next.RulesFor(f) {
		if !usable(r) {
			continue
		}
		if onSide(u.next.SideFirewalls(r, r.Parsed.To), f) {
			inRules = append(inRules, r)
		}
		if onSide(u.next.SideFirewalls(r, r.Parsed.From), f) {
			outRules = append(outRules, r)
		}
	}
	var prevIn, prevOut []nft.Rule
	var prevSets []nft.Set
	if !p.Empty() {
		prevSets = p.Sets
		for _, ch := range p.Chains {
			switch ch.Name {
			case ChainInput:
				prevIn = ch.Rules
			case ChainOutput:
				prevOut = ch.Rules
			}
		}
	}
	if p.Empty() {
		of = nil
	}
	in := u.chain(of, inRules, prevIn, true)
	out := u.chain(of, outRules, prevOut, false)
	return u.finish(f, in, out, prevSets)
}

// finish assembles the ruleset of f from the pieces of its chains.
func (u *updater) finish(f *model.Firewall, in, out []piece, prevSets []nft.Set) *nft.Ruleset {
	c := u.c
	sets := setCollector{}
	addSets := sets.add
	builtIn := builtinInput(c.inv.Settings.AgentPort, c.inv.Settings.ControllerAddresses, f.Management, addSets)
	builtOut := builtinOutput()
	input, inUser := u.concat(builtIn, in, prevSets)
	output, outUser := u.concat(builtOut, out, prevSets)
	addSets(inUser)
	addSets(outUser)
	rs := &nft.Ruleset{
		Version: nft.IRVersion,
		Table:   nft.DefaultTable,
		Chains: []nft.Chain{
			{Name: ChainInput, Hook: nft.HookInput, Priority: 0, Policy: nft.Drop, Rules: input},
			{Name: ChainOutput, Hook: nft.HookOutput, Priority: 0, Policy: nft.Accept, Rules: output},
		},
	}
	rs.Sets = make([]nft.Set, 0, len(sets))
	for _, s := range sets {
		rs.Sets = append(rs.Sets, s)
	}
	slices.SortFunc(rs.Sets, func(a, b nft.Set) int { return strings.Compare(a.Name, b.Name) })
	if len(rs.Sets) == 0 {
		rs.Sets = nil
	}
	return rs
}

// concat returns the chain of builtin rules followed by the pieces, and the
// named sets of the user rules (with the empty comment of user sets), which
// come from the compiler or, for reused pieces, from the previous sets.
func (u *updater) concat(builtin []nft.Rule, pieces []piece, prevSets []nft.Set) ([]nft.Rule, []nft.Set) {
	n := len(builtin)
	for _, pc := range pieces {
		n += len(pc.rules)
	}
	rules := append(make([]nft.Rule, 0, n), builtin...)
	var sets []nft.Set
	seen := map[string]bool{}
	// Rules compiled together share their address matches, so most
	// repeats are caught by pointer.
	seenMatch := map[*nft.AddrMatch]bool{}
	for _, pc := range pieces {
		rules = append(rules, pc.rules...)
		if !pc.reused {
			for _, id := range pc.sets {
				s := u.c.sets[id]
				if !seen[s.Name] {
					seen[s.Name] = true
					sets = append(sets, s)
				}
			}
			continue
		}
		for i := range pc.rules {
			for _, m := range []*nft.AddrMatch{pc.rules[i].Src, pc.rules[i].Dst} {
				if m == nil || m.Set == "" || seenMatch[m] {
					continue
				}
				seenMatch[m] = true
				if seen[m.Set] {
					continue
				}
				seen[m.Set] = true
				if j, ok := slices.BinarySearchFunc(prevSets, m.Set, func(s nft.Set, name string) int {
					return strings.Compare(s.Name, name)
				}); ok {
					s := prevSets[j]
					s.Comment = ""
					sets = append(sets, s)
				}
			}
		}
	}
	return rules, sets
}

// chain returns the pieces of one chain of f in precedence order: those of
// prev (the chain of of, f in old, compiled from old) whose rules still
// apply and compile the same, merged with freshly compiled ones for the
// rest of rules. A reusable rule that applied to of but is absent from prev
// compiled to nothing there, and still does.
func (u *updater) chain(of *model.Firewall, rules []*model.Rule, prev []nft.Rule, inbound bool) []piece {
	dir := 1
	if inbound {
		dir = 0
	}
	applies := make(map[string]*model.Rule, len(rules))
	for _, r := range rules {
		applies[r.UUID] = r
	}
	var kept []piece
	for i := 0; i < len(prev); {
		j := i + 1
		for j < len(prev) && prev[j].Comment == prev[i].Comment {
			j++
		}
		if uuid, ok := RuleUUID(prev[i].Comment); ok {
			if r := applies[uuid]; r != nil && u.reusable(r)[dir] {
				kept = append(kept, piece{r: r, rules: prev[i:j:j], reused: true})
				delete(applies, uuid)
			}
		}
		i = j
	}
	var fresh []piece
	for _, r := range rules {
		if applies[r.UUID] != r || noop(r, inbound) {
			continue
		}
		if of != nil && u.reusable(r)[dir] {
			o := u.old.RuleByUUID(r.UUID)
			side := o.Parsed.From
			if inbound {
				side = o.Parsed.To
			}
			if of.Enabled && o.Enabled && onSide(u.old.SideFirewalls(o, side), of) {
				continue
			}
		}
		if pc := u.fresh(r, inbound); len(pc.rules) > 0 {
			fresh = append(fresh, pc)
		}
	}
	return merge(kept, fresh, inbound)
}

// reusable reports, for the input and output chains, whether r (of next)
// compiles to the nft rules it compiled to in old: the rule is the same
// and the other side expands to the same addresses.
func (u *updater) reusable(r *model.Rule) [2]bool {
	if s := u.same[r]; s != nil {
		return *s
	}
	var s [2]bool
	if o := u.old.RuleByUUID(r.UUID); o != nil && o.Parsed != nil && sameRule(o, r) {
		s[0] = u.sameAddresses(o, r, o.Parsed.From, r.Parsed.From)
		s[1] = u.sameAddresses(o, r, o.Parsed.To, r.Parsed.To)
	}
	u.same[r] = &s
	return s
}

// sameRule compares what a rule compiles from (as model.Diff does).
func sameRule(a, b *model.Rule) bool {
	return a.UUID == b.UUID && a.Owner == b.Owner && a.Global == b.Global &&
		a.Enabled == b.Enabled && a.Log == b.Log && a.Text == b.Text
}

// sameAddresses reports whether a side of o in old and the same side of r
// in next (same text and scope) select firewalls with the same addresses.
func (u *updater) sameAddresses(o, r *model.Rule, ot, rt []fwrule.Target) bool {
	key := sideKey(r, rt)
	if v, ok := u.sameSide[key]; ok {
		return v
	}
	a, b := u.old.SideFirewalls(o, ot), u.next.SideFirewalls(r, rt)
	v := slices.EqualFunc(a, b, func(x, y *model.Firewall) bool { return slices.Equal(x.Addresses, y.Addresses) })
	u.sameSide[key] = v
	return v
}

// noop reports whether r compiles to no rule in the chain: a priority-0
// BLOCK adds nothing to the input chain (policy drop) and a priority-0
// ALLOW nothing to the output chain (policy accept).
func noop(r *model.Rule, inbound bool) bool {
	p := r.Parsed
	return p.Priority == 0 && (p.Action == fwrule.Block) == inbound
}

// onSide reports whether f is among side, sorted by name.
func onSide(side []*model.Firewall, f *model.Firewall) bool {
	i, ok := slices.BinarySearchFunc(side, f.Name, func(x *model.Firewall, name string) int { return strings.Compare(x.Name, name) })
	return ok && side[i] == f
}

// patch returns the pieces of one chain of f, whose selection is unchanged
// since prev was compiled: prev's pieces for the rules that compile the
// same, recompiled ones in place for the rules whose other side changed
// addresses, without the rules that are gone or changed, and merged with
// the changed, new or recompiled rules that prev lacks.
//
// intact reports that every user rule of prev is kept as it was, so that the
// chain is prev with pieces added.
func (u *updater) patch(f *model.Firewall, prev []nft.Rule, inbound bool) (pieces []piece, intact bool) {
	dir := 1
	if inbound {
		dir = 0
	}
	kept := make([]piece, 0, len(prev))
	var done map[*model.Rule]bool
	intact = true
	for i := 0; i < len(prev); {
		j := i + 1
		for j < len(prev) && prev[j].Comment == prev[i].Comment {
			j++
		}
		uuid, ok := RuleUUID(prev[i].Comment)
		ri := u.byUUID[uuid]
		switch {
		case !ok:
		case ri == nil || ri.changed:
			intact = false
		case ri.reuse[dir]:
			kept = append(kept, piece{r: ri.r, rules: prev[i:j:j], reused: true, at: i})
		default:
			intact = false
			if done == nil {
				done = map[*model.Rule]bool{}
			}
			done[ri.r] = true
			if pc := u.fresh(ri.r, inbound); len(pc.rules) > 0 {
				kept = append(kept, pc)
			}
		}
		i = j
	}
	return merge(kept, u.redone(f, dir, inbound, done), inbound), intact
}

// redone compiles afresh, for chain dir of f, the rules of u.redo that put
// nft rules there (f on the right side, not a no-op) and whose previous
// pieces cannot be reused, skipping those in done.
func (u *updater) redone(f *model.Firewall, dir int, inbound bool, done map[*model.Rule]bool) []piece {
	var out []piece
	for _, ri := range u.redo {
		if done[ri.r] || (!ri.changed && ri.reuse[dir]) || noop(ri.r, inbound) {
			continue
		}
		side := ri.r.Parsed.From
		if inbound {
			side = ri.r.Parsed.To
		}
		if !onSide(u.next.SideFirewalls(ri.r, side), f) {
			continue
		}
		if pc := u.fresh(ri.r, inbound); len(pc.rules) > 0 {
			out = append(out, pc)
		}
	}
	return out
}

// fresh compiles r for one chain.
func (u *updater) fresh(r *model.Rule, inbound bool) piece {
	rc := u.c.code(r)
	if inbound {
		return piece{r: r, rules: rc.in, sets: rc.inSets}
	}
	return piece{r: r, rules: rc.out, sets: rc.outSets}
}

// merge merges pieces in precedence order with fresh ones in any order,
// placing each fresh piece by binary search: fresh pieces are few and
// comparing rules is not free.
func merge(kept, fresh []piece, inbound bool) []piece {
	if len(fresh) == 0 {
		return kept
	}
	slices.SortStableFunc(fresh, func(a, b piece) int { return Precedence(a.r, b.r, inbound) })
	out := make([]piece, 0, len(kept)+len(fresh))
	for _, fp := range fresh {
		k, _ := slices.BinarySearchFunc(kept, fp.r, func(kp piece, r *model.Rule) int {
			if Precedence(kp.r, r, inbound) <= 0 {
				return -1
			}
			return 1
		})
		out = append(out, kept[:k]...)
		out = append(out, fp)
		kept = kept[k:]
	}
	return append(out, kept...)
}

// sameSelection reports whether a rule selects f in next exactly when it
// selects of in old, given the same rule: same UUID, owner, enabled flag
// and tags.
func sameSelection(of, f *model.Firewall) bool {
	if of.UUID != f.UUID || of.Owner != f.Owner || of.Enabled != f.Enabled || len(of.Tags) != len(f.Tags) {
		return false
	}
	for k, v := range of.Tags {
		w, ok := f.Tags[k]
		if !ok || v.String() != w.String() {
			return false
		}
	}
	return true
}
