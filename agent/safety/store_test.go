package safety

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/nft"
)

func TestStore(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.Load(nft.DefaultTable); p != nil || err != nil {
		t.Fatalf("Load of a fresh store = %v, %v; want nil, nil", p, err)
	}
	want := &Persisted{
		Current:  &Record{Request: *request(2, policy(80), time.Minute), AppliedAt: t0},
		Previous: &Record{Request: *request(1, policy(443), 0), AppliedAt: t0.Add(-time.Hour)},
		Pending:  &agentapi.Pending{Generation: 2, Deadline: t0.Add(time.Minute)},
	}
	if err := s.Save(want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(nft.DefaultTable)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpPrefix); diff != "" {
		t.Errorf("Load after Save (-want +got):\n%s", diff)
	}
	if st, _ := os.Stat(s.Path()); st.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", st.Mode().Perm())
	}
	if rs, err := ReadState(dir, nft.DefaultTable); err != nil || rs.Current.Request.Generation != 2 {
		t.Errorf("ReadState = %v, %v", rs, err)
	}
}

func TestStoreCorrupt(t *testing.T) {
	tampered := request(1, policy(80), 0)
	tampered.Ruleset.Chains[0].Rules[1].DPorts[0] = nft.PortRange{Lo: 81, Hi: 81} // digest no longer matches
	orphan := &Persisted{Version: storeVersion, Current: &Record{Request: *request(1, policy(80), 0)}, Pending: &agentapi.Pending{Generation: 9}}
	tests := []struct {
		name    string
		content func(t *testing.T) []byte
		want    string
	}{
		{"not JSON", func(*testing.T) []byte { return []byte("\x00\x01garbage") }, "invalid character"},
		{"truncated", func(*testing.T) []byte { return []byte(`{"version":1,"current":{"req`) }, "unexpected end"},
		{"unknown version", func(*testing.T) []byte { return []byte(`{"version":99}`) }, "unknown format version 99"},
		{"digest mismatch", func(t *testing.T) []byte {
			return mustJSON(t, &Persisted{Version: storeVersion, Current: &Record{Request: *tampered}})
		}, "current ruleset: digest"},
		{"pending for another generation", func(t *testing.T) []byte { return mustJSON(t, orphan) }, "pending confirmation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, _ := OpenStore(dir)
			if err := os.WriteFile(s.Path(), tc.content(t), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := s.Load(nft.DefaultTable)
			var ce *CorruptError
			if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load = %v, want a CorruptError mentioning %q", err, tc.want)
			}
		})
	}
}
