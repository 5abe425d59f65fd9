package reconcile

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/controller/config"
	"github.com/fwgit/fwgit/controller/fleet"
	"github.com/fwgit/fwgit/controller/status"
	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/nft"
	v1 "github.com/fwgit/fwgit/schema/v1"
)

const fp = "sha256:1111111111111111111111111111111111111111111111111111111111111111"

func testRuleset(policy nft.Verdict) *nft.Ruleset {
	return &nft.Ruleset{Version: nft.IRVersion, Table: nft.DefaultTable, Chains: []nft.Chain{
		{Name: "input", Hook: nft.HookInput, Policy: policy},
	}}
}

type harness struct {
	clk     *FakeClock
	fleet   *fleet.FakeClient
	store   *status.FakeStore
	r       *Firewall
	desired map[string]*Desired
}

func newHarness(t *testing.T) *harness {
	h := &harness{clk: NewFakeClock(t0), fleet: fleet.NewFakeClient(), store: status.NewFakeStore(), desired: map[string]*Desired{}}
	h.r = &Firewall{
		Desired: func(name string) (*Desired, error) {
			d, ok := h.desired[name]
			if !ok {
				return nil, ErrGone
			}
			return d, nil
		},
		Target: func(name string, a *v1.Agent) (fleet.Target, error) {
			return fleet.Target{Name: name, URL: a.URL, Fingerprint: a.Fingerprint, APIKey: config.NewSecret("k")}, nil
		},
		Fleet:          h.fleet,
		Store:          h.store,
		ConfirmTimeout: 30 * time.Second,
		DriftMode:      config.DriftRepair,
		Clock:          h.clk,
		Log:            slog.New(slog.DiscardHandler),
	}
	return h
}

func (h *harness) want(name string, rs *nft.Ruleset, rev string) *Desired {
	d := &Desired{Name: name, Revision: rev, Ruleset: rs, Digest: rs.Digest(),
		Agent: &v1.Agent{URL: "https://198.18.0.10:33033", Fingerprint: fp}}
	h.desired[name] = d
	return d
}

func (h *harness) status(t *testing.T, name string) status.Firewall {
	t.Helper()
	fw, err := h.store.Get(name)
	if err != nil {
		t.Fatalf("status of %s: %v", name, err)
	}
	return fw
}

type condView struct {
	Type   status.ConditionType
	Status bool
	Reason string
}

func conds(fw status.Firewall) []condView {
	var out []condView
	for _, c := range fw.Conditions {
		out = append(out, condView{c.Type, c.Status, c.Reason})
	}
	return out
}

func TestFirewallConverges(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	v1rs := testRuleset(nft.Drop)
	h.want("web-1", v1rs, "main@sha1:aaa")
	if _, err := h.r.Reconcile(ctx, "web-1"); err != nil {
		t.Fatal(err)
	}
	agent := h.fleet.Agent("web-1")
	st := agent.State()
	if st.Digest != v1rs.Digest() || st.PendingConfirm != nil || st.Generation != 1 {
		t.Fatalf("agent state = %+v, want the ruleset confirmed at generation 1", st)
	}
	fw := h.status(t, "web-1")
	want := []condView{{status.Ready, true, status.ReasonApplied}, {status.InSync, true, status.ReasonUpToDate}}
	if diff := cmp.Diff(want, conds(fw)); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}
	if fw.Generation != 1 || fw.AppliedDigest != v1rs.Digest() || fw.AppliedRevision != "main@sha1:aaa" || fw.LastApply.IsZero() {
		t.Errorf("status = %+v", fw)
	}
	hist, _ := h.store.History("web-1", 0)
	if len(hist) != 1 || hist[0].Result != status.ResultApplied || hist[0].Generation != 1 {
		t.Errorf("history = %+v, want one applied entry", hist)
	}

	// Nothing changed: observe only, no apply, no history.
	if _, err := h.r.Reconcile(ctx, "web-1"); err != nil {
		t.Fatal(err)
	}
	if n := h.fleet.Calls("web-1", "apply"); n != 1 {
		t.Errorf("applies after an unchanged reconcile = %d, want 1", n)
	}
	if hist, _ := h.store.History("web-1", 0); len(hist) != 1 {
		t.Errorf("history grew to %d without an apply", len(hist))
	}
	if fw := h.status(t, "web-1"); fw.Condition(status.Ready).Reason != status.ReasonUpToDate {
		t.Errorf("Ready reason = %q, want UpToDate", fw.Condition(status.Ready).Reason)
	}

	// A new revision: apply with a higher generation.
	v2rs := testRuleset(nft.Accept)
	h.want("web-1", v2rs, "main@sha1:bbb")
	if _, err := h.r.Reconcile(ctx, "web-1"); err != nil {
		t.Fatal(err)
	}
	if st := agent.State(); st.Digest != v2rs.Digest() || st.Generation != 2 {
		t.Errorf("agent state = %+v, want v2 at generation 2", st)
	}

	// A reconciler with a fresh memory but the same store does not re-push.
	h2 := &Firewall{Desired: h.r.Desired, Target: h.r.Target, Fleet: h.fleet, Store: h.store,
		ConfirmTimeout: h.r.ConfirmTimeout, DriftMode: h.r.DriftMode, Clock: h.clk, Log: h.r.Log}
	if _, err := h2.Reconcile(ctx, "web-1"); err != nil {
		t.Fatal(err)
	}
	if n := h.fleet.Calls("web-1", "apply"); n != 2 {
		t.Errorf("applies after restart = %d, want 2 (no re-push)", n)
	}
}

func TestFirewallFailures(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		setup     func(h *harness, d *Desired)
		terminal  bool
		wantErr   error
		wantConds []condView
		check     func(t *testing.T, h *harness)
	}{
		{
			name:    "agent down",
			setup:   func(h *harness, d *Desired) { h.fleet.SetDown("web-1", true) },
			wantErr: fleet.ErrUnreachable,
			wantConds: []condView{{status.Ready, false, status.ReasonConnectionFailed},
				{status.Unreachable, true, status.ReasonConnectionFailed}},
		},
		{
			name:     "neither pin nor CA",
			setup:    func(h *harness, d *Desired) { d.Agent.Fingerprint = "" },
			terminal: true, wantErr: fleet.ErrNoTrust,
			wantConds: []condView{{status.Ready, false, status.ReasonNoTrust}, {status.Unreachable, true, status.ReasonNoTrust}},
		},
		{
			name:    "wrong fingerprint",
			setup:   func(h *harness, d *Desired) { h.fleet.SetFingerprint("web-1", "sha256:2222") },
			wantErr: fleet.ErrUnreachable,
			wantConds: []condView{{status.Ready, false, status.ReasonConnectionFailed},
				{status.Unreachable, true, status.ReasonFingerprint}},
			check: func(t *testing.T, h *harness) {
				if n := h.fleet.Calls("web-1", "apply"); n != 0 {
					t.Errorf("applies = %d to an agent with the wrong certificate", n)
				}
			},
		},
		{
			name:     "agent refuses the ruleset",
			setup:    func(h *harness, d *Desired) { d.Digest = testRuleset(nft.Accept).Digest() },
			terminal: true,
			wantConds: []condView{{status.Ready, false, status.ReasonAgentError},
				{status.InSync, false, status.ReasonProgressing}},
		},
		{
			name:  "apply fails",
			setup: func(h *harness, d *Desired) { h.fleet.Agent("web-1").FailNextApply("netlink: ENOBUFS") },
			wantConds: []condView{{status.Ready, false, status.ReasonAgentError},
				{status.InSync, false, status.ReasonProgressing}},
			check: func(t *testing.T, h *harness) {
				hist, _ := h.store.History("web-1", 0)
				if len(hist) != 1 || hist[0].Result != status.ResultFailed || hist[0].Error == "" {
					t.Errorf("history = %+v, want one failed entry with its error", hist)
				}
				if fw, _ := h.store.Get("web-1"); fw.Generation != 1 {
					t.Errorf("generation = %d, want 1 (used even though the apply failed)", fw.Generation)
				}
			},
		},
		{
			name:    "confirm cannot be sent",
			setup:   func(h *harness, d *Desired) { h.fleet.SetConfirmDown("web-1", true) },
			wantErr: fleet.ErrUnreachable,
			wantConds: []condView{{status.Ready, false, status.ReasonRolledBack},
				{status.InSync, false, status.ReasonProgressing}, {status.RolledBack, true, status.ReasonRolledBack}},
			check: func(t *testing.T, h *harness) {
				hist, _ := h.store.History("web-1", 0)
				if len(hist) != 1 || hist[0].Result != status.ResultRolledBack {
					t.Errorf("history = %+v, want one rolledBack entry", hist)
				}
			},
		},
		{
			name: "invalid newest revision",
			setup: func(h *harness, d *Desired) {
				d.Stall = &Stall{Revision: "main@sha1:bad", Message: "rules/a.yaml:3:5: unknown tag"}
			},
			wantConds: []condView{{status.Ready, false, status.ReasonInvalidRevision},
				{status.InSync, true, status.ReasonUpToDate}, {status.Stalled, true, status.ReasonInvalidRevision}},
			check: func(t *testing.T, h *harness) {
				if st := h.fleet.Agent("web-1").State(); st.Digest != h.desired["web-1"].Digest {
					t.Errorf("the last good ruleset was not applied while stalled")
				}
			},
		},
		{
			name:      "no agent",
			setup:     func(h *harness, d *Desired) { d.Agent = nil },
			wantConds: []condView{{status.Ready, false, status.ReasonNoAgent}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			d := h.want("web-1", testRuleset(nft.Drop), "main@sha1:aaa")
			tc.setup(h, d)
			_, err := h.r.Reconcile(ctx, "web-1")
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Reconcile() error = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil && !tc.terminal && tc.check == nil && err != nil && tc.wantConds[0].Reason != status.ReasonAgentError {
				t.Errorf("Reconcile() error = %v", err)
			}
			if IsTerminal(err) != tc.terminal {
				t.Errorf("IsTerminal(%v) = %v, want %v", err, IsTerminal(err), tc.terminal)
			}
			if diff := cmp.Diff(tc.wantConds, conds(h.status(t, "web-1"))); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			if tc.check != nil {
				tc.check(t, h)
			}
		})
	}
}

func TestFirewallRecovers(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	d := h.want("web-1", testRuleset(nft.Drop), "main@sha1:aaa")
	agent := h.fleet.Agent("web-1")

	// Confirm lost: the agent rolls back, the next try converges.
	h.fleet.SetConfirmDown("web-1", true)
	if _, err := h.r.Reconcile(ctx, "web-1"); err == nil {
		t.Fatal("Reconcile() with confirms failing succeeded")
	}
	agent.Rollback()
	h.fleet.SetConfirmDown("web-1", false)
	if _, err := h.r.Reconcile(ctx, "web-1"); err != nil {
		t.Fatal(err)
	}
	fw := h.status(t, "web-1")
	if fw.Summary() != "Ready" || fw.Condition(status.RolledBack) != nil || agent.State().Digest != d.Digest {
		t.Errorf("after recovery: %s %+v", fw.Summary(), conds(fw))
	}

	// Drift is repaired in repair mode ...
	applies := agent.Applies()
	agent.SetDrift("rule 3 deleted by hand")
	if _, err := h.r.Reconcile(ctx, "web-1"); err != nil {
		t.Fatal(err)
	}
	if agent.Applies() != applies+1 || agent.State().Drift != nil {
		t.Errorf("drift not repaired: applies %d -> %d", applies, agent.Applies())
	}
	// ... and only reported in report mode.
	h.r.DriftMode = config.DriftReport
	agent.SetDrift("rule 3 deleted by hand")
	if _, err := h.r.Reconcile(ctx, "web-1"); err != nil {
		t.Fatal(err)
	}
	fw = h.status(t, "web-1")
	if agent.Applies() != applies+1 || fw.IsTrue(status.InSync) || fw.Drift == nil || fw.Condition(status.InSync).Reason != status.ReasonDrift {
		t.Errorf("report mode: applies %d, conditions %+v, drift %+v", agent.Applies(), conds(fw), fw.Drift)
	}

	// Firewall removed from the policy: status goes away.
	delete(h.desired, "web-1")
	if _, err := h.r.Reconcile(ctx, "web-1"); !errors.Is(err, ErrGone) || !IsTerminal(err) {
		t.Errorf("Reconcile(removed) = %v, want terminal ErrGone", err)
	}
	if _, err := h.store.Get("web-1"); !errors.Is(err, status.ErrNotFound) {
		t.Errorf("status of a removed firewall still present: %v", err)
	}
}

func TestFirewallConfirmsLostConfirm(t *testing.T) {
	// The controller applied, then died before confirming: the next
	// reconcile confirms instead of applying again.
	h := newHarness(t)
	rs := testRuleset(nft.Drop)
	d := h.want("web-1", rs, "main@sha1:aaa")
	agent := h.fleet.Agent("web-1")
	if _, err := agent.Apply(&agentapi.RulesetRequest{Version: agentapi.Version, Generation: 5, Digest: d.Digest, Ruleset: rs, ConfirmTimeoutMS: 30000}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.r.Reconcile(context.Background(), "web-1"); err != nil {
		t.Fatal(err)
	}
	if st := agent.State(); st.PendingConfirm != nil || st.Digest != d.Digest {
		t.Errorf("agent state = %+v, want confirmed", st)
	}
	if n := h.fleet.Calls("web-1", "apply"); n != 0 {
		t.Errorf("applies = %d, want 0", n)
	}
}
