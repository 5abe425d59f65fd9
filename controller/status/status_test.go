package status

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fwgit/fwgit/internal/diag"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func stores(t *testing.T) map[string]func(t *testing.T) Store {
	return map[string]func(t *testing.T) Store{
		"bolt": func(t *testing.T) Store {
			b, err := Open(filepath.Join(t.TempDir(), "status.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return b
		},
		"fake": func(*testing.T) Store { return NewFakeStore() },
	}
}

func TestStore(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			if _, err := s.Get("web-1"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get(unknown) error = %v, want ErrNotFound", err)
			}
			fw := Firewall{Name: "web-1", Mode: ModePush, DesiredDigest: "sha256:aa", Generation: 3}
			fw.SetCondition(Condition{Type: Ready, Status: true, Reason: ReasonApplied}, t0)
			if err := s.Put(fw, nil); err != nil {
				t.Fatal(err)
			}
			if err := s.Put(Firewall{Name: "db-1"}, nil); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get("web-1")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(fw, got); diff != "" {
				t.Errorf("Get(web-1) mismatch (-want +got):\n%s", diff)
			}
			got.Conditions[0].Reason = "mutated"
			if again, _ := s.Get("web-1"); again.Conditions[0].Reason != ReasonApplied {
				t.Errorf("Get returned shared memory: caller's change is visible")
			}
			list, _ := s.List()
			var names []string
			for _, f := range list {
				names = append(names, f.Name)
			}
			if diff := cmp.Diff([]string{"db-1", "web-1"}, names); diff != "" {
				t.Errorf("List() names (-want +got):\n%s", diff)
			}

			for i := 1; i <= HistoryLimit+5; i++ {
				h := &HistoryEntry{Time: t0.Add(time.Duration(i) * time.Second), Generation: uint64(i), Result: ResultApplied}
				if err := s.Put(fw, h); err != nil {
					t.Fatal(err)
				}
			}
			hs, err := s.History("web-1", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(hs) != HistoryLimit || hs[0].Generation != HistoryLimit+5 || hs[len(hs)-1].Generation != 6 {
				t.Errorf("History(web-1) = %d entries from %d to %d, want %d from %d to 6",
					len(hs), hs[0].Generation, hs[len(hs)-1].Generation, HistoryLimit, HistoryLimit+5)
			}
			if hs, _ := s.History("web-1", 2); len(hs) != 2 || hs[1].Generation != HistoryLimit+4 {
				t.Errorf("History(web-1, 2) = %+v", hs)
			}

			if err := s.Delete("web-1"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get("web-1"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get after Delete error = %v, want ErrNotFound", err)
			}
			if hs, _ := s.History("web-1", 0); len(hs) != 0 {
				t.Errorf("History after Delete = %d entries, want 0", len(hs))
			}

			rev := Revision{Current: "main@sha1:bb", LastGood: "main@sha1:aa", Diagnostics: diag.List{{Pos: diag.Pos{File: "rules/a.yaml", Line: 3, Col: 5}, Code: "unknown-tag", Msg: "unknown tag"}}}
			if err := s.SetRevision(rev); err != nil {
				t.Fatal(err)
			}
			gotRev, _ := s.Revision()
			if diff := cmp.Diff(rev, gotRev); diff != "" {
				t.Errorf("Revision() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBoltSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "status.db")
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	fw := Firewall{Name: "db-1", AppliedDigest: "sha256:cc", Generation: 7, LastApply: t0}
	fw.SetCondition(Condition{Type: InSync, Status: true, Reason: ReasonUpToDate}, t0)
	if err := b.Put(fw, &HistoryEntry{Time: t0, Digest: "sha256:cc", Generation: 7, Result: ResultApplied, Duration: time.Second}); err != nil {
		t.Fatal(err)
	}
	rev := Revision{Current: "main@sha1:cc", Valid: true, LastGood: "main@sha1:cc"}
	if err := b.SetRevision(rev); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, err := b.Get("db-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fw, got); diff != "" {
		t.Errorf("after reopen (-want +got):\n%s", diff)
	}
	hs, _ := b.History("db-1", 0)
	if len(hs) != 1 || hs[0].Duration != time.Second {
		t.Errorf("history after reopen = %+v", hs)
	}
	if r, _ := b.Revision(); r.LastGood != rev.LastGood {
		t.Errorf("Revision().LastGood = %q, want %q", r.LastGood, rev.LastGood)
	}
}

func TestSetConditionTransitionTime(t *testing.T) {
	var fw Firewall
	fw.SetCondition(Condition{Type: Ready, Status: false, Reason: ReasonProgressing}, t0)
	fw.SetCondition(Condition{Type: Ready, Status: false, Reason: ReasonAgentError, Message: "x"}, t0.Add(time.Minute))
	if got := fw.Condition(Ready).LastTransitionTime; !got.Equal(t0) {
		t.Errorf("same status: LastTransitionTime = %v, want %v", got, t0)
	}
	fw.SetCondition(Condition{Type: Ready, Status: true, Reason: ReasonApplied}, t0.Add(2*time.Minute))
	if got := fw.Condition(Ready).LastTransitionTime; !got.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("changed status: LastTransitionTime = %v, want %v", got, t0.Add(2*time.Minute))
	}
	fw.SetCondition(Condition{Type: Stalled, Status: true}, t0)
	fw.SetCondition(Condition{Type: InSync, Status: true}, t0)
	var order []ConditionType
	for _, c := range fw.Conditions {
		order = append(order, c.Type)
	}
	if diff := cmp.Diff([]ConditionType{Ready, InSync, Stalled}, order); diff != "" {
		t.Errorf("condition order (-want +got):\n%s", diff)
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		name  string
		conds []Condition
		want  string
	}{
		{"nothing observed", nil, "Unknown"},
		{"ready", []Condition{{Type: Ready, Status: true}}, "Ready"},
		{"not ready", []Condition{{Type: Ready, Status: false}}, "NotReady"},
		{"stalled wins", []Condition{{Type: Ready, Status: false}, {Type: Unreachable, Status: true}, {Type: Stalled, Status: true}}, "Stalled"},
		{"unreachable", []Condition{{Type: Ready, Status: false}, {Type: Unreachable, Status: true}, {Type: RolledBack, Status: false}}, "Unreachable"},
		{"rolled back", []Condition{{Type: RolledBack, Status: true}, {Type: Unreachable, Status: true}}, "RolledBack"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fw := Firewall{Conditions: tc.conds}
			if got := fw.Summary(); got != tc.want {
				t.Errorf("Summary() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCollector(t *testing.T) {
	s := NewFakeStore()
	a := Firewall{Name: "a", AppliedRevision: "main@sha1:aa"}
	a.SetCondition(Condition{Type: Ready, Status: true}, t0)
	a.SetCondition(Condition{Type: InSync, Status: true}, t0)
	b := Firewall{Name: "b"}
	b.SetCondition(Condition{Type: Ready, Status: false}, t0)
	b.SetCondition(Condition{Type: Unreachable, Status: true}, t0)
	s.Put(a, nil)
	s.Put(b, nil)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(s))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			got[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{
		"fwgit_firewall_in_sync{firewall=a}":                        1,
		"fwgit_firewall_in_sync{firewall=b}":                        0,
		"fwgit_last_applied_info{firewall=a,revision=main@sha1:aa}": 1,
		"fwgit_firewalls{condition=Ready}":                          1,
		"fwgit_firewalls{condition=Unreachable}":                    1,
		"fwgit_firewalls{condition=NotReady}":                       0,
		"fwgit_firewalls{condition=Stalled}":                        0,
		"fwgit_firewalls{condition=RolledBack}":                     0,
		"fwgit_firewalls{condition=Unknown}":                        0,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("collected metrics (-want +got):\n%s", diff)
	}
}

func BenchmarkBoltPut(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "status.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			fw := Firewall{Name: fmt.Sprintf("fw-%d", i%200), Generation: uint64(i)}
			if err := s.Put(fw, &HistoryEntry{Generation: uint64(i)}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
