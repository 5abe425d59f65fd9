package controller_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/controllertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const apiKey = "agent-key-for-tests-0123456789"

// fwSpec is one firewall of a generated policy.
type fwSpec struct {
	name, role, url, fingerprint string
	addr                         string
}

// writePolicy replaces the policy in r with firewalls fws and an HTTP rule
// on port, plus extra YAML, and commits it.
func writePolicy(r *controllertest.Repo, msg string, fws []fwSpec, port int, extra string) string {
	var b strings.Builder
	b.WriteString("apiVersion: fwgit/v1\nkind: Tag\nmetadata:\n  name: role\nspec:\n  values: [web, db]\n")
	for _, f := range fws {
		fmt.Fprintf(&b, "---\napiVersion: fwgit/v1\nkind: Firewall\nmetadata:\n  name: %s\nspec:\n  addresses: [%s]\n  tags: {role: %s}\n  agent:\n    url: %s\n    fingerprint: %s\n",
			f.name, f.addr, f.role, f.url, f.fingerprint)
	}
	return r.Commit(msg, map[string]string{
		"firewalls.yaml": b.String(),
		"rules/web.yaml": fmt.Sprintf("apiVersion: fwgit/v1\nkind: Rule\nmetadata:\n  name: http\nspec:\n  global: true\n  rule: FROM any TO tag role = web ALLOW tcp PORT %d\n", port),
		"rules/db.yaml":  "apiVersion: fwgit/v1\nkind: Rule\nmetadata:\n  name: pg\nspec:\n  global: true\n  rule: FROM tag role = web TO tag role = db ALLOW tcp PORT 5432\n",
		"extra.yaml":     extra,
	})
}

// env is a controller with n agents (controllertest.Env) and the
// firewalls of the policy the tests write for them.
type env struct {
	*controllertest.Env
	fws []fwSpec
}

func newEnv(t testing.TB, n int) *env {
	t.Helper()
	e := &env{Env: controllertest.New(t, n, apiKey, "webhook-secret")}
	for i, a := range e.Agents {
		role := "web"
		if i%2 == 1 {
			role = "db"
		}
		e.fws = append(e.fws, fwSpec{name: e.Names[i], role: role, url: a.URL, fingerprint: a.Fingerprint,
			addr: fmt.Sprintf("198.18.%d.%d", 1+i/250, 1+i%250)})
	}
	return e
}

func TestCommitsConverge(t *testing.T) {
	e := newEnv(t, 4)
	h1 := writePolicy(e.Repo, "first", e.fws, 80, "")
	e.Start()
	controllertest.Eventually(t, 10*time.Second, "first commit everywhere", func() bool { return e.Converged("main@sha1:" + h1) })
	controllertest.Eventually(t, 5*time.Second, "Ready everywhere", func() bool { return e.StatusOf("fw-003").Condition == "Ready" })
	if code := e.GetJSON("/readyz", nil); code != 200 {
		t.Errorf("/readyz = %d after the first load", code)
	}
	d1 := e.Ctl.Policy().Digests

	// A new commit, announced by the webhook.
	h2 := writePolicy(e.Repo, "open 8080", e.fws, 8080, "")
	e.Hook()
	controllertest.Eventually(t, 10*time.Second, "second commit everywhere", func() bool { return e.Converged("main@sha1:" + h2) })
	d2 := e.Ctl.Policy().Digests
	if d1["fw-000"] == d2["fw-000"] || d1["fw-001"] != d2["fw-001"] {
		t.Errorf("web digest changed %v, db digest unchanged %v; want true, true", d1["fw-000"] != d2["fw-000"], d1["fw-001"] == d2["fw-001"])
	}
	if n := e.Agents[1].Applies(); n != 1 {
		t.Errorf("db agent applied %d times, want 1 (its ruleset did not change)", n)
	}

	// An invalid commit: nothing reaches any firewall; status says why.
	applies := e.Agents[0].Applies()
	h3 := writePolicy(e.Repo, "typo", e.fws, 443, "apiVersion: fwgit/v1\nkind: Rule\nmetadata:\n  name: bad\nspec:\n  global: true\n  rule: FROM any TO tag rolle = web ALLOW tcp PORT 22\n")
	e.Hook()
	var rev api.RevisionInfo
	controllertest.Eventually(t, 10*time.Second, "the invalid revision recorded", func() bool {
		e.GetJSON("/v1/revision", &rev)
		return rev.Current == "main@sha1:"+h3
	})
	if rev.Valid || rev.LastGood != "main@sha1:"+h2 || rev.Errors == 0 || rev.Diagnostics[0].Pos.File != "extra.yaml" || rev.Diagnostics[0].Pos.Line == 0 {
		t.Errorf("/v1/revision = %+v", rev)
	}
	controllertest.Eventually(t, 10*time.Second, "Stalled everywhere", func() bool {
		for _, f := range e.fws {
			if s := e.StatusOf(f.name); s.Condition != "Stalled" || s.Reason != "InvalidRevision" || !strings.Contains(s.Message, "extra.yaml:") {
				return false
			}
		}
		return true
	})
	if !e.Converged("main@sha1:"+h2) || e.Agents[0].Applies() != applies {
		t.Errorf("the invalid commit reached an agent")
	}

	// A fixing commit resumes.
	h4 := writePolicy(e.Repo, "fix", e.fws, 443, "")
	e.Hook()
	controllertest.Eventually(t, 10*time.Second, "the fix everywhere", func() bool { return e.Converged("main@sha1:" + h4) })
	controllertest.Eventually(t, 5*time.Second, "Ready again everywhere", e.AllReady)

	var fw api.FirewallResponse
	if code := e.GetJSON("/v1/firewalls/fw-000", &fw); code != 200 {
		t.Fatalf("/v1/firewalls/fw-000 = %d", code)
	}
	if !strings.Contains(fw.Ruleset, "443") || len(fw.History) != 3 || fw.History[0].Revision != "main@sha1:"+h4 || fw.History[0].Result != "applied" {
		t.Errorf("firewall detail: ruleset has 443 = %v, history = %+v", strings.Contains(fw.Ruleset, "443"), fw.History)
	}

	resp, err := http.Get(e.API + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`fwgit_reconcile_total{result="success"}`,
		"fwgit_reconcile_duration_seconds_bucket",
		`fwgit_firewall_in_sync{firewall="fw-000"} 1`,
		`fwgit_firewalls{condition="Ready"} 4`,
		`fwgit_git_fetch_total{result="success"} 4`,
		`fwgit_agent_request_duration_seconds_bucket{op="apply",result="ok"`,
		`fwgit_last_applied_info{firewall="fw-000",revision="main@sha1:` + h4 + `"} 1`,
		`fwgit_reconcile_panics_total 0`,
		`fwgit_revision_loads_total{result="invalid"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestAgentDownDoesNotDelayOthers(t *testing.T) {
	e := newEnv(t, 4)
	e.Agents[2].Down()
	h1 := writePolicy(e.Repo, "first", e.fws, 80, "")
	e.Start()
	controllertest.Eventually(t, 10*time.Second, "the others converge", func() bool { return e.Converged("main@sha1:"+h1, 2) })
	controllertest.Eventually(t, 5*time.Second, "Unreachable shown", func() bool {
		s := e.StatusOf("fw-002")
		return s.Condition == "Unreachable" && s.Reason == "ConnectionFailed"
	})
	if err := e.Agents[2].Up(); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 10*time.Second, "the agent converges once back", func() bool { return e.Converged("main@sha1:" + h1) })
	controllertest.Eventually(t, 5*time.Second, "Ready", func() bool { return e.StatusOf("fw-002").Condition == "Ready" })
}

func TestWrongFingerprintRefused(t *testing.T) {
	e := newEnv(t, 2)
	e.fws[1].fingerprint = e.Agents[0].Fingerprint // pins another agent's certificate
	writePolicy(e.Repo, "first", e.fws, 80, "")
	e.Start()
	controllertest.Eventually(t, 10*time.Second, "FingerprintMismatch", func() bool {
		s := e.StatusOf("fw-001")
		return s.Condition == "Unreachable" && s.Reason == "FingerprintMismatch"
	})
	if n := e.Agents[1].Requests("state") + e.Agents[1].Requests("apply"); n != 0 {
		t.Errorf("the agent with the wrong certificate answered %d requests", n)
	}
	if e.Agents[1].State().Digest != "" {
		t.Error("a ruleset reached the agent with the wrong certificate")
	}
}

func TestRestartKeepsStateWithoutRepush(t *testing.T) {
	e := newEnv(t, 3)
	h1 := writePolicy(e.Repo, "first", e.fws, 80, "")
	e.Start()
	controllertest.Eventually(t, 10*time.Second, "converged", func() bool { return e.Converged("main@sha1:" + h1) })
	controllertest.Eventually(t, 5*time.Second, "Ready everywhere", e.AllReady)
	before := e.StatusOf("fw-000")
	e.Stop()
	applies := e.Agents[0].Applies()

	e.Start()
	controllertest.Eventually(t, 10*time.Second, "loaded again", func() bool { return e.Converged("main@sha1:" + h1) })
	controllertest.Eventually(t, 5*time.Second, "state observed", func() bool { return e.Agents[0].Requests("state") >= 3 })
	controllertest.Eventually(t, 5*time.Second, "Ready everywhere after the restart", e.AllReady)
	after := e.StatusOf("fw-000")
	if after.Condition != "Ready" || after.AppliedGeneration != before.AppliedGeneration || !after.LastApply.Equal(before.LastApply) {
		t.Errorf("after restart: %+v, before: %+v", after, before)
	}
	if n := e.Agents[0].Applies(); n != applies {
		t.Errorf("agent applies %d -> %d across a restart: re-pushed", applies, n)
	}
	var fw api.FirewallResponse
	e.GetJSON("/v1/firewalls/fw-000", &fw)
	if len(fw.History) != 1 {
		t.Errorf("history after restart = %d entries, want 1", len(fw.History))
	}
}

func TestBearerTokenAndDirSource(t *testing.T) {
	e := newEnv(t, 1)
	dir := t.TempDir()
	writePolicy(e.Repo, "first", e.fws, 80, "")
	for _, f := range []string{"firewalls.yaml", "rules/web.yaml", "rules/db.yaml"} {
		b, _ := os.ReadFile(filepath.Join(e.Repo.Dir, f))
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte("read-token"), 0o600)
	e.Config.Git, e.Config.Dir, e.Config.ReadTokenFile = nil, dir, tok
	e.Start()
	if code := e.GetJSON("/v1/status", nil); code != 401 {
		t.Errorf("/v1/status without the token = %d, want 401", code)
	}
	controllertest.Eventually(t, 10*time.Second, "dir revision everywhere", func() bool {
		p := e.Ctl.Policy()
		return p != nil && strings.HasPrefix(p.Revision, "dir@sha256:") && e.Converged(p.Revision)
	})
	first := e.Ctl.Policy().Revision
	b, _ := os.ReadFile(filepath.Join(dir, "rules/web.yaml"))
	os.WriteFile(filepath.Join(dir, "rules/web.yaml"), []byte(strings.Replace(string(b), "PORT 80", "PORT 81", 1)), 0o644)
	controllertest.Eventually(t, 10*time.Second, "the edit everywhere", func() bool {
		p := e.Ctl.Policy()
		return p.Revision != first && e.Converged(p.Revision)
	})
}

func TestRestartOnInvalidHeadServesLastGood(t *testing.T) {
	e := newEnv(t, 2)
	h1 := writePolicy(e.Repo, "first", e.fws, 80, "")
	e.Start()
	controllertest.Eventually(t, 10*time.Second, "converged", func() bool { return e.Converged("main@sha1:" + h1) })
	e.Stop()
	applies := e.Agents[0].Applies()
	h2 := writePolicy(e.Repo, "broken", e.fws, 80, "apiVersion: fwgit/v1\nkind: Rule\nmetadata:\n  name: bad\nspec:\n  global: true\n  rule: FROM any TO tag nope = x ALLOW tcp PORT 22\n")

	e.Start()
	controllertest.Eventually(t, 10*time.Second, "Stalled on the last good revision", func() bool {
		s := e.StatusOf("fw-000")
		return s.Condition == "Stalled" && s.DesiredRevision == "main@sha1:"+h1
	})
	if p := e.Ctl.Policy(); p == nil || p.Revision != "main@sha1:"+h1 {
		t.Fatalf("policy after restart on an invalid head = %v, want the last good one", p)
	}
	var rev api.RevisionInfo
	e.GetJSON("/v1/revision", &rev)
	if rev.Current != "main@sha1:"+h2 || rev.Valid || rev.LastGood != "main@sha1:"+h1 {
		t.Errorf("/v1/revision = %+v", rev)
	}
	if code := e.GetJSON("/readyz", nil); code != 200 {
		t.Errorf("/readyz = %d while serving the last good revision", code)
	}
	if !e.Converged("main@sha1:"+h1) || e.Agents[0].Applies() != applies {
		t.Error("agents changed after a restart on an invalid head")
	}
}
