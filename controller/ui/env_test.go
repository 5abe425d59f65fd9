package ui_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fwgit/fwgit/controller"
	"github.com/fwgit/fwgit/controller/controllertest"
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
	*controllertest.Env
	store *status.Bolt
	srv   *httptest.Server
}

func newEnv(t testing.TB, n int) *env {
	t.Helper()
	e := &env{Env: controllertest.New(t, n, apiKey, webhookSecret)}
	e.Repo.Author = "Ada Lovelace"
	e.Config.ReadTokenFile = e.SecretFile("token", readToken)
	// Links point at loopback: the browser must reach nothing else.
	e.Config.RepoWebURL = "http://127.0.0.1:9/policy/blob/{commit}/{path}#L{line}"
	return e
}

// commit replaces the policy with the firewalls, an HTTP rule on port and
// extra YAML (none when empty), and commits it.
func (e *env) commit(msg string, port int, extra string) string {
	e.T.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: fwgit/v1\nkind: Tag\nmetadata:\n  name: role\nspec:\n  values: [web, db]\n")
	b.WriteString("---\napiVersion: fwgit/v1\nkind: Tag\nmetadata:\n  name: note\nspec:\n  description: free text\n")
	for i, a := range e.Agents {
		role := "web"
		if i%2 == 1 {
			role = "db"
		}
		note := "" // the last firewall's note tries to inject markup
		if i == len(e.Agents)-1 {
			note = fmt.Sprintf(", note: '%s'", strings.ReplaceAll(evilTag, "'", "''"))
		}
		fmt.Fprintf(&b, "---\napiVersion: fwgit/v1\nkind: Firewall\nmetadata:\n  name: %s\nspec:\n  addresses: [198.18.0.%d]\n  tags: {role: %s%s}\n  agent:\n    url: %s\n    fingerprint: %s\n",
			e.Names[i], 10+i, role, note, a.URL, a.Fingerprint)
	}
	return "main@sha1:" + e.Repo.Commit(msg, map[string]string{
		"firewalls.yaml": b.String(),
		"rules/web.yaml": fmt.Sprintf("apiVersion: fwgit/v1\nkind: Rule\nmetadata:\n  name: http\nspec:\n  global: true\n  description: '%s'\n  rule: FROM any TO tag role = web ALLOW tcp PORT %d\n",
			strings.ReplaceAll(evilDesc, "'", "''"), port),
		"rules/db.yaml": "apiVersion: fwgit/v1\nkind: Rule\nmetadata:\n  name: pg\nspec:\n  global: true\n  rule: FROM tag role = web TO tag role = db ALLOW tcp PORT 5432\n",
		"extra.yaml":    extra,
	})
}

// start runs the controller with a bbolt status store and serves the
// console in front of its API handler on a loopback test server. At the
// end of the test the server closes first, then the controller stops, then
// the store closes.
func (e *env) start(refresh time.Duration) {
	e.T.Helper()
	st, err := status.Open(filepath.Join(e.T.TempDir(), "status.db"))
	if err != nil {
		e.T.Fatal(err)
	}
	e.store = st
	e.T.Cleanup(func() { st.Close() })
	// The controller serves the console in front of its API, as in
	// production; the test server only makes it reachable on loopback.
	e.Deps = controller.Deps{Log: controllertest.Logger(e.T, slog.LevelInfo), Store: st, UIRefresh: refresh}
	e.Start()
	e.srv = httptest.NewServer(e.Ctl.Handler())
	e.T.Cleanup(e.srv.Close)
}

// inSync reports whether every firewall is Ready and InSync on rev.
func (e *env) inSync(rev string) bool {
	pol := e.Ctl.Policy()
	if pol == nil || pol.Revision != rev {
		return false
	}
	for _, n := range e.Names {
		fw, err := e.store.Get(n)
		if err != nil || !fw.IsTrue(status.InSync) || !fw.IsTrue(status.Ready) || fw.AppliedDigest != pol.Digests[n] {
			return false
		}
	}
	return true
}

// get fetches path from the console server with the bearer token.
func (e *env) get(path string) (int, string) {
	e.T.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+readToken)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.T.Fatal(err)
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
	controllertest.Eventually(t, 15*time.Second, "every firewall in sync", func() bool { return e.inSync(rev) })
	pol := e.Ctl.Policy()
	paths := []string{"/", "/ui/", "/ui/?cond=InSync&sort=applied", "/ui/trace", "/ui/pending", "/ui/live", "/ui/login",
		"/ui/trace?firewall=fw-001&from=198.18.0.10&proto=tcp&port=5432", "/v1/trace?firewall=fw-001&from=198.18.0.10&proto=tcp&port=5432"}
	for _, n := range e.Names {
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
	req, _ := http.NewRequest("GET", e.API+"/v1/trace?firewall=fw-001&from=198.18.0.10&proto=tcp&port=5432", nil)
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
