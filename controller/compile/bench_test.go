package compile_test

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/fwgit/fwgit/controller/compile"
	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/controller/plan"
	"github.com/fwgit/fwgit/internal/genrepo"
	"github.com/fwgit/fwgit/schema/load"
)

// benchRepo is a synthetic repository and the same repository with one more
// rule: the two revisions of a one-rule change.
type benchRepo struct {
	base, head fstest.MapFS
	invBase    *model.Inventory
	invHead    *model.Inventory
}

var (
	benchMu    sync.Mutex
	benchRepos = map[int]*benchRepo{}
)

// oneRule is the change: a global rule that opens one port on the web tier.
const oneRule = `apiVersion: fwgit/v1
kind: Rule
metadata: {name: bench-one-rule}
spec:
  global: true
  rule: FROM any TO tag role = web ALLOW tcp PORT 9999
`

// benchSizes are the firewall counts of the growth series (10 rules per
// firewall). The output grows with firewalls × rules: at 4 owners the
// generator puts about 1,700 nft rules on each firewall at 1,000 firewalls
// (5,500 at 1 owner), so 5,000 firewalls hold about 42 million nft rules of
// 184 bytes, some 8 GiB of rulesets alone. That is over the few GiB a
// default run may take, so 5,000 runs only with FWGIT_BENCH_5000=1.
func benchSizes() []int {
	if os.Getenv("FWGIT_BENCH_5000") != "" {
		return []int{100, 500, 1000, 5000}
	}
	return []int{100, 500, 1000}
}

// benchOwners is the number of owners of the benchmark repository: 4, as
// in the model and validate benchmarks, so that the "1,000 firewalls,
// 10,000 rules, 50 tags" figures of issues 3 and 4 describe the same
// repository. FWGIT_BENCH_OWNERS=1 runs the single-owner shape, where
// every owned rule is in scope of every owned firewall and each firewall
// gets about three times as many nft rules.
func benchOwners() int {
	if n, err := strconv.Atoi(os.Getenv("FWGIT_BENCH_OWNERS")); err == nil && n > 0 {
		return n
	}
	return 4
}

// getBenchRepo generates (once per size) a repository with n firewalls,
// 10n rules, 50 tags and [benchOwners] owners, the shape issue 4 sets its
// goals on.
func getBenchRepo(b *testing.B, n int) *benchRepo {
	b.Helper()
	benchMu.Lock()
	defer benchMu.Unlock()
	if r := benchRepos[n]; r != nil {
		return r
	}
	files := genrepo.Generate(genrepo.Options{Firewalls: n, Rules: 10 * n, Tags: 50, Owners: benchOwners(), Seed: 1})
	base := fstest.MapFS{}
	for name, data := range files {
		base[name] = &fstest.MapFile{Data: data}
	}
	head := fstest.MapFS{}
	for k, v := range base {
		head[k] = v
	}
	head["rules/zz-bench.yaml"] = &fstest.MapFile{Data: []byte(oneRule)}
	r := &benchRepo{base: base, head: head}
	var diags interface{ HasErrors() bool }
	r.invBase, diags = buildInv(base)
	if diags.HasErrors() {
		b.Fatalf("generated repository is invalid: %v", diags)
	}
	r.invHead, diags = buildInv(head)
	if diags.HasErrors() {
		b.Fatalf("changed repository is invalid: %v", diags)
	}
	benchRepos[n] = r
	return r
}

func buildInv(fsys fstest.MapFS) (*model.Inventory, interface{ HasErrors() bool }) {
	inv, diags := model.Build(load.Load(fsys))
	return inv, diags
}

// BenchmarkAll compiles every firewall; the sub-benchmarks show how the
// cost grows with the repository (n firewalls, 10n rules, 50 tags). The
// goal at 1,000 firewalls is under 2 s and 1 GiB.
func BenchmarkAll(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("firewalls=%d", n), func(b *testing.B) {
			r := getBenchRepo(b, n)
			b.ReportAllocs()
			var rules int
			for b.Loop() {
				rs := compile.All(r.invBase)
				rules = 0
				for _, x := range rs {
					for _, c := range x.Chains {
						rules += len(c.Rules)
					}
				}
			}
			b.ReportMetric(float64(rules), "nftrules")
			reportLive(b, func() any { return compile.All(r.invBase) })
		})
	}
}

// reportLive reports the heap that what f returns keeps alive, in MiB.
func reportLive(b *testing.B, f func() any) {
	b.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	keep := f()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "live-MiB")
}

// BenchmarkUpdateOneRule recompiles after a one-rule change: only the
// firewalls model.Diff names (goal: under 100 ms at 1,000 firewalls).
func BenchmarkUpdateOneRule(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("firewalls=%d", n), func(b *testing.B) {
			r := getBenchRepo(b, n)
			prev := compile.All(r.invBase)
			b.ReportAllocs()
			for b.Loop() {
				compile.Update(prev, r.invBase, r.invHead)
			}
			b.ReportMetric(float64(len(model.Diff(r.invBase, r.invHead))), "recompiled")
		})
	}
}

// BenchmarkPlan is `fwgit plan` between two revisions without the Git
// reads: load and resolve both, compile both, compute the plan and render
// the Markdown comment (goal: under 3 s at 1,000 firewalls).
func BenchmarkPlan(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("firewalls=%d", n), func(b *testing.B) {
			r := getBenchRepo(b, n)
			b.ReportAllocs()
			for b.Loop() {
				base, _ := buildInv(r.base)
				head, _ := buildInv(r.head)
				p := plan.Compute(base, head, compile.All(base), compile.All(head))
				if err := p.WriteMarkdown(io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPlanUpdate is BenchmarkPlan compiling the head revision with
// compile.Update from the base rulesets, as a caller that has both should:
// only the firewalls model.Diff names are compiled twice, and the plan
// finds the others unchanged by pointer without comparing them.
func BenchmarkPlanUpdate(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("firewalls=%d", n), func(b *testing.B) {
			r := getBenchRepo(b, n)
			b.ReportAllocs()
			for b.Loop() {
				base, _ := buildInv(r.base)
				head, _ := buildInv(r.head)
				brs := compile.All(base)
				p := plan.Compute(base, head, brs, compile.Update(brs, base, head))
				if err := p.WriteMarkdown(io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
