package plan

import (
	"fmt"
	"strings"
)

// maxEditCost bounds the work of the line diff: past this many edits the
// changed middle is shown as a removal followed by an addition, which is
// still a correct diff, only not a minimal one.
const maxEditCost = 4000

type opKind byte

const (
	opEqual opKind = ' '
	opDel   opKind = '-'
	opIns   opKind = '+'
)

type edit struct {
	kind opKind
	line string
}

// lines splits text into lines without their newlines.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// editScript returns a shortest edit script from a to b (Myers' O(ND)
// algorithm), after taking off the common prefix and suffix.
func editScript(a, b []string) []edit {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	var out []edit
	for _, l := range a[:pre] {
		out = append(out, edit{opEqual, l})
	}
	out = append(out, myers(a[pre:len(a)-suf], b[pre:len(b)-suf])...)
	for _, l := range a[len(a)-suf:] {
		out = append(out, edit{opEqual, l})
	}
	return out
}

func myers(a, b []string) []edit {
	n, m := len(a), len(b)
	if n == 0 || m == 0 || n+m > 2*maxEditCost {
		return replaceAll(a, b)
	}
	max := n + m
	if max > maxEditCost {
		max = maxEditCost
	}
	off := max + 1
	v := make([]int, 2*max+3)
	var trace [][]int
	found := false
	for d := 0; d <= max && !found; d++ {
		trace = append(trace, append([]int(nil), v...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1]
			} else {
				x = v[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				found = true
				break
			}
		}
	}
	if !found {
		return replaceAll(a, b)
	}
	// Walk back through the saved frontiers.
	var rev []edit
	x, y := n, m
	for d := len(trace) - 1; d >= 0; d-- {
		vd := trace[d]
		k := x - y
		var pk int
		if k == -d || (k != d && vd[off+k-1] < vd[off+k+1]) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := vd[off+pk]
		py := px - pk
		for x > px && y > py {
			x--
			y--
			rev = append(rev, edit{opEqual, a[x]})
		}
		if d > 0 {
			if x == px {
				y--
				rev = append(rev, edit{opIns, b[y]})
			} else {
				x--
				rev = append(rev, edit{opDel, a[x]})
			}
		}
	}
	out := make([]edit, len(rev))
	for i, e := range rev {
		out[len(rev)-1-i] = e
	}
	return out
}

func replaceAll(a, b []string) []edit {
	out := make([]edit, 0, len(a)+len(b))
	for _, l := range a {
		out = append(out, edit{opDel, l})
	}
	for _, l := range b {
		out = append(out, edit{opIns, l})
	}
	return out
}

// Unified returns the unified diff (context lines of context) that turns
// text a into text b, with file names aName and bName, and how many lines
// it adds and removes. Equal texts give "".
func Unified(aName, bName, a, b string, context int) (diff string, added, removed int) {
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

// hunkRange formats a hunk range as diff(1) does: "start,count", with start
// counting from 1, or from 0 when count is 0.
func hunkRange(start, count int) string {
	if count == 0 {
		return fmt.Sprintf("%d,0", start)
	}
	if count == 1 {
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, count)
}
