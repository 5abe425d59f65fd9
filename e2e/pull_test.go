//go:build linux && netns

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fwgit/fwgit/controller/status"
	"github.com/fwgit/fwgit/e2e/lab"
)

// TestPullModeAgent: a firewall the controller cannot reach (its new
// connections to it are dropped, as behind NAT) runs its agent in pull
// mode: enrolled with a one-use token from `fwgit token create`, it dials
// the controller, converges, and follows a later change through its long
// poll.
func TestPullModeAgent(t *testing.T) {
	l := newLab(t, func(o *lab.Options) { o.Pull = []string{"analytics-1"} })
	ctx := testContext(t, 3*time.Minute)
	fw := l.Firewall("analytics-1")
	if err := l.BlockNewConnections(ctx, fw); err != nil {
		t.Fatal(err)
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := l.AgentPing(pctx, fw)
	cancel()
	if err == nil {
		t.Fatal("the controller's namespace still reaches analytics-1's agent")
	}

	out, err := l.EnrollPull(ctx, fw)
	t.Logf("enrollment:\n%s", out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "enrolled") {
		t.Errorf("fwgit-agent enroll did not say it enrolled:\n%s", out)
	}
	st := converge(t, ctx, l, head(t, ctx, l))
	want := desiredDigests(t, l)
	if f := byName(st)["analytics-1"]; f.Mode != status.ModePull || f.AppliedDigest != want["analytics-1"] {
		t.Errorf("analytics-1: mode %s, applied %s; want pull, %s", f.Mode, f.AppliedDigest, want["analytics-1"])
	}
	if d := diskState(t, ctx, l, fw); d.Current == nil || d.Current.Request.Digest != want["analytics-1"] {
		t.Errorf("analytics-1's agent persisted %+v, want %s", d.Current, want["analytics-1"])
	}
	web1, web2 := l.Firewall("web-1"), l.Firewall("web-2")
	expectTCP(t, ctx, "web-1 to analytics-1", web1.NS, fw.NS, fw.V4, 5000, true)
	expectTCP(t, ctx, "web-2 to analytics-1", web2.NS, fw.NS, fw.V4, 5000, false)

	next := push(t, ctx, l, "Move the event collector to port 5001", lab.Replace("rules/analytics.yaml",
		"FROM ip 198.18.0.11 TO all vms ALLOW tcp PORT 5000", "FROM ip 198.18.0.11 TO all vms ALLOW tcp PORT 5001"))
	converge(t, ctx, l, next)
	if d := diskState(t, ctx, l, fw); d.Current == nil || d.Current.Request.Digest != desiredDigests(t, l)["analytics-1"] {
		t.Errorf("analytics-1's agent did not take the change: %+v", d.Current)
	}
	expectTCP(t, ctx, "web-1 to analytics-1 after the change", web1.NS, fw.NS, fw.V4, 5001, true)
	expectTCP(t, ctx, "web-1 to analytics-1 after the change", web1.NS, fw.NS, fw.V4, 5000, false)
}
