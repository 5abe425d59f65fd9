package model_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/internal/genrepo"
	"github.com/fwgit/fwgit/schema/load"
)

func TestDiff(t *testing.T) {
	base := func() map[string]string {
		f := lookupFiles()
		f["rules.yaml"] += "---\n" + ruleDoc("web-to-db", "", "FROM tag role = web TO tag role = db ALLOW tcp PORT 5432")
		return f
	}
	tests := []struct {
		name string
		edit func(f map[string]string)
		want []string
	}{
		{"nothing", func(map[string]string) {}, []string{}},
		{"description only", func(f map[string]string) {
			f["rules.yaml"] = strings.Replace(f["rules.yaml"], "spec:\n", "spec:\n  description: new words\n", 1)
		}, []string{}},
		{"owned rule text", func(f map[string]string) {
			f["rules.yaml"] = strings.Replace(f["rules.yaml"], "PORT 80\n", "PORT 81\n", 1)
		}, []string{"a1"}},
		{"log flag", func(f map[string]string) {
			f["rules.yaml"] = strings.Replace(f["rules.yaml"], "  rule: FROM any TO tag role = web ALLOW tcp PORT 443", "  log: true\n  rule: FROM any TO tag role = web ALLOW tcp PORT 443", 1)
		}, []string{"a1", "b1", "n1"}},
		{"rule added", func(f map[string]string) {
			f["more.yaml"] = ruleDoc("new", ownerB, "FROM any TO all vms ALLOW tcp PORT 1")
		}, []string{"b1"}},
		{"rule removed", func(f map[string]string) {
			docs := strings.Split(f["rules.yaml"], "---\n")
			f["rules.yaml"] = strings.Join(slices.DeleteFunc(docs, func(d string) bool { return strings.Contains(d, "name: vm-a2") }), "---\n")
		}, []string{"a1", "a2"}},
		{"firewall address: itself and the other side of its rules", func(f map[string]string) {
			f["fw.yaml"] = strings.Replace(f["fw.yaml"], "198.18.1.1", "198.18.1.9", 1)
		}, []string{"a2", "b1"}},
		{"firewall tag: old and new neighbours", func(f map[string]string) {
			f["fw.yaml"] = strings.Replace(f["fw.yaml"], "addresses: [198.18.1.1]\n  tags: {role: web}", "addresses: [198.18.1.1]\n  tags: {role: db}", 1)
		}, []string{"a1", "a2", "b1", "n1"}},
		{"firewall agent only", func(f map[string]string) {
			f["fw.yaml"] = strings.Replace(f["fw.yaml"], "{role: db}\n  agent: {mode: pull}", "{role: db}\n  agent: {url: \"https://198.18.0.2\"}", 1)
		}, []string{}},
		{"firewall removed", func(f map[string]string) {
			docs := strings.Split(f["fw.yaml"], "---\n")
			f["fw.yaml"] = strings.Join(slices.DeleteFunc(docs, func(d string) bool { return strings.Contains(d, "name: n1") }), "---\n")
		}, []string{"a2", "n1"}},
		{"settings", func(f map[string]string) {
			f["settings.yaml"] = "apiVersion: fwgit/v1\nkind: Settings\nmetadata:\n  name: s\nspec:\n  agentPort: 4443\n"
		}, []string{"a1", "a2", "b1", "n1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldFiles := base()
			old, _ := build(t, oldFiles)
			newFiles := base()
			tc.edit(newFiles)
			if cmp.Equal(oldFiles, newFiles) != (tc.name == "nothing") {
				t.Fatal("the edit did not change the files")
			}
			next, diags := build(t, newFiles)
			if diags.HasErrors() {
				t.Fatalf("edited repository has errors:\n%s", diags)
			}
			got := model.Diff(old, next)
			if got == nil {
				got = []string{}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Diff (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("nil inventories", func(t *testing.T) {
		inv, _ := build(t, base())
		want := []string{"a1", "a2", "b1", "n1"}
		if diff := cmp.Diff(want, model.Diff(nil, inv)); diff != "" {
			t.Errorf("Diff(nil, inv) (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, model.Diff(inv, nil)); diff != "" {
			t.Errorf("Diff(inv, nil) (-want +got):\n%s", diff)
		}
	})
}

// signature lists everything a firewall's compiled ruleset depends on, as
// DESIGN.md "Compilation" describes it: the firewall's own identity and
// management CIDRs, the settings, and for every rule enforced on it the
// rule's text, UUID and log flag, the side it is on, and the addresses the
// other side expands to. Two inventories that give a firewall the same
// signature compile it the same.
func signature(inv *model.Inventory, f *model.Firewall) string {
	if f == nil {
		return "absent"
	}
	if !f.Enabled {
		return "disabled"
	}
	var b strings.Builder
	s := inv.Settings
	fmt.Fprintf(&b, "%s %d %v %v %v\n", f.UUID, s.AgentPort, s.ControllerAddresses, f.Management, s.Management)
	addrs := func(fs []*model.Firewall) []string {
		var out []string
		for _, g := range fs {
			for _, a := range g.Addresses {
				out = append(out, a.String())
			}
		}
		sort.Strings(out)
		return out
	}
	for _, r := range inv.RulesFor(f) {
		from, to := inv.Applies(r, f)
		fmt.Fprintf(&b, "%s %s %v", r.UUID, r.Text, r.Log)
		if from {
			fmt.Fprintf(&b, " out→%v", addrs(inv.SideFirewalls(r, r.Parsed.To)))
		}
		if to {
			fmt.Fprintf(&b, " in←%v", addrs(inv.SideFirewalls(r, r.Parsed.From)))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestDiffCoversChanges mutates generated repositories at random and checks
// that every firewall whose signature changes is in Diff.
func TestDiffCoversChanges(t *testing.T) {
	seeds := 6
	if testing.Short() {
		seeds = 2
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			files := genrepo.Generate(genrepo.Options{Firewalls: 40, Rules: 150, Tags: 8, Owners: 3, Seed: seed})
			old, _ := model.Build(load.Load(files.FS()))
			rng := rand.New(rand.NewPCG(seed, 7))
			applied := 0
			for step := 0; step < 8; step++ {
				next := mutate(t, rng, files)
				newInv, diags := model.Build(load.Load(next.FS()))
				if diags.HasErrors() {
					// Removing a firewall that a vm target names, say.
					continue
				}
				applied++
				got := model.Diff(old, newInv)
				for _, name := range allNames(old, newInv) {
					if signature(old, old.FirewallByName(name)) != signature(newInv, newInv.FirewallByName(name)) &&
						!slices.Contains(got, name) {
						t.Errorf("step %d: firewall %s changed but Diff = %v", step, name, got)
					}
				}
				files, old = next, newInv
			}
			if applied < 4 {
				t.Errorf("only %d of 8 mutations gave a valid repository", applied)
			}
		})
	}
}

func allNames(a, b *model.Inventory) []string {
	var out []string
	for _, inv := range []*model.Inventory{a, b} {
		for _, f := range inv.Firewalls {
			out = append(out, f.Name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// mutate returns a copy of files with one random edit: a rule's text or log
// flag, a rule removed, a firewall's address, role or enabled flag, or a
// firewall removed.
func mutate(t *testing.T, rng *rand.Rand, files genrepo.Files) genrepo.Files {
	t.Helper()
	out := genrepo.Files{}
	var rules, fws []string
	for p, data := range files {
		out[p] = data
		switch {
		case strings.HasPrefix(p, "rules/"):
			rules = append(rules, p)
		case strings.HasPrefix(p, "firewalls/"):
			fws = append(fws, p)
		}
	}
	sort.Strings(rules)
	sort.Strings(fws)
	switch rng.IntN(6) {
	case 0, 1: // a rule's text, log flag, or the rule itself
		p := rules[rng.IntN(len(rules))]
		docs := strings.Split(string(out[p]), "---\n")
		k := 1 + rng.IntN(len(docs)-1)
		switch rng.IntN(3) {
		case 0:
			docs[k] = replaceRule(docs[k], "FROM tag role = web TO all vms ALLOW tcp PORT 4444")
		case 1:
			docs[k] = replaceLine(docs[k], "spec:", "spec:\n  log: true")
			docs[k] = strings.Replace(docs[k], "  log: true\n  log: true\n", "  log: true\n", 1)
		default:
			docs = slices.Delete(docs, k, k+1)
		}
		out[p] = []byte(strings.Join(docs, "---\n"))
	default: // a firewall
		p := fws[rng.IntN(len(fws))]
		doc := string(out[p])
		switch rng.IntN(4) {
		case 0:
			doc = replaceLine(doc, "    - 198.", fmt.Sprintf("    - 198.19.99.%d", 1+rng.IntN(250)))
		case 1:
			doc = replaceLine(doc, "    role:", `    role: "db"`)
		case 2:
			if strings.Contains(doc, "  enabled: false\n") {
				doc = strings.Replace(doc, "  enabled: false\n", "", 1)
			} else {
				doc = replaceLine(doc, "spec:", "spec:\n  enabled: false")
			}
		default:
			delete(out, p)
			return out
		}
		out[p] = []byte(doc)
	}
	return out
}

// replaceLine replaces the first line of doc starting with prefix.
func replaceLine(doc, prefix, with string) string {
	lines := strings.Split(doc, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			lines[i] = with
			break
		}
	}
	return strings.Join(lines, "\n")
}

// replaceRule replaces the spec.rule of a generated Rule document, which
// may be a plain, quoted or folded scalar.
func replaceRule(doc, text string) string {
	lines := strings.Split(doc, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "  rule:") {
			j := i + 1
			for j < len(lines) && strings.HasPrefix(lines[j], "    ") {
				j++
			}
			lines = slices.Replace(lines, i, j, "  rule: "+text)
			break
		}
	}
	return strings.Join(lines, "\n")
}
