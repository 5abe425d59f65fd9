//go:build linux && netns

package e2e

import (
	"strconv"
	"testing"
	"time"

	"github.com/fwgit/fwgit/controller/compile"
	"github.com/fwgit/fwgit/e2e/lab"
)

// TestInitialConvergence: every firewall of examples/repo converges on the
// head commit, the controller wants exactly what an independent compile
// of that commit gives, each agent runs it in its kernel, and every case
// of every Test manifest holds with real packets.
func TestInitialConvergence(t *testing.T) {
	l := newLab(t, nil)
	ctx := testContext(t, 3*time.Minute)
	commit := head(t, ctx, l)
	st := converge(t, ctx, l, commit)

	inv, rs, err := lab.Desired(l.Repo.FS())
	if err != nil {
		t.Fatal(err)
	}
	want := lab.Digests(inv, rs)
	got := byName(st)
	for _, fw := range l.Firewalls {
		f := got[fw.Name]
		if f.DesiredDigest != want[fw.Name] {
			t.Errorf("%s: controller wants %s, compile gives %s", fw.Name, f.DesiredDigest, want[fw.Name])
		}
		as, err := l.AgentState(ctx, fw)
		if err != nil {
			t.Fatalf("%s: agent state: %v", fw.Name, err)
		}
		if as.Digest != want[fw.Name] || as.PendingConfirm != nil {
			t.Errorf("%s: agent runs %s (pending %v), want %s confirmed", fw.Name, as.Digest, as.PendingConfirm, want[fw.Name])
		}
		if _, ok, err := fw.NFTList(ctx); err != nil || !ok {
			t.Errorf("%s: table inet fwgit in the kernel: present %v, %v", fw.Name, ok, err)
		}
	}
	if st.Revision.LastGood != lab.Revision(commit) || !st.Revision.Valid {
		t.Errorf("revision = %+v, want %s valid", st.Revision, lab.Revision(commit))
	}

	results := compile.Check(inv, rs)
	for _, r := range results {
		if !r.Pass {
			t.Fatalf("the evaluator fails %s[%d] (%s): examples/repo is broken", r.Test, r.Index, r.Err)
		}
	}
	sent, skipped := 0, 0
	for _, o := range l.CheckTests(ctx, results) {
		switch {
		case o.Skipped != "":
			skipped++
			t.Logf("skip %s: %s", o.Name(), o.Skipped)
		case o.Err != nil:
			t.Errorf("%s (%s): probe: %v", o.Name(), o.Case.Pos, o.Err)
		case !o.Passed():
			t.Errorf("%s (%s): firewall %s, %s %s from %q to %q: want %s, the packets were %sed", o.Name(), o.Case.Pos,
				o.Case.Firewall, o.Case.Proto, portOrType(o), o.Case.From, o.Case.To, o.Case.Expect, o.Got)
		default:
			sent++
		}
	}
	if sent < len(results)/2 {
		t.Errorf("only %d of %d cases were sent as packets (%d skipped)", sent, len(results), skipped)
	}
	t.Logf("%d Test cases held with real packets, %d skipped", sent, skipped)
}

func portOrType(o lab.CaseOutcome) string {
	tc := o.Case.TestCase
	switch {
	case tc.Port != 0:
		return lab.Packet{Proto: tc.Proto, Port: uint16(tc.Port)}.String()
	case tc.Type != nil:
		return tc.Proto + " type " + strconv.Itoa(*tc.Type)
	}
	return ""
}
