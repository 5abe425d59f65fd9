package controllertest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fwgit/fwgit/controller"
	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/config"
	"github.com/fwgit/fwgit/controller/fleet/fleettest"
)

// Env is a controller on a [Repo] with loopback HTTPS agents. Tests adjust
// Config and Deps before [Env.Start]; the policy they commit names the
// firewalls Names[i], each served by Agents[i].
type Env struct {
	T      testing.TB
	Repo   *Repo
	Agents []*fleettest.Agent
	// Names are the firewall names, fw-000, fw-001, …
	Names []string
	// Config is the controller's configuration: the Git source on Repo,
	// the API on a loopback port, fetches driven by the webhook, short
	// timeouts and backoff.
	Config config.Config
	// Deps are handed to [controller.New] by every Start; a nil Log logs
	// to T at debug level when testing verbosely.
	Deps controller.Deps
	// WebhookSecret signs [Env.Hook]'s requests.
	WebhookSecret string

	// Ctl is the running controller and API its API's base URL, set by
	// Start.
	Ctl *controller.Controller
	API string

	secrets string
	cancel  context.CancelFunc
	done    chan error
}

// New starts n agents that accept apiKey and configures a controller for
// them and a new Repo, with the agent key and webhook secret in files.
func New(t testing.TB, n int, apiKey, webhookSecret string) *Env {
	t.Helper()
	e := &Env{T: t, Repo: NewRepo(t), WebhookSecret: webhookSecret, secrets: t.TempDir()}
	for i := range n {
		a, err := fleettest.Start(apiKey)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Close)
		e.Agents = append(e.Agents, a)
		e.Names = append(e.Names, fmt.Sprintf("fw-%03d", i))
	}
	cfg := config.Default()
	cfg.Git = &config.Git{URL: "file://" + e.Repo.Dir, Branch: "main"}
	cfg.StateDir = filepath.Join(e.secrets, "state")
	cfg.Listen.API = "127.0.0.1:0"
	cfg.PollInterval = config.Duration(time.Hour) // the webhook drives fetches
	cfg.WebhookSecretFile = e.SecretFile("hook", webhookSecret)
	cfg.Agents.Default.APIKeyFile = e.SecretFile("agent-key", apiKey)
	cfg.ConfirmTimeout = config.Duration(5 * time.Second)
	cfg.AgentTimeout = config.Duration(2 * time.Second)
	cfg.Backoff = config.Backoff{Min: config.Duration(20 * time.Millisecond), Max: config.Duration(200 * time.Millisecond)}
	cfg.ResyncInterval = config.Duration(time.Minute)
	e.Config = cfg
	return e
}

// SecretFile writes the secret v to a file called name in a private
// directory and returns its path, for a Config field.
func (e *Env) SecretFile(name, v string) string {
	e.T.Helper()
	p := filepath.Join(e.secrets, name)
	if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
		e.T.Fatal(err)
	}
	return p
}

// Logger logs to t at level when testing verbosely, and nowhere otherwise.
func Logger(t testing.TB, level slog.Level) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: level}))
}

type tlog struct{ t testing.TB }

func (w tlog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// Start builds the controller from Config and Deps, runs it until
// [Env.Stop] or the end of the test, and waits for its API listener.
func (e *Env) Start() {
	e.T.Helper()
	deps := e.Deps
	if deps.Log == nil {
		deps.Log = Logger(e.T, slog.LevelDebug)
	}
	ctl, err := controller.New(e.Config, deps)
	if err != nil {
		e.T.Fatal(err)
	}
	e.Ctl = ctl
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- ctl.Run(ctx) }()
	actx, acancel := context.WithTimeout(ctx, 10*time.Second)
	defer acancel()
	addr, err := ctl.APIAddr(actx)
	if err != nil {
		e.T.Fatal(err)
	}
	e.API = "http://" + addr
	e.T.Cleanup(e.Stop)
}

// Stop stops the controller and checks that Run returned no error. It does
// nothing when the controller is not running.
func (e *Env) Stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	e.cancel = nil
	if err := <-e.done; err != nil {
		e.T.Errorf("Run() = %v", err)
	}
}

// Hook announces a push to main through the signed webhook.
func (e *Env) Hook() {
	e.T.Helper()
	body := []byte(`{"ref":"refs/heads/main"}`)
	req, _ := http.NewRequest("POST", e.API+"/hooks/git", strings.NewReader(string(body)))
	req.Header.Set(api.HeaderSignature, api.Sign([]byte(e.WebhookSecret), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		e.T.Fatalf("webhook = %d, want 202", resp.StatusCode)
	}
}

// GetJSON fetches path from the API, decodes the body into v unless v is
// nil, and returns the status code.
func (e *Env) GetJSON(path string, v any) int {
	e.T.Helper()
	resp, err := http.Get(e.API + path)
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			e.T.Fatalf("GET %s: %v: %s", path, err, b)
		}
	}
	return resp.StatusCode
}

// Eventually polls cond until it holds, failing t after timeout.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Converged reports whether every agent but those at the indexes skip runs
// the desired ruleset of the current good policy at revision rev, with no
// commit-confirm pending.
func (e *Env) Converged(rev string, skip ...int) bool {
	pol := e.Ctl.Policy()
	if pol == nil || pol.Revision != rev {
		return false
	}
	for i, a := range e.Agents {
		if slices.Contains(skip, i) {
			continue
		}
		st := a.State()
		if st.Digest != pol.Digests[e.Names[i]] || st.PendingConfirm != nil {
			return false
		}
	}
	return true
}

// AllReady reports whether the API's status of every firewall says Ready:
// the agents can run the new digest a moment before the controller
// records it.
func (e *Env) AllReady() bool {
	var st api.StatusResponse
	e.GetJSON("/v1/status", &st)
	if len(st.Firewalls) != len(e.Names) {
		return false
	}
	for _, f := range st.Firewalls {
		if f.Condition != "Ready" {
			return false
		}
	}
	return true
}

// StatusOf returns the API's status of the firewall called name, or the
// zero status when there is none.
func (e *Env) StatusOf(name string) api.FirewallStatus {
	e.T.Helper()
	var st api.StatusResponse
	e.GetJSON("/v1/status", &st)
	for _, f := range st.Firewalls {
		if f.Name == name {
			return f
		}
	}
	return api.FirewallStatus{}
}
