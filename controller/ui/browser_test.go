package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/controller/controllertest"
	"github.com/fwgit/fwgit/controller/status"
)

// chromium returns the browser to drive, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	path := os.Getenv("FWGIT_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		t.Skipf("skipping browser test: Chromium not found at %s (install it with `apt-get install -y chromium`, or set FWGIT_CHROMIUM)", path)
	}
	return path
}

// browser starts a headless Chromium with a fresh profile whose every
// request is checked: anything but loopback is failed and counted.
func browser(t *testing.T) (context.Context, *atomic.Int64) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); acancel() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 860)); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	var offLoopback atomic.Int64
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			u, perr := url.Parse(ev.Request.URL)
			if perr != nil || u.Hostname() != "127.0.0.1" {
				offLoopback.Add(1)
				t.Logf("blocked a request off loopback: %s", ev.Request.URL)
				chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonBlockedByClient})
				continue
			}
			chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
		}
	}()
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{}); err != nil {
		t.Fatalf("enabling request interception: %v", err)
	}
	return ctx, &offLoopback
}

// screenshots is where page screenshots go: $FWGIT_SCREENSHOTS (set it to
// docs/screenshots to refresh the committed ones) or the test's artifact
// directory (kept with `go test -artifacts`).
func screenshots(t *testing.T) string {
	if d := os.Getenv("FWGIT_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.ArtifactDir()
}

func shoot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png := get(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// do runs browser steps with a deadline, failing the test with what it was
// doing.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get runs one browser action that returns a value, with a deadline.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// syncCells reads every overview row's firewall name and Sync cell.
const syncCells = `Array.from(document.querySelectorAll('table.fleet tbody tr[data-firewall]')).map(r => r.dataset.firewall + " " + r.querySelector('td.sync').innerText.trim())`

// TestBrowser drives the console in Chromium against a real controller:
// log in, see every firewall InSync, follow a firewall to its ruleset and a
// rule, trace a packet, watch a refused commit's banner appear with its
// file:line:col and clear after the fix, and see the pending change.
// liveRefresh is how often the console's pages poll for changes in this
// test.
const liveRefresh = 250 * time.Millisecond

func TestBrowser(t *testing.T) {
	ctx, offLoopback := browser(t)
	shots := screenshots(t)
	e := newEnv(t, 4)
	rev1 := e.commit("Open HTTP on the web tier", 80, "")
	e.start(liveRefresh)
	controllertest.Eventually(t, 15*time.Second, "every firewall in sync", func() bool { return e.inSync(rev1) })
	base := e.srv.URL

	// The console asks for the read token once.
	do(t, ctx, "open the console", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("token")))
	shoot(t, ctx, shots, "login")
	do(t, ctx, "log in", chromedp.SendKeys(chromedp.ID("token"), readToken), chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS("table.fleet")))

	// Overview: every firewall InSync; repository markup stays text.
	rows := get(t, ctx, "read the overview", chromedp.Evaluate[[]string](syncCells))
	want := []string{"fw-000 InSync", "fw-001 InSync", "fw-002 InSync", "fw-003 InSync"}
	if d := cmp.Diff(want, rows); d != "" {
		t.Errorf("overview sync column (-want +got):\n%s", d)
	}
	if get(t, ctx, "check for injected markup", chromedp.Evaluate[bool](pwned)) {
		t.Error("a tag value from the repository ran as markup")
	}
	shoot(t, ctx, shots, "overview")

	// A firewall page with its ruleset, then a rule from its comments.
	do(t, ctx, "follow a firewall", chromedp.Click(chromedp.CSS(`a[href="/ui/firewalls/fw-001"]`)), chromedp.WaitVisible(chromedp.ID("ruleset-text")))
	ruleset := get(t, ctx, "read the ruleset", chromedp.Text(chromedp.ID("ruleset-text")))
	for _, w := range []string{"table inet fwgit {", "policy drop;", "tcp dport 5432 accept comment \"rule:"} {
		if !strings.Contains(ruleset, w) {
			t.Errorf("fw-001's ruleset lacks %q:\n%s", w, ruleset)
		}
	}
	shoot(t, ctx, shots, "firewall")
	do(t, ctx, "follow a rule comment", chromedp.Click(chromedp.CSS(`#ruleset-text a`)), chromedp.WaitVisible(chromedp.ID("canonical")))
	if got, want := get(t, ctx, "read the rule", chromedp.Text(chromedp.ID("canonical"))), `FROM tag "role" = "web" TO tag "role" = "db" ALLOW tcp PORT 5432`; got != want {
		t.Errorf("rule page canonical text = %q, want %q", got, want)
	}
	shoot(t, ctx, shots, "rule")

	// The http rule's description holds markup: it must show as text.
	for _, r := range e.Ctl.Policy().Inventory.Rules {
		if r.Name != "http" {
			continue
		}
		do(t, ctx, "open the http rule", chromedp.Navigate(base+"/ui/rules/"+r.UUID), chromedp.WaitVisible(chromedp.ID("description")))
		if desc := get(t, ctx, "read the description", chromedp.Text(chromedp.ID("description"))); desc != evilDesc {
			t.Errorf("description shown as %q, want the text %q", desc, evilDesc)
		}
		if get(t, ctx, "check for injected markup", chromedp.Evaluate[bool](pwned)) {
			t.Error("a description from the repository ran as markup")
		}
	}

	// The packet tracer form.
	do(t, ctx, "trace a packet", chromedp.Navigate(base+"/ui/trace"), chromedp.WaitVisible(chromedp.ID("tracer")),
		chromedp.SendKeys(chromedp.ID("f-firewall"), "fw-001"),
		chromedp.SendKeys(chromedp.ID("f-from"), "198.18.0.10"),
		chromedp.SetValue(chromedp.ID("f-proto"), "tcp"),
		chromedp.SendKeys(chromedp.ID("f-port"), "5432"),
		chromedp.Click(chromedp.ID("f-submit")),
		chromedp.WaitVisible(chromedp.ID("verdict")))
	verdict := get(t, ctx, "read the verdict", chromedp.Text(chromedp.ID("verdict")))
	decider := get(t, ctx, "read the decider", chromedp.Text(chromedp.ID("decider")))
	if !strings.EqualFold(verdict, "accept") || !strings.Contains(decider, "rule pg at rules/db.yaml:") {
		t.Errorf("tracer = %q decided by %q, want accept by rule pg at rules/db.yaml:…", verdict, decider)
	}
	shoot(t, ctx, shots, "trace")

	// An invalid commit: the open overview refreshes itself and shows the
	// banner with the diagnostic's file:line:col.
	do(t, ctx, "back to the overview", chromedp.Navigate(base+"/ui/"), chromedp.WaitVisible(chromedp.CSS("table.fleet")))
	bad := e.commit("Typo in a tag name", 80, "apiVersion: fwgit/v1\nkind: Rule\nmetadata:\n  name: ssh\nspec:\n  global: true\n  rule: FROM any TO tag rolle = web ALLOW tcp PORT 22\n")
	e.Hook()
	var rev status.Revision
	controllertest.Eventually(t, 15*time.Second, "the invalid commit recorded", func() bool {
		rev, _ = e.store.Revision()
		return rev.Current == bad && !rev.Valid
	})
	pos := rev.Diagnostics[0].Pos
	if pos.File != "extra.yaml" || pos.Line == 0 || pos.Col == 0 {
		t.Fatalf("first diagnostic at %v, want extra.yaml:line:col", pos)
	}
	do(t, ctx, "see the refused banner", chromedp.WaitVisible(chromedp.ID("refused")))
	e.settle(t, ctx)
	banner := get(t, ctx, "read the banner", chromedp.Text(chromedp.ID("refused")))
	if !strings.Contains(banner, pos.String()+": error: ") || !strings.Contains(banner, "Typo in a tag name") {
		t.Errorf("banner lacks %q:\n%s", pos.String(), banner)
	}
	href := get(t, ctx, "read the diagnostic's link", chromedp.AttributeValue(chromedp.CSS("#refused a.pos"), "href"))
	if wantHref := fmt.Sprintf("http://127.0.0.1:9/policy/blob/%s/extra.yaml#L%d", strings.TrimPrefix(bad, "main@sha1:"), pos.Line); href.Value != wantHref {
		t.Errorf("diagnostic link = %q, want %q", href.Value, wantHref)
	}
	shoot(t, ctx, shots, "overview-refused")

	// The fix, while one web agent is down: the banner clears and the
	// pending change shows what has yet to reach that firewall.
	e.Agents[2].Down()
	fix := e.commit("Fix the tag name; move HTTP to 8080", 8080, "")
	e.Hook()
	waitFor(t, ctx, "the banner to clear", `document.readyState === "complete" && document.querySelector("table.fleet") !== null && document.getElementById("refused") === null`)
	controllertest.Eventually(t, 15*time.Second, "the fix loaded", func() bool { p := e.Ctl.Policy(); return p != nil && p.Revision == fix })
	e.settle(t, ctx)
	do(t, ctx, "open the pending change", chromedp.Navigate(base+"/ui/pending"), chromedp.WaitVisible(chromedp.CSS("section.plan")))
	pending := get(t, ctx, "read the pending change", chromedp.Text(chromedp.CSS("main")))
	for _, w := range []string{"fw-002", "dport 8080", "rule http modified"} {
		if !strings.Contains(pending, w) {
			t.Errorf("pending change lacks %q:\n%s", w, pending)
		}
	}
	shoot(t, ctx, shots, "pending")
	if err := e.Agents[2].Up(); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 15*time.Second, "the fix everywhere", func() bool { return e.inSync(fix) })
	e.settle(t, ctx)
	do(t, ctx, "reload the overview", chromedp.Navigate(base+"/ui/"), chromedp.WaitVisible(chromedp.CSS("table.fleet")))
	if d := cmp.Diff(want, get(t, ctx, "read the overview", chromedp.Evaluate[[]string](syncCells))); d != "" {
		t.Errorf("overview after the fix (-want +got):\n%s", d)
	}
	if n := offLoopback.Load(); n != 0 {
		t.Errorf("the browser tried %d requests off loopback", n)
	}
}

// settle waits until the controller's status has stopped changing for a
// second and the open page has caught up with it: the live refresh reloads
// the page on every change, and a reload between two browser steps would
// lose the node the second one reads.
func (e *env) settle(t *testing.T, ctx context.Context) {
	t.Helper()
	snapshot := func() string {
		fws, err := e.store.List()
		if err != nil {
			return err.Error()
		}
		rev, _ := e.store.Revision()
		b, _ := json.Marshal(struct {
			F []status.Firewall
			R status.Revision
		}{fws, rev})
		return string(b)
	}
	last, since := snapshot(), time.Now()
	controllertest.Eventually(t, 20*time.Second, "the status to settle", func() bool {
		if now := snapshot(); now != last {
			last, since = now, time.Now()
		}
		return time.Since(since) > time.Second
	})
	time.Sleep(4 * liveRefresh) // the page's last poll and reload
	waitFor(t, ctx, "the page to load", `document.readyState === "complete"`)
}

// waitFor evaluates expr until it is true, across the reloads the live
// refresh makes.
func waitFor(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ok, err := chromedp.Run(tctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (last error: %v)", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pwned reports whether markup from the repository ran or was inserted.
const pwned = `window.__pwned !== undefined || document.querySelector('img[src="x"]') !== null || document.querySelector('b[onclick]') !== null`
