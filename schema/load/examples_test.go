package load

import (
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/fwgit/fwgit/internal/diag"
	v1 "github.com/fwgit/fwgit/schema/v1"
	"github.com/google/go-cmp/cmp"
)

const examplesDir = "../../examples/repo"

func TestExamplesLoadClean(t *testing.T) {
	r := Load(os.DirFS(examplesDir))
	if len(r.Diags) != 0 {
		t.Errorf("examples/repo has diagnostics:\n%s", r.Diags)
	}
	count := map[string]int{}
	for _, o := range r.Objects {
		count[o.Kind]++
		if o.Kind == v1.KindRule && o.ParsedRule == nil {
			t.Errorf("%s: rule %s was not parsed", o.Pos, o.Name)
		}
	}
	want := map[string]int{v1.KindFirewall: 9, v1.KindRule: 20, v1.KindTag: 5, v1.KindTest: 6, v1.KindSettings: 1}
	if diff := cmp.Diff(want, count); diff != "" {
		t.Errorf("examples/repo objects per kind (-want +got):\n%s", diff)
	}
}

// copyExamples reads examples/repo into memory so a test can break it.
func copyExamples(t *testing.T) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	src := os.DirFS(examplesDir)
	err := fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(src, p)
		m[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// breakFile replaces the first occurrence of old in file by new and
// returns the position where needle (a part of new) starts after the change.
func breakFile(t *testing.T, m fstest.MapFS, file, old, new, needle string) diag.Pos {
	t.Helper()
	f := m[file]
	if f == nil || !strings.Contains(string(f.Data), old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	s := strings.Replace(string(f.Data), old, new, 1)
	f.Data = []byte(s)
	i := strings.Index(s, new) + strings.Index(new, needle)
	line := strings.Count(s[:i], "\n") + 1
	col := i - strings.LastIndex(s[:i], "\n")
	return diag.Pos{File: file, Line: line, Col: col}
}

// TestBrokenExamples breaks a copy of examples/repo in several files and
// checks that every problem is reported, each at the right place.
func TestBrokenExamples(t *testing.T) {
	m := copyExamples(t)
	want := diag.List{
		{Code: v1.CodeRuleInvalid, Pos: breakFile(t, m, "rules/data.yaml", "ALLOW tcp PORT 5432", "ALLOW tcp PORT 5432x", "5432x")},
		{Code: v1.CodeRuleSyntax, Pos: breakFile(t, m, "rules/ops.yaml", "    ALLOW tcp PORT 9187", "    ALLOW tcp PROT 9187", "PROT")},
		{Code: v1.CodeUnknownField, Pos: breakFile(t, m, "firewalls/data.yaml", "  addresses:\n    - 198.18.0.20", "  adresses:\n    - 198.18.0.20", "adresses")},
		{Code: v1.CodeWrongType, Pos: breakFile(t, m, "firewalls/web.yaml", "  tags:\n    role: web\n    env: prod\n    tier: 2\n    pci: false\n    metrics: true\n  agent:\n    url: https://198.18.0.11:33033",
			"  tags: [web]\n  agent:\n    url: https://198.18.0.11:33033", "[web]")},
		{Code: v1.CodeUnknownField, Pos: breakFile(t, m, "tests/data.yaml", "      port: 6381", "      port: 6381\n      tpye: 3", "tpye")},
	}
	want.Sort()
	var wantStrs []string
	for _, d := range want {
		wantStrs = append(wantStrs, fmt.Sprintf("%s error %s", d.Pos, d.Code))
	}
	r := Load(m)
	if diff := cmp.Diff(wantStrs, brief(r.Diags)); diff != "" {
		t.Errorf("broken examples diagnostics (-want +got):\n%s\nfull:\n%s", diff, r.Diags)
	}
}
