package plan

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// lcsLen is the textbook dynamic-programming longest common subsequence,
// the yardstick for a shortest edit script.
func lcsLen(a, b []string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			switch {
			case a[i-1] == b[j-1]:
				cur[j] = prev[j-1] + 1
			case prev[j] >= cur[j-1]:
				cur[j] = prev[j]
			default:
				cur[j] = cur[j-1]
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func TestEditScriptMinimalAndCorrect(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		a := make([]string, r.IntN(30))
		b := make([]string, r.IntN(30))
		for j := range a {
			a[j] = string(rune('a' + r.IntN(4)))
		}
		for j := range b {
			b[j] = string(rune('a' + r.IntN(4)))
		}
		es := editScript(a, b)
		var gotA, gotB []string
		eq := 0
		for _, e := range es {
			if e.kind != opIns {
				gotA = append(gotA, e.line)
			}
			if e.kind != opDel {
				gotB = append(gotB, e.line)
			}
			if e.kind == opEqual {
				eq++
			}
		}
		if !cmp.Equal(gotA, a, cmpopts.EquateEmpty()) || !cmp.Equal(gotB, b, cmpopts.EquateEmpty()) {
			t.Fatalf("case %d: script does not rebuild its inputs: %q %q -> %v", i, a, b, es)
		}
		if want := lcsLen(a, b); eq != want {
			t.Fatalf("case %d: %d equal lines, want %d (not minimal) for %q %q", i, eq, want, a, b)
		}
	}
}

func TestUnified(t *testing.T) {
	num := func(from, to int, edit map[int]string) string {
		var b strings.Builder
		for i := from; i <= to; i++ {
			if s, ok := edit[i]; ok {
				if s != "" {
					b.WriteString(s + "\n")
				}
				continue
			}
			fmt.Fprintf(&b, "l%d\n", i)
		}
		return b.String()
	}
	tests := []struct {
		name, a, b, want string
		added, removed   int
	}{
		{name: "equal", a: "x\ny\n", b: "x\ny\n"},
		{name: "from nothing", a: "", b: "x\ny\n", added: 2,
			want: "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+x\n+y\n"},
		{name: "to nothing", a: "x\n", b: "", removed: 1,
			want: "--- a\n+++ b\n@@ -1 +0,0 @@\n-x\n"},
		{name: "one change with context", a: num(1, 10, nil), b: num(1, 10, map[int]string{5: "new"}), added: 1, removed: 1,
			want: "--- a\n+++ b\n@@ -2,7 +2,7 @@\n l2\n l3\n l4\n-l5\n+new\n l6\n l7\n l8\n"},
		{name: "two hunks", a: num(1, 20, nil), b: num(1, 20, map[int]string{2: "", 18: "x"}), added: 1, removed: 2,
			want: "--- a\n+++ b\n@@ -1,5 +1,4 @@\n l1\n-l2\n l3\n l4\n l5\n@@ -15,6 +14,6 @@\n l15\n l16\n l17\n-l18\n+x\n l19\n l20\n"},
		{name: "close changes merge", a: num(1, 12, nil), b: num(1, 12, map[int]string{3: "", 8: ""}), removed: 2,
			want: "--- a\n+++ b\n@@ -1,11 +1,9 @@\n l1\n l2\n-l3\n l4\n l5\n l6\n l7\n-l8\n l9\n l10\n l11\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, add, rem := Unified("a", "b", tc.a, tc.b, 3)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Unified diff (-want +got):\n%s", diff)
			}
			if add != tc.added || rem != tc.removed {
				t.Errorf("Unified counts = +%d -%d, want +%d -%d", add, rem, tc.added, tc.removed)
			}
		})
	}
}

func BenchmarkUnified(b *testing.B) {
	var x, y strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&x, "rule %d\n", i)
		if i%97 != 0 {
			fmt.Fprintf(&y, "rule %d\n", i)
		} else {
			fmt.Fprintf(&y, "changed %d\n", i)
		}
	}
	for b.Loop() {
		Unified("a", "b", x.String(), y.String(), 3)
	}
}
