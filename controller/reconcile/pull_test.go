package reconcile

import (
	"context"
	"testing"

	"github.com/fwgit/fwgit/controller/status"
	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/nft"
	v1 "github.com/fwgit/fwgit/schema/v1"
)

// fakePull is a PullReports holding reports by firewall name.
type fakePull map[string]agentapi.State

func (f fakePull) PullState(name string) (agentapi.State, bool) {
	st, ok := f[name]
	return st, ok
}

func TestPullModeFollowsReports(t *testing.T) {
	rs := testRuleset(nft.Drop)
	tests := []struct {
		name       string
		reports    fakePull
		wantReady  bool
		wantReason string
		wantSync   bool
		rolledBack bool
	}{
		{"no report yet", fakePull{}, false, status.ReasonPullMode, false, false},
		{"runs the desired digest", fakePull{"edge-1": {Digest: rs.Digest(), Generation: 3}}, true, status.ReasonUpToDate, true, false},
		{"runs an older digest", fakePull{"edge-1": {Digest: "sha256:old", Generation: 2}}, false, status.ReasonPullMode, false, false},
		{"rolled back", fakePull{"edge-1": {Digest: "sha256:old", RolledBack: &agentapi.RolledBack{Generation: 3, Reason: "no confirm"}}}, false, status.ReasonRolledBack, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.r.Pull = tc.reports
			d := h.want("edge-1", rs, "main@sha1:aaa")
			d.Agent = &v1.Agent{Mode: v1.AgentPull}
			if _, err := h.r.Reconcile(context.Background(), "edge-1"); err != nil {
				t.Fatal(err)
			}
			fw := h.status(t, "edge-1")
			ready := fw.Condition(status.Ready)
			if ready.Status != tc.wantReady || ready.Reason != tc.wantReason {
				t.Errorf("Ready = %v/%s (%s), want %v/%s", ready.Status, ready.Reason, ready.Message, tc.wantReady, tc.wantReason)
			}
			if fw.IsTrue(status.InSync) != tc.wantSync || fw.IsTrue(status.RolledBack) != tc.rolledBack {
				t.Errorf("conditions = %v", conds(fw))
			}
			if fw.Mode != status.ModePull {
				t.Errorf("mode = %q, want pull", fw.Mode)
			}
			for _, op := range []string{"state", "apply", "confirm"} {
				if n := h.fleet.Calls("edge-1", op); n != 0 {
					t.Errorf("the controller made %d %s calls to a pull-mode agent", n, op)
				}
			}
		})
	}
}
