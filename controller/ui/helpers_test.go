package ui

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/compile"
	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/controller/source"
	"github.com/fwgit/fwgit/controller/status"
	"github.com/fwgit/fwgit/schema/load"
)

// testNow is the clock of every unit test.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	ownerA = "8a7b6c5d-1111-4222-8333-944455556666"
	// A tag value and a description that try to break out of HTML.
	evilTag  = `"><img src=x onerror=alert(1)>`
	evilDesc = `<script>alert("desc")</script><b onclick="x()">bold</b>`
)

// fixture is a small repository: a web and a db firewall of one owner, an
// ownerless bastion, and rules that exercise every decider.
var fixture = map[string]string{
	"tags.yaml": `apiVersion: fwgit/v1
kind: Tag
metadata:
  name: role
spec:
  values: [web, db, bastion]
---
apiVersion: fwgit/v1
kind: Tag
metadata:
  name: note
spec:
  description: free text
`,
	"firewalls.yaml": `apiVersion: fwgit/v1
kind: Firewall
metadata:
  name: web-1
spec:
  owner: ` + ownerA + `
  addresses: [198.18.0.10, "fd00::10"]
  tags: {role: web, note: '` + strings.ReplaceAll(evilTag, "'", "''") + `'}
  agent: {url: "https://198.18.0.10:33033", fingerprint: "sha256:` + strings.Repeat("ab", 32) + `"}
---
apiVersion: fwgit/v1
kind: Firewall
metadata:
  name: db-1
spec:
  owner: ` + ownerA + `
  addresses: [198.18.0.20]
  tags: {role: db}
  agent: {url: "https://198.18.0.20:33033"}
---
apiVersion: fwgit/v1
kind: Firewall
metadata:
  name: bastion
spec:
  addresses: [198.18.0.5]
  tags: {role: bastion}
  agent: {mode: pull}
`,
	"rules/web.yaml": `apiVersion: fwgit/v1
kind: Rule
metadata:
  name: http-in
spec:
  global: true
  description: '` + strings.ReplaceAll(evilDesc, "'", "''") + `'
  rule: FROM any TO tag role = web ALLOW tcp PORT 80
`,
	"rules/db.yaml": `apiVersion: fwgit/v1
kind: Rule
metadata:
  name: pg
spec:
  owner: ` + ownerA + `
  log: true
  rule: FROM tag role = web TO tag role = db ALLOW tcp PORT 5432
`,
}

// policyOf loads, validates and compiles files as the controller does.
func policyOf(t testing.TB, files map[string]string, rev string) *api.Policy {
	t.Helper()
	m := fstest.MapFS{}
	for k, v := range files {
		m[k] = &fstest.MapFile{Data: []byte(v)}
	}
	return policyFS(t, m, rev)
}

func policyFS(t testing.TB, fsys fs.FS, rev string) *api.Policy {
	t.Helper()
	repo := load.Load(fsys)
	inv, diags := model.Build(repo)
	all := append(repo.Diags, diags...)
	if all.HasErrors() || inv == nil {
		var b strings.Builder
		all.WriteText(&b)
		t.Fatalf("fixture does not validate:\n%s", b.String())
	}
	rs := compile.All(inv)
	dg := make(map[string]string, len(rs))
	for n, r := range rs {
		dg[n] = r.Digest()
	}
	hash := strings.TrimPrefix(rev, "main@sha1:")
	return &api.Policy{Revision: rev, Commit: source.Commit{Hash: hash, Branch: "main", Subject: "test"},
		FS: fsys, Inventory: inv, Rulesets: rs, Digests: dg, Warnings: all}
}

// fixedPolicy is a PolicyReader over one policy.
type fixedPolicy struct{ p *api.Policy }

func (f fixedPolicy) Policy() *api.Policy { return f.p }

const rev1 = "main@sha1:1111111111111111111111111111111111111111"
const rev2 = "main@sha1:2222222222222222222222222222222222222222"

// syncedStore records every firewall of pol as Ready and InSync on it.
func syncedStore(t testing.TB, pol *api.Policy) *status.FakeStore {
	t.Helper()
	st := status.NewFakeStore()
	for _, f := range pol.Inventory.Firewalls {
		fw := status.Firewall{Name: f.Name, Mode: modeOf(f), DesiredRevision: pol.Revision, DesiredDigest: pol.Digests[f.Name],
			AppliedDigest: pol.Digests[f.Name], AppliedRevision: pol.Revision, AppliedGeneration: 1, Generation: 1,
			LastApply: testNow.Add(-5 * time.Minute)}
		fw.SetCondition(status.Condition{Type: status.Ready, Status: true, Reason: status.ReasonUpToDate}, testNow.Add(-5*time.Minute))
		fw.SetCondition(status.Condition{Type: status.InSync, Status: true, Reason: status.ReasonUpToDate}, testNow.Add(-5*time.Minute))
		h := &status.HistoryEntry{Time: testNow.Add(-5 * time.Minute), Revision: pol.Revision, Digest: pol.Digests[f.Name],
			Generation: 1, Result: status.ResultApplied, Duration: 42 * time.Millisecond}
		if err := st.Put(fw, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetRevision(status.Revision{Current: pol.Revision, Valid: true, LastGood: pol.Revision,
		CurrentCommit:  status.Commit{Hash: pol.Commit.Hash, Subject: "first <commit>", Author: "Ada", Time: testNow.Add(-time.Hour)},
		LastGoodCommit: status.Commit{Hash: pol.Commit.Hash, Subject: "first <commit>", Author: "Ada", Time: testNow.Add(-time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	return st
}

// testConsole builds a console over pol and a store where it is applied.
func testConsole(t testing.TB, pol *api.Policy, mod func(*Deps)) (http.Handler, *status.FakeStore) {
	t.Helper()
	st := syncedStore(t, pol)
	d := Deps{Policy: fixedPolicy{pol}, Status: st, Now: func() time.Time { return testNow },
		RepoWebURL: "https://git.example.com/net/policy/blob/{commit}/{path}#L{line}"}
	if mod != nil {
		mod(&d)
	}
	return New(d), st
}

// get serves one request and returns the status, headers and body.
func get(t testing.TB, h http.Handler, target string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req := httptest.NewRequest("GET", target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, rec.Result().Header, string(b)
}

func mustContain(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

func mustNotContain(t *testing.T, what, body string, bad ...string) {
	t.Helper()
	for _, w := range bad {
		if strings.Contains(body, w) {
			t.Errorf("%s contains %q", what, w)
		}
	}
}

func ruleUUID(t testing.TB, pol *api.Policy, name string) string {
	t.Helper()
	for _, r := range pol.Inventory.Rules {
		if r.Name == name {
			return r.UUID
		}
	}
	t.Fatalf("no rule %s", name)
	return ""
}
