package diag

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func sample() List {
	var l List
	l.Warnf(Pos{File: "rules/web.yaml", Line: 3, Col: 9}, "rule-disabled", "rule %q is disabled", "web")
	l.Errorf(Pos{File: "rules/web.yaml", Line: 12, Col: 5}, "unknown-tag", "unknown tag %q", "db")
	l.Errorf(Pos{File: "firewalls/a.yaml"}, "yaml-syntax", "bad: %s", "50%\nsecond line")
	return l
}

func TestSortAndCounts(t *testing.T) {
	l := sample()
	l.Sort()
	var got []string
	for _, d := range l {
		got = append(got, d.String())
	}
	want := []string{
		`firewalls/a.yaml: error: bad: 50%` + "\nsecond line [yaml-syntax]",
		`rules/web.yaml:3:9: warning: rule "web" is disabled [rule-disabled]`,
		`rules/web.yaml:12:5: error: unknown tag "db" [unknown-tag]`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sorted list (-want +got):\n%s", diff)
	}
	if l.Errors() != 2 || l.Warnings() != 1 || !l.HasErrors() {
		t.Errorf("Errors() = %d, Warnings() = %d", l.Errors(), l.Warnings())
	}
}

func TestCapKeepsErrors(t *testing.T) {
	l := sample()
	l.Sort()
	got, cut := l.Cap(2)
	if cut != 1 || len(got) != 2 || got.Warnings() != 0 {
		t.Errorf("Cap(2) = %v, %d; want both errors and 1 cut", got, cut)
	}
	if all, cut := l.Cap(10); cut != 0 || len(all) != 3 {
		t.Errorf("Cap(10) cut %d", cut)
	}
}

func TestRenderers(t *testing.T) {
	l := sample()
	l.Sort()
	var gh strings.Builder
	if err := l.WriteGitHub(&gh); err != nil {
		t.Fatal(err)
	}
	wantGH := "::error file=firewalls/a.yaml,title=yaml-syntax::bad: 50%25%0Asecond line\n" +
		"::warning file=rules/web.yaml,line=3,col=9,title=rule-disabled::rule \"web\" is disabled\n" +
		"::error file=rules/web.yaml,line=12,col=5,title=unknown-tag::unknown tag \"db\"\n"
	if diff := cmp.Diff(wantGH, gh.String()); diff != "" {
		t.Errorf("WriteGitHub (-want +got):\n%s", diff)
	}
	var js strings.Builder
	if err := List(nil).WriteJSON(&js); err != nil || strings.TrimSpace(js.String()) != "[]" {
		t.Errorf("empty WriteJSON = %q, %v", js.String(), err)
	}
	js.Reset()
	l[:1].WriteJSON(&js)
	if !strings.Contains(js.String(), `"severity": "error"`) || !strings.Contains(js.String(), `"code": "yaml-syntax"`) {
		t.Errorf("WriteJSON = %s", js.String())
	}
	var s Severity
	if err := s.UnmarshalText([]byte("warning")); err != nil || s != Warning {
		t.Errorf("UnmarshalText(warning) = %v, %v", s, err)
	}
	if err := s.UnmarshalText([]byte("fatal")); err == nil {
		t.Errorf("UnmarshalText(fatal) succeeded")
	}
}
