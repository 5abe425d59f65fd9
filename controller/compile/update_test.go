package compile_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/fwgit/fwgit/controller/compile"
	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/internal/genrepo"
	"github.com/fwgit/fwgit/internal/nft"
	"github.com/fwgit/fwgit/schema/load"
)

// TestUpdateMatchesAll checks that Update, which reuses the nft rules of
// the previous rulesets, gives byte for byte what All gives, after each
// kind of change alone and after all of them in sequence.
func TestUpdateMatchesAll(t *testing.T) {
	files := genrepo.Generate(genrepo.Options{Firewalls: 60, Rules: 400, Tags: 12, Owners: 3, Seed: 7})
	base := fstest.MapFS{}
	for name, data := range files {
		base[name] = &fstest.MapFile{Data: data}
	}
	var fwFiles, ruleFiles []string
	for name := range base {
		switch {
		case strings.HasPrefix(name, "firewalls/"):
			fwFiles = append(fwFiles, name)
		case strings.HasPrefix(name, "rules/"):
			ruleFiles = append(ruleFiles, name)
		}
	}
	slices.Sort(fwFiles)
	slices.Sort(ruleFiles)
	if len(fwFiles) < 6 || len(ruleFiles) < 3 {
		t.Fatalf("generated %d firewall and %d rule files", len(fwFiles), len(ruleFiles))
	}
	edit := func(name, old, new string) func(fstest.MapFS) {
		return func(fs fstest.MapFS) {
			s := string(fs[name].Data)
			if !strings.Contains(s, old) {
				t.Fatalf("%s lacks %q", name, old)
			}
			fs[name] = &fstest.MapFile{Data: []byte(strings.Replace(s, old, new, 1))}
		}
	}
	changes := []struct {
		name string
		fn   func(fstest.MapFS)
	}{
		{"rule added", func(fs fstest.MapFS) { fs["rules/zz-bench.yaml"] = &fstest.MapFile{Data: []byte(oneRule)} }},
		{"rule added with a set", func(fs fstest.MapFS) {
			fs["rules/zz-out.yaml"] = &fstest.MapFile{Data: []byte(strings.NewReplacer("FROM any TO tag role = web", "FROM tag role = web TO tag role = api", "bench-one-rule", "bench-out-rule").Replace(oneRule))}
		}},
		{"rule removed", func(fs fstest.MapFS) { delete(fs, ruleFiles[0]) }},
		{"rule changed", edit(ruleFiles[1], "PORTS 43146 - 43255", "PORTS 43146 - 43256")},
		{"rule moved", edit(ruleFiles[1], "ALLOW ESP", "ALLOW ESP PRIORITY 7")},
		{"address changed", edit(fwFiles[0], "    - 198.", "    - 10.9.9.9\n    - 198.")},
		{"address removed", edit(fwFiles[1], "    - fd00:", "    - fd01:")},
		{"tag changed", edit(fwFiles[2], "  tags:\n", "  tags:\n    svc-01: \"blue\"\n")},
		{"firewall disabled", edit(fwFiles[3], "spec:\n", "spec:\n  enabled: false\n")},
		{"firewall removed", func(fs fstest.MapFS) { delete(fs, fwFiles[4]) }},
	}
	build := func(t *testing.T, fs fstest.MapFS) *model.Inventory {
		t.Helper()
		inv, diags := model.Build(load.Load(fs))
		if diags.HasErrors() {
			t.Fatalf("invalid repository: %v", diags)
		}
		return inv
	}
	clone := func(fs fstest.MapFS) fstest.MapFS {
		out := fstest.MapFS{}
		for k, v := range fs {
			out[k] = v
		}
		return out
	}
	baseInv := build(t, base)
	baseRS := compile.All(baseInv)
	seqFS, seqInv, seqRS := clone(base), baseInv, baseRS
	for _, ch := range changes {
		t.Run(ch.name, func(t *testing.T) {
			fs := clone(base)
			ch.fn(fs)
			next := build(t, fs)
			sameRulesets(t, compile.All(next), compile.Update(baseRS, baseInv, next))
			// Back again, and in sequence with the earlier changes.
			sameRulesets(t, baseRS, compile.Update(compile.All(next), next, baseInv))
			ch.fn(seqFS)
			inv := build(t, seqFS)
			rs := compile.Update(seqRS, seqInv, inv)
			sameRulesets(t, compile.All(inv), rs)
			seqInv, seqRS = inv, rs
		})
	}
}

// sameRulesets fails unless got renders and encodes exactly as want.
func sameRulesets(t *testing.T, want, got map[string]*nft.Ruleset) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s: missing", name)
			continue
		}
		if w.Render() != g.Render() {
			t.Errorf("%s: rendered rulesets differ:\nwant:\n%s\ngot:\n%s", name, w.Render(), g.Render())
			continue
		}
		wj, _ := json.Marshal(w)
		gj, _ := json.Marshal(g)
		if string(wj) != string(gj) {
			t.Errorf("%s: JSON differs", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: unexpected", name)
		}
	}
}
