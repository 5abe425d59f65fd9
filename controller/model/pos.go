package model

import (
	"github.com/fwgit/fwgit/internal/diag"
	"github.com/fwgit/fwgit/schema/load"
)

// rulePos returns the file position of byte offset off of o's rule text,
// falling back to textPos, the position of spec.rule, when the loader
// cannot map it exactly.
func rulePos(o *load.Object, textPos diag.Pos, off int) diag.Pos {
	if o == nil {
		return textPos
	}
	return o.RulePos(off)
}
