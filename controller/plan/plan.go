package plan

import (
	"cmp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fwgit/fwgit/controller/compile"
	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/internal/diag"
	"github.com/fwgit/fwgit/internal/nft"
	"github.com/fwgit/fwgit/schema/fwrule"
)

// Context is the number of unchanged lines shown around each change.
const Context = 3

// Status says what a change does to one firewall.
type Status string

// The statuses of a [FirewallPlan].
const (
	Added     Status = "added"
	Removed   Status = "removed"
	Changed   Status = "changed"
	Unchanged Status = "unchanged"
)

// Plan is what a change of policy does to every firewall.
type Plan struct {
	// Base and Head name the two revisions; the caller fills them in
	// (Compute leaves them empty).
	Base string `json:"base,omitempty"`
	Head string `json:"head,omitempty"`
	// Counts per status.
	Counts Counts `json:"counts"`
	// Firewalls sorted by name, unchanged ones included.
	Firewalls []FirewallPlan `json:"firewalls"`
	// Warnings about the head revision, sorted by position.
	Warnings []Warning `json:"warnings,omitempty"`
}

// Counts counts firewalls per [Status].
type Counts struct {
	Added     int `json:"added"`
	Removed   int `json:"removed"`
	Changed   int `json:"changed"`
	Unchanged int `json:"unchanged"`
}

// FirewallPlan is the change to one firewall.
type FirewallPlan struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	// BaseDigest and HeadDigest are the rulesets' digests ("" when the
	// firewall does not exist on that side, and for unchanged firewalls).
	BaseDigest string `json:"baseDigest,omitempty"`
	HeadDigest string `json:"headDigest,omitempty"`
	// Diff is the unified diff of the rendered rulesets; Added and
	// Removed count its lines.
	Diff    string `json:"diff,omitempty"`
	Added   int    `json:"linesAdded"`
	Removed int    `json:"linesRemoved"`
	// Causes are the rules (and other manifests) that made the change.
	Causes []Cause `json:"causes,omitempty"`
}

// CauseKind says how a cause changed.
type CauseKind string

// The kinds of [Cause].
const (
	// RuleAdded, RuleRemoved and RuleModified: the Rule manifest itself
	// changed (text, enabled, log, owner or scope).
	RuleAdded    CauseKind = "added"
	RuleRemoved  CauseKind = "removed"
	RuleModified CauseKind = "modified"
	// RuleRecompiled: the manifest is the same but what it compiles to on
	// this firewall changed (a tag membership or address changed).
	RuleRecompiled CauseKind = "recompiled"
	// FirewallChanged: the firewall's own manifest or the settings changed
	// the always-present rules, or enabled or disabled the firewall.
	FirewallChanged CauseKind = "firewall"
)

// Cause is one reason for a firewall's change.
type Cause struct {
	Kind CauseKind `json:"kind"`
	Name string    `json:"name"`
	UUID string    `json:"uuid,omitempty"`
	Pos  diag.Pos  `json:"pos"`
}

// Warning codes.
const (
	WarnNoMatch  = "selector-matches-nothing"
	WarnShadowed = "rule-shadowed"
	WarnOpenAny  = "open-to-any"
)

// Warning is a problem worth a reviewer's look in the head revision.
type Warning struct {
	Code string   `json:"code"`
	Pos  diag.Pos `json:"pos"`
	Rule string   `json:"rule"`
	Msg  string   `json:"message"`
	// New is set when the rule was added or modified by this change.
	New bool `json:"new"`
}

// Compute compares two revisions: base and head inventories with their
// compiled rulesets (as [compile.All] returns them). base may be nil (every
// firewall is then added). It is pure and deterministic.
func Compute(base, head *model.Inventory, baseRS, headRS map[string]*nft.Ruleset) *Plan {
	if base == nil {
		base = &model.Inventory{}
	}
	p := &Plan{}
	names := map[string]bool{}
	for _, f := range base.Firewalls {
		names[f.Name] = true
	}
	for _, f := range head.Firewalls {
		names[f.Name] = true
	}
	baseFW, headFW := firewallsByName(base), firewallsByName(head)
	changedRules := ruleChanges(base, head)
	touched := map[string]bool{}
	for uuid, k := range changedRules {
		if k != RuleRemoved {
			touched[uuid] = true
		}
	}
	// detail is a changed firewall: its index in p.Firewalls, its manifests
	// and its rulesets on each side.
	type detail struct {
		i        int
		bf, hf   *model.Firewall
		brs, hrs *nft.Ruleset
	}
	var details []detail
	for _, name := range sortedKeys(names) {
		bf, hf := baseFW[name], headFW[name]
		fp := FirewallPlan{Name: name}
		brs, hrs := rulesetOf(base, bf, baseRS), rulesetOf(head, hf, headRS)
		switch {
		case bf == nil:
			fp.Status = Added
		case hf == nil:
			fp.Status = Removed
		case equalRulesets(brs, hrs):
			fp.Status = Unchanged
		default:
			fp.Status = Changed
		}
		// Rendering every ruleset is the expensive part of a plan, so
		// digests are computed only where something changed.
		if fp.Status != Unchanged {
			details = append(details, detail{len(p.Firewalls), bf, hf, brs, hrs})
		}
		switch fp.Status {
		case Added:
			p.Counts.Added++
		case Removed:
			p.Counts.Removed++
		case Changed:
			p.Counts.Changed++
		case Unchanged:
			p.Counts.Unchanged++
		}
		p.Firewalls = append(p.Firewalls, fp)
	}
	// The details of each changed firewall depend on that firewall alone
	// and read the inventories and rulesets only, so they are worked out
	// in parallel, each into its own entry.
	forEach(len(details), func(i int) {
		d := details[i]
		fp := &p.Firewalls[d.i]
		btext, htext := d.brs.Render(), d.hrs.Render()
		if d.bf != nil {
			fp.BaseDigest = digest(btext)
		}
		if d.hf != nil {
			fp.HeadDigest = digest(htext)
		}
		fp.Diff, fp.Added, fp.Removed = Unified("a/"+fp.Name, "b/"+fp.Name, btext, htext, Context)
		fp.Causes = causes(base, head, d.bf, d.hf, d.brs, d.hrs, changedRules)
	})
	var shadowCheck []string
	for _, fp := range p.Firewalls {
		if fp.Status == Added || fp.Status == Changed {
			shadowCheck = append(shadowCheck, fp.Name)
		}
	}
	p.Warnings = warnings(head, headRS, shadowCheck, touched)
	return p
}

// forEach calls f(0) … f(n-1) on up to GOMAXPROCS goroutines and returns
// when all calls have returned. A panic in f is raised again in the caller's
// goroutine, as if f had run there.
func forEach(n int, f func(int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var panicked any
	for range workers {
		wg.Go(func() {
			defer func() {
				if v := recover(); v != nil {
					once.Do(func() { panicked = v })
					next.Store(int64(n))
				}
			}()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
	if panicked != nil {
		panic(panicked)
	}
}

// Warnings returns the warnings of inv on its own, as if every rule and
// firewall were new: what Compute(nil, inv, nil, rulesets).Warnings
// returns, without comparing, rendering or diffing any ruleset. rulesets
// are inv's compiled rulesets (a missing one is compiled).
func Warnings(inv *model.Inventory, rulesets map[string]*nft.Ruleset) []Warning {
	touched := make(map[string]bool, len(inv.Rules))
	for _, r := range inv.Rules {
		touched[r.UUID] = true
	}
	names := make([]string, len(inv.Firewalls))
	for i, f := range inv.Firewalls {
		names[i] = f.Name
	}
	return warnings(inv, rulesets, names, touched)
}

func firewallsByName(inv *model.Inventory) map[string]*model.Firewall {
	m := make(map[string]*model.Firewall, len(inv.Firewalls))
	for _, f := range inv.Firewalls {
		m[f.Name] = f
	}
	return m
}

// rulesetOf returns the compiled ruleset of f (compiling it when the map
// lacks it), or nil when f is nil.
func rulesetOf(inv *model.Inventory, f *model.Firewall, rs map[string]*nft.Ruleset) *nft.Ruleset {
	if f == nil {
		return nil
	}
	if r := rs[f.Name]; r != nil {
		return r
	}
	return compile.Firewall(inv, f)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ruleChanges returns, by UUID, the rules added, removed or modified between
// base and head.
func ruleChanges(base, head *model.Inventory) map[string]CauseKind {
	b := map[string]*model.Rule{}
	for _, r := range base.Rules {
		b[r.UUID] = r
	}
	out := map[string]CauseKind{}
	seen := map[string]bool{}
	for _, r := range head.Rules {
		seen[r.UUID] = true
		old := b[r.UUID]
		switch {
		case old == nil:
			out[r.UUID] = RuleAdded
		case old.Text != r.Text || old.Enabled != r.Enabled || old.Log != r.Log ||
			old.Owner != r.Owner || old.Global != r.Global || old.Name != r.Name:
			out[r.UUID] = RuleModified
		}
	}
	for uuid := range b {
		if !seen[uuid] {
			out[uuid] = RuleRemoved
		}
	}
	return out
}

// fingerprints returns, per comment, the rules carrying it with their
// chains. Two fingerprints are equal when the rules render the same (see
// [sameFingerprint]); set names are derived from their content, so a set
// membership change shows up on the rules that use the set.
func fingerprints(rs *nft.Ruleset) map[string][]chainRule {
	out := map[string][]chainRule{}
	if rs.Empty() {
		return out
	}
	for _, c := range rs.Chains {
		for i := range c.Rules {
			r := &c.Rules[i]
			out[r.Comment] = append(out[r.Comment], chainRule{c.Name, r})
		}
	}
	return out
}

// chainRule is a rule and the name of its chain.
type chainRule struct {
	chain string
	rule  *nft.Rule
}

// sameFingerprint reports whether two fingerprints render the same,
// comparing the canonical IR instead of its text.
func sameFingerprint(a, b []chainRule) bool {
	return slices.EqualFunc(a, b, func(x, y chainRule) bool {
		return x.chain == y.chain && equalRules(x.rule, y.rule)
	})
}

// causes explains the change of one firewall.
func causes(base, head *model.Inventory, bf, hf *model.Firewall, brs, hrs *nft.Ruleset, changed map[string]CauseKind) []Cause {
	bfp, hfp := fingerprints(brs), fingerprints(hrs)
	ruleIn := func(inv *model.Inventory, uuid string) *model.Rule { return inv.RuleByUUID(uuid) }
	byUUID := map[string]Cause{}
	builtin := false
	for _, comment := range sortedKeys(union(bfp, hfp)) {
		uuid, isRule := compile.RuleUUID(comment)
		if !isRule {
			if !sameFingerprint(bfp[comment], hfp[comment]) {
				builtin = true
			}
			continue
		}
		kind, manifestChanged := changed[uuid]
		if !manifestChanged && sameFingerprint(bfp[comment], hfp[comment]) {
			continue
		}
		if !manifestChanged {
			kind = RuleRecompiled
		}
		r := ruleIn(head, uuid)
		if r == nil {
			r = ruleIn(base, uuid)
		}
		c := Cause{Kind: kind, UUID: uuid}
		if r != nil {
			c.Name, c.Pos = r.Name, rulePos(r)
		}
		byUUID[uuid] = c
	}
	var out []Cause
	if builtin || bf == nil || hf == nil || brs.Empty() != hrs.Empty() {
		f := hf
		if f == nil {
			f = bf
		}
		out = append(out, Cause{Kind: FirewallChanged, Name: f.Name, UUID: f.UUID, Pos: f.Pos})
	}
	rest := make([]Cause, 0, len(byUUID))
	for _, c := range byUUID {
		rest = append(rest, c)
	}
	slices.SortFunc(rest, func(a, b Cause) int {
		return cmp.Or(a.Pos.Compare(b.Pos), strings.Compare(a.Name, b.Name), strings.Compare(a.UUID, b.UUID))
	})
	return append(out, rest...)
}

func rulePos(r *model.Rule) diag.Pos {
	return diag.Pos{File: r.Pos.File, Line: r.Pos.Line}
}

func union[V any](a, b map[string]V) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// isAny reports whether a side admits every address: `any`, or a /0
// subnet.
func isAny(side []fwrule.Target) bool {
	for _, t := range side {
		if t.Kind == fwrule.TargetAny {
			return true
		}
		if t.Kind == fwrule.TargetSubnet && strings.HasSuffix(t.Value, "/0") {
			return true
		}
	}
	return false
}

// equalRulesets reports whether two rulesets render the same, without
// rendering them: the IR is canonical, so equal values give equal text.
func equalRulesets(a, b *nft.Ruleset) bool {
	if a == b {
		return true
	}
	if a.Empty() || b.Empty() {
		return a.Empty() == b.Empty()
	}
	if a.Table != b.Table || a.Version != b.Version || len(a.Sets) != len(b.Sets) || len(a.Chains) != len(b.Chains) {
		return false
	}
	for i := range a.Sets {
		x, y := &a.Sets[i], &b.Sets[i]
		if x.Name != y.Name || x.Type != y.Type || x.Comment != y.Comment || !slices.Equal(x.Elements, y.Elements) {
			return false
		}
	}
	for i := range a.Chains {
		x, y := &a.Chains[i], &b.Chains[i]
		if x.Name != y.Name || x.Hook != y.Hook || x.Priority != y.Priority || x.Policy != y.Policy || len(x.Rules) != len(y.Rules) {
			return false
		}
		for j := range x.Rules {
			if !equalRules(&x.Rules[j], &y.Rules[j]) {
				return false
			}
		}
	}
	return true
}

func equalRules(a, b *nft.Rule) bool {
	return a.Family == b.Family && a.IIF == b.IIF && a.OIF == b.OIF && a.CTState == b.CTState &&
		equalAddr(a.Src, b.Src) && equalAddr(a.Dst, b.Dst) && a.Proto == b.Proto &&
		slices.Equal(a.DPorts, b.DPorts) &&
		slices.EqualFunc(a.ICMP, b.ICMP, func(x, y nft.ICMPMatch) bool {
			return x.Type == y.Type && (x.Code == nil) == (y.Code == nil) && (x.Code == nil || *x.Code == *y.Code)
		}) &&
		a.Log == b.Log && a.Verdict == b.Verdict && a.Comment == b.Comment
}

func equalAddr(a, b *nft.AddrMatch) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a == b || (a.Set == b.Set && slices.Equal(a.Prefixes, b.Prefixes))
}

// digest is [nft.Ruleset.Digest] of an already rendered ruleset.
func digest(rendered string) string { return nft.TextDigest(rendered) }
