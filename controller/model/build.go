package model

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/fwgit/fwgit/internal/diag"
	"github.com/fwgit/fwgit/schema/fwrule"
	"github.com/fwgit/fwgit/schema/load"
	v1 "github.com/fwgit/fwgit/schema/v1"
)

// Diagnostic codes of the checks that need the whole repository. Like the
// loader's codes in schema/v1 they are stable; messages may change.
const (
	// CodeDuplicateName: two objects of one kind share metadata.name.
	CodeDuplicateName = "duplicate-name"
	// CodeDuplicateUUID: two Firewalls or Rules share a UUID, stated or
	// derived from the name.
	CodeDuplicateUUID = "duplicate-uuid"
	// CodeDuplicateSettings: the repository has more than one Settings.
	CodeDuplicateSettings = "duplicate-settings"
	// CodeUnknownTag: a rule or a firewall uses a tag no Tag declares.
	CodeUnknownTag = "unknown-tag"
	// CodeUnknownTagValue: a rule or a firewall uses a value outside the
	// values its Tag declares.
	CodeUnknownTagValue = "unknown-tag-value"
	// CodeUnknownVM: a rule's "vm <uuid>" names no firewall.
	CodeUnknownVM = "unknown-vm"
	// CodeVMOtherOwner: an owned rule's "vm <uuid>" names a firewall of
	// another owner (or one without an owner).
	CodeVMOtherOwner = "vm-other-owner"
	// CodeUnknownFirewall: a Test case names no firewall.
	CodeUnknownFirewall = "unknown-firewall"
	// CodeSelectorMatchesNothing (warning): a tag, vm or "all vms" target
	// selects no firewall in the rule's scope. A silent zero-match is how
	// policies fail open.
	CodeSelectorMatchesNothing = "selector-matches-nothing"
	// CodeFirewallNoAgent (warning): a firewall has no spec.agent, so no
	// ruleset can reach it.
	CodeFirewallNoAgent = "firewall-no-agent"
)

// Build resolves the loaded objects of one revision into an [Inventory] and
// checks what no single document can: names and UUIDs unique, tags and
// their values declared, "vm" targets and test cases naming existing
// firewalls of the right owner, selectors that match nothing. It returns the
// loader's diagnostics together with its own, sorted by position.
//
// The inventory is built even when there are errors, from the objects that
// could be decoded: the first object of a duplicated name wins, and rules
// whose text does not parse are left out of [Inventory.Rules]. Callers that
// act on a revision must refuse it when the list has errors.
func Build(repo *load.Repo) (*Inventory, diag.List) {
	b := &builder{
		inv: &Inventory{
			Tags:     map[string]*Tag{},
			fwByName: map[string]*Firewall{},
			fwByUUID: map[string]*Firewall{},
		},
		names:       map[string]map[string]diag.Pos{},
		uuids:       map[string]uuidOwner{},
		objects:     map[*Rule]*load.Object{},
		testObjects: map[*Test]*load.Object{},
	}
	if repo == nil {
		repo = &load.Repo{}
	}
	b.diags = append(b.diags, repo.Diags...)
	b.collect(repo.Objects)
	b.index()
	b.checkFirewalls()
	b.checkRules()
	b.checkTests()
	b.diags.Sort()
	return b.inv, b.diags
}

type builder struct {
	inv   *Inventory
	diags diag.List
	// names maps kind → name → position of the first object so named.
	names map[string]map[string]diag.Pos
	uuids map[string]uuidOwner
	// fwObjects and objects keep the source object of each firewall and
	// rule, for field positions.
	fwObjects   []*load.Object
	objects     map[*Rule]*load.Object
	testObjects map[*Test]*load.Object
	settings    *load.Object
}

// uuidOwner says which object first claimed a UUID.
type uuidOwner struct {
	kind, name string
	pos        diag.Pos
}

// claimName records name for kind and reports whether it is new. A
// duplicate is reported at the second object's metadata.name.
func (b *builder) claimName(o *load.Object, kind, name string) bool {
	m := b.names[kind]
	if m == nil {
		m = map[string]diag.Pos{}
		b.names[kind] = m
	}
	if first, ok := m[name]; ok {
		b.diags.Errorf(o.PosOf("metadata.name"), CodeDuplicateName,
			"duplicate %s name %q: first defined at %s", kind, name, first)
		return false
	}
	m[name] = o.PosOf("metadata.name")
	return true
}

// claimUUID records the UUID of a Firewall or Rule and reports whether it is
// new. A duplicate is reported where the second object states its UUID, or
// at its name when the UUID is derived.
func (b *builder) claimUUID(o *load.Object, kind, name, uuid string, stated bool) bool {
	pos := o.PosOf("metadata.name")
	if stated {
		pos = o.PosOf("metadata.uuid")
	}
	if first, ok := b.uuids[uuid]; ok {
		how := "its UUID"
		if !stated {
			how = "the UUID derived from its name"
		}
		b.diags.Errorf(pos, CodeDuplicateUUID, "%s %q has %s %s, already used by %s %q at %s",
			kind, name, how, uuid, first.kind, first.name, first.pos)
		return false
	}
	b.uuids[uuid] = uuidOwner{kind: kind, name: name, pos: pos}
	return true
}

// collect turns the objects into inventory entries, checking names and
// UUIDs for duplicates.
func (b *builder) collect(objs []load.Object) {
	inv := b.inv
	for i := range objs {
		o := &objs[i]
		switch {
		case o.Firewall != nil:
			m := o.Firewall
			name := m.Metadata.Name
			if name == "" || !b.claimName(o, v1.KindFirewall, name) {
				continue
			}
			uuid := m.Metadata.UUIDFor(v1.KindFirewall)
			if !b.claimUUID(o, v1.KindFirewall, name, uuid, m.Metadata.UUID != "") {
				continue
			}
			f := &Firewall{
				Name:        name,
				UUID:        uuid,
				Owner:       m.Spec.Owner,
				Description: m.Spec.Description,
				AddrText:    m.Spec.Addresses,
				Tags:        m.Spec.Tags,
				Enabled:     m.Spec.IsEnabled(),
				Agent:       m.Spec.Agent,
				Pos:         o.Pos,
			}
			for _, a := range m.Spec.Addresses {
				// The loader reports bad addresses; leave them out here.
				if addr, err := netip.ParseAddr(a); err == nil {
					f.Addresses = append(f.Addresses, addr)
				}
			}
			if f.Tags == nil {
				f.Tags = map[string]v1.TagValue{}
			}
			f.Management = parsePrefixes(m.Spec.Management)
			inv.Firewalls = append(inv.Firewalls, f)
			b.fwObjects = append(b.fwObjects, o)
		case o.Rule != nil:
			m := o.Rule
			name := m.Metadata.Name
			if name == "" || !b.claimName(o, v1.KindRule, name) {
				continue
			}
			uuid := m.Metadata.UUIDFor(v1.KindRule)
			if !b.claimUUID(o, v1.KindRule, name, uuid, m.Metadata.UUID != "") {
				continue
			}
			if o.ParsedRule == nil {
				continue // the loader reported why
			}
			r := &Rule{
				Name:        name,
				UUID:        uuid,
				Owner:       m.Spec.Owner,
				Global:      m.Spec.Global,
				Enabled:     m.Spec.IsEnabled(),
				Log:         m.Spec.Log,
				Description: m.Spec.Description,
				Text:        m.Spec.Rule,
				Parsed:      o.ParsedRule,
				Pos:         o.Pos,
				TextPos:     o.PosOf("spec.rule"),
			}
			if r.Global {
				// A rule with both is an error the loader reports; treat
				// it as global so it still reaches every firewall it names.
				r.Owner = ""
			}
			inv.Rules = append(inv.Rules, r)
			b.objects[r] = o
		case o.Tag != nil:
			m := o.Tag
			name := m.Metadata.Name
			if !b.claimName(o, v1.KindTag, name) {
				continue
			}
			t := &Tag{Name: name, Description: m.Spec.Description, Pos: o.Pos}
			if m.Spec.Values != nil {
				t.Values = make([]string, 0, len(m.Spec.Values))
				for _, v := range m.Spec.Values {
					t.Values = append(t.Values, v.String())
				}
			}
			inv.Tags[name] = t
		case o.Test != nil:
			m := o.Test
			name := m.Metadata.Name
			if name == "" || !b.claimName(o, v1.KindTest, name) {
				continue
			}
			t := &Test{Name: name, Pos: o.Pos}
			for i, c := range m.Spec.Cases {
				t.Cases = append(t.Cases, TestCase{TestCase: c, Pos: o.PosOf(fmt.Sprintf("spec.cases[%d]", i))})
			}
			inv.Tests = append(inv.Tests, t)
			b.testObjects[t] = o
		case o.Settings != nil:
			if b.settings != nil {
				b.diags.Errorf(o.Pos, CodeDuplicateSettings,
					"more than one Settings in the repository: the first is at %s", b.settings.Pos)
				continue
			}
			b.settings = o
		}
	}
	s := &inv.Settings
	s.AgentPort = v1.DefaultAgentPort
	if o := b.settings; o != nil {
		spec := o.Settings.Spec
		if spec.AgentPort != 0 {
			s.AgentPort = spec.AgentPort
		}
		s.ControllerAddresses = parsePrefixes(spec.ControllerAddresses)
		s.Management = parsePrefixes(spec.Management)
		s.Pos = o.Pos
	}
	for _, f := range inv.Firewalls {
		f.Management = NormalizePrefixes(append(f.Management, s.Management...))
	}
}

// index sorts the inventory and builds its lookup tables.
func (b *builder) index() {
	inv := b.inv
	// Sort firewalls and their source objects together.
	order := make([]int, len(inv.Firewalls))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int { return strings.Compare(inv.Firewalls[i].Name, inv.Firewalls[j].Name) })
	fws := make([]*Firewall, len(order))
	objs := make([]*load.Object, len(order))
	for k, i := range order {
		fws[k], objs[k] = inv.Firewalls[i], b.fwObjects[i]
	}
	inv.Firewalls, b.fwObjects = fws, objs
	for i, f := range inv.Firewalls {
		f.idx = i
	}
	slices.SortFunc(inv.Rules, func(a, b *Rule) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(inv.Tests, func(a, b *Test) int { return strings.Compare(a.Name, b.Name) })

	inv.byTag = map[string][]*Firewall{}
	inv.byTagValue = map[tagValue][]*Firewall{}
	inv.byOwner = map[string][]*Firewall{}
	inv.ownerTag = map[ownerTag][]*Firewall{}
	inv.ownerTagValue = map[ownerTagValue][]*Firewall{}
	for _, f := range inv.Firewalls {
		inv.fwByName[f.Name] = f
		inv.fwByUUID[f.UUID] = f
		inv.byOwner[f.Owner] = append(inv.byOwner[f.Owner], f)
		for name, v := range f.Tags {
			tv := tagValue{name, v.String()}
			inv.byTag[name] = append(inv.byTag[name], f)
			inv.byTagValue[tv] = append(inv.byTagValue[tv], f)
			if f.Owner != "" {
				inv.ownerTag[ownerTag{f.Owner, name}] = append(inv.ownerTag[ownerTag{f.Owner, name}], f)
				k := ownerTagValue{f.Owner, name, tv.value}
				inv.ownerTagValue[k] = append(inv.ownerTagValue[k], f)
			}
		}
	}
	inv.ruleByUUID = make(map[string]*Rule, len(inv.Rules))
	inv.sides = make(map[*Rule]*ruleSides, len(inv.Rules))
	inv.fwRules = make([][]*Rule, len(inv.Firewalls))
	allSides := make([]ruleSides, len(inv.Rules))
	for i, r := range inv.Rules {
		inv.ruleByUUID[r.UUID] = r
		allSides[i] = ruleSides{from: inv.sideFirewalls(r, r.Parsed.From), to: inv.sideFirewalls(r, r.Parsed.To)}
		inv.sides[r] = &allSides[i]
	}
	// Two passes over the sides, counting then filling, so that the
	// firewall → rules lists share one exactly sized array. seen[i] ==
	// stamp marks firewall i as already holding the current rule.
	seen := make([]int, len(inv.Firewalls))
	counts := make([]int, len(inv.Firewalls))
	each := func(fn func(r *Rule, f *Firewall)) {
		clear(seen)
		for i, r := range inv.Rules {
			stamp := i + 1
			for _, f := range allSides[i].from {
				fn(r, f)
				seen[f.idx] = stamp
			}
			for _, f := range allSides[i].to {
				if seen[f.idx] != stamp {
					fn(r, f)
				}
			}
		}
	}
	total := 0
	each(func(_ *Rule, f *Firewall) { counts[f.idx]++; total++ })
	backing := make([]*Rule, 0, total)
	for i, n := range counts {
		inv.fwRules[i] = backing[len(backing) : len(backing) : len(backing)+n]
		backing = backing[:len(backing)+n]
	}
	each(func(r *Rule, f *Firewall) { inv.fwRules[f.idx] = append(inv.fwRules[f.idx], r) })
}

// checkFirewalls checks each firewall's tags against the declared Tags and
// warns about firewalls without an agent.
func (b *builder) checkFirewalls() {
	for i, f := range b.inv.Firewalls {
		o := b.fwObjects[i]
		for _, name := range sortedKeys(f.Tags) {
			pos := o.PosOf("spec.tags." + name)
			tag, ok := b.inv.Tags[name]
			switch {
			case !ok:
				b.diags.Errorf(pos, CodeUnknownTag, "firewall %q has tag %q, which no Tag declares", f.Name, name)
			case tag.Values != nil && !slices.Contains(tag.Values, f.Tags[name].String()):
				b.diags.Errorf(pos, CodeUnknownTagValue, "firewall %q has tag %q = %q, but the Tag allows only %s",
					f.Name, name, f.Tags[name].String(), quoteList(tag.Values))
			}
		}
		if f.Agent == nil {
			b.diags.Warnf(o.PosOf("metadata.name"), CodeFirewallNoAgent,
				"firewall %q has no spec.agent, so no ruleset can reach it", f.Name)
		}
	}
}

// checkRules checks every target of every parsed rule.
func (b *builder) checkRules() {
	for _, r := range b.inv.Rules {
		o := b.objects[r]
		for _, side := range []struct {
			name    string
			targets []fwrule.Target
		}{{"FROM", r.Parsed.From}, {"TO", r.Parsed.To}} {
			for _, t := range side.targets {
				b.checkTarget(o, r, side.name, t)
			}
		}
	}
}

func (b *builder) checkTarget(o *load.Object, r *Rule, side string, t fwrule.Target) {
	inv := b.inv
	// A rule with neither an owner nor global: true has no scope; the
	// loader reported that, and scope checks would only repeat it.
	scoped := r.Global || r.Owner != ""
	// Mapping the offset re-scans the YAML scalar: only do it to report.
	pos := func() diag.Pos { return rulePos(o, r.TextPos, t.Offset) }
	switch t.Kind {
	case fwrule.TargetTag:
		tag, ok := inv.Tags[t.Value]
		switch {
		case !ok:
			b.diags.Errorf(pos(), CodeUnknownTag, "rule %q uses tag %q, which no Tag declares", r.Name, t.Value)
			return
		case t.HasValue && tag.Values != nil && !slices.Contains(tag.Values, t.TagValue):
			b.diags.Errorf(pos(), CodeUnknownTagValue, "rule %q uses tag %q = %q, but the Tag allows only %s",
				r.Name, t.Value, t.TagValue, quoteList(tag.Values))
			return
		}
	case fwrule.TargetVM:
		f := inv.fwByUUID[t.Value]
		switch {
		case f == nil:
			b.diags.Errorf(pos(), CodeUnknownVM, "rule %q names vm %s, which is no firewall's UUID", r.Name, t.Value)
			return
		case !scoped:
			return
		case !r.Global && f.Owner != r.Owner:
			owner := "has no owner"
			if f.Owner != "" {
				owner = "belongs to owner " + f.Owner
			}
			b.diags.Errorf(pos(), CodeVMOtherOwner, "rule %q of owner %s names vm %s, firewall %q, which %s",
				r.Name, r.Owner, t.Value, f.Name, owner)
			return
		}
	case fwrule.TargetAllVMs:
	default:
		return // any, ip and subnet select no firewall
	}
	if !scoped {
		return
	}
	if len(inv.targetFirewalls(r, t)) == 0 {
		scope := "no firewall"
		if !r.Global {
			scope = "no firewall of owner " + r.Owner
		}
		b.diags.Warnf(pos(), CodeSelectorMatchesNothing, "rule %q: %s on the %s side matches %s",
			r.Name, t.String(), side, scope)
	}
}

// checkTests checks that every test case names a firewall.
func (b *builder) checkTests() {
	for _, t := range b.inv.Tests {
		for i, c := range t.Cases {
			if c.Firewall == "" {
				continue // the loader reports the missing field
			}
			if b.inv.fwByName[c.Firewall] == nil {
				pos := b.testObjects[t].PosOf(fmt.Sprintf("spec.cases[%d].firewall", i))
				b.diags.Errorf(pos, CodeUnknownFirewall, "test %q case %d names firewall %q, which does not exist",
					t.Name, i+1, c.Firewall)
			}
		}
	}
}

func quoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// parsePrefixes parses CIDRs, and single addresses as host prefixes,
// skipping what does not parse (the loader reports it).
func parsePrefixes(ss []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p)
		} else if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return NormalizePrefixes(out)
}

// NormalizePrefixes returns ps masked to their network addresses, sorted
// (IPv4 first, then by address and length), with duplicates and prefixes
// contained in another one removed. It does not modify ps.
func NormalizePrefixes(ps []netip.Prefix) []netip.Prefix {
	if len(ps) == 0 {
		return nil
	}
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Masked())
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
	})
	// After sorting, a prefix that contains later ones comes first.
	kept := out[:0]
	for _, p := range out {
		if n := len(kept); n > 0 && kept[n-1].Contains(p.Addr()) && kept[n-1].Bits() <= p.Bits() {
			continue
		}
		kept = append(kept, p)
	}
	return kept
}
