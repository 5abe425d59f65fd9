//go:build linux && netns

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/config"
	"github.com/fwgit/fwgit/controller/status"
	"github.com/fwgit/fwgit/e2e/lab"
)

// TestDriftRepaired: a rule added to table inet fwgit by hand, and then
// the whole table deleted by hand, are both found and undone; the kernel
// ends up with exactly the ruleset that was applied.
func TestDriftRepaired(t *testing.T) {
	l := newLab(t, nil)
	ctx := testContext(t, 3*time.Minute)
	converge(t, ctx, l, head(t, ctx, l))
	fw := l.Firewall("cache-1")
	want := table(t, ctx, fw)

	if err := fw.NFT(ctx, "insert", "rule", "inet", "fwgit", "input", "tcp", "dport", "9999", "accept"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table(t, ctx, fw), "dport 9999") {
		t.Fatal("the hand edit is not in the table")
	}
	waitFor(t, ctx, "the edited table to be repaired", func() (bool, error) {
		out, ok, err := fw.NFTList(ctx)
		return ok && out == want, err
	})
	st, err := l.AgentState(ctx, fw)
	if err != nil {
		t.Fatal(err)
	}
	if st.Drift == nil || !st.Drift.Repaired {
		t.Errorf("agent state drift = %+v, want a repaired drift", st.Drift)
	}
	expectTCP(t, ctx, "the internet to cache-1 on the hand-opened port", l.Internet, fw.NS, fw.V4, 9999, false)

	if err := fw.NFT(ctx, "delete", "table", "inet", "fwgit"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the deleted table to be restored", func() (bool, error) {
		out, ok, err := fw.NFTList(ctx)
		return ok && out == want, err
	})
	if d := cmp.Diff(want, table(t, ctx, fw)); d != "" {
		t.Errorf("restored table (-applied +now):\n%s", d)
	}
	waitStatus(t, ctx, l, "cache-1 Ready and in sync", func(st *api.StatusResponse) bool {
		f := byName(st)["cache-1"]
		return f.Condition == "Ready" && f.AppliedDigest == f.DesiredDigest
	})
	expectTCP(t, ctx, "cache-1's Redis from web-1 after the repair", l.Firewall("web-1").NS, fw.NS, fw.V4, 6379, true)
}

// TestDriftReported: with agents and controller in report mode, a hand
// edit is found and shown in the agent's state and the controller's
// status, and left in place: the packets it lets through keep passing.
func TestDriftReported(t *testing.T) {
	l := newLab(t, func(o *lab.Options) {
		o.AgentDriftMode = "report"
		o.ControllerDriftMode = config.DriftReport
	})
	ctx := testContext(t, 3*time.Minute)
	commit := head(t, ctx, l)
	converge(t, ctx, l, commit)
	fw := l.Firewall("cache-1")
	before := take(t, ctx, l)

	if err := fw.NFT(ctx, "insert", "rule", "inet", "fwgit", "input", "tcp", "dport", "9999", "accept"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the agent to report drift", func() (bool, error) {
		st, err := l.AgentState(ctx, fw)
		return err == nil && st.Drift != nil && !st.Drift.Repaired, nil
	})
	st := waitStatus(t, ctx, l, "the controller to show cache-1's drift", func(st *api.StatusResponse) bool {
		f := byName(st)["cache-1"]
		return f.Reason == status.ReasonDrift && f.Drift != nil && !f.Drift.Repaired
	})
	if f := byName(st)["cache-1"]; f.Condition == "Ready" {
		t.Errorf("cache-1 is Ready with unrepaired drift: %+v", f)
	}
	// Several resyncs later nothing was repaired or pushed.
	waitResyncs(t, ctx, l, 3)
	if got := table(t, ctx, fw); !strings.Contains(got, "dport 9999") {
		t.Errorf("report mode removed the hand edit:\n%s", got)
	}
	expectTCP(t, ctx, "the internet to cache-1 on the hand-opened port", l.Internet, fw.NS, fw.V4, 9999, true)
	after := take(t, ctx, l)
	for _, f := range l.Firewalls {
		if f.Name == "cache-1" {
			continue
		}
		unchanged(t, f.Name, before, after)
	}
	if d := cmp.Diff(before.history["cache-1"], after.history["cache-1"]); d != "" {
		t.Errorf("cache-1's history changed in report mode (-before +after):\n%s", d)
	}
	if a := after.agents["cache-1"]; a.Generation != before.agents["cache-1"].Generation {
		t.Errorf("cache-1's agent is at generation %d, was %d: something was pushed", a.Generation, before.agents["cache-1"].Generation)
	}
}
