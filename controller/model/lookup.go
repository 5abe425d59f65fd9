package model

import (
	"math/bits"

	"github.com/fwgit/fwgit/schema/fwrule"
)

// This file holds the lookups the compiler uses, with the semantics of
// DESIGN.md "Compilation": only vm, tag and "all vms" targets select
// firewalls, always within the rule's owner scope. Results are shared with
// the inventory and sorted by name; callers must not modify them.

// FirewallByName returns the firewall called name, or nil.
func (inv *Inventory) FirewallByName(name string) *Firewall { return inv.fwByName[name] }

// FirewallByUUID returns the firewall with that UUID, or nil.
func (inv *Inventory) FirewallByUUID(uuid string) *Firewall { return inv.fwByUUID[uuid] }

// RuleByUUID returns the rule with that UUID, or nil.
func (inv *Inventory) RuleByUUID(uuid string) *Rule { return inv.ruleByUUID[uuid] }

// TagFirewalls returns the firewalls that carry tag name, whatever its
// value, sorted by name.
func (inv *Inventory) TagFirewalls(name string) []*Firewall { return inv.byTag[name] }

// TagValueFirewalls returns the firewalls whose tag name has value as text
// ("true", "42", "web"), sorted by name.
func (inv *Inventory) TagValueFirewalls(name, value string) []*Firewall {
	return inv.byTagValue[tagValue{name, value}]
}

// OwnerFirewalls returns the firewalls of owner sorted by name; owner ""
// gives the firewalls without an owner.
func (inv *Inventory) OwnerFirewalls(owner string) []*Firewall { return inv.byOwner[owner] }

// InScope reports whether f is in r's owner scope: every firewall for a
// global rule, the firewalls of r's owner for an owned one. A firewall
// without an owner is only in the scope of global rules.
func InScope(r *Rule, f *Firewall) bool {
	return r.Global || (r.Owner != "" && f.Owner == r.Owner)
}

// Selects reports whether target t of rule r selects firewall f: t is
// "all vms", "vm <f's UUID>" or a tag f carries (with the same value as
// text, when t has one), and f is in r's scope. any, ip and subnet never
// select a firewall, even one that owns the address. Enabled flags play no
// part.
func (inv *Inventory) Selects(r *Rule, t fwrule.Target, f *Firewall) bool {
	if !InScope(r, f) {
		return false
	}
	switch t.Kind {
	case fwrule.TargetAllVMs:
		return true
	case fwrule.TargetVM:
		return f.UUID == t.Value
	case fwrule.TargetTag:
		v, ok := f.Tags[t.Value]
		return ok && (!t.HasValue || v.String() == t.TagValue)
	}
	return false
}

// scopeFirewalls returns the firewalls in r's scope.
func (inv *Inventory) scopeFirewalls(r *Rule) []*Firewall {
	if r.Global {
		return inv.Firewalls
	}
	if r.Owner == "" {
		return nil
	}
	return inv.byOwner[r.Owner]
}

// targetFirewalls returns the firewalls target t of r selects, sorted by
// name.
func (inv *Inventory) targetFirewalls(r *Rule, t fwrule.Target) []*Firewall {
	switch t.Kind {
	case fwrule.TargetAllVMs:
		return inv.scopeFirewalls(r)
	case fwrule.TargetVM:
		if f := inv.fwByUUID[t.Value]; f != nil && InScope(r, f) {
			return []*Firewall{f}
		}
	case fwrule.TargetTag:
		switch {
		case r.Global && t.HasValue:
			return inv.byTagValue[tagValue{t.Value, t.TagValue}]
		case r.Global:
			return inv.byTag[t.Value]
		case r.Owner == "":
			return nil
		case t.HasValue:
			return inv.ownerTagValue[ownerTagValue{r.Owner, t.Value, t.TagValue}]
		default:
			return inv.ownerTag[ownerTag{r.Owner, t.Value}]
		}
	}
	return nil
}

// SideFirewalls returns the firewalls that the targets of side (r's FROM or
// TO list, or any list of targets) select for rule r, sorted by name and
// without duplicates. Disabled firewalls are included: their addresses
// still count when the other side expands.
func (inv *Inventory) SideFirewalls(r *Rule, side []fwrule.Target) []*Firewall {
	if s := inv.sides[r]; s != nil && r.Parsed != nil {
		if sameSlice(side, r.Parsed.From) {
			return s.from
		}
		if sameSlice(side, r.Parsed.To) {
			return s.to
		}
	}
	return inv.sideFirewalls(r, side)
}

func (inv *Inventory) sideFirewalls(r *Rule, side []fwrule.Target) []*Firewall {
	var lists [][]*Firewall
	for _, t := range side {
		if l := inv.targetFirewalls(r, t); len(l) > 0 {
			lists = append(lists, l)
		}
	}
	switch len(lists) {
	case 0:
		return nil
	case 1:
		return lists[0]
	}
	return inv.union(lists...)
}

// union returns the firewalls of lists, each a list of inv's firewalls,
// sorted by name (their order in inv.Firewalls) without duplicates. A
// single non-empty list is returned as it is.
func (inv *Inventory) union(lists ...[]*Firewall) []*Firewall {
	nonEmpty := 0
	var only []*Firewall
	for _, l := range lists {
		if len(l) > 0 {
			nonEmpty++
			only = l
		}
	}
	if nonEmpty <= 1 {
		return only
	}
	words := make([]uint64, (len(inv.Firewalls)+63)/64)
	for _, l := range lists {
		for _, f := range l {
			words[f.idx>>6] |= 1 << (f.idx & 63)
		}
	}
	n := 0
	for _, w := range words {
		n += bits.OnesCount64(w)
	}
	out := make([]*Firewall, 0, n)
	for i, w := range words {
		for w != 0 {
			out = append(out, inv.Firewalls[i<<6+bits.TrailingZeros64(w)])
			w &= w - 1
		}
	}
	return out
}

func sameSlice(a, b []fwrule.Target) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// Applies reports whether rule r is enforced on firewall f, and on which
// side: onFrom when f is selected on the FROM side (an output rule on f),
// onTo when on the TO side (an input rule). Both are false when r or f is
// disabled or f is outside r's scope.
func (inv *Inventory) Applies(r *Rule, f *Firewall) (onFrom, onTo bool) {
	if !r.Enabled || !f.Enabled || r.Parsed == nil || !InScope(r, f) {
		return false, false
	}
	for _, t := range r.Parsed.From {
		if inv.Selects(r, t, f) {
			onFrom = true
			break
		}
	}
	for _, t := range r.Parsed.To {
		if inv.Selects(r, t, f) {
			onTo = true
			break
		}
	}
	return onFrom, onTo
}

// RulesFor returns the enabled rules enforced on f, sorted by name; none
// when f is disabled.
func (inv *Inventory) RulesFor(f *Firewall) []*Rule {
	if !f.Enabled {
		return nil
	}
	var out []*Rule
	for _, r := range inv.rulesSelecting(f) {
		if r.Enabled {
			out = append(out, r)
		}
	}
	return out
}

// AffectedBy returns the firewalls r selects on either side, sorted by name,
// whatever the enabled flags: the firewalls whose ruleset r can change.
func (inv *Inventory) AffectedBy(r *Rule) []*Firewall {
	if r.Parsed == nil {
		return nil
	}
	return inv.union(inv.SideFirewalls(r, r.Parsed.From), inv.SideFirewalls(r, r.Parsed.To))
}

// rulesSelecting returns the rules that select f on either side, whatever
// the enabled flags, sorted by name.
func (inv *Inventory) rulesSelecting(f *Firewall) []*Rule {
	if !inv.owns(f) {
		return nil
	}
	return inv.fwRules[f.idx]
}

// owns reports whether f is one of inv's firewalls.
func (inv *Inventory) owns(f *Firewall) bool {
	return f != nil && f.idx < len(inv.Firewalls) && inv.Firewalls[f.idx] == f && f.idx < len(inv.fwRules)
}
