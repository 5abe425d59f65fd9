package model_test

import (
	"strings"
	"testing"

	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/internal/diag"
)

// FuzzBuildRule builds the base repository plus one rule whose spec.rule
// line is the fuzzed text (so it may be plain, quoted, folded or broken
// YAML). Build must not panic, and every diagnostic must point inside the
// files: a known file, a line that exists, a column at most one past the
// line's end.
func FuzzBuildRule(f *testing.F) {
	for _, s := range []string{
		"FROM tag role = web TO tag nope ALLOW tcp PORT 80",
		`"FROM tag \"role\" = \"web\" TO tag \"nope\" ALLOW tcp PORT 80"`,
		"'FROM tag ''role'' TO (tag nope OR vm " + uuidX + ") ALLOW tcp PORT 80'",
		">-\n    FROM any\n    TO tag nope\n    ALLOW tcp PORT 80",
		"|\n    FROM any TO\n    tag   nope ALLOW udp PORT 53",
		"FROM all vms TO tag role = cache ALLOW tcp PORT 1 PRIORITY 3",
		"FROM any TO any ALLOW tcp PORT 1",
		"{broken",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if strings.Contains(line, "\r") {
			// Lone carriage returns: yaml.v3 counts them as line breaks and
			// the loader's line table does not, a loader matter.
			t.Skip()
		}
		files := baseFiles()
		files["rules.yaml"] = ruleDoc("r", ownerA, line) + "---\n" + ruleDoc("g", "", line)
		_, diags := build(t, files)
		for _, d := range diags {
			checkPos(t, files, d)
		}
	})
}

func checkPos(t *testing.T, files map[string]string, d diag.Diagnostic) {
	t.Helper()
	data, ok := files[d.Pos.File]
	if !ok {
		t.Fatalf("%s: unknown file", d)
	}
	if d.Pos.Line == 0 {
		return
	}
	lines := strings.Split(data, "\n")
	if d.Pos.Line < 1 || d.Pos.Line > len(lines) {
		t.Fatalf("%s: line out of range (file has %d lines)", d, len(lines))
	}
	if d.Pos.Col < 0 || d.Pos.Col > len(lines[d.Pos.Line-1])+1 {
		t.Fatalf("%s: column out of range (line %q)", d, lines[d.Pos.Line-1])
	}
}

// TestBuildNil: a nil repository is an empty one.
func TestBuildNil(t *testing.T) {
	inv, diags := model.Build(nil)
	if len(diags) != 0 || len(inv.Firewalls) != 0 || inv.Settings.AgentPort == 0 {
		t.Errorf("Build(nil) = %+v, %v; want an empty inventory with default settings", inv, diags)
	}
}
