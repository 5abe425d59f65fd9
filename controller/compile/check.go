package compile

import (
	"fmt"

	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/internal/diag"
	"github.com/fwgit/fwgit/internal/nft"
)

// CaseResult is the outcome of one case of a Test manifest.
type CaseResult struct {
	// Test is the Test's name and Index the case's index in it.
	Test  string `json:"test"`
	Index int    `json:"index"`
	// Case is the case as written, with its position.
	Case model.TestCase `json:"case"`
	// Pass reports whether the verdict is the expected one.
	Pass bool `json:"pass"`
	// Err says why the case could not be evaluated (then Pass is false).
	Err string `json:"error,omitempty"`
	// Trace is the evaluation, when Err is empty.
	Trace TraceResult `json:"trace"`
}

// Pos returns the position of the case.
func (c CaseResult) Pos() diag.Pos { return c.Case.Pos }

// Check runs every case of every Test in inv against the compiled rulesets
// (as [All] returns them; a missing firewall is compiled on the spot), in
// Test and case order.
func Check(inv *model.Inventory, rulesets map[string]*nft.Ruleset) []CaseResult {
	byName := make(map[string]*model.Firewall, len(inv.Firewalls))
	for _, f := range inv.Firewalls {
		byName[f.Name] = f
	}
	var out []CaseResult
	for _, t := range inv.Tests {
		for i, tc := range t.Cases {
			res := CaseResult{Test: t.Name, Index: i, Case: tc}
			fw := byName[tc.Firewall]
			if fw == nil {
				res.Err = fmt.Sprintf("unknown firewall %q", tc.Firewall)
				out = append(out, res)
				continue
			}
			rs := rulesets[fw.Name]
			if rs == nil {
				rs = Firewall(inv, fw)
			}
			tr, err := Trace(inv, fw, rs, QueryFromCase(tc.TestCase))
			if err != nil {
				res.Err = err.Error()
			} else {
				res.Trace = tr
				res.Pass = string(tr.Verdict) == tc.Expect
			}
			out = append(out, res)
		}
	}
	return out
}
