package model_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/controller/model"
	v1 "github.com/fwgit/fwgit/schema/v1"
)

// lookupFiles: owner A has a1 (web, zone 2 as a number, pci true as a
// boolean) and a2 (db, disabled); owner B has b1 (web); n1 has no owner.
func lookupFiles() map[string]string {
	fw := func(name, owner, addr, tags, extra string) string {
		s := "apiVersion: fwgit/v1\nkind: Firewall\nmetadata:\n  name: " + name + "\nspec:\n"
		if owner != "" {
			s += "  owner: " + owner + "\n"
		}
		return s + "  addresses: [" + addr + "]\n  tags: " + tags + "\n  agent: {mode: pull}\n" + extra
	}
	a2 := v1.DeriveUUID(v1.KindFirewall, "a2")
	return map[string]string{
		"tags.yaml": "apiVersion: fwgit/v1\nkind: Tag\nmetadata:\n  name: role\n---\n" +
			"apiVersion: fwgit/v1\nkind: Tag\nmetadata:\n  name: zone\n---\n" +
			"apiVersion: fwgit/v1\nkind: Tag\nmetadata:\n  name: pci\n",
		"fw.yaml": strings.Join([]string{
			fw("a1", ownerA, `198.18.0.1, "fd00::1"`, "{role: web, zone: 2, pci: true}", ""),
			fw("a2", ownerA, "198.18.0.2", "{role: db}", "  enabled: false\n"),
			fw("b1", ownerB, "198.18.1.1", "{role: web}", ""),
			fw("n1", "", "198.18.2.1", "{role: web}", ""),
		}, "---\n"),
		"rules.yaml": strings.Join([]string{
			ruleDoc("owned-web", ownerA, "FROM any TO tag role = web ALLOW tcp PORT 80"),
			ruleDoc("global-web", "", "FROM any TO tag role = web ALLOW tcp PORT 443"),
			ruleDoc("as-text", ownerA, `FROM tag zone = 2 TO tag "pci" = "true" ALLOW tcp PORT 9000`),
			ruleDoc("all-a", ownerA, "FROM all vms TO ip 198.19.0.1 BLOCK tcp PORT 25"),
			ruleDoc("all-global", "", "FROM any TO all vms ALLOW icmp TYPE 8"),
			ruleDoc("vm-a2", ownerA, "FROM vm "+a2+" TO tag role ALLOW tcp PORT 22"),
			ruleDoc("ip-not-vm", ownerA, "FROM ip 198.18.0.1 TO tag role = db ALLOW tcp PORT 5432"),
			strings.Replace(ruleDoc("off", ownerA, "FROM any TO tag role = web ALLOW tcp PORT 8080"), "spec:\n", "spec:\n  enabled: false\n", 1),
		}, "---\n"),
	}
}

func names(fs []*model.Firewall) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return out
}

func ruleNames(rs []*model.Rule) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

func ruleByName(t *testing.T, inv *model.Inventory, name string) *model.Rule {
	t.Helper()
	for _, r := range inv.Rules {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no rule %s", name)
	return nil
}

func lookupInventory(t *testing.T) *model.Inventory {
	t.Helper()
	inv, diags := build(t, lookupFiles())
	if diags.HasErrors() {
		t.Fatalf("unexpected errors:\n%s", diags)
	}
	return inv
}

func TestSideFirewalls(t *testing.T) {
	inv := lookupInventory(t)
	tests := []struct {
		rule       string
		from, to   []string
		affectedBy []string
	}{
		{"owned-web", []string{}, []string{"a1"}, []string{"a1"}},
		{"global-web", []string{}, []string{"a1", "b1", "n1"}, []string{"a1", "b1", "n1"}},
		{"as-text", []string{"a1"}, []string{"a1"}, []string{"a1"}},
		// all vms of owner A includes the disabled a2.
		{"all-a", []string{"a1", "a2"}, []string{}, []string{"a1", "a2"}},
		{"all-global", []string{}, []string{"a1", "a2", "b1", "n1"}, []string{"a1", "a2", "b1", "n1"}},
		// A bare tag matches every value, within the owner.
		{"vm-a2", []string{"a2"}, []string{"a1", "a2"}, []string{"a1", "a2"}},
		// ip never selects the firewall that owns the address.
		{"ip-not-vm", []string{}, []string{"a2"}, []string{"a2"}},
		{"off", []string{}, []string{"a1"}, []string{"a1"}},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			r := ruleByName(t, inv, tc.rule)
			got := [][]string{
				names(inv.SideFirewalls(r, r.Parsed.From)),
				names(inv.SideFirewalls(r, r.Parsed.To)),
				names(inv.AffectedBy(r)),
			}
			// A copy of the side, not the rule's own slice, gives the same.
			fromCopy := append(r.Parsed.From[:0:0], r.Parsed.From...)
			got = append(got, names(inv.SideFirewalls(r, fromCopy)))
			want := [][]string{tc.from, tc.to, tc.affectedBy, tc.from}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("from, to, AffectedBy, from again (-want +got):\n%s", diff)
			}
		})
	}
}

func TestApplies(t *testing.T) {
	inv := lookupInventory(t)
	type sides struct{ From, To bool }
	tests := []struct {
		rule string
		want map[string]sides // firewall → sides; absent means neither
	}{
		{"owned-web", map[string]sides{"a1": {To: true}}},
		{"global-web", map[string]sides{"a1": {To: true}, "b1": {To: true}, "n1": {To: true}}},
		{"as-text", map[string]sides{"a1": {From: true, To: true}}},
		// a2 is disabled: selected, but nothing applies to it.
		{"all-a", map[string]sides{"a1": {From: true}}},
		{"all-global", map[string]sides{"a1": {To: true}, "b1": {To: true}, "n1": {To: true}}},
		{"vm-a2", map[string]sides{"a1": {To: true}}},
		{"ip-not-vm", nil},
		{"off", nil},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			r := ruleByName(t, inv, tc.rule)
			got := map[string]sides{}
			for _, f := range inv.Firewalls {
				from, to := inv.Applies(r, f)
				if from || to {
					got[f.Name] = sides{from, to}
				}
			}
			want := tc.want
			if want == nil {
				want = map[string]sides{}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Applies (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRulesFor(t *testing.T) {
	inv := lookupInventory(t)
	got := map[string][]string{}
	for _, f := range inv.Firewalls {
		got[f.Name] = ruleNames(inv.RulesFor(f))
	}
	want := map[string][]string{
		"a1": {"all-a", "all-global", "as-text", "global-web", "owned-web", "vm-a2"},
		"a2": {}, // disabled
		"b1": {"all-global", "global-web"},
		"n1": {"all-global", "global-web"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RulesFor (-want +got):\n%s", diff)
	}
}

func TestSelects(t *testing.T) {
	inv := lookupInventory(t)
	a1 := inv.FirewallByName("a1")
	n1 := inv.FirewallByName("n1")
	asText := ruleByName(t, inv, "as-text")
	global := ruleByName(t, inv, "all-global")
	owned := ruleByName(t, inv, "all-a")
	tests := []struct {
		name string
		r    *model.Rule
		side int // 0 FROM, 1 TO
		f    *model.Firewall
		want bool
	}{
		{"number tag as text", asText, 0, a1, true},
		{"boolean tag as text", asText, 1, a1, true},
		{"owned rule, ownerless firewall", owned, 0, n1, false},
		{"all vms of owner", owned, 0, a1, true},
		{"global all vms, ownerless firewall", global, 1, n1, true},
		{"any selects nothing", global, 0, a1, false},
		{"ip selects nothing", owned, 1, a1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			side := tc.r.Parsed.From
			if tc.side == 1 {
				side = tc.r.Parsed.To
			}
			if got := inv.Selects(tc.r, side[0], tc.f); got != tc.want {
				t.Errorf("Selects(%s, %v, %s) = %v, want %v", tc.r.Name, side[0], tc.f.Name, got, tc.want)
			}
		})
	}
}

func TestIndexes(t *testing.T) {
	inv := lookupInventory(t)
	got := map[string][]string{
		"tag role":      names(inv.TagFirewalls("role")),
		"tag role=web":  names(inv.TagValueFirewalls("role", "web")),
		"tag zone=2":    names(inv.TagValueFirewalls("zone", "2")),
		"tag pci=true":  names(inv.TagValueFirewalls("pci", "true")),
		"tag pci=True":  names(inv.TagValueFirewalls("pci", "True")),
		"owner A":       names(inv.OwnerFirewalls(ownerA)),
		"ownerless":     names(inv.OwnerFirewalls("")),
		"unknown owner": names(inv.OwnerFirewalls(uuidX)),
	}
	want := map[string][]string{
		"tag role":      {"a1", "a2", "b1", "n1"},
		"tag role=web":  {"a1", "b1", "n1"},
		"tag zone=2":    {"a1"},
		"tag pci=true":  {"a1"},
		"tag pci=True":  {},
		"owner A":       {"a1", "a2"},
		"ownerless":     {"n1"},
		"unknown owner": {},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("indexes (-want +got):\n%s", diff)
	}
	a1 := inv.FirewallByName("a1")
	if inv.FirewallByUUID(a1.UUID) != a1 || inv.FirewallByName("zz") != nil || inv.FirewallByUUID(uuidX) != nil {
		t.Error("FirewallByUUID/FirewallByName disagree")
	}
	r := ruleByName(t, inv, "vm-a2")
	if inv.RuleByUUID(r.UUID) != r || inv.RuleByUUID(uuidX) != nil {
		t.Error("RuleByUUID disagrees")
	}
}
