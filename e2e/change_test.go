//go:build linux && netns

package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/status"
	"github.com/fwgit/fwgit/e2e/lab"
)

// TestRuleChangeReachesOnlyAffected: a commit that changes one rule is
// applied to exactly the firewalls whose compiled ruleset it changes; the
// others keep their digest, generation, history and kernel table, and the
// packets follow the new rule.
func TestRuleChangeReachesOnlyAffected(t *testing.T) {
	l := newLab(t, nil)
	ctx := testContext(t, 3*time.Minute)
	converge(t, ctx, l, head(t, ctx, l))
	web, db := l.Firewall("web-1"), l.Firewall("db-1")
	expectTCP(t, ctx, "web-1 to db-1 before the change", web.NS, db.NS, db.V4, 5432, true)
	expectTCP(t, ctx, "web-1 to db-1 before the change", web.NS, db.NS, db.V4, 5433, false)

	beforeDigests := desiredDigests(t, l)
	before := take(t, ctx, l)
	commit := push(t, ctx, l, "Move the database to port 5433", lab.Replace(dataRules, webToDB, webToDBNext))
	afterDigests := desiredDigests(t, l)
	var affected []string
	for name, d := range afterDigests {
		if beforeDigests[name] != d {
			affected = append(affected, name)
		}
	}
	slices.Sort(affected)
	if !slices.Equal(affected, []string{"db-1"}) {
		t.Fatalf("the change affects %v, want [db-1]: examples/repo changed; pick another change", affected)
	}

	converge(t, ctx, l, commit)
	after := take(t, ctx, l)
	for _, fw := range l.Firewalls {
		if fw.Name == "db-1" {
			continue
		}
		unchanged(t, fw.Name, before, after)
	}
	f := byName(after.status)["db-1"]
	if f.AppliedDigest != afterDigests["db-1"] || f.AppliedGeneration <= byName(before.status)["db-1"].AppliedGeneration {
		t.Errorf("db-1: applied %s gen %d, want %s at a higher generation", f.AppliedDigest, f.AppliedGeneration, afterDigests["db-1"])
	}
	// Normally one new entry; a confirm that a loaded machine delays past
	// the timeout adds a rolledBack one before it. Every new entry is for
	// this revision, and the newest is its successful apply.
	h := after.history["db-1"]
	added := h[:len(h)-len(before.history["db-1"])]
	if len(added) == 0 || added[0].Result != status.ResultApplied {
		t.Errorf("db-1: history %+v, want a new applied entry for %s", h, lab.Revision(commit))
	}
	for _, e := range added {
		if e.Digest != afterDigests["db-1"] || e.Revision != lab.Revision(commit) {
			t.Errorf("db-1: new history entry %+v is not for %s", e, lab.Revision(commit))
		}
	}
	expectTCP(t, ctx, "web-1 to db-1 after the change", web.NS, db.NS, db.V4, 5433, true)
	expectTCP(t, ctx, "web-1 to db-1 after the change", web.NS, db.NS, db.V4, 5432, false)
	expectTCP(t, ctx, "web-2 to db-1 over IPv6 after the change", l.Firewall("web-2").NS, db.NS, db.V6, 5433, true)
}

// TestInvalidCommitRefused: a commit with an error changes nothing on any
// firewall; status shows it refused with its diagnostics and every
// firewall Stalled on the last good revision; a fixing commit converges.
func TestInvalidCommitRefused(t *testing.T) {
	l := newLab(t, nil)
	ctx := testContext(t, 3*time.Minute)
	good := head(t, ctx, l)
	converge(t, ctx, l, good)
	before := take(t, ctx, l)

	bad := push(t, ctx, l, "Point the web tier at a database role that does not exist",
		lab.Replace(dataRules, webToDB, strings.Replace(webToDBNext, "role = db", "role = database", 1)))
	st := waitStatus(t, ctx, l, "the refused revision and every firewall Stalled", func(st *api.StatusResponse) bool {
		return st.Revision.Current == lab.Revision(bad) && st.Counts["Stalled"] == len(l.Firewalls)
	})
	if st.Revision.Valid || st.Revision.LastGood != lab.Revision(good) || st.Revision.Errors == 0 {
		t.Errorf("revision = %+v, want %s invalid with errors, last good %s", st.Revision, lab.Revision(bad), lab.Revision(good))
	}
	found := false
	for _, d := range st.Revision.Diagnostics {
		if d.Pos.File == dataRules && d.Pos.Line > 0 && strings.Contains(d.Msg, `"database"`) {
			found = true
		}
	}
	if !found {
		t.Errorf("diagnostics %v do not name %s with its line and the bad value", st.Revision.Diagnostics, dataRules)
	}
	for _, f := range st.Firewalls {
		if f.DesiredRevision != lab.Revision(good) || !strings.Contains(f.Message, lab.Revision(bad)) {
			t.Errorf("%s: desired %s, message %q: want the last good revision and a message naming the refused one", f.Name, f.DesiredRevision, f.Message)
		}
	}
	cli := runCLI(t, ctx, l, "status", "--controller", l.APIURL)
	if !strings.Contains(cli, "refused") || !strings.Contains(cli, dataRules+":") || !strings.Contains(cli, "Stalled") {
		t.Errorf("fwgit status does not show the refused commit and its diagnostics:\n%s", cli)
	}

	// Let the controller resync every firewall against the refused head a
	// few times before comparing, so that a push would have happened.
	waitResyncs(t, ctx, l, 3)
	after := take(t, ctx, l)
	for _, fw := range l.Firewalls {
		unchanged(t, fw.Name, before, after)
	}
	expectTCP(t, ctx, "web-1 to db-1 on the last good policy", l.Firewall("web-1").NS, l.Firewall("db-1").NS, l.Firewall("db-1").V4, 5432, true)

	fix := push(t, ctx, l, "Fix the role name", lab.Replace(dataRules, "role = database", "role = db"))
	st = converge(t, ctx, l, fix)
	if !st.Revision.Valid || st.Counts["Stalled"] != 0 {
		t.Errorf("after the fix: revision %+v, counts %v", st.Revision, st.Counts)
	}
	expectTCP(t, ctx, "web-1 to db-1 after the fix", l.Firewall("web-1").NS, l.Firewall("db-1").NS, l.Firewall("db-1").V4, 5433, true)
}
