package load

import (
	"sync"

	"github.com/fwgit/fwgit/internal/diag"
)

// RulePos returns the file position of byte offset off of spec.rule's value
// (the rule text as decoded), for diagnostics that point inside the rule,
// such as an unknown tag. The offset is mapped through the scalar's quoting,
// escapes and folding; when that mapping is unsure, or the object is not a
// Rule with a valid text, it returns the position of spec.rule itself.
func (o *Object) RulePos(off int) diag.Pos {
	if o.ruleTextPos != nil {
		if p, ok := o.ruleTextPos(off); ok {
			return p
		}
	}
	return o.PosOf("spec.rule")
}

// ruleOffsetPos returns the mapping [Object.RulePos] uses for the current
// document's rule text. The scalar is re-scanned on first use only, since
// most rules never need a position inside their text.
func (d *docDecoder) ruleOffsetPos() func(int) (diag.Pos, bool) {
	n, f := d.ruleNode, d.f
	if n == nil {
		return nil
	}
	start := d.pos(n)
	if start.Line < 1 || start.Line > len(f.lineStarts) {
		return nil
	}
	fileStart := f.lineStarts[start.Line-1] + start.Col - 1
	parentIndent := 0
	if d.ruleKey != nil {
		parentIndent = d.pos(d.ruleKey).Col - 1
	}
	offsets := sync.OnceValue(func() []int { return scalarOffsets(f.data, fileStart, parentIndent, n) })
	return func(off int) (diag.Pos, bool) {
		offs := offsets()
		if off < 0 || off >= len(offs) {
			return diag.Pos{}, false
		}
		return f.posAt(offs[off]), true
	}
}
