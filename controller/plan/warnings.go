package plan

import (
	"cmp"
	"crypto/sha256"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/fwgit/fwgit/controller/compile"
	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/internal/nft"
	"github.com/fwgit/fwgit/schema/fwrule"
)

// maxExamples is how many firewalls a warning names before "and N more".
const maxExamples = 3

// warnings finds the head revision's selectors that match nothing, the
// rules that open a port to any, and — on the firewalls this change touches —
// the rules shadowed by a higher-precedence rule.
func warnings(head *model.Inventory, headRS map[string]*nft.Ruleset, shadowCheck []string, touched map[string]bool) []Warning {
	var out []Warning
	scopes := newScopes(head)
	for _, r := range head.Rules {
		if r.Parsed == nil || !r.Enabled {
			continue
		}
		for _, side := range [][]fwrule.Target{r.Parsed.From, r.Parsed.To} {
			for _, t := range side {
				if !scopes.matchesAny(r, t) {
					out = append(out, Warning{Code: WarnNoMatch, Pos: rulePos(r), Rule: r.Name, New: touched[r.UUID],
						Msg: fmt.Sprintf("rule %s: %s matches no firewall", r.Name, t.String())})
				}
			}
		}
		if w, ok := openToAny(r, scopes); ok {
			w.New = touched[r.UUID]
			out = append(out, w)
		}
	}
	out = append(out, shadowed(head, headRS, shadowCheck, touched)...)
	slices.SortFunc(out, func(a, b Warning) int {
		return cmp.Or(a.Pos.Compare(b.Pos), strings.Compare(a.Code, b.Code), strings.Compare(a.Msg, b.Msg))
	})
	return out
}

// scopes indexes which tags, values and UUIDs exist among the firewalls of
// each rule scope (key "" for global rules, else the owner).
type scopes map[string]*scopeSet

type scopeSet struct {
	any     bool
	enabled []*model.Firewall
	tags    map[string]map[string]bool
	uuids   map[string]bool
}

func newScopes(inv *model.Inventory) scopes {
	s := scopes{}
	get := func(k string) *scopeSet {
		if s[k] == nil {
			s[k] = &scopeSet{tags: map[string]map[string]bool{}, uuids: map[string]bool{}}
		}
		return s[k]
	}
	for _, f := range inv.Firewalls {
		keys := []string{""}
		if f.Owner != "" {
			keys = append(keys, f.Owner)
		}
		for _, k := range keys {
			ss := get(k)
			ss.any = true
			ss.uuids[f.UUID] = true
			for name, v := range f.Tags {
				if ss.tags[name] == nil {
					ss.tags[name] = map[string]bool{}
				}
				ss.tags[name][v.String()] = true
			}
		}
	}
	return s
}

func (s scopes) of(r *model.Rule) *scopeSet {
	k := r.Owner
	if r.Global {
		k = ""
	}
	if ss := s[k]; ss != nil {
		return ss
	}
	return &scopeSet{}
}

// matchesAny reports whether target t of r selects at least one firewall;
// any, ip and subnet never select firewalls and are not reported.
func (s scopes) matchesAny(r *model.Rule, t fwrule.Target) bool {
	ss := s.of(r)
	switch t.Kind {
	case fwrule.TargetAllVMs:
		return ss.any
	case fwrule.TargetVM:
		return ss.uuids[t.Value]
	case fwrule.TargetTag:
		vals, ok := ss.tags[t.Value]
		return ok && (!t.HasValue || vals[t.TagValue])
	}
	return true
}

// openToAny reports an inbound ALLOW of tcp or udp from any address to
// firewalls selected on the TO side.
func openToAny(r *model.Rule, s scopes) (Warning, bool) {
	pr := r.Parsed
	if pr.Action != fwrule.Allow || (pr.Protocol != fwrule.TCP && pr.Protocol != fwrule.UDP) || !isAny(pr.From) {
		return Warning{}, false
	}
	selects := false
	for _, t := range pr.To {
		if t.Kind != fwrule.TargetAny && t.Kind != fwrule.TargetIP && t.Kind != fwrule.TargetSubnet && s.matchesAny(r, t) {
			selects = true
		}
	}
	if !selects {
		return Warning{}, false
	}
	ports := "every port"
	if !pr.AllPorts {
		var ps []string
		for _, p := range pr.Ports {
			if p.Lo == p.Hi {
				ps = append(ps, fmt.Sprint(p.Lo))
			} else {
				ps = append(ps, fmt.Sprintf("%d-%d", p.Lo, p.Hi))
			}
		}
		ports = "port " + strings.Join(ps, ", ")
	}
	return Warning{Code: WarnOpenAny, Pos: rulePos(r), Rule: r.Name,
		Msg: fmt.Sprintf("rule %s opens %s %s to any address", r.Name, pr.Protocol, ports)}, true
}

// shadowed finds, on every firewall named in check (the added and changed
// ones), user rules that never
// decide a packet because one earlier rule of the same chain matches
// everything they match (same family and protocol, superset of ports or
// types, superset of addresses). Only pairs involving a rule touched by
// this change are checked, which keeps the cost proportional to the change.
func shadowed(head *model.Inventory, headRS map[string]*nft.Ruleset, check []string, touched map[string]bool) []Warning {
	if len(touched) == 0 {
		return nil
	}
	byUUID := map[string]*model.Rule{}
	for _, r := range head.Rules {
		byUUID[r.UUID] = r
	}
	fws := firewallsByName(head)
	type key struct{ shadowed, by string }
	hits := map[key][]string{}
	// A rule compiles to the same nft rules on every firewall where it
	// sits on the same side, so a chain's user rules are determined by
	// the sequence of their comments: firewalls that share it share the
	// answer.
	memo := map[[32]byte]map[string]string{}
	for _, name := range check {
		f := fws[name]
		if f == nil {
			continue
		}
		rs := rulesetOf(head, f, headRS)
		if rs.Empty() {
			continue
		}
		sets := map[string][]netip.Prefix{}
		for _, s := range rs.Sets {
			sets[s.Name] = s.Elements
		}
		for _, c := range rs.Chains {
			h := sha256.New()
			h.Write([]byte(c.Name))
			for _, r := range c.Rules {
				if _, ok := compile.RuleUUID(r.Comment); ok {
					h.Write([]byte{0})
					h.Write([]byte(r.Comment))
				}
			}
			var k [32]byte
			h.Sum(k[:0])
			found, ok := memo[k]
			if !ok {
				found = shadowedInChain(c.Rules, sets, touched)
				memo[k] = found
			}
			for uuid, by := range found {
				hits[key{uuid, by}] = append(hits[key{uuid, by}], f.Name)
			}
		}
	}
	var out []Warning
	for k, names := range hits {
		r, by := byUUID[k.shadowed], byUUID[k.by]
		if r == nil || by == nil {
			continue
		}
		sort.Strings(names)
		out = append(out, Warning{Code: WarnShadowed, Pos: rulePos(r), Rule: r.Name, New: touched[r.UUID] || touched[by.UUID],
			Msg: fmt.Sprintf("rule %s never decides a packet: rule %s (%s) comes first and matches all it matches, on %s",
				r.Name, by.Name, rulePos(by), examples(names))})
	}
	return out
}

func examples(names []string) string {
	if len(names) <= maxExamples {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more firewalls", strings.Join(names[:maxExamples], ", "), len(names)-maxExamples)
}

// shadowedInChain returns, for each rule UUID all of whose nft rules in
// the chain are each covered by an earlier rule of another UUID, the UUID
// of the first covering rule. Only UUIDs in touched, or covered by a
// touched rule, are considered.
func shadowedInChain(rules []nft.Rule, sets map[string][]netip.Prefix, touched map[string]bool) map[string]string {
	uuids := make([]string, len(rules))
	for i := range rules {
		uuids[i], _ = compile.RuleUUID(rules[i].Comment)
	}
	type state struct {
		allCovered bool
		by         string
	}
	st := map[string]*state{}
	var order []string
	// Untouched rules need checking only against the touched rules
	// before them.
	var touchedAt []int
	for j := range rules {
		uj := uuids[j]
		if uj == "" {
			continue
		}
		if touched[uj] {
			touchedAt = append(touchedAt, j)
		}
		s := st[uj]
		if s == nil {
			s = &state{allCovered: true}
			st[uj] = s
			order = append(order, uj)
		}
		if !s.allCovered {
			continue
		}
		covered := false
		check := func(i int) bool {
			ui := uuids[i]
			if ui == "" || ui == uj || !covers(&rules[i], &rules[j], sets) {
				return false
			}
			covered = true
			if s.by == "" {
				s.by = ui
			}
			return true
		}
		if touched[uj] {
			for i := 0; i < j && !check(i); i++ {
			}
		} else {
			for _, i := range touchedAt {
				if i >= j || check(i) {
					break
				}
			}
		}
		if !covered {
			s.allCovered = false
		}
	}
	out := map[string]string{}
	for _, u := range order {
		if s := st[u]; s.allCovered && s.by != "" {
			out[u] = s.by
		}
	}
	return out
}

// covers reports whether every packet rule b matches is also matched by a.
func covers(a, b *nft.Rule, sets map[string][]netip.Prefix) bool {
	if a.CTState != 0 || a.IIF != "" || a.OIF != "" {
		return false
	}
	if a.Family != nft.FamilyAny && a.Family != b.Family {
		return false
	}
	if a.Proto != nft.ProtoAny && a.Proto != b.Proto {
		return false
	}
	if len(a.DPorts) > 0 {
		if len(b.DPorts) == 0 {
			return false
		}
		for _, pb := range b.DPorts {
			if !slices.ContainsFunc(a.DPorts, func(pa nft.PortRange) bool { return pa.Lo <= pb.Lo && pb.Hi <= pa.Hi }) {
				return false
			}
		}
	}
	if len(a.ICMP) > 0 {
		if len(b.ICMP) == 0 {
			return false
		}
		for _, mb := range b.ICMP {
			if !slices.ContainsFunc(a.ICMP, func(ma nft.ICMPMatch) bool {
				return ma.Type == mb.Type && (ma.Code == nil || (mb.Code != nil && *ma.Code == *mb.Code))
			}) {
				return false
			}
		}
	}
	return addrCovers(a.Src, b.Src, sets) && addrCovers(a.Dst, b.Dst, sets)
}

// addrCovers reports whether every address b matches is matched by a (nil
// matches every address). Prefix lists are normalised, so a prefix of b lies
// inside the union of a's prefixes only if it lies inside one of them.
func addrCovers(a, b *nft.AddrMatch, sets map[string][]netip.Prefix) bool {
	if a == nil {
		return true
	}
	if b == nil {
		return false
	}
	pa, pb := a.Prefixes, b.Prefixes
	if a.Set != "" {
		pa = sets[a.Set]
	}
	if b.Set != "" {
		pb = sets[b.Set]
	}
	for _, q := range pb {
		i := sort.Search(len(pa), func(i int) bool { return pa[i].Addr().Compare(q.Addr()) > 0 })
		if i == 0 || !pa[i-1].Contains(q.Addr()) || pa[i-1].Bits() > q.Bits() {
			return false
		}
	}
	return true
}
