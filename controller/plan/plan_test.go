package plan_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/controller/compile"
	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/controller/plan"
	"github.com/fwgit/fwgit/schema/load"
)

const owner = "11111111-1111-4111-8111-111111111111"

func inventory(t testing.TB, docs ...string) *model.Inventory {
	t.Helper()
	fsys := fstest.MapFS{}
	for i, d := range docs {
		fsys[fmt.Sprintf("doc%02d.yaml", i)] = &fstest.MapFile{Data: []byte(d)}
	}
	inv, diags := model.Build(load.Load(fsys))
	if diags.HasErrors() {
		t.Fatalf("invalid test repository:\n%v", diags)
	}
	return inv
}

func fw(name, addr, role string) string {
	return fmt.Sprintf("apiVersion: fwgit/v1\nkind: Firewall\nmetadata: {name: %s}\nspec:\n  owner: %s\n  addresses: [%q]\n  tags: {role: %s}\n  agent: {mode: pull}\n", name, owner, addr, role)
}

func rule(name, text string) string {
	return fmt.Sprintf("apiVersion: fwgit/v1\nkind: Rule\nmetadata: {name: %s}\nspec:\n  owner: %s\n  rule: %q\n", name, owner, text)
}

const tagRole = "apiVersion: fwgit/v1\nkind: Tag\nmetadata: {name: role}\n"

func computePlan(base, head *model.Inventory) *plan.Plan {
	return plan.Compute(base, head, compile.All(base), compile.All(head))
}

func TestCompute(t *testing.T) {
	base := inventory(t, tagRole,
		fw("web-1", "198.18.0.11", "web"), fw("web-2", "198.18.0.12", "web"),
		fw("db-1", "198.18.0.21", "db"), fw("old-1", "198.18.0.99", "db"), fw("cache-1", "198.18.0.31", "cache"),
		rule("web-to-db", "FROM tag role = web TO tag role = db ALLOW tcp PORT 5432"),
		rule("cache-in", "FROM any TO tag role = cache ALLOW tcp PORT 6379"),
	)
	head := inventory(t, tagRole,
		fw("web-1", "198.18.0.11", "web"), fw("web-2", "198.18.0.12", "web"), fw("web-3", "198.18.0.13", "web"),
		fw("db-1", "198.18.0.21", "db"), fw("cache-1", "198.18.0.31", "cache"),
		rule("web-to-db", "FROM tag role = web TO tag role = db ALLOW tcp PORT 5432"),
		rule("cache-in", "FROM any TO tag role = cache ALLOW tcp PORT 6379"),
		rule("ssh-any", "FROM any TO tag role = db ALLOW tcp PORT 22 PRIORITY 1"),
		rule("ssh-admin", "FROM ip 198.18.0.11 TO tag role = db ALLOW tcp (PORT 22 AND PORT 22)"),
		rule("from-lb", "FROM tag role = lb TO tag role = db ALLOW tcp PORT 9"),
	)
	p := computePlan(base, head)

	status := map[string]plan.Status{}
	for _, f := range p.Firewalls {
		status[f.Name] = f.Status
	}
	wantStatus := map[string]plan.Status{
		"cache-1": plan.Unchanged, "db-1": plan.Changed, "old-1": plan.Removed,
		"web-1": plan.Unchanged, "web-2": plan.Unchanged, "web-3": plan.Added,
	}
	if diff := cmp.Diff(wantStatus, status); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if want := (plan.Counts{Added: 1, Removed: 1, Changed: 1, Unchanged: 3}); p.Counts != want {
		t.Errorf("Counts = %+v, want %+v", p.Counts, want)
	}

	var db plan.FirewallPlan
	for _, f := range p.Firewalls {
		if f.Name == "db-1" {
			db = f
		}
	}
	causes := map[string]plan.CauseKind{}
	for _, c := range db.Causes {
		causes[c.Name] = c.Kind
		if c.Pos.File == "" || c.Pos.Line == 0 {
			t.Errorf("cause %s has no position: %+v", c.Name, c.Pos)
		}
	}
	wantCauses := map[string]plan.CauseKind{"web-to-db": plan.RuleRecompiled, "ssh-any": plan.RuleAdded, "ssh-admin": plan.RuleAdded}
	if diff := cmp.Diff(wantCauses, causes); diff != "" {
		t.Errorf("db-1 causes (-want +got):\n%s", diff)
	}
	if !strings.Contains(db.Diff, "\n-\t\tmeta nfproto ipv4 ip saddr { 198.18.0.11, 198.18.0.12 }") ||
		!strings.Contains(db.Diff, "\n+\t\tmeta nfproto ipv4 ip saddr { 198.18.0.11, 198.18.0.12/31 }") {
		t.Errorf("db-1 diff does not show the web group growing:\n%s", db.Diff)
	}
	if db.Added != 3 || db.Removed != 1 {
		t.Errorf("db-1 diff stats = +%d -%d, want +3 -1:\n%s", db.Added, db.Removed, db.Diff)
	}

	type warn struct {
		Code, Rule string
		New        bool
	}
	var warns []warn
	for _, w := range p.Warnings {
		warns = append(warns, warn{w.Code, w.Rule, w.New})
	}
	wantWarns := []warn{
		{plan.WarnOpenAny, "cache-in", false},
		{plan.WarnOpenAny, "ssh-any", true},
		{plan.WarnShadowed, "ssh-admin", true},
		{plan.WarnNoMatch, "from-lb", true},
	}
	less := func(a, b warn) bool { return a.Rule+a.Code < b.Rule+b.Code }
	if diff := cmp.Diff(sortWarns(wantWarns, less), sortWarns(warns, less)); diff != "" {
		t.Errorf("warnings (-want +got):\n%s\n%+v", diff, p.Warnings)
	}
}

func sortWarns[T any](xs []T, less func(a, b T) bool) []T {
	out := append([]T(nil), xs...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if less(out[j], out[i]) {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestComputeFirewallChanges(t *testing.T) {
	base := inventory(t, tagRole, fw("a", "198.18.0.1", "x"), rule("r", "FROM any TO tag role = x ALLOW tcp PORT 1"))
	disabled := strings.Replace(fw("a", "198.18.0.1", "x"), "spec:\n", "spec:\n  enabled: false\n", 1)
	head := inventory(t, tagRole, disabled, rule("r", "FROM any TO tag role = x ALLOW tcp PORT 1"))
	p := computePlan(base, head)
	if len(p.Firewalls) != 1 || p.Firewalls[0].Status != plan.Changed {
		t.Fatalf("plan = %+v, want one changed firewall", p.Firewalls)
	}
	f := p.Firewalls[0]
	if f.Added != 0 || f.Removed == 0 {
		t.Errorf("disabling gives +%d -%d, want only removals", f.Added, f.Removed)
	}
	if len(f.Causes) == 0 || f.Causes[0].Kind != plan.FirewallChanged {
		t.Errorf("causes = %+v, want the firewall first", f.Causes)
	}
	same := computePlan(base, base)
	if same.Counts != (plan.Counts{Unchanged: 1}) || len(same.Firewalls[0].Diff) != 0 {
		t.Errorf("plan of a revision against itself = %+v", same.Counts)
	}
}

func TestRenderers(t *testing.T) {
	base := inventory(t, tagRole, fw("db-1", "198.18.0.21", "db"), fw("web-1", "198.18.0.11", "web"))
	head := inventory(t, tagRole, fw("db-1", "198.18.0.21", "db"), fw("web-1", "198.18.0.11", "web"),
		rule("web-to-db", "FROM tag role = web TO tag role = db ALLOW tcp PORT 5432"))
	p := computePlan(base, head)
	p.Base, p.Head = "main@sha1:aaaa", "pr@sha1:bbbb"

	var md bytes.Buffer
	if err := p.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"**1 changed**", "| Firewall | Change | Lines | Caused by |", "| `db-1` | changed | +1 −0 |",
		"<details><summary>`db-1`: changed, +1 −0</summary>", "```diff\n", "+\t\tmeta nfproto ipv4 ip saddr 198.18.0.11",
		"1 unchanged firewalls", "web-to-db",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	var txt bytes.Buffer
	if err := p.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(txt.String(), "1 changed, 0 added, 0 removed, 1 unchanged firewalls\n") || !strings.Contains(txt.String(), "== db-1 (changed, +1 -0)") {
		t.Errorf("text output:\n%s", txt.String())
	}
	var js bytes.Buffer
	if err := p.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back plan.Plan
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(*p, back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
}

// TestMarkdownAtScale checks that a change touching 500 firewalls stays
// within the comment budget, groups identical diffs and says what it cut.
func TestMarkdownAtScale(t *testing.T) {
	var docs []string
	docs = append(docs, tagRole)
	for i := range 500 {
		docs = append(docs, fw(fmt.Sprintf("web-%03d", i), fmt.Sprintf("198.18.%d.%d", i/200, 1+i%200), "web"))
	}
	base := inventory(t, docs...)
	// 500 new rules for every web firewall: one long diff, the same on
	// each, and 500 open-to-any warnings.
	for i := range 500 {
		docs = append(docs, rule(fmt.Sprintf("r-%03d", i), fmt.Sprintf("FROM any TO tag role = web ALLOW tcp PORT %d", 1000+i)))
	}
	head := inventory(t, docs...)
	p := computePlan(base, head)
	if p.Counts.Changed != 500 {
		t.Fatalf("Counts = %+v, want 500 changed", p.Counts)
	}
	var md bytes.Buffer
	if err := p.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	out := md.String()
	if len(out) > plan.DefaultLimits.Bytes {
		t.Errorf("markdown is %d bytes, over the %d budget", len(out), plan.DefaultLimits.Bytes)
	}
	for _, want := range []string{"450 more firewalls not listed", "and 499 more with the same change", "diff lines cut"} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

func TestDigestsMatchRulesets(t *testing.T) {
	base := inventory(t, tagRole, fw("a", "198.18.0.1", "x"))
	head := inventory(t, tagRole, fw("a", "198.18.0.1", "x"), rule("r", "FROM any TO tag role = x ALLOW tcp PORT 1"))
	brs, hrs := compile.All(base), compile.All(head)
	p := plan.Compute(base, head, brs, hrs)
	f := p.Firewalls[0]
	if f.BaseDigest != brs["a"].Digest() || f.HeadDigest != hrs["a"].Digest() {
		t.Errorf("digests = %s, %s; want %s, %s", f.BaseDigest, f.HeadDigest, brs["a"].Digest(), hrs["a"].Digest())
	}
}

// TestWarningsMatchCompute checks that Warnings gives exactly the warnings
// of a plan from nothing, which is what the console used to compute.
func TestWarningsMatchCompute(t *testing.T) {
	inv := inventory(t, tagRole,
		fw("a", "198.18.0.1", "x"), fw("b", "198.18.0.2", "y"),
		rule("open", "FROM any TO tag role = x ALLOW tcp PORT 22"),
		rule("wide", "FROM any TO tag role = x ALLOW tcp PORT all"),
		rule("narrow", "FROM any TO tag role = x ALLOW tcp PORT 80"),
		rule("none", "FROM any TO tag role = nothing ALLOW tcp PORT 80"))
	rs := compile.All(inv)
	want := plan.Compute(nil, inv, nil, rs).Warnings
	if len(want) == 0 {
		t.Fatal("the test repository gives no warnings")
	}
	if diff := cmp.Diff(want, plan.Warnings(inv, rs)); diff != "" {
		t.Errorf("Warnings differs from Compute(nil, …).Warnings (-compute +warnings):\n%s", diff)
	}
	if diff := cmp.Diff(want, plan.Warnings(inv, nil)); diff != "" {
		t.Errorf("Warnings without rulesets differs (-compute +warnings):\n%s", diff)
	}
}
