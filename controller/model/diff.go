package model

import (
	"maps"
	"slices"
	"sort"
)

// Diff returns the names of the firewalls, in old or next, whose compiled
// ruleset may differ between the two inventories, sorted. It is
// conservative: a name it leaves out compiles to the same ruleset in both;
// a name it returns may still compile the same.
//
//   - Settings changed (agent port, controller addresses, management):
//     every firewall.
//   - A rule added, removed or changed in what compiles (text, UUID, scope,
//     enabled, log): every firewall it selects, before and after. Those
//     include the firewalls whose addresses fill its other side.
//   - A firewall added, removed or changed in what compiles (UUID, owner,
//     addresses, tags, enabled, management): itself, and every firewall
//     that a rule selecting it, before or after, selects on the other side,
//     since those expand its addresses.
//
// Descriptions, agents, positions, Tags and Tests never change a ruleset.
// A nil inventory stands for an empty repository.
func Diff(old, next *Inventory) []string {
	if old == nil {
		old = &Inventory{}
	}
	if next == nil {
		next = &Inventory{}
	}
	out := map[string]bool{}
	if !sameSettings(old.Settings, next.Settings) {
		for _, f := range old.Firewalls {
			out[f.Name] = true
		}
		for _, f := range next.Firewalls {
			out[f.Name] = true
		}
		return sortedNames(out)
	}

	addAll := func(fs []*Firewall) {
		for _, f := range fs {
			out[f.Name] = true
		}
	}
	// Rules, matched by name.
	oldRules := make(map[string]*Rule, len(old.Rules))
	for _, r := range old.Rules {
		oldRules[r.Name] = r
	}
	seen := make(map[string]bool, len(next.Rules))
	for _, r := range next.Rules {
		seen[r.Name] = true
		o := oldRules[r.Name]
		if o != nil && sameRule(o, r) {
			continue
		}
		addAll(next.AffectedBy(r))
		if o != nil {
			addAll(old.AffectedBy(o))
		}
	}
	for _, o := range old.Rules {
		if !seen[o.Name] {
			addAll(old.AffectedBy(o))
		}
	}

	// Firewalls, matched by name.
	expanders := func(inv *Inventory, f *Firewall) {
		out[f.Name] = true
		for _, r := range inv.rulesSelecting(f) {
			s := inv.sides[r]
			if slices.Contains(s.from, f) {
				addAll(s.to)
			}
			if slices.Contains(s.to, f) {
				addAll(s.from)
			}
		}
	}
	nextFW := make(map[string]bool, len(next.Firewalls))
	for _, f := range next.Firewalls {
		nextFW[f.Name] = true
		o := old.fwByName[f.Name]
		if o != nil && sameFirewall(o, f) {
			continue
		}
		expanders(next, f)
		if o != nil {
			expanders(old, o)
		}
	}
	for _, o := range old.Firewalls {
		if !nextFW[o.Name] {
			expanders(old, o)
		}
	}
	return sortedNames(out)
}

func sortedNames(m map[string]bool) []string {
	names := slices.Collect(maps.Keys(m))
	sort.Strings(names)
	return names
}

func sameSettings(a, b Settings) bool {
	return a.AgentPort == b.AgentPort &&
		slices.Equal(a.ControllerAddresses, b.ControllerAddresses) &&
		slices.Equal(a.Management, b.Management)
}

// sameRule compares what a rule contributes to a compiled ruleset. The text
// decides the parse; the UUID names the rule in comments and log prefixes.
func sameRule(a, b *Rule) bool {
	return a.UUID == b.UUID && a.Owner == b.Owner && a.Global == b.Global &&
		a.Enabled == b.Enabled && a.Log == b.Log && a.Text == b.Text
}

// sameFirewall compares what a firewall contributes to its own ruleset and
// to the rulesets of firewalls whose rules expand to its addresses.
func sameFirewall(a, b *Firewall) bool {
	if a.UUID != b.UUID || a.Owner != b.Owner || a.Enabled != b.Enabled ||
		!slices.Equal(a.Addresses, b.Addresses) || !slices.Equal(a.Management, b.Management) ||
		len(a.Tags) != len(b.Tags) {
		return false
	}
	for k, v := range a.Tags {
		w, ok := b.Tags[k]
		if !ok || v.String() != w.String() {
			return false
		}
	}
	return true
}
