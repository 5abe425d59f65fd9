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

// unifiedRef is Unified as it was before it stopped splitting the common
// prefix and suffix into lines: the yardstick of TestUnifiedMatchesRef.
func unifiedRef(aName, bName, a, b string, context int) (diff string, added, removed int) {
	al, bl := lines(a), lines(b)
	es := editScript(al, bl)
	var sb strings.Builder
	// Line numbers before each edit.
	type pos struct{ a, b int }
	at := make([]pos, len(es)+1)
	for i, e := range es {
		at[i+1] = at[i]
		switch e.kind {
		case opEqual:
			at[i+1].a++
			at[i+1].b++
		case opDel:
			at[i+1].a++
			removed++
		case opIns:
			at[i+1].b++
			added++
		}
	}
	if added == 0 && removed == 0 {
		return "", 0, 0
	}
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", aName, bName)
	for i := 0; i < len(es); {
		if es[i].kind == opEqual {
			i++
			continue
		}
		// A hunk starts context lines before the change and ends when
		// more than 2*context equal lines follow the last change.
		start := max(i-context, 0)
		end := i
		for j := i; j < len(es); j++ {
			if es[j].kind != opEqual {
				end = j + 1
				continue
			}
			if j-end >= 2*context {
				break
			}
		}
		stop := min(end+context, len(es))
		na, nb := 0, 0
		for _, e := range es[start:stop] {
			if e.kind != opIns {
				na++
			}
			if e.kind != opDel {
				nb++
			}
		}
		fmt.Fprintf(&sb, "@@ -%s +%s @@\n", hunkRange(at[start].a, na), hunkRange(at[start].b, nb))
		for _, e := range es[start:stop] {
			sb.WriteByte(byte(e.kind))
			sb.WriteString(e.line)
			sb.WriteByte('\n')
		}
		i = stop
	}
	return sb.String(), added, removed
}

// TestUnifiedMatchesRef checks that Unified, which reads the common prefix
// and suffix without splitting them, gives exactly the diff of the whole
// edit script.
func TestUnifiedMatchesRef(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	gen := func() string {
		var sb strings.Builder
		for range r.IntN(40) {
			sb.WriteString(strings.Repeat(string(rune('a'+r.IntN(3))), r.IntN(3)))
			sb.WriteByte('\n')
		}
		s := sb.String()
		if r.IntN(4) == 0 {
			s = strings.TrimSuffix(s, "\n")
		}
		return s
	}
	mutate := func(s string) string {
		ls := strings.Split(s, "\n")
		for range r.IntN(4) {
			i := r.IntN(len(ls) + 1)
			switch r.IntN(3) {
			case 0:
				ls = append(ls[:i], append([]string{string(rune('a' + r.IntN(4)))}, ls[i:]...)...)
			case 1:
				if i < len(ls) {
					ls = append(ls[:i], ls[i+1:]...)
				}
			default:
				if i < len(ls) {
					ls[i] += "x"
				}
			}
		}
		return strings.Join(ls, "\n")
	}
	fixed := []string{"", "\n", "\n\n", "a", "a\n", "a\nb", "a\nb\n", "b\na\n"}
	for i := range 5000 {
		var a, b string
		if i < len(fixed)*len(fixed) {
			a, b = fixed[i/len(fixed)], fixed[i%len(fixed)]
		} else {
			a = gen()
			b = mutate(a)
			if r.IntN(5) == 0 {
				b = gen()
			}
		}
		for _, ctx := range []int{0, 1, 3} {
			d, ad, rm := Unified("a/x", "b/x", a, b, ctx)
			wd, wad, wrm := unifiedRef("a/x", "b/x", a, b, ctx)
			if d != wd || ad != wad || rm != wrm {
				t.Fatalf("Unified(%q, %q, %d) =\n%s(+%d -%d), want\n%s(+%d -%d)", a, b, ctx, d, ad, rm, wd, wad, wrm)
			}
		}
	}
}
