//go:build linux && netns

package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/status"
	"github.com/fwgit/fwgit/e2e/lab"
	"github.com/fwgit/fwgit/internal/agentapi"
)

// agentDisk is what `fwgit-agent status --json` prints: the state the
// agent persisted.
type agentDisk struct {
	Current *struct {
		Request struct {
			Generation uint64 `json:"generation"`
			Digest     string `json:"digest"`
		} `json:"request"`
	} `json:"current"`
	Pending    *agentapi.Pending    `json:"pending"`
	RolledBack *agentapi.RolledBack `json:"rolledBack"`
}

// diskState runs `fwgit-agent status --json` for fw: it reads the state
// directory, so it works however the network is.
func diskState(t *testing.T, ctx context.Context, l *lab.Lab, fw *lab.Firewall) *agentDisk {
	t.Helper()
	out, err := exec.CommandContext(ctx, l.Options().Agent, "status", "--json", "--env-file", fw.EnvFile).Output()
	if err != nil {
		t.Fatalf("fwgit-agent status: %v", err)
	}
	var d agentDisk
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatalf("fwgit-agent status: %v\n%s", err, out)
	}
	return &d
}

// TestAgentRestart: an agent killed during operation, and whose table is
// gone when it comes back (as after a reboot), re-applies its last
// ruleset before it serves; the controller sees it Unreachable, then back
// Ready without pushing anything.
func TestAgentRestart(t *testing.T) {
	l := newLab(t, nil)
	ctx := testContext(t, 3*time.Minute)
	converge(t, ctx, l, head(t, ctx, l))
	fw := l.Firewall("web-1")
	before := take(t, ctx, l)

	if err := fw.Agent.Kill(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, ctx, l, "web-1 Unreachable", func(st *api.StatusResponse) bool { return byName(st)["web-1"].Condition == "Unreachable" })
	if got := table(t, ctx, fw); got != before.tables["web-1"] {
		t.Errorf("the kernel's table changed while the agent was down")
	}
	if err := fw.NFT(ctx, "delete", "table", "inet", "fwgit"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := fw.NFTList(ctx); ok || err != nil {
		t.Fatalf("table still there after deleting it (%v)", err)
	}

	if err := l.StartAgent(ctx, fw); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitAgent(ctx, fw); err != nil {
		t.Fatal(err)
	}
	// The agent restores before it serves: the first answer means the
	// kernel holds the ruleset again.
	if d := cmp.Diff(before.tables["web-1"], table(t, ctx, fw)); d != "" {
		t.Errorf("web-1's table after the restart (-before +after):\n%s", d)
	}
	waitStatus(t, ctx, l, "web-1 Ready again", func(st *api.StatusResponse) bool {
		f := byName(st)["web-1"]
		return f.Condition == "Ready" && f.AppliedDigest == f.DesiredDigest
	})
	waitResyncs(t, ctx, l, 2)
	after := take(t, ctx, l)
	for _, f := range l.Firewalls {
		if f.Name == "web-1" {
			continue
		}
		unchanged(t, f.Name, before, after)
	}
	b, a := before.agents["web-1"], after.agents["web-1"]
	if a.Generation != b.Generation || a.Digest != b.Digest {
		t.Errorf("web-1's agent runs generation %d %s, was %d %s: the controller pushed again", a.Generation, a.Digest, b.Generation, b.Digest)
	}
	if d := cmp.Diff(before.history["web-1"], after.history["web-1"]); d != "" {
		t.Errorf("web-1's apply history changed (-before +after):\n%s", d)
	}
	expectTCP(t, ctx, "the internet to web-1", l.Internet, fw.NS, fw.V4, 8080, false)
	expectTCP(t, ctx, "lb-1 to web-1", l.Firewall("lb-1").NS, fw.NS, fw.V4, 8080, true)
}

// TestLostConfirmRollsBack: the controller's new connections to db-1 are
// dropped on the bridge, so an apply that travels over the kept-alive
// connection lands but its confirm (which needs a new connection) cannot;
// the agent rolls back by itself once the confirm timeout passes, and the
// controller reports RolledBack. Once the link is back, db-1 converges.
func TestLostConfirmRollsBack(t *testing.T) {
	l := newLab(t, func(o *lab.Options) { o.ConfirmTimeout = 2 * time.Second })
	ctx := testContext(t, 3*time.Minute)
	converge(t, ctx, l, head(t, ctx, l))
	db := l.Firewall("db-1")
	before := take(t, ctx, l)

	if err := l.BlockNewConnections(ctx, db); err != nil {
		t.Fatal(err)
	}
	commit := push(t, ctx, l, "Move the database to port 5433", lab.Replace(dataRules, webToDB, webToDBNext))
	want := desiredDigests(t, l)["db-1"]
	st := waitStatus(t, ctx, l, "db-1 RolledBack", func(st *api.StatusResponse) bool { return byName(st)["db-1"].Condition == "RolledBack" })
	if f := byName(st)["db-1"]; f.DesiredDigest != want || f.Reason != status.ReasonRolledBack {
		t.Errorf("db-1: desired %s, reason %s (%s); want %s, %s", f.DesiredDigest, f.Reason, f.Message, want, status.ReasonRolledBack)
	}

	// The agent undid the apply on its own, and says so on disk.
	var rb *agentapi.RolledBack
	waitFor(t, ctx, "db-1's agent to record its rollback", func() (bool, error) {
		d := diskState(t, ctx, l, db)
		if d.RolledBack != nil && d.RolledBack.Digest == want && d.Current != nil && d.Current.Request.Digest == before.agents["db-1"].Digest {
			rb = d.RolledBack
			return true, nil
		}
		return false, nil
	})
	waitFor(t, ctx, "db-1's kernel to hold the previous table", func() (bool, error) {
		out, ok, err := db.NFTList(ctx)
		return ok && out == before.tables["db-1"], err
	})
	fr, err := l.API.Firewall(ctx, "db-1")
	if err != nil {
		t.Fatal(err)
	}
	var entry *status.HistoryEntry
	for i, h := range fr.History {
		if h.Generation == rb.Generation {
			entry = &fr.History[i]
		}
	}
	if entry == nil || entry.Result != status.ResultRolledBack || entry.Digest != want {
		t.Fatalf("db-1's history %+v has no rolledBack entry for generation %d", fr.History, rb.Generation)
	}
	// The agent waited the whole confirm timeout (it started after the
	// controller's attempt did) before rolling back.
	if wait := rb.At.Sub(entry.Time); wait < l.Options().ConfirmTimeout {
		t.Errorf("the agent rolled back %v after the apply began, before the %v confirm timeout", wait, l.Options().ConfirmTimeout)
	} else {
		t.Logf("rolled back %v after the apply began (confirm timeout %v): %s", wait.Round(time.Millisecond), l.Options().ConfirmTimeout, rb.Reason)
	}
	if !strings.Contains(strings.ToLower(rb.Reason), "confirm") {
		t.Errorf("rollback reason %q does not mention the missing confirm", rb.Reason)
	}

	if err := l.Reconnect(ctx); err != nil {
		t.Fatal(err)
	}
	st = converge(t, ctx, l, commit)
	if f := byName(st)["db-1"]; f.Condition != "Ready" {
		t.Errorf("db-1 after reconnecting: %s", f.Condition)
	}
	expectTCP(t, ctx, "web-1 to db-1 on the new policy", l.Firewall("web-1").NS, db.NS, db.V4, 5433, true)
}
