package model_test

import (
	"strings"
	"testing"

	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/internal/genrepo"
	"github.com/fwgit/fwgit/schema/load"
)

// benchOptions is the scale of issue 3's performance goal.
var benchOptions = genrepo.Options{Firewalls: 1000, Rules: 10000, Tags: 50, Owners: 4, Seed: 1}

// BenchmarkValidate loads and builds the 1,000-firewall, 10,000-rule
// repository from memory, as `fwgit validate` does after reading files.
func BenchmarkValidate(b *testing.B) {
	fsys := genrepo.Generate(benchOptions).FS()
	b.ReportAllocs()
	for b.Loop() {
		inv, diags := model.Build(load.Load(fsys))
		if diags.HasErrors() || len(inv.Rules) != benchOptions.Rules {
			b.Fatalf("%d rules, diagnostics:\n%s", len(inv.Rules), diags)
		}
	}
}

// BenchmarkBuild is Build alone on the same repository.
func BenchmarkBuild(b *testing.B) {
	repo := load.Load(genrepo.Generate(benchOptions).FS())
	b.ReportAllocs()
	for b.Loop() {
		model.Build(repo)
	}
}

// BenchmarkDiffOneRule diffs two builds of the repository that differ in
// one rule's port, the controller's path after a one-line commit.
func BenchmarkDiffOneRule(b *testing.B) {
	files := genrepo.Generate(benchOptions)
	old, _ := model.Build(load.Load(files.FS()))
	changed := genrepo.Files{}
	for p, data := range files {
		changed[p] = data
	}
	const p = "rules/payments/web.yaml"
	text := string(changed[p])
	i := strings.Index(text, "  rule: FROM ")
	if i < 0 {
		b.Fatalf("no plain rule in %s", p)
	}
	changed[p] = []byte(text[:i] + "  rule: FROM any TO tag role = web ALLOW tcp PORT 4444\n" + text[i+strings.IndexByte(text[i:], '\n')+1:])
	next, diags := model.Build(load.Load(changed.FS()))
	if diags.HasErrors() {
		b.Fatalf("changed repository:\n%s", diags)
	}
	var n int
	b.ReportAllocs()
	for b.Loop() {
		n = len(model.Diff(old, next))
	}
	b.ReportMetric(float64(n), "firewalls")
}
