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
		// Round d reads only the diagonals -d-1 … d+1 of v, so that is
		// all the walk back needs of it.
		lo, hi := off-d-1, off+d+2
		trace = append(trace, append([]int(nil), v[lo:hi]...))
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
		// trace[d] starts at diagonal -d-1.
		vd := func(k int) int { return trace[d][k+d+1] }
		k := x - y
		var pk int
		if k == -d || (k != d && vd(k-1) < vd(k+1)) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := vd(pk)
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
	es, skipped := trimmedScript(a, b, context)
	var sb strings.Builder
	// Line numbers before each edit.
	type pos struct{ a, b int }
	at := make([]pos, len(es)+1)
	at[0] = pos{skipped, skipped}
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

// text is a text as [lines] splits it, read without splitting: t is the
// text without its final newline and n its number of lines.
type text struct {
	t string
	n int
}

func newText(s string) text {
	if s == "" {
		return text{}
	}
	t := strings.TrimSuffix(s, "\n")
	return text{t, strings.Count(t, "\n") + 1}
}

// next returns the line that starts at byte i and the start of the next.
func (x text) next(i int) (string, int) {
	if j := strings.IndexByte(x.t[i:], '\n'); j >= 0 {
		return x.t[i : i+j], i + j + 1
	}
	return x.t[i:], len(x.t) + 1
}

// prev returns the line that ends at byte e (before its newline, or the end
// of t) and the end of the line before it.
func (x text) prev(e int) (string, int) {
	i := strings.LastIndexByte(x.t[:e], '\n') + 1
	return x.t[i:e], i - 1
}

// trimmedScript returns what the hunks of a unified diff with context lines
// of context need of [editScript](lines(a), lines(b)): the script without
// the equal lines of the common prefix but its last context ones, and
// without those of the common suffix but its first context ones, and how
// many prefix lines it left out. Only the changed middle is split into
// lines, so the cost of the common part is one comparison per line.
func trimmedScript(a, b string, context int) (es []edit, skipped int) {
	ta, tb := newText(a), newText(b)
	pre, pa, pb := 0, 0, 0
	for pre < ta.n && pre < tb.n {
		la, na := ta.next(pa)
		lb, nb := tb.next(pb)
		if la != lb {
			break
		}
		pre, pa, pb = pre+1, na, nb
	}
	suf, ea, eb := 0, len(ta.t), len(tb.t)
	for suf < ta.n-pre && suf < tb.n-pre {
		la, na := ta.prev(ea)
		lb, nb := tb.prev(eb)
		if la != lb {
			break
		}
		suf, ea, eb = suf+1, na, nb
	}
	// The middle lines, between the prefix (ending at pa) and the suffix
	// (starting after ea).
	middle := func(x text, start, end, n int) []string {
		if n == 0 {
			return nil
		}
		return strings.Split(x.t[start:end], "\n")
	}
	ma := middle(ta, pa, ea, ta.n-pre-suf)
	mb := middle(tb, pb, eb, tb.n-pre-suf)
	mid := editScript(ma, mb)
	keepPre, keepSuf := min(pre, max(context, 0)), min(suf, max(context, 0))
	es = make([]edit, keepPre, keepPre+len(mid)+keepSuf)
	for i, e := keepPre-1, pa-1; i >= 0; i-- {
		var l string
		l, e = ta.prev(e)
		es[i] = edit{opEqual, l}
	}
	es = append(es, mid...)
	for i, s := 0, ea+1; i < keepSuf; i++ {
		var l string
		l, s = ta.next(s)
		es = append(es, edit{opEqual, l})
	}
	return es, pre - keepPre
}
