package load

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRuleErrorPositions checks that an error inside the rule text is
// reported at its line and column in the file, through every YAML scalar
// style. Each case names the expected line and the text that must start at
// the reported column.
func TestRuleErrorPositions(t *testing.T) {
	tests := []struct {
		name string
		rule string // YAML for the value of spec.rule, may span lines
		// line is the 1-based line of the file (the rule key is on line
		// 5) and at the text the diagnostic's column must start with.
		line int
		at   string
		code string
	}{
		{"plain", "FROM any TO all vms ALLOW tcp PORT 99999", 5, "99999", "rule-invalid"},
		{"plain, folded over lines", "FROM any TO all vms\n    ALLOW tcp\n    PORT 99999", 7, "99999", "rule-invalid"},
		{"single-quoted with a doubled quote", "'FROM tag \"it''s\" TO all vms ALLOW tcp PORT 99999'", 5, "99999", "rule-invalid"},
		{"single-quoted over lines", "'FROM any TO all vms\n\n    ALLOW tcp PORT 99999'", 7, "99999", "rule-invalid"},
		{"double-quoted with escapes", `"FROM tag \"\u00e9\" TO\tall vms ALLOW tcp PORT 99999"`, 5, "99999", "rule-invalid"},
		{"double-quoted with an escaped line break", "\"FROM any TO all vms ALLOW tcp \\\n    PORT 99999\"", 6, "99999", "rule-invalid"},
		{"literal block", "|\n    FROM any\n    TO all vms\n    ALLOW tcp PORT 99999", 8, "99999", "rule-invalid"},
		{"literal block with indentation indicator", "|2\n    FROM any\n    TO all vms ALLOW tcp PORT 99999", 7, "99999", "rule-invalid"},
		{"folded block", ">-\n    FROM any TO all vms\n\n    ALLOW tcp PORT 99999", 8, "99999", "rule-invalid"},
		{"folded block, more indented line", ">\n    FROM any TO all vms\n      ALLOW tcp\n    PORT 99999", 8, "99999", "rule-invalid"},
		{"subnet with host bits", "FROM subnet 198.18.0.1/24 TO all vms ALLOW tcp PORT 1", 5, "198.18.0.1/24", "rule-invalid"},
		{"syntax error", "FROM any TO all vms ALLOW tcp PROT 1", 5, "PROT", "rule-syntax"},
		{"lexical error", "FROM tag a.b TO all vms ALLOW tcp PORT 1", 5, ".b", "rule-syntax"},
		{"rule-level error at the start", "FROM any TO any ALLOW tcp PORT 1", 5, "FROM", "rule-invalid"},
		{"multi-byte characters before the error", `"FROM tag \"ééé\" TO all vms ALLOW tcp PORT 0"`, 5, "0\"", "rule-invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "apiVersion: fwgit/v1\nkind: Rule\nmetadata: {name: r}\nspec:\n  rule: " + tc.rule + "\n  global: true\n"
			r := Load(mapFS(map[string]string{"r.yaml": src}))
			if len(r.Diags) != 1 {
				t.Fatalf("Load(%q) diagnostics = %v, want one", src, r.Diags)
			}
			d := r.Diags[0]
			if d.Code != tc.code {
				t.Errorf("code = %s, want %s (%s)", d.Code, tc.code, d.Msg)
			}
			lines := strings.Split(src, "\n")
			if d.Pos.Line != tc.line {
				t.Fatalf("diagnostic %v: line %d, want %d", d, d.Pos.Line, tc.line)
			}
			line := lines[d.Pos.Line-1]
			if d.Pos.Col < 1 || d.Pos.Col > len(line) || !strings.HasPrefix(line[d.Pos.Col-1:], tc.at) {
				t.Errorf("diagnostic %v points at col %d of %q, want the start of %q", d, d.Pos.Col, line, tc.at)
			}
		})
	}
}

func TestScalarOffsetsFallBack(t *testing.T) {
	// A literal block whose blank line holds extra spaces keeps them in
	// the value; the re-scan does not model that, so it must give up
	// rather than guess, and the error lands at the scalar's start.
	src := "apiVersion: fwgit/v1\nkind: Rule\nmetadata: {name: r}\nspec:\n  global: true\n  rule: |\n    FROM any\n      \n    TO all vms ALLOW tcp PORT 0\n"
	r := Load(mapFS(map[string]string{"r.yaml": src}))
	if got, want := brief(r.Diags), []string{"r.yaml:6:9 error rule-invalid"}; !cmp.Equal(got, want) {
		t.Errorf("diagnostics = %v, want %v", got, want)
	}
}
