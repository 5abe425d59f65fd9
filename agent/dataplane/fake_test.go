package dataplane

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/internal/nft"
)

func TestFakeApplier(t *testing.T) {
	ctx := context.Background()
	good := sampleRuleset()
	other := manyRules(3)
	invalid := sampleRuleset()
	invalid.Chains[0].Rules[4].Src = &nft.AddrMatch{Set: "v4_missing"}
	wrongTable := manyRules(1)
	wrongTable.Table = "other"
	empty := &nft.Ruleset{Version: nft.IRVersion, Table: nft.DefaultTable}

	type step struct {
		setup   func(f *FakeApplier)
		apply   *nft.Ruleset
		wantErr error // errors.Is target; nil: success
	}
	tests := []struct {
		name        string
		steps       []step
		want        *nft.Ruleset // what Read returns; nil: empty ruleset
		wantReadErr error
		wantDigest  string
		applies     int
		commits     int
	}{
		{
			name:       "apply replaces the table",
			steps:      []step{{apply: other}, {apply: good}},
			want:       good,
			wantDigest: good.Digest(),
			applies:    2, commits: 2,
		},
		{
			name:       "invalid ruleset changes nothing",
			steps:      []step{{apply: good}, {apply: invalid, wantErr: nft.ErrInvalid}},
			want:       good,
			wantDigest: good.Digest(),
			applies:    2, commits: 1,
		},
		{
			name:       "another table's ruleset is refused",
			steps:      []step{{apply: good}, {apply: wrongTable, wantErr: nft.ErrInvalid}},
			want:       good,
			wantDigest: good.Digest(),
			applies:    2, commits: 1,
		},
		{
			name:    "empty ruleset deletes the table",
			steps:   []step{{apply: good}, {apply: empty}},
			applies: 2, commits: 2,
		},
		{
			name: "injected failures change nothing",
			steps: []step{
				{apply: good},
				{setup: func(f *FakeApplier) { f.FailNext(2, nil) }, apply: other, wantErr: ErrInjected},
				{apply: other, wantErr: ErrInjected},
			},
			want:       good,
			wantDigest: good.Digest(),
			applies:    3, commits: 1,
		},
		{
			name: "failures run out",
			steps: []step{
				{setup: func(f *FakeApplier) { f.FailNext(1, context.DeadlineExceeded) }, apply: good, wantErr: context.DeadlineExceeded},
				{apply: good},
			},
			want:       good,
			wantDigest: good.Digest(),
			applies:    2, commits: 1,
		},
		{
			name: "unknown outcome commits",
			steps: []step{
				{setup: func(f *FakeApplier) { f.UnknownOutcomeNext(1) }, apply: good, wantErr: ErrUnknownOutcome},
			},
			want:       good,
			wantDigest: good.Digest(),
			applies:    1, commits: 1,
		},
		{
			name: "mutation is drift the stored digest does not see",
			steps: []step{
				{apply: good},
				{setup: func(f *FakeApplier) {
					f.Mutate(func(rs *nft.Ruleset) { rs.Chains[0].Rules = rs.Chains[0].Rules[1:] })
				}},
			},
			want: func() *nft.Ruleset {
				rs := cloneRuleset(good)
				rs.Chains[0].Rules = rs.Chains[0].Rules[1:]
				return rs
			}(),
			wantDigest: good.Digest(),
			applies:    1, commits: 1,
		},
		{
			name:    "deleted table",
			steps:   []step{{apply: good}, {setup: func(f *FakeApplier) { f.DeleteTable() }}},
			applies: 1, commits: 1,
		},
		{
			name:        "foreign objects",
			steps:       []step{{apply: good}, {setup: func(f *FakeApplier) { f.AddForeign() }}},
			wantReadErr: ErrForeign,
			wantDigest:  good.Digest(),
			applies:     1, commits: 1,
		},
		{
			name:       "apply clears foreign objects",
			steps:      []step{{apply: good}, {setup: func(f *FakeApplier) { f.AddForeign() }, apply: good}},
			want:       good,
			wantDigest: good.Digest(),
			applies:    2, commits: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := NewFakeApplier("")
			for i, s := range tc.steps {
				if s.setup != nil {
					s.setup(f)
				}
				if s.apply == nil {
					continue
				}
				err := f.Apply(ctx, s.apply)
				if s.wantErr == nil && err != nil || s.wantErr != nil && !errors.Is(err, s.wantErr) {
					t.Fatalf("step %d: Apply = %v, want %v", i, err, s.wantErr)
				}
			}
			got, err := f.Read(ctx)
			if !errors.Is(err, tc.wantReadErr) {
				t.Fatalf("Read error = %v, want %v", err, tc.wantReadErr)
			}
			if err == nil {
				want := tc.want
				if want == nil {
					want = empty
				}
				if diff := cmp.Diff(want, got, cmpIR); diff != "" {
					t.Errorf("Read mismatch (-want +got):\n%s", diff)
				}
				if got.Digest() != want.Digest() {
					t.Errorf("Read().Digest() = %s, want %s", got.Digest(), want.Digest())
				}
			}
			d, err := f.StoredDigest(ctx)
			if err != nil || d != tc.wantDigest {
				t.Errorf("StoredDigest = %q, %v, want %q", d, err, tc.wantDigest)
			}
			if f.Applies() != tc.applies || f.Commits() != tc.commits {
				t.Errorf("Applies, Commits = %d, %d, want %d, %d", f.Applies(), f.Commits(), tc.applies, tc.commits)
			}
		})
	}
}

func TestFakeApplierIsolation(t *testing.T) {
	ctx := context.Background()
	f := NewFakeApplier("")
	rs := sampleRuleset()
	if err := f.Apply(ctx, rs); err != nil {
		t.Fatal(err)
	}
	want := rs.Digest()
	// Neither the caller's ruleset nor a read copy aliases the table.
	rs.Chains[0].Rules[4].Src.Prefixes[0] = rs.Chains[0].Rules[5].Src.Prefixes[0]
	got, err := f.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got.Chains[0].Rules = nil
	again, err := f.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest() != want {
		t.Errorf("table changed through an alias: digest %s, want %s", again.Digest(), want)
	}
}

func TestFakeApplierCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := NewFakeApplier("")
	if err := f.Apply(ctx, sampleRuleset()); !errors.Is(err, context.Canceled) {
		t.Errorf("Apply = %v, want context.Canceled", err)
	}
	if f.Current() != nil || f.Applies() != 0 {
		t.Errorf("canceled apply changed the fake: %v, %d applies", f.Current(), f.Applies())
	}
}

func TestFakeApplierConcurrent(t *testing.T) {
	ctx := context.Background()
	f := NewFakeApplier("")
	a, b := sampleRuleset(), manyRules(5)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			rs := a
			if i%2 == 1 {
				rs = b
			}
			for range 20 {
				if err := f.Apply(ctx, rs); err != nil {
					t.Error(err)
				}
				got, err := f.Read(ctx)
				if err != nil {
					t.Error(err)
					continue
				}
				// Every read sees one whole ruleset, never a mix.
				if d := got.Digest(); d != a.Digest() && d != b.Digest() {
					t.Errorf("Read saw a torn table: %s", d)
				}
			}
		})
	}
	wg.Wait()
	if f.Applies() != 160 {
		t.Errorf("Applies() = %d, want 160", f.Applies())
	}
}
