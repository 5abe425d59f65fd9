package model

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	"github.com/fwgit/fwgit/schema/fwrule"
)

// This file holds the FWAPI lookups of spec/fwapi.md §3–§9 as pure functions
// over an Inventory. They answer "which rules name which firewalls", which is
// not the same as what is enforced: enabled flags play no part here (§3.2),
// unlike in [Inventory.RulesFor].

// TagWant is what a tag query asks of one tag name (spec/fwapi.md §3.3):
// any value, or one of Values. An empty, non-Any want matches only bare
// "tag NAME" targets.
type TagWant struct {
	Any    bool
	Values []string
}

// TagQuery maps tag names to what is wanted of them.
type TagQuery map[string]TagWant

// matches reports whether a rule's tag target t matches the query (§3.3).
func (q TagQuery) matches(t fwrule.Target) bool {
	w, ok := q[t.Value]
	if !ok {
		return false
	}
	return w.Any || !t.HasValue || slices.Contains(w.Values, t.TagValue)
}

// namesFirewall reports whether target t names firewall f (§3.2). allVMs
// scope is the caller's: for an owned rule, f must have the rule's owner.
func namesFirewall(r *Rule, t fwrule.Target, f *Firewall) bool {
	switch t.Kind {
	case fwrule.TargetAllVMs:
		return r.Global || (f.Owner != "" && f.Owner == r.Owner)
	case fwrule.TargetVM:
		return t.Value == f.UUID
	case fwrule.TargetTag:
		v, ok := f.Tags[t.Value]
		if !ok {
			return false
		}
		return !t.HasValue || v.String() == t.TagValue
	}
	return false
}

// FWAPIAffects reports whether some target on either side of r names f
// (spec/fwapi.md §3.2). Enabled flags are ignored.
func FWAPIAffects(r *Rule, f *Firewall) bool {
	if r.Parsed == nil {
		return false
	}
	for _, side := range [][]fwrule.Target{r.Parsed.From, r.Parsed.To} {
		for _, t := range side {
			if namesFirewall(r, t, f) {
				return true
			}
		}
	}
	return false
}

// RuleVMs returns the firewalls of owner that r affects, sorted by UUID
// (GET /rules/:uuid/vms, §7). Firewalls without an owner never qualify;
// disabled firewalls do.
func (inv *Inventory) RuleVMs(r *Rule, owner string) []*Firewall {
	var out []*Firewall
	if owner == "" {
		return nil
	}
	for _, f := range inv.Firewalls {
		if f.Owner == owner && FWAPIAffects(r, f) {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b *Firewall) int { return CompareUTF16(a.UUID, b.UUID) })
	return out
}

// FirewallRules returns the rules that name f, sorted by UUID
// (GET /firewalls/vms/:uuid, §8): global rules and rules of f's owner,
// disabled ones included.
func (inv *Inventory) FirewallRules(f *Firewall) []*Rule {
	var out []*Rule
	for _, r := range inv.Rules {
		inScope := r.Global || (f.Owner != "" && r.Owner == f.Owner)
		if inScope && FWAPIAffects(r, f) {
			out = append(out, r)
		}
	}
	sortRulesByUUID(out)
	return out
}

func sortRulesByUUID(rs []*Rule) {
	slices.SortFunc(rs, func(a, b *Rule) int { return CompareUTF16(a.UUID, b.UUID) })
}

// RuleFilter is the query of GET /rules (§5.2). A nil slice or pointer
// means the parameter was not given; a non-nil empty slice was given with no
// usable value and matches nothing.
type RuleFilter struct {
	Owners    []string
	VMs       []string
	IPs       []netip.Addr
	Subnets   []netip.Prefix
	Tags      TagQuery
	Wildcards []string
	Enabled   *bool
	Log       *bool
	Global    *bool
	Action    fwrule.Action
	// Protocol is matched case-insensitively against the rule's protocol.
	Protocol string
}

// FilterRules returns the rules matching every given condition of f, sorted
// by UUID.
func (inv *Inventory) FilterRules(f RuleFilter) []*Rule {
	var out []*Rule
	for _, r := range inv.Rules {
		if f.match(r) {
			out = append(out, r)
		}
	}
	sortRulesByUUID(out)
	return out
}

func (f *RuleFilter) match(r *Rule) bool {
	p := r.Parsed
	if p == nil {
		return false
	}
	if f.Owners != nil && (r.Global || !slices.Contains(f.Owners, r.Owner)) {
		return false
	}
	if f.Enabled != nil && *f.Enabled != r.Enabled {
		return false
	}
	if f.Log != nil && *f.Log != r.Log {
		return false
	}
	if f.Global != nil && *f.Global != r.Global {
		return false
	}
	if f.Action != 0 && f.Action != p.Action {
		return false
	}
	if f.Protocol != "" && !strings.EqualFold(f.Protocol, p.Protocol.String()) {
		return false
	}
	if f.VMs != nil && !anyTarget(p, func(t fwrule.Target) bool {
		return t.Kind == fwrule.TargetVM && slices.Contains(f.VMs, t.Value)
	}) {
		return false
	}
	if f.IPs != nil && !anyTarget(p, func(t fwrule.Target) bool {
		if t.Kind != fwrule.TargetIP {
			return false
		}
		a, err := netip.ParseAddr(t.Value)
		return err == nil && slices.Contains(f.IPs, a)
	}) {
		return false
	}
	if f.Subnets != nil && !anyTarget(p, func(t fwrule.Target) bool {
		if t.Kind != fwrule.TargetSubnet {
			return false
		}
		s, ok := parseLaxPrefix(t.Value)
		return ok && slices.Contains(f.Subnets, s)
	}) {
		return false
	}
	if f.Tags != nil && !anyTarget(p, func(t fwrule.Target) bool {
		return t.Kind == fwrule.TargetTag && f.Tags.matches(t)
	}) {
		return false
	}
	if f.Wildcards != nil && !anyTarget(p, func(t fwrule.Target) bool {
		return (t.Kind == fwrule.TargetAny && slices.Contains(f.Wildcards, "any")) ||
			(t.Kind == fwrule.TargetAllVMs && slices.Contains(f.Wildcards, "vmall"))
	}) {
		return false
	}
	return true
}

func anyTarget(p *fwrule.Rule, fn func(fwrule.Target) bool) bool {
	return slices.ContainsFunc(p.From, fn) || slices.ContainsFunc(p.To, fn)
}

// parseLaxPrefix parses a rule's subnet as written (which may carry leading
// zeros, e.g. "010.0.0.0/08") and returns it masked, so that it compares as
// PostgreSQL cidr values do.
func parseLaxPrefix(s string) (netip.Prefix, bool) {
	addr, bits, ok := strings.Cut(s, "/")
	if !ok {
		return netip.Prefix{}, false
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		a, ok = parseLaxIPv4(addr)
		if !ok {
			return netip.Prefix{}, false
		}
	}
	n := 0
	for _, c := range bits {
		if c < '0' || c > '9' || n > 1000 {
			return netip.Prefix{}, false
		}
		n = n*10 + int(c-'0')
	}
	if bits == "" || n > a.BitLen() {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, n).Masked(), true
}

// parseLaxIPv4 accepts dotted quads with leading zeros, read as decimal.
func parseLaxIPv4(s string) (netip.Addr, bool) {
	var b [4]byte
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return netip.Addr{}, false
	}
	for i, p := range parts {
		if p == "" || len(p) > 3 {
			return netip.Addr{}, false
		}
		n := 0
		for _, c := range p {
			if c < '0' || c > '9' {
				return netip.Addr{}, false
			}
			n = n*10 + int(c-'0')
		}
		if n > 255 {
			return netip.Addr{}, false
		}
		b[i] = byte(n)
	}
	return netip.AddrFrom4(b), true
}

// ResolveResult is the answer of POST /resolve (§9.4) before serialisation.
type ResolveResult struct {
	Rules []*Rule
	// Tags maps tag names to nil (meaning true: any value) or the sorted,
	// distinct values to fetch.
	Tags   map[string][]string
	VMs    []string
	AllVMs bool
}

// Resolve computes which rules a set of firewalls (given by UUIDs and tags)
// of owner must fetch, and what of the other sides (§9).
func (inv *Inventory) Resolve(owner string, vms []string, tags TagQuery) ResolveResult {
	res := ResolveResult{Tags: map[string][]string{}}
	anyTag := map[string]bool{}
	vals := map[string]map[string]bool{}
	vmset := map[string]bool{}
	sideMatches := func(side []fwrule.Target) bool {
		return slices.ContainsFunc(side, func(t fwrule.Target) bool {
			switch t.Kind {
			case fwrule.TargetAllVMs:
				return true
			case fwrule.TargetVM:
				return slices.Contains(vms, t.Value)
			case fwrule.TargetTag:
				return tags.matches(t)
			}
			return false
		})
	}
	collect := func(side []fwrule.Target) {
		for _, t := range side {
			switch t.Kind {
			case fwrule.TargetAllVMs:
				res.AllVMs = true
			case fwrule.TargetTag:
				if !t.HasValue {
					anyTag[t.Value] = true
					continue
				}
				if vals[t.Value] == nil {
					vals[t.Value] = map[string]bool{}
				}
				vals[t.Value][t.TagValue] = true
			case fwrule.TargetVM:
				vmset[t.Value] = true
			}
		}
	}
	for _, r := range inv.Rules {
		p := r.Parsed
		if p == nil || !(r.Global || r.Owner == owner) {
			continue
		}
		toMatch, fromMatch := sideMatches(p.To), sideMatches(p.From)
		if !toMatch && !fromMatch {
			continue
		}
		res.Rules = append(res.Rules, r)
		noop := p.Priority == 0
		if toMatch && !(noop && p.Action == fwrule.Block) {
			collect(p.From)
		}
		if fromMatch && !(noop && p.Action == fwrule.Allow) {
			collect(p.To)
		}
	}
	sortRulesByUUID(res.Rules)
	for name := range anyTag {
		res.Tags[name] = nil
	}
	for name, vs := range vals {
		if anyTag[name] {
			continue
		}
		list := make([]string, 0, len(vs))
		for v := range vs {
			list = append(list, v)
		}
		slices.SortFunc(list, CompareUTF16)
		res.Tags[name] = list
	}
	for v := range vmset {
		res.VMs = append(res.VMs, v)
	}
	slices.SortFunc(res.VMs, CompareUTF16)
	return res
}

// CompareUTF16 orders strings by UTF-16 code units, as JavaScript does.
// Code points order the same way except that supplementary characters
// (encoded as surrogates, 0xD800–0xDFFF) sort below U+E000–U+FFFF.
func CompareUTF16(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	for i := 0; i < len(ra) && i < len(rb); i++ {
		if ra[i] != rb[i] {
			return cmp.Compare(utf16Order(ra[i]), utf16Order(rb[i]))
		}
	}
	return cmp.Compare(len(ra), len(rb))
}

// utf16Order maps a code point to a key ordered like its UTF-16 encoding.
func utf16Order(r rune) int {
	switch {
	case r >= 0x10000:
		return 0xD800<<5 + int(r) // above every BMP code point below U+D800
	case r >= 0xE000:
		return 0xD800<<5 + 0x110000 + int(r) // above every supplementary one
	}
	return int(r)
}
