package load

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// syntheticRepo builds an in-memory repository of the size fwgit validate
// must handle quickly: firewalls, rules and tags, spread over files as a
// real repository would be (one file per firewall, rules grouped by team).
func syntheticRepo(firewalls, rules, tags int) (fstest.MapFS, int) {
	m := fstest.MapFS{}
	size := 0
	add := func(p, s string) {
		m[p] = &fstest.MapFile{Data: []byte(s)}
		size += len(s)
	}
	var b strings.Builder
	for i := 0; i < tags; i++ {
		fmt.Fprintf(&b, "---\napiVersion: fwgit/v1\nkind: Tag\nmetadata:\n  name: t%d\nspec:\n  description: synthetic tag %d\n  values: [a, b, c, d, 1, 2, true]\n", i, i)
	}
	add("tags.yaml", b.String())
	for i := 0; i < firewalls; i++ {
		add(fmt.Sprintf("firewalls/fw-%04d.yaml", i), fmt.Sprintf(`apiVersion: fwgit/v1
kind: Firewall
metadata:
  name: fw-%04d
spec:
  description: synthetic firewall
  owner: %s
  addresses:
    - 198.18.%d.%d
    - fd00::%x
  tags:
    t%d: a
    t%d: 1
    t%d: true
  agent:
    url: https://198.18.%d.%d:33033
  management: [198.19.250.0/24]
`, i, owner, i/250, i%250+1, i+1, i%tags, (i+1)%tags, (i+2)%tags, i/250, i%250+1))
	}
	perFile := 100
	for f := 0; f*perFile < rules; f++ {
		b.Reset()
		for j := f * perFile; j < rules && j < (f+1)*perFile; j++ {
			var rule string
			switch j % 4 {
			case 0:
				rule = fmt.Sprintf("FROM tag t%d = a TO tag t%d ALLOW tcp PORT %d", j%tags, (j+1)%tags, 1+j%60000)
			case 1:
				rule = fmt.Sprintf("FROM (subnet 198.19.%d.0/24 OR ip fd00:1::%x) TO tag t%d ALLOW tcp PORTS 8000 - 8100, 9000", j%250, j, j%tags)
			case 2:
				rule = fmt.Sprintf("FROM any TO tag t%d = 1 ALLOW icmp TYPE 8 CODE 0 PRIORITY %d", j%tags, j%100)
			default:
				rule = fmt.Sprintf("FROM tag t%d TO all vms BLOCK udp (PORT 53 AND PORT %d)", j%tags, 1000+j%1000)
			}
			fmt.Fprintf(&b, "---\napiVersion: fwgit/v1\nkind: Rule\nmetadata:\n  name: rule-%05d\nspec:\n  owner: %s\n  description: synthetic rule\n  rule: %s\n", j, owner, rule)
		}
		add(fmt.Sprintf("rules/team-%03d.yaml", f), b.String())
	}
	return m, size
}

func TestSyntheticRepoLoadsClean(t *testing.T) {
	m, _ := syntheticRepo(50, 200, 10)
	r := Load(m)
	if len(r.Diags) != 0 {
		t.Fatalf("synthetic repository has diagnostics:\n%s", r.Diags[:min(len(r.Diags), 10)])
	}
	if got := len(r.Objects); got != 260 {
		t.Errorf("Load returned %d objects, want 260", got)
	}
}

// BenchmarkLoad loads 1,000 firewalls, 10,000 rules and 50 tags. The
// end-to-end goal for fwgit validate on such a repository is under 1 s and
// 500 MiB; loading must be a fraction of that.
func BenchmarkLoad(b *testing.B) {
	m, size := syntheticRepo(1000, 10000, 50)
	if r := Load(m); len(r.Diags) != 0 || len(r.Objects) != 11050 {
		b.Fatalf("synthetic repository: %d objects, diagnostics %v", len(r.Objects), r.Diags[:min(len(r.Diags), 5)])
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		Load(m)
	}
}
