package safety

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/fwgit/fwgit/agent/dataplane"
	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/nft"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

var testFailsafe = Failsafe{APIPort: 33033, AllowedIPs: pfx("127.0.0.1/32", "::1/128"), MgmtCIDRs: pfx("198.19.0.0/16")}

func request(gen uint64, rs *nft.Ruleset, confirm time.Duration) *agentapi.RulesetRequest {
	return &agentapi.RulesetRequest{
		Version:          agentapi.Version,
		Generation:       gen,
		Digest:           rs.Digest(),
		Revision:         "main@sha1:0123456789abcdef",
		ConfirmTimeoutMS: confirm.Milliseconds(),
		Ruleset:          rs,
	}
}

type rig struct {
	t      *testing.T
	dir    string
	kernel *fakeKernel
	clock  *FakeClock
	g      *Guard
}

// newRig returns a Guard over a fresh fake kernel and a store in dir (a new
// temporary directory when dir is ""), already restored.
func newRig(t *testing.T, dir string, clock *FakeClock) *rig {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if clock == nil {
		clock = NewFakeClock(t0)
	}
	store, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, dir: dir, kernel: &fakeKernel{}, clock: clock}
	r.g = NewGuard(Options{Applier: r.kernel, Store: store, Failsafe: testFailsafe, Table: nft.DefaultTable, Clock: clock, Log: testLogger(t)})
	t.Cleanup(r.g.Close)
	return r
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (r *rig) apply(req *agentapi.RulesetRequest) agentapi.ApplyResult {
	r.t.Helper()
	res, err := r.g.Apply(context.Background(), req)
	if err != nil {
		r.t.Fatalf("Apply(generation %d): %v", req.Generation, err)
	}
	return res
}

// wantKernel checks that the kernel holds rs with the failsafe rules, or no
// table for nil.
func (r *rig) wantKernel(rs *nft.Ruleset) {
	r.t.Helper()
	got := r.kernel.current()
	if rs == nil {
		if got != nil {
			r.t.Errorf("kernel holds a table with %d chains, want none", len(got.Chains))
		}
		return
	}
	if got == nil {
		r.t.Fatalf("kernel holds no table, want one")
	}
	if want := testFailsafe.Apply(rs).Digest(); got.Digest() != want {
		r.t.Errorf("kernel table digest %s, want %s", got.Digest(), want)
	}
}

func TestApplyAddsFailsafeAndSkipsUnchanged(t *testing.T) {
	r := newRig(t, "", nil)
	rs := policy(443)
	res := r.apply(request(1, rs, 0))
	if !res.Changed || res.Generation != 1 || res.Digest != rs.Digest() {
		t.Errorf("first Apply = %+v, want changed generation 1 with the controller's digest", res)
	}
	r.wantKernel(rs)
	got := r.kernel.current()
	for _, c := range []string{CommentFailsafeND, CommentFailsafeAPI, CommentFailsafeSSH} {
		if !strings.HasPrefix(got.Chains[0].Rules[0].Comment, "fwgit-agent:failsafe-") || !hasComment(got.Chains[0].Rules, c) {
			t.Errorf("input chain lacks %s at the top: %v", c, got.Chains[0].Rules)
		}
	}

	// The same digest again, with the same or a higher generation: no kernel work.
	for _, gen := range []uint64{1, 2} {
		res = r.apply(request(gen, rs, 0))
		if res.Changed || res.Generation != gen {
			t.Errorf("re-Apply(generation %d) = %+v, want unchanged at generation %d", gen, res, gen)
		}
	}
	if n := r.kernel.applies(); n != 1 {
		t.Errorf("kernel saw %d transactions, want 1", n)
	}
	st := r.g.State(context.Background())
	if st.Generation != 2 || st.Digest != rs.Digest() || st.EffectiveDigest != testFailsafe.Apply(rs).Digest() || !st.AppliedAt.Equal(t0) {
		t.Errorf("State = %+v, want generation 2, the controller's digest, the effective digest and applied at t0", st)
	}
	// A lower generation of the same digest is a harmless no-op.
	if res = r.apply(request(1, rs, 0)); res.Changed || res.Generation != 2 {
		t.Errorf("Apply(older generation, same digest) = %+v, want unchanged at 2", res)
	}
}

func hasComment(rules []nft.Rule, c string) bool {
	for _, r := range rules {
		if r.Comment == c {
			return true
		}
	}
	return false
}

func TestApplyRefusals(t *testing.T) {
	r := newRig(t, "", nil)
	r.apply(request(5, policy(443), 0))

	bad := request(6, policy(80), 0)
	bad.Digest = policy(81).Digest()
	invalid := request(6, policy(80), 0)
	invalid.Ruleset.Chains[0].Rules[1].DPorts = []nft.PortRange{{Lo: 0, Hi: 0}}
	invalid.Digest = invalid.Ruleset.Digest()
	wrongTable := policy(80)
	wrongTable.Table = "other"
	proto := request(6, policy(80), 0)
	proto.Version = 2
	ir := request(6, policy(80), 0)
	ir.Ruleset.Version = 2

	tests := []struct {
		name     string
		req      *agentapi.RulesetRequest
		wantIs   error
		wantCode string
	}{
		{"older generation", request(4, policy(80), 0), ErrStale, ""},
		{"same generation, other digest", request(5, policy(80), 0), ErrStale, ""},
		{"digest mismatch", bad, ErrInvalidRequest, CodeDigestMismatch},
		{"invalid IR", invalid, ErrInvalidRequest, CodeInvalidRuleset},
		{"wrong table", request(6, wrongTable, 0), ErrInvalidRequest, CodeWrongTable},
		{"protocol version", proto, ErrInvalidRequest, CodeUnsupportedVersion},
		{"IR version", ir, ErrInvalidRequest, CodeUnsupportedVersion},
		{"no ruleset", &agentapi.RulesetRequest{Version: agentapi.Version, Generation: 6}, ErrInvalidRequest, CodeInvalidRuleset},
		{"negative confirm", &agentapi.RulesetRequest{Version: 1, Generation: 6, Ruleset: policy(80), Digest: policy(80).Digest(), ConfirmTimeoutMS: -1}, ErrInvalidRequest, CodeInvalidRuleset},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.g.Apply(context.Background(), tc.req)
			if !errors.Is(err, tc.wantIs) {
				t.Fatalf("Apply = %v, want %v", err, tc.wantIs)
			}
			var re *RequestError
			if tc.wantCode != "" && (!errors.As(err, &re) || re.Code != tc.wantCode) {
				t.Errorf("Apply = %v, want code %s", err, tc.wantCode)
			}
		})
	}
	if n := r.kernel.applies(); n != 1 {
		t.Errorf("kernel saw %d transactions, want only the first apply", n)
	}
	r.wantKernel(policy(443))
}

func TestApplyFailureKeepsPrevious(t *testing.T) {
	r := newRig(t, "", nil)
	r.apply(request(1, policy(443), 0))
	r.kernel.fail = errors.New("netlink receive: no such file or directory")
	_, err := r.g.Apply(context.Background(), request(2, policy(80), 0))
	var ae *ApplyError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "no such file or directory") {
		t.Fatalf("Apply = %v, want an ApplyError carrying the kernel's message", err)
	}
	r.wantKernel(policy(443))
	st := r.g.State(context.Background())
	if st.Generation != 1 || !strings.Contains(st.LastError, "no such file or directory") {
		t.Errorf("State = generation %d, lastError %q; want 1 and the kernel's message", st.Generation, st.LastError)
	}
	// The failed generation can be sent again once the kernel takes it.
	r.kernel.fail = nil
	r.apply(request(2, policy(80), 0))
	r.wantKernel(policy(80))
	if st := r.g.State(context.Background()); st.LastError != "" {
		t.Errorf("lastError %q after a good apply, want it cleared", st.LastError)
	}
}

func TestUnknownOutcomeResolvedByReadBack(t *testing.T) {
	r := newRig(t, "", nil)
	r.kernel.unknown = true
	if res := r.apply(request(1, policy(443), 0)); !res.Changed {
		t.Errorf("Apply = %+v, want changed", res)
	}
	r.wantKernel(policy(443))

	// Unknown outcome and the table did not change: the apply failed.
	r.kernel.unknown = true
	r.kernel.fail = errors.New("no buffer space")
	if _, err := r.g.Apply(context.Background(), request(2, policy(80), 0)); !errors.Is(err, dataplane.ErrUnknownOutcome) && err == nil {
		t.Errorf("Apply with an uncommitted unknown outcome = nil, want an error")
	}
}

func TestConcurrentAppliesNeverInterleave(t *testing.T) {
	r := newRig(t, "", nil)
	r.kernel.block = make(chan struct{})
	r.kernel.entered = make(chan struct{}, 16)
	var wg sync.WaitGroup
	wg.Add(1)
	var firstErr error
	go func() {
		defer wg.Done()
		_, firstErr = r.g.Apply(context.Background(), request(1, policy(443), 0))
	}()
	<-r.kernel.entered // the first apply is inside the kernel
	for i := range 8 {
		_, err := r.g.Apply(context.Background(), request(uint64(2+i), policy(uint16(1000+i)), 0))
		if !errors.Is(err, ErrBusy) {
			t.Errorf("concurrent Apply #%d = %v, want ErrBusy", i, err)
		}
	}
	if _, err := r.g.CheckDrift(context.Background(), true); !errors.Is(err, ErrBusy) {
		t.Errorf("CheckDrift during an apply = %v, want ErrBusy", err)
	}
	close(r.kernel.block)
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("first Apply: %v", firstErr)
	}
	if r.kernel.maxInFlight != 1 || r.kernel.applies() != 1 {
		t.Errorf("kernel saw %d transactions, at most %d at once; want 1 and 1", r.kernel.applies(), r.kernel.maxInFlight)
	}
}

func TestCommitConfirm(t *testing.T) {
	t.Run("rolls back without confirm", func(t *testing.T) {
		r := newRig(t, "", nil)
		r.apply(request(1, policy(443), 0))
		res := r.apply(request(2, policy(80), 10*time.Second))
		if res.PendingConfirm == nil || res.PendingConfirm.Generation != 2 || !res.PendingConfirm.Deadline.Equal(t0.Add(10*time.Second)) {
			t.Fatalf("ApplyResult.PendingConfirm = %+v, want generation 2 due at t0+10s", res.PendingConfirm)
		}
		r.clock.Advance(9 * time.Second)
		r.wantKernel(policy(80))
		r.clock.Advance(time.Second)
		r.wantKernel(policy(443))
		st := r.g.State(context.Background())
		want := &agentapi.RolledBack{Generation: 2, Digest: policy(80).Digest(), At: t0.Add(10 * time.Second), Reason: "no confirmation before the deadline"}
		if diff := cmp.Diff(want, st.RolledBack); diff != "" || st.Generation != 1 || st.PendingConfirm != nil {
			t.Errorf("State after rollback: generation %d, pending %v, rolledBack (-want +got):\n%s", st.Generation, st.PendingConfirm, diff)
		}
		if err := r.g.Confirm(context.Background(), 2); !errors.Is(err, ErrNotPending) {
			t.Errorf("Confirm after rollback = %v, want ErrNotPending", err)
		}
		// The rollback is persisted: a restart runs generation 1.
		r2 := newRig(t, r.dir, r.clock)
		if err := r2.g.Restore(context.Background()); err != nil {
			t.Fatal(err)
		}
		r2.wantKernel(policy(443))
		if st := r2.g.State(context.Background()); st.Generation != 1 || st.RolledBack == nil {
			t.Errorf("restarted State = %+v, want generation 1 with the rollback recorded", st)
		}
	})
	t.Run("confirmed in time stays", func(t *testing.T) {
		r := newRig(t, "", nil)
		r.apply(request(1, policy(443), 0))
		r.apply(request(2, policy(80), 10*time.Second))
		r.clock.Advance(5 * time.Second)
		if err := r.g.Confirm(context.Background(), 3); !errors.Is(err, ErrPendingMismatch) {
			t.Errorf("Confirm(3) = %v, want ErrPendingMismatch", err)
		}
		if err := r.g.Confirm(context.Background(), 2); err != nil {
			t.Fatalf("Confirm(2): %v", err)
		}
		r.clock.Advance(time.Hour)
		r.wantKernel(policy(80))
		if st := r.g.State(context.Background()); st.RolledBack != nil || st.PendingConfirm != nil || st.Generation != 2 {
			t.Errorf("State = %+v, want generation 2, nothing pending or rolled back", st)
		}
		if r.clock.Pending() != 0 {
			t.Errorf("%d timers left, want none", r.clock.Pending())
		}
		if err := r.g.Confirm(context.Background(), 2); !errors.Is(err, ErrNotPending) {
			t.Errorf("second Confirm = %v, want ErrNotPending", err)
		}
	})
	t.Run("first ruleset rolls back to no table", func(t *testing.T) {
		r := newRig(t, "", nil)
		r.apply(request(1, policy(443), time.Second))
		r.clock.Advance(time.Second)
		r.wantKernel(nil)
		if st := r.g.State(context.Background()); st.Generation != 0 || st.RolledBack == nil || st.RolledBack.Generation != 1 {
			t.Errorf("State = %+v, want no generation and generation 1 rolled back", st)
		}
	})
	t.Run("unconfirmed chain rolls back to the last confirmed", func(t *testing.T) {
		r := newRig(t, "", nil)
		r.apply(request(1, policy(443), 0))
		r.apply(request(2, policy(80), 10*time.Second))
		r.apply(request(3, policy(81), 10*time.Second))
		r.clock.Advance(10 * time.Second)
		r.wantKernel(policy(443))
	})
	t.Run("late confirm rolls back", func(t *testing.T) {
		r := newRig(t, "", nil)
		r.apply(request(1, policy(443), 0))
		r.apply(request(2, policy(80), 10*time.Second))
		// The timer has not run (the clock jumped without firing it), as
		// when a confirm races the deadline.
		r.clock.Set(t0.Add(11 * time.Second))
		if err := r.g.Confirm(context.Background(), 2); !errors.Is(err, ErrConfirmLate) {
			t.Errorf("late Confirm = %v, want ErrConfirmLate", err)
		}
		r.wantKernel(policy(443))
	})
	t.Run("failed rollback retries", func(t *testing.T) {
		r := newRig(t, "", nil)
		r.apply(request(1, policy(443), 0))
		r.apply(request(2, policy(80), time.Second))
		r.kernel.fail = errors.New("kernel says no")
		r.clock.Advance(time.Second)
		r.wantKernel(policy(80))
		if st := r.g.State(context.Background()); !strings.Contains(st.LastError, "kernel says no") || st.PendingConfirm == nil {
			t.Errorf("State = %+v, want the rollback error and the confirmation still pending", st)
		}
		r.kernel.fail = nil
		r.clock.Advance(rollbackRetry)
		r.wantKernel(policy(443))
	})
}

func TestRestore(t *testing.T) {
	t.Run("re-applies persisted state", func(t *testing.T) {
		r := newRig(t, "", nil)
		r.apply(request(1, policy(443), 0))
		r.apply(request(2, policy(80), 0))
		r2 := newRig(t, r.dir, nil) // a reboot: empty kernel
		if err := r2.g.Restore(context.Background()); err != nil {
			t.Fatal(err)
		}
		r2.wantKernel(policy(80))
		st := r2.g.State(context.Background())
		if st.Generation != 2 || st.Digest != policy(80).Digest() {
			t.Errorf("restored State = %+v, want generation 2", st)
		}
		// Previous survived too: a confirm-armed apply then a timeout goes
		// back to generation 2, not further.
		r2.apply(request(3, policy(81), time.Second))
		r2.clock.Advance(time.Second)
		r2.wantKernel(policy(80))
	})
	t.Run("pending past its deadline rolls back at start", func(t *testing.T) {
		r := newRig(t, "", nil)
		r.apply(request(1, policy(443), 0))
		r.apply(request(2, policy(80), 30*time.Second))
		r.g.Close() // the agent stops; the timer must not fire
		r.clock.Advance(time.Minute)
		r.wantKernel(policy(80))

		r2 := newRig(t, r.dir, NewFakeClock(t0.Add(time.Minute)))
		r2.kernel.set(testFailsafe.Apply(policy(80))) // still in the kernel
		if err := r2.g.Restore(context.Background()); err != nil {
			t.Fatal(err)
		}
		r2.wantKernel(policy(443))
		if st := r2.g.State(context.Background()); st.RolledBack == nil || st.RolledBack.Generation != 2 || st.Generation != 1 {
			t.Errorf("State = %+v, want generation 2 rolled back to 1", st)
		}
	})
	t.Run("pending before its deadline is re-armed", func(t *testing.T) {
		r := newRig(t, "", nil)
		r.apply(request(1, policy(443), 0))
		r.apply(request(2, policy(80), 30*time.Second))
		r.g.Close()

		clock := NewFakeClock(t0.Add(20 * time.Second))
		r2 := newRig(t, r.dir, clock)
		if err := r2.g.Restore(context.Background()); err != nil {
			t.Fatal(err)
		}
		r2.wantKernel(policy(80))
		clock.Advance(9 * time.Second)
		r2.wantKernel(policy(80))
		clock.Advance(time.Second)
		r2.wantKernel(policy(443))
	})
	t.Run("corrupt state leaves the kernel alone", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, StateFileName), []byte(`{"version":1,"current":{"request":`), 0o600); err != nil {
			t.Fatal(err)
		}
		r := newRig(t, dir, nil)
		foreign := testFailsafe.Apply(policy(22))
		r.kernel.set(foreign)
		if err := r.g.Restore(context.Background()); err != nil {
			t.Fatalf("Restore = %v, want nil (report and keep serving)", err)
		}
		if n := r.kernel.applies(); n != 0 {
			t.Errorf("kernel saw %d transactions, want none", n)
		}
		if st := r.g.State(context.Background()); !strings.Contains(st.LastError, "corrupt state file") {
			t.Errorf("State.LastError = %q, want it to report the corrupt file", st.LastError)
		}
		if d, err := r.g.CheckDrift(context.Background(), true); d != nil || err != nil || r.kernel.applies() != 0 {
			t.Errorf("CheckDrift = %v, %v with %d applies; want no action", d, err, r.kernel.applies())
		}
		// A good apply replaces the corrupt file.
		r.apply(request(1, policy(443), 0))
		if _, err := r.g.store.Load(nft.DefaultTable); err != nil {
			t.Errorf("state after a good apply: %v", err)
		}
	})
	t.Run("no state does nothing", func(t *testing.T) {
		r := newRig(t, "", nil)
		if err := r.g.Restore(context.Background()); err != nil || r.kernel.applies() != 0 {
			t.Errorf("Restore = %v with %d applies, want nil and none", err, r.kernel.applies())
		}
	})
}

func TestDrift(t *testing.T) {
	tamper := func(r *rig) {
		rs := r.kernel.current()
		rs.Chains[0].Rules = rs.Chains[0].Rules[:1] // someone ran nft delete rule
		r.kernel.set(rs)
	}
	t.Run("repair", func(t *testing.T) {
		r := newRig(t, "", nil)
		if d, err := r.g.CheckDrift(context.Background(), true); d != nil || err != nil {
			t.Errorf("CheckDrift before any apply = %v, %v; want nothing", d, err)
		}
		r.apply(request(1, policy(443), 0))
		if d, err := r.g.CheckDrift(context.Background(), true); d != nil || err != nil {
			t.Errorf("CheckDrift in sync = %v, %v; want nil", d, err)
		}
		tamper(r)
		d, err := r.g.CheckDrift(context.Background(), true)
		if err != nil || d == nil || !d.Repaired || !strings.Contains(d.Reason, "table differs") {
			t.Fatalf("CheckDrift after tampering = %+v, %v; want a repaired difference", d, err)
		}
		r.wantKernel(policy(443))
		r.kernel.set(nil)
		if d, _ := r.g.CheckDrift(context.Background(), true); d == nil || d.Reason != "table is missing" || !d.Repaired {
			t.Errorf("CheckDrift after delete = %+v, want a repaired missing table", d)
		}
		r.wantKernel(policy(443))
		if st := r.g.State(context.Background()); st.Drift == nil || !st.Drift.Repaired {
			t.Errorf("State.Drift = %+v, want the repaired drift", st.Drift)
		}
	})
	t.Run("report", func(t *testing.T) {
		r := newRig(t, "", nil)
		r.apply(request(1, policy(443), 0))
		tamper(r)
		tampered := r.kernel.current()
		d, err := r.g.CheckDrift(context.Background(), false)
		if err != nil || d == nil || d.Repaired {
			t.Fatalf("CheckDrift(report) = %+v, %v; want an unrepaired drift", d, err)
		}
		if diff := cmp.Diff(tampered, r.kernel.current(), cmpPrefix); diff != "" {
			t.Errorf("report mode changed the kernel (-before +after):\n%s", diff)
		}
		r.clock.Advance(time.Minute)
		d2, _ := r.g.CheckDrift(context.Background(), false)
		if d2 == nil || !d2.DetectedAt.Equal(d.DetectedAt) {
			t.Errorf("second CheckDrift = %+v, want the same drift detected at %v", d2, d.DetectedAt)
		}
		if st := r.g.State(context.Background()); st.Drift == nil || st.Drift.Repaired {
			t.Errorf("State.Drift = %+v, want an unrepaired drift", st.Drift)
		}
		// An operator puts it back: the drift clears.
		r.kernel.set(testFailsafe.Apply(policy(443)))
		if d, _ := r.g.CheckDrift(context.Background(), false); d != nil {
			t.Errorf("CheckDrift after fix = %+v, want nil", d)
		}
		if st := r.g.State(context.Background()); st.Drift != nil {
			t.Errorf("State.Drift = %+v after the fix, want nil", st.Drift)
		}
		if n := r.kernel.applies(); n != 1 {
			t.Errorf("kernel saw %d transactions in report mode, want 1", n)
		}
	})
	t.Run("foreign objects", func(t *testing.T) {
		r := newRig(t, "", nil)
		r.apply(request(1, policy(443), 0))
		r.kernel.readErr = dataplane.ErrForeign
		d, err := r.g.CheckDrift(context.Background(), false)
		if err != nil || d == nil || d.Reason != "table holds objects fwgit did not create" {
			t.Errorf("CheckDrift = %+v, %v; want foreign-object drift", d, err)
		}
		r.kernel.readErr = errors.New("netlink: permission denied")
		if _, err := r.g.CheckDrift(context.Background(), false); err == nil || !strings.Contains(r.g.State(context.Background()).LastError, "permission denied") {
			t.Errorf("CheckDrift with a read error = %v, want it returned and reported", err)
		}
	})
	t.Run("table that should not exist", func(t *testing.T) {
		r := newRig(t, "", nil)
		r.apply(request(1, &nft.Ruleset{Version: nft.IRVersion, Table: nft.DefaultTable}, 0))
		r.kernel.set(testFailsafe.Apply(policy(1)))
		if d, _ := r.g.CheckDrift(context.Background(), true); d == nil || d.Reason != "table exists but should not" || !d.Repaired {
			t.Errorf("CheckDrift = %+v, want a repaired extra table", d)
		}
		r.wantKernel(nil)
	})
}

func TestStateReportsForeignChains(t *testing.T) {
	r := newRig(t, "", nil)
	r.kernel.foreign = []dataplane.ForeignChain{{Family: "ip", Table: "filter", Chain: "INPUT", Hook: "input", Priority: 0, Policy: "drop"}}
	st := r.g.State(context.Background())
	want := []agentapi.ForeignChain{{Family: "ip", Table: "filter", Chain: "INPUT", Hook: "input", Priority: 0, Policy: "drop"}}
	if diff := cmp.Diff(want, st.ForeignChains); diff != "" {
		t.Errorf("State.ForeignChains (-want +got):\n%s", diff)
	}
}

// TestApplyWaitsForAShortTransaction: with ApplyWait, an apply that meets
// another transaction (here a drift repair inside the kernel) waits for it
// instead of failing with ErrBusy; without, it fails at once.
func TestApplyWaitsForAShortTransaction(t *testing.T) {
	for _, wait := range []time.Duration{0, time.Minute} {
		r := newRig(t, "", nil)
		r.g.applyWait = wait
		r.apply(request(1, policy(443), 0))
		r.kernel.block = make(chan struct{})
		r.kernel.entered = make(chan struct{}, 1)
		r.kernel.set(nil) // drift: the table is gone, so the check repairs it through the kernel
		repaired := make(chan error, 1)
		go func() { _, err := r.g.CheckDrift(context.Background(), true); repaired <- err }()
		<-r.kernel.entered
		done := make(chan error, 1)
		go func() { _, err := r.g.Apply(context.Background(), request(2, policy(80), 0)); done <- err }()
		if wait == 0 {
			if err := <-done; !errors.Is(err, ErrBusy) {
				t.Errorf("Apply without a wait during a repair = %v, want ErrBusy", err)
			}
			close(r.kernel.block)
			<-repaired
			continue
		}
		select {
		case err := <-done:
			t.Fatalf("Apply returned %v while the repair still held the kernel", err)
		case <-time.After(50 * time.Millisecond): // it is waiting, as it should
		}
		close(r.kernel.block)
		if err := <-repaired; err != nil {
			t.Errorf("CheckDrift = %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Apply after the repair = %v, want it applied", err)
		}
	}
}
