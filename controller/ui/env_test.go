package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/fwgit/fwgit/controller"
	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/config"
	"github.com/fwgit/fwgit/controller/fleet/fleettest"
	"github.com/fwgit/fwgit/controller/status"
)

// The secrets of the assembled controller. No page may show any of them.
const (
	apiKey        = "agent-api-key-9f8e7d6c5b4a39281706"
	webhookSecret = "webhook-secret-0a1b2c3d4e5f60718293"
	readToken     = "read-token-a1b2c3d4e5f6a7b8c9d0e1f2"
)

// markup a repository may hold; pages must show it as text.
const (
	evilDesc = `<script>window.__pwned=1</script><b onclick="window.__pwned=2">x</b>`
	evilTag  = `"><img src=x onerror="window.__pwned=3">`
)

// env is the closest real assembly of the console the controller package
// allows: a Git repository on disk, the controller (Git source, loader,
// reconcile loop, bbolt status store, API) with loopback HTTPS agents, and
// the console in front of the API handler as [ui.Front] mounts it.
type env struct {
	t      testing.TB
	dir    string
	repo   *git.Repository
	agents []*fleettest.Agent
	names  []string
	ctl    *controller.Controller
	store  *status.Bolt
	cfg    config.Config
	srv    *httptest.Server
	api    string
	cancel context.CancelFunc
	done   chan error
}

func newEnv(t testing.TB, n int) *env {
	t.Helper()
	e := &env{t: t, dir: filepath.Join(t.TempDir(), "policy")}
	r, err := git.PlainInitWithOptions(e.dir, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: "refs/heads/main"}})
	if err != nil {
		t.Fatal(err)
	}
	e.repo = r
	for i := range n {
		a, err := fleettest.Start(apiKey)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Close)
		e.agents = append(e.agents, a)
		e.names = append(e.names, fmt.Sprintf("fw-%03d", i))
	}
	sec := t.TempDir()
	write := func(name, v string) string {
		p := filepath.Join(sec, name)
		if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := config.Default()
	cfg.Git = &config.Git{URL: "file://" + e.dir, Branch: "main"}
	cfg.StateDir = filepath.Join(sec, "state")
	cfg.Listen.API = "127.0.0.1:0"
	cfg.PollInterval = config.Duration(time.Hour) // the webhook drives fetches
	cfg.WebhookSecretFile = write("hook", webhookSecret)
	cfg.ReadTokenFile = write("token", readToken)
	cfg.Agents.Default.APIKeyFile = write("key", apiKey)
	cfg.ConfirmTimeout = config.Duration(5 * time.Second)
	cfg.AgentTimeout = config.Duration(2 * time.Second)
	cfg.Backoff = config.Backoff{Min: config.Duration(20 * time.Millisecond), Max: config.Duration(200 * time.Millisecond)}
	cfg.ResyncInterval = config.Duration(time.Minute)
	// Links point at loopback: the browser must reach nothing else.
	cfg.RepoWebURL = "http://127.0.0.1:9/policy/blob/{commit}/{path}#L{line}"
	e.cfg = cfg
	return e
}

// commit replaces the policy with the firewalls, an HTTP rule on port and
// extra YAML (none when empty), and commits it.
func (e *env) commit(msg string, port int, extra string) string {
	e.t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: fwgit/v1\nkind: Tag\nmetadata:\n  name: role\nspec:\n  values: [web, db]\n")
	b.WriteString("---\napiVersion: fwgit/v1\nkind: Tag\nmetadata:\n  name: note\nspec:\n  description: free text\n")
	for i, a := range e.agents {
		role := "web"
		if i%2 == 1 {
			role = "db"
		}
		note := "" // the last firewall's note tries to inject markup
		if i == len(e.agents)-1 {
			note = fmt.Sprintf(", note: '%s'", strings.ReplaceAll(evilTag, "'", "''"))
		}
		fmt.Fprintf(&b, "---\napiVersion: fwgit/v1\nkind: Firewall\nmetadata:\n  name: %s\nspec:\n  addresses: [198.18.0.%d]\n  tags: {role: %s%s}\n  agent:\n    url: %s\n    fingerprint: %s\n",
			e.names[i], 10+i, role, note, a.URL, a.Fingerprint)
	}
	files := map[string]string{
		"firewalls.yaml": b.String(),
		"rules/web.yaml": fmt.Sprintf("apiVersion: fwgit/v1\nkind: Rule\nmetadata:\n  name: http\nspec:\n  global: true\n  description: '%s'\n  rule: FROM any TO tag role = web ALLOW tcp PORT %d\n",
			strings.ReplaceAll(evilDesc, "'", "''"), port),
		"rules/db.yaml": "apiVersion: fwgit/v1\nkind: Rule\nmetadata:\n  name: pg\nspec:\n  global: true\n  rule: FROM tag role = web TO tag role = db ALLOW tcp PORT 5432\n",
		"extra.yaml":    extra,
	}
	wt, err := e.repo.Worktree()
	if err != nil {
		e.t.Fatal(err)
	}
	for name, content := range files {
		full := filepath.Join(e.dir, name)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if content == "" {
			if err := os.Remove(full); err == nil {
				wt.Remove(name)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			e.t.Fatal(err)
		}
		if _, err := wt.Add(name); err != nil {
			e.t.Fatal(err)
		}
	}
	h, err := wt.Commit(msg, &git.CommitOptions{All: true, Author: &object.Signature{Name: "Ada Lovelace", Email: "ada@example.com", When: time.Now()}})
	if err != nil {
		e.t.Fatal(err)
	}
	return "main@sha1:" + h.String()
}

type tlog struct{ t testing.TB }

func (w tlog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// start runs the controller and serves the console in front of its API
// handler on a loopback test server.
func (e *env) start(refresh time.Duration) {
	e.t.Helper()
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(tlog{e.t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	st, err := status.Open(filepath.Join(e.t.TempDir(), "status.db"))
	if err != nil {
		e.t.Fatal(err)
	}
	e.store = st
	// The controller serves the console in front of its API, as in
	// production; the test server only makes it reachable on loopback.
	ctl, err := controller.New(e.cfg, controller.Deps{Log: log, Store: st, UIRefresh: refresh})
	if err != nil {
		e.t.Fatal(err)
	}
	e.ctl = ctl
	e.srv = httptest.NewServer(ctl.Handler())

	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- ctl.Run(ctx) }()
	actx, acancel := context.WithTimeout(ctx, 10*time.Second)
	defer acancel()
	addr, err := ctl.APIAddr(actx)
	if err != nil {
		e.t.Fatal(err)
	}
	e.api = "http://" + addr
	e.t.Cleanup(e.stop)
}

func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.srv.Close()
	e.cancel()
	e.cancel = nil
	for range 1 {
		if err := <-e.done; err != nil {
			e.t.Errorf("Run() = %v", err)
		}
	}
	e.store.Close()
}

// hook announces a push through the webhook.
func (e *env) hook() {
	e.t.Helper()
	body := []byte(`{"ref":"refs/heads/main"}`)
	req, _ := http.NewRequest("POST", e.api+"/hooks/git", strings.NewReader(string(body)))
	req.Header.Set(api.HeaderSignature, api.Sign([]byte(webhookSecret), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		e.t.Fatalf("webhook = %d, want 202", resp.StatusCode)
	}
}

func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// inSync reports whether every firewall is Ready and InSync on rev.
func (e *env) inSync(rev string) bool {
	pol := e.ctl.Policy()
	if pol == nil || pol.Revision != rev {
		return false
	}
	for _, n := range e.names {
		fw, err := e.store.Get(n)
		if err != nil || !fw.IsTrue(status.InSync) || !fw.IsTrue(status.Ready) || fw.AppliedDigest != pol.Digests[n] {
			return false
		}
	}
	return true
}

// get fetches path from the console server with the bearer token.
func (e *env) get(path string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+readToken)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestNoSecretOnAnyPage runs the real controller with an agent API key, a
// webhook secret and a read token configured, renders every page of the
// console and the tracer's JSON, and checks that no secret appears.
func TestNoSecretOnAnyPage(t *testing.T) {
	e := newEnv(t, 2)
	rev := e.commit("first", 80, "")
	e.start(-1)
	eventually(t, 15*time.Second, "every firewall in sync", func() bool { return e.inSync(rev) })
	pol := e.ctl.Policy()
	paths := []string{"/", "/ui/", "/ui/?cond=InSync&sort=applied", "/ui/trace", "/ui/pending", "/ui/live", "/ui/login",
		"/ui/trace?firewall=fw-001&from=198.18.0.10&proto=tcp&port=5432", "/v1/trace?firewall=fw-001&from=198.18.0.10&proto=tcp&port=5432"}
	for _, n := range e.names {
		paths = append(paths, "/ui/firewalls/"+n)
	}
	for _, r := range pol.Inventory.Rules {
		paths = append(paths, "/ui/rules/"+r.UUID)
	}
	for _, p := range paths {
		code, body := e.get(p)
		if code >= 400 {
			t.Errorf("GET %s = %d\n%s", p, code, body)
		}
		for _, s := range []string{apiKey, webhookSecret, readToken} {
			if strings.Contains(body, s) {
				t.Errorf("GET %s shows a secret", p)
			}
		}
	}
	// The tracer's JSON through the API's mount, with the API's token.
	req, _ := http.NewRequest("GET", e.api+"/v1/trace?firewall=fw-001&from=198.18.0.10&proto=tcp&port=5432", nil)
	req.Header.Set("Authorization", "Bearer "+readToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		Verdict string
		Rule    struct{ Name, File string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.Verdict != "accept" || tr.Rule.Name != "pg" || tr.Rule.File != "rules/db.yaml" {
		t.Errorf("/v1/trace = %+v (%v), want accept by pg in rules/db.yaml", tr, err)
	}
}
