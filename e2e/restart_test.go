//go:build linux && netns

package e2e

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/status"
	"github.com/fwgit/fwgit/e2e/lab"
)

// TestControllerRestart: a controller stopped and started again loses no
// history and pushes nothing that is applied already; killed in the middle
// of a rollout, it finishes the rollout after its restart without pushing
// any firewall twice.
func TestControllerRestart(t *testing.T) {
	l := newLab(t, func(o *lab.Options) {
		// Long enough that no apply left unconfirmed by the kill below
		// rolls back while the controller is away: the restarted
		// controller must confirm it, not push it again.
		o.ConfirmTimeout = 30 * time.Second
	})
	ctx := testContext(t, 3*time.Minute)
	commit := head(t, ctx, l)
	converge(t, ctx, l, commit)
	before := take(t, ctx, l)

	// A clean restart.
	if err := l.StopController(false); err != nil {
		t.Fatal(err)
	}
	if err := l.StartController(ctx); err != nil {
		t.Fatal(err)
	}
	waitResyncs(t, ctx, l, 2)
	converge(t, ctx, l, commit)
	after := take(t, ctx, l)
	for _, fw := range l.Firewalls {
		unchanged(t, fw.Name, before, after)
	}

	// A kill in the middle of a rollout that changes every firewall:
	// three firewalls are cut off from the controller, the others get the
	// new ruleset, and the controller dies with the rollout unfinished.
	before = after
	cut := []*lab.Firewall{l.Firewall("analytics-1"), l.Firewall("bastion"), l.Firewall("web-2")}
	if err := l.Isolate(ctx, cut...); err != nil {
		t.Fatal(err)
	}
	next := push(t, ctx, l, "Answer pings only from the lab", lab.Replace("rules/global.yaml",
		"FROM any TO all vms ALLOW icmp TYPE 8 CODE 0", "FROM subnet 198.18.0.0/15 TO all vms ALLOW icmp TYPE 8 CODE 0"))
	want := desiredDigests(t, l)
	for _, fw := range l.Firewalls {
		if want[fw.Name] == before.agents[fw.Name].Digest {
			t.Fatalf("%s: the change does not affect it; pick another change", fw.Name)
		}
	}
	waitStatus(t, ctx, l, "the reachable firewalls on the new revision", func(st *api.StatusResponse) bool {
		return l.Converged(st, next) == len(l.Firewalls)-len(cut)
	})
	if err := l.StopController(true); err != nil {
		t.Fatal(err)
	}
	for _, fw := range cut {
		if st := diskState(t, ctx, l, fw); st.Current == nil || st.Current.Request.Digest == want[fw.Name] {
			t.Fatalf("%s got the new ruleset though it was cut off", fw.Name)
		}
	}
	if err := l.Reconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.StartController(ctx); err != nil {
		t.Fatal(err)
	}
	converge(t, ctx, l, next)
	waitResyncs(t, ctx, l, 2)
	after = take(t, ctx, l)
	for _, fw := range l.Firewalls {
		old, now := before.history[fw.Name], after.history[fw.Name]
		// History is newest first: what was there before must still be
		// there, after whatever this rollout added.
		if len(now) < len(old) || !cmp.Equal(now[len(now)-len(old):], old) {
			t.Errorf("%s: history lost entries:\nbefore %+v\nafter %+v", fw.Name, old, now)
		}
		pushes := count(now[:len(now)-len(old)], func(h status.HistoryEntry) bool { return h.Result == status.ResultApplied })
		if pushes > 1 {
			t.Errorf("%s: %d applies of the rollout recorded, want at most one", fw.Name, pushes)
		}
		b, a := before.agents[fw.Name], after.agents[fw.Name]
		if a.Digest != want[fw.Name] || a.Generation != b.Generation+1 {
			t.Errorf("%s: agent at generation %d %s, want %s at generation %d (one push)", fw.Name, a.Generation, a.Digest, want[fw.Name], b.Generation+1)
		}
		if a.PendingConfirm != nil {
			t.Errorf("%s: generation %d still awaits its confirm", fw.Name, a.PendingConfirm.Generation)
		}
	}
	if len(after.status.Firewalls) != len(l.Firewalls) {
		t.Errorf("status lists %d firewalls after the restarts, want %d", len(after.status.Firewalls), len(l.Firewalls))
	}
}
