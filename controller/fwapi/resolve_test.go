package fwapi

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/schema/load"
)

const seedOwner = "98c2d1f4-66f4-468c-97ff-4b19c5d9ab22"

func seedRule(uuid, owner, text, extra string) string {
	scope := "owner: " + owner
	if owner == "" {
		scope = "global: true"
	}
	return "---\napiVersion: fwgit/v1\nkind: Rule\nmetadata: {name: r" + uuid[:8] + ", uuid: " + uuid + "}\nspec:\n  " + scope + "\n  rule: '" + text + "'\n" + extra
}

// examplesAB is spec/fwapi.md §9.5 (the seed page) plus R5 and R6 of §9.6.
func examplesAB(r6 string) fstest.MapFS {
	rules := seedRule("fe1a83d9-0000-4000-8000-000000000001", seedOwner, `FROM (tag "foo" = "bar" OR tag "foo" = "baz") TO tag "other" ALLOW tcp PORT 53`, "  enabled: false\n") +
		seedRule("e0f3de04-0000-4000-8000-000000000002", seedOwner, `FROM (tag "role" = "db" OR tag "role" = "www") TO tag "foo" = "blah" ALLOW tcp PORT 54`, "  enabled: false\n") +
		seedRule("34db1b5a-0000-4000-8000-000000000003", "", `FROM any TO all vms ALLOW icmp TYPE 8 CODE 0`, "") +
		seedRule("7cf05767-0000-4000-8000-000000000004", seedOwner, `FROM tag "something" TO vm b3073275-3c07-44ed-9e20-4c4fe3bb1e7f ALLOW tcp PORT 8080`, "") +
		seedRule("a5a5a5a5-0000-4000-8000-000000000005", seedOwner, `FROM (tag "foo" = "bar" OR tag "foo" = "blah") TO tag "db" = "x" BLOCK tcp PORT 1`, "") +
		seedRule("a6a6a6a6-0000-4000-8000-000000000006", seedOwner, r6, "")
	return fstest.MapFS{
		"tags.yaml": {Data: []byte(`
apiVersion: fwgit/v1
kind: Tag
metadata: {name: foo}
---
apiVersion: fwgit/v1
kind: Tag
metadata: {name: other}
---
apiVersion: fwgit/v1
kind: Tag
metadata: {name: role}
---
apiVersion: fwgit/v1
kind: Tag
metadata: {name: something}
---
apiVersion: fwgit/v1
kind: Tag
metadata: {name: db}
`)},
		"fw.yaml": {Data: []byte(`
apiVersion: fwgit/v1
kind: Firewall
metadata: {name: vm1, uuid: b3073275-3c07-44ed-9e20-4c4fe3bb1e7f}
spec: {owner: ` + seedOwner + `, addresses: [198.18.5.1], tags: {foo: blah, other: x, role: db, something: y, db: x}, agent: {mode: pull}}
`)},
		"rules.yaml": {Data: []byte(rules)},
	}
}

func inventory(t *testing.T, fsys fstest.MapFS) *model.Inventory {
	t.Helper()
	inv, diags := model.Build(load.Load(fsys))
	if diags.HasErrors() {
		t.Fatalf("repository invalid:\n%v", diags)
	}
	return inv
}

func TestResolveWorkedExamples(t *testing.T) {
	query := model.TagQuery{"foo": {Values: []string{"bar", "blah"}}}
	vms := []string{"b3073275-3c07-44ed-9e20-4c4fe3bb1e7f"}
	tests := []struct {
		name   string
		r6     string
		rules  []string
		tags   map[string][]string
		allVMs bool
	}{
		{
			name:  "B: duplicates and a no-op on TO",
			r6:    `FROM tag "db" = "y" TO tag "foo" BLOCK tcp PORT 2`,
			rules: []string{"34db1b5a", "7cf05767", "a5a5a5a5", "a6a6a6a6", "e0f3de04", "fe1a83d9"},
			tags:  map[string][]string{"role": {"db", "www"}, "something": nil, "db": {"x"}},
		},
		{
			name:  "B with priority: the TO side is no longer a no-op",
			r6:    `FROM tag "db" = "y" TO tag "foo" BLOCK tcp PORT 2 PRIORITY 1`,
			rules: []string{"34db1b5a", "7cf05767", "a5a5a5a5", "a6a6a6a6", "e0f3de04", "fe1a83d9"},
			tags:  map[string][]string{"role": {"db", "www"}, "something": nil, "db": {"x", "y"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := inventory(t, examplesAB(tc.r6))
			res := inv.Resolve(seedOwner, vms, query)
			var got []string
			for _, r := range res.Rules {
				got = append(got, r.UUID[:8])
			}
			if diff := cmp.Diff(tc.rules, got); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.tags, res.Tags); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
			if len(res.VMs) != 0 || res.AllVMs != tc.allVMs {
				t.Errorf("vms %v allVMs %v", res.VMs, res.AllVMs)
			}
		})
	}
}

// TestResolveMatchesFirewallRules checks the property of spec/fwapi.md §12:
// for firewalls of one owner, the /resolve candidates for their uuids and
// tags (values as strings) equal the union of their /firewalls/vms answers.
func TestResolveMatchesFirewallRules(t *testing.T) {
	for _, fsys := range []fstest.MapFS{exampleC, examplesAB(`FROM tag "db" = "y" TO tag "foo" BLOCK tcp PORT 2`)} {
		inv := inventory(t, fsys)
		owners := map[string][]*model.Firewall{}
		for _, f := range inv.Firewalls {
			owners[f.Owner] = append(owners[f.Owner], f)
		}
		for owner, fws := range owners {
			if owner == "" {
				continue
			}
			// Every subset of the owner's firewalls (they are few).
			for mask := 1; mask < 1<<len(fws); mask++ {
				var vms []string
				q := model.TagQuery{}
				union := map[string]bool{}
				for i, f := range fws {
					if mask&(1<<i) == 0 {
						continue
					}
					vms = append(vms, f.UUID)
					for name, v := range f.Tags {
						w := q[name]
						w.Values = append(w.Values, v.String())
						q[name] = w
					}
					for _, r := range inv.FirewallRules(f) {
						union[r.UUID] = true
					}
				}
				var want, got []string
				for id := range union {
					want = append(want, id)
				}
				slices.Sort(want)
				for _, r := range inv.Resolve(owner, vms, q).Rules {
					got = append(got, r.UUID)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("owner %s, firewalls %s: resolve candidates differ from /firewalls/vms (-want +got):\n%s",
						owner[:8], strings.Join(vms, ","), diff)
				}
			}
		}
	}
}
