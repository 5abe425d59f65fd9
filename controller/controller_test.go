package controller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"go.uber.org/goleak"

	"github.com/fwgit/fwgit/controller"
	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/config"
	"github.com/fwgit/fwgit/controller/fleet/fleettest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const apiKey = "agent-key-for-tests-0123456789"

// policyRepo is a real Git repository on disk holding a generated policy.
type policyRepo struct {
	t    testing.TB
	dir  string
	repo *git.Repository
}

func newPolicyRepo(t testing.TB) *policyRepo {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "policy")
	r, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: "refs/heads/main"}})
	if err != nil {
		t.Fatal(err)
	}
	return &policyRepo{t: t, dir: dir, repo: r}
}

// fwSpec is one firewall of a generated policy.
type fwSpec struct {
	name, role, url, fingerprint string
	addr                         string
}

// write replaces the policy with firewalls fws and an HTTP rule on port,
// plus extra YAML, and commits it.
func (p *policyRepo) write(msg string, fws []fwSpec, port int, extra string) string {
	p.t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: fwgit/v1\nkind: Tag\nmetadata:\n  name: role\nspec:\n  values: [web, db]\n")
	for _, f := range fws {
		fmt.Fprintf(&b, "---\napiVersion: fwgit/v1\nkind: Firewall\nmetadata:\n  name: %s\nspec:\n  addresses: [%s]\n  tags: {role: %s}\n  agent:\n    url: %s\n    fingerprint: %s\n",
			f.name, f.addr, f.role, f.url, f.fingerprint)
	}
	files := map[string]string{
		"firewalls.yaml": b.String(),
		"rules/web.yaml": fmt.Sprintf("apiVersion: fwgit/v1\nkind: Rule\nmetadata:\n  name: http\nspec:\n  global: true\n  rule: FROM any TO tag role = web ALLOW tcp PORT %d\n", port),
		"rules/db.yaml":  "apiVersion: fwgit/v1\nkind: Rule\nmetadata:\n  name: pg\nspec:\n  global: true\n  rule: FROM tag role = web TO tag role = db ALLOW tcp PORT 5432\n",
		"extra.yaml":     extra,
	}
	wt, err := p.repo.Worktree()
	if err != nil {
		p.t.Fatal(err)
	}
	for name, content := range files {
		full := filepath.Join(p.dir, name)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if content == "" {
			os.Remove(full)
			wt.Add(name)
			continue
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			p.t.Fatal(err)
		}
		if _, err := wt.Add(name); err != nil {
			p.t.Fatal(err)
		}
	}
	h, err := wt.Commit(msg, &git.CommitOptions{All: true, Author: &object.Signature{Name: "Ada", Email: "ada@example.com", When: time.Now()}})
	if err != nil {
		p.t.Fatal(err)
	}
	return h.String()
}

type env struct {
	t       testing.TB
	repo    *policyRepo
	agents  []*fleettest.Agent
	fws     []fwSpec
	cfg     config.Config
	ctl     *controller.Controller
	base    string
	cancel  context.CancelFunc
	done    chan error
	secret  string
	logSink io.Writer
}

func newEnv(t testing.TB, n int) *env {
	t.Helper()
	e := &env{t: t, repo: newPolicyRepo(t), secret: "webhook-secret"}
	for i := range n {
		a, err := fleettest.Start(apiKey)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Close)
		e.agents = append(e.agents, a)
		role := "web"
		if i%2 == 1 {
			role = "db"
		}
		e.fws = append(e.fws, fwSpec{name: fmt.Sprintf("fw-%03d", i), role: role, url: a.URL, fingerprint: a.Fingerprint,
			addr: fmt.Sprintf("198.18.%d.%d", 1+i/250, 1+i%250)})
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "agent-key")
	os.WriteFile(keyFile, []byte(apiKey+"\n"), 0o600)
	hookFile := filepath.Join(dir, "hook")
	os.WriteFile(hookFile, []byte(e.secret), 0o600)
	cfg := config.Default()
	cfg.Git = &config.Git{URL: "file://" + e.repo.dir, Branch: "main"}
	cfg.StateDir = filepath.Join(dir, "state")
	cfg.Listen.API = "127.0.0.1:0"
	cfg.PollInterval = config.Duration(time.Hour) // the webhook drives fetches
	cfg.WebhookSecretFile = hookFile
	cfg.Agents.Default.APIKeyFile = keyFile
	cfg.ConfirmTimeout = config.Duration(5 * time.Second)
	cfg.AgentTimeout = config.Duration(2 * time.Second)
	cfg.Backoff = config.Backoff{Min: config.Duration(20 * time.Millisecond), Max: config.Duration(200 * time.Millisecond)}
	cfg.ResyncInterval = config.Duration(time.Minute)
	e.cfg = cfg
	return e
}

type tlog struct{ t testing.TB }

func (w tlog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (e *env) start() {
	e.t.Helper()
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(tlog{e.t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctl, err := controller.New(e.cfg, controller.Deps{Log: log})
	if err != nil {
		e.t.Fatal(err)
	}
	e.ctl = ctl
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- ctl.Run(ctx) }()
	actx, acancel := context.WithTimeout(ctx, 10*time.Second)
	defer acancel()
	addr, err := ctl.APIAddr(actx)
	if err != nil {
		e.t.Fatal(err)
	}
	e.base = "http://" + addr
	e.t.Cleanup(e.stop)
}

func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	e.cancel = nil
	if err := <-e.done; err != nil {
		e.t.Errorf("Run() = %v", err)
	}
}

func (e *env) hook() {
	e.t.Helper()
	body := []byte(`{"ref":"refs/heads/main"}`)
	req, _ := http.NewRequest("POST", e.base+"/hooks/git", strings.NewReader(string(body)))
	req.Header.Set(api.HeaderSignature, api.Sign([]byte(e.secret), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		e.t.Fatalf("webhook = %d, want 202", resp.StatusCode)
	}
}

func (e *env) get(path string, v any) int {
	e.t.Helper()
	resp, err := http.Get(e.base + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			e.t.Fatalf("GET %s: %v: %s", path, err, b)
		}
	}
	return resp.StatusCode
}

func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// converged reports whether every agent runs the desired ruleset of the
// current good policy at revision rev.
func (e *env) converged(rev string, skip ...int) bool {
	pol := e.ctl.Policy()
	if pol == nil || pol.Revision != rev {
		return false
	}
	for i, a := range e.agents {
		if contains(skip, i) {
			continue
		}
		st := a.State()
		if st.Digest != pol.Digests[e.fws[i].name] || st.PendingConfirm != nil {
			return false
		}
	}
	return true
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// allReady reports whether the status of every firewall says Ready: the
// agents can run the new digest a moment before the controller records it.
func (e *env) allReady() bool {
	var st api.StatusResponse
	e.get("/v1/status", &st)
	if len(st.Firewalls) != len(e.fws) {
		return false
	}
	for _, f := range st.Firewalls {
		if f.Condition != "Ready" {
			return false
		}
	}
	return true
}

func (e *env) statusOf(name string) api.FirewallStatus {
	e.t.Helper()
	var st api.StatusResponse
	e.get("/v1/status", &st)
	for _, f := range st.Firewalls {
		if f.Name == name {
			return f
		}
	}
	return api.FirewallStatus{}
}

func TestCommitsConverge(t *testing.T) {
	e := newEnv(t, 4)
	h1 := e.repo.write("first", e.fws, 80, "")
	e.start()
	eventually(t, 10*time.Second, "first commit everywhere", func() bool { return e.converged("main@sha1:" + h1) })
	eventually(t, 5*time.Second, "Ready everywhere", func() bool { return e.statusOf("fw-003").Condition == "Ready" })
	if code := e.get("/readyz", nil); code != 200 {
		t.Errorf("/readyz = %d after the first load", code)
	}
	d1 := e.ctl.Policy().Digests

	// A new commit, announced by the webhook.
	h2 := e.repo.write("open 8080", e.fws, 8080, "")
	e.hook()
	eventually(t, 10*time.Second, "second commit everywhere", func() bool { return e.converged("main@sha1:" + h2) })
	d2 := e.ctl.Policy().Digests
	if d1["fw-000"] == d2["fw-000"] || d1["fw-001"] != d2["fw-001"] {
		t.Errorf("web digest changed %v, db digest unchanged %v; want true, true", d1["fw-000"] != d2["fw-000"], d1["fw-001"] == d2["fw-001"])
	}
	if n := e.agents[1].Applies(); n != 1 {
		t.Errorf("db agent applied %d times, want 1 (its ruleset did not change)", n)
	}

	// An invalid commit: nothing reaches any firewall; status says why.
	applies := e.agents[0].Applies()
	h3 := e.repo.write("typo", e.fws, 443, "apiVersion: fwgit/v1\nkind: Rule\nmetadata:\n  name: bad\nspec:\n  global: true\n  rule: FROM any TO tag rolle = web ALLOW tcp PORT 22\n")
	e.hook()
	var rev api.RevisionInfo
	eventually(t, 10*time.Second, "the invalid revision recorded", func() bool {
		e.get("/v1/revision", &rev)
		return rev.Current == "main@sha1:"+h3
	})
	if rev.Valid || rev.LastGood != "main@sha1:"+h2 || rev.Errors == 0 || rev.Diagnostics[0].Pos.File != "extra.yaml" || rev.Diagnostics[0].Pos.Line == 0 {
		t.Errorf("/v1/revision = %+v", rev)
	}
	eventually(t, 10*time.Second, "Stalled everywhere", func() bool {
		for _, f := range e.fws {
			if s := e.statusOf(f.name); s.Condition != "Stalled" || s.Reason != "InvalidRevision" || !strings.Contains(s.Message, "extra.yaml:") {
				return false
			}
		}
		return true
	})
	if !e.converged("main@sha1:"+h2) || e.agents[0].Applies() != applies {
		t.Errorf("the invalid commit reached an agent")
	}

	// A fixing commit resumes.
	h4 := e.repo.write("fix", e.fws, 443, "")
	e.hook()
	eventually(t, 10*time.Second, "the fix everywhere", func() bool { return e.converged("main@sha1:" + h4) })
	eventually(t, 5*time.Second, "Ready again everywhere", e.allReady)

	var fw api.FirewallResponse
	if code := e.get("/v1/firewalls/fw-000", &fw); code != 200 {
		t.Fatalf("/v1/firewalls/fw-000 = %d", code)
	}
	if !strings.Contains(fw.Ruleset, "443") || len(fw.History) != 3 || fw.History[0].Revision != "main@sha1:"+h4 || fw.History[0].Result != "applied" {
		t.Errorf("firewall detail: ruleset has 443 = %v, history = %+v", strings.Contains(fw.Ruleset, "443"), fw.History)
	}

	resp, err := http.Get(e.base + "/metrics")
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
	e.agents[2].Down()
	h1 := e.repo.write("first", e.fws, 80, "")
	e.start()
	eventually(t, 10*time.Second, "the others converge", func() bool { return e.converged("main@sha1:"+h1, 2) })
	eventually(t, 5*time.Second, "Unreachable shown", func() bool {
		s := e.statusOf("fw-002")
		return s.Condition == "Unreachable" && s.Reason == "ConnectionFailed"
	})
	if err := e.agents[2].Up(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the agent converges once back", func() bool { return e.converged("main@sha1:" + h1) })
	eventually(t, 5*time.Second, "Ready", func() bool { return e.statusOf("fw-002").Condition == "Ready" })
}

func TestWrongFingerprintRefused(t *testing.T) {
	e := newEnv(t, 2)
	e.fws[1].fingerprint = e.agents[0].Fingerprint // pins another agent's certificate
	e.repo.write("first", e.fws, 80, "")
	e.start()
	eventually(t, 10*time.Second, "FingerprintMismatch", func() bool {
		s := e.statusOf("fw-001")
		return s.Condition == "Unreachable" && s.Reason == "FingerprintMismatch"
	})
	if n := e.agents[1].Requests("state") + e.agents[1].Requests("apply"); n != 0 {
		t.Errorf("the agent with the wrong certificate answered %d requests", n)
	}
	if e.agents[1].State().Digest != "" {
		t.Error("a ruleset reached the agent with the wrong certificate")
	}
}

func TestRestartKeepsStateWithoutRepush(t *testing.T) {
	e := newEnv(t, 3)
	h1 := e.repo.write("first", e.fws, 80, "")
	e.start()
	eventually(t, 10*time.Second, "converged", func() bool { return e.converged("main@sha1:" + h1) })
	eventually(t, 5*time.Second, "Ready everywhere", e.allReady)
	before := e.statusOf("fw-000")
	e.stop()
	applies := e.agents[0].Applies()

	e.start()
	eventually(t, 10*time.Second, "loaded again", func() bool { return e.converged("main@sha1:" + h1) })
	eventually(t, 5*time.Second, "state observed", func() bool { return e.agents[0].Requests("state") >= 3 })
	eventually(t, 5*time.Second, "Ready everywhere after the restart", e.allReady)
	after := e.statusOf("fw-000")
	if after.Condition != "Ready" || after.AppliedGeneration != before.AppliedGeneration || !after.LastApply.Equal(before.LastApply) {
		t.Errorf("after restart: %+v, before: %+v", after, before)
	}
	if n := e.agents[0].Applies(); n != applies {
		t.Errorf("agent applies %d -> %d across a restart: re-pushed", applies, n)
	}
	var fw api.FirewallResponse
	e.get("/v1/firewalls/fw-000", &fw)
	if len(fw.History) != 1 {
		t.Errorf("history after restart = %d entries, want 1", len(fw.History))
	}
}

func TestBearerTokenAndDirSource(t *testing.T) {
	e := newEnv(t, 1)
	dir := t.TempDir()
	e.repo.write("first", e.fws, 80, "")
	for _, f := range []string{"firewalls.yaml", "rules/web.yaml", "rules/db.yaml"} {
		b, _ := os.ReadFile(filepath.Join(e.repo.dir, f))
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte("read-token"), 0o600)
	e.cfg.Git, e.cfg.Dir, e.cfg.ReadTokenFile = nil, dir, tok
	e.start()
	if code := e.get("/v1/status", nil); code != 401 {
		t.Errorf("/v1/status without the token = %d, want 401", code)
	}
	eventually(t, 10*time.Second, "dir revision everywhere", func() bool {
		p := e.ctl.Policy()
		return p != nil && strings.HasPrefix(p.Revision, "dir@sha256:") && e.converged(p.Revision)
	})
	first := e.ctl.Policy().Revision
	b, _ := os.ReadFile(filepath.Join(dir, "rules/web.yaml"))
	os.WriteFile(filepath.Join(dir, "rules/web.yaml"), []byte(strings.Replace(string(b), "PORT 80", "PORT 81", 1)), 0o644)
	eventually(t, 10*time.Second, "the edit everywhere", func() bool {
		p := e.ctl.Policy()
		return p.Revision != first && e.converged(p.Revision)
	})
}

func TestRestartOnInvalidHeadServesLastGood(t *testing.T) {
	e := newEnv(t, 2)
	h1 := e.repo.write("first", e.fws, 80, "")
	e.start()
	eventually(t, 10*time.Second, "converged", func() bool { return e.converged("main@sha1:" + h1) })
	e.stop()
	applies := e.agents[0].Applies()
	h2 := e.repo.write("broken", e.fws, 80, "apiVersion: fwgit/v1\nkind: Rule\nmetadata:\n  name: bad\nspec:\n  global: true\n  rule: FROM any TO tag nope = x ALLOW tcp PORT 22\n")

	e.start()
	eventually(t, 10*time.Second, "Stalled on the last good revision", func() bool {
		s := e.statusOf("fw-000")
		return s.Condition == "Stalled" && s.DesiredRevision == "main@sha1:"+h1
	})
	if p := e.ctl.Policy(); p == nil || p.Revision != "main@sha1:"+h1 {
		t.Fatalf("policy after restart on an invalid head = %v, want the last good one", p)
	}
	var rev api.RevisionInfo
	e.get("/v1/revision", &rev)
	if rev.Current != "main@sha1:"+h2 || rev.Valid || rev.LastGood != "main@sha1:"+h1 {
		t.Errorf("/v1/revision = %+v", rev)
	}
	if code := e.get("/readyz", nil); code != 200 {
		t.Errorf("/readyz = %d while serving the last good revision", code)
	}
	if !e.converged("main@sha1:"+h1) || e.agents[0].Applies() != applies {
		t.Error("agents changed after a restart on an invalid head")
	}
}
