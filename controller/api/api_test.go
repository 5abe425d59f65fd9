package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fwgit/fwgit/controller/config"
	"github.com/fwgit/fwgit/controller/status"
	"github.com/fwgit/fwgit/internal/diag"
	"github.com/fwgit/fwgit/internal/nft"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type staticView struct{ p *Policy }

func (v staticView) Policy() *Policy          { return v.p }
func (v staticView) Changed() <-chan struct{} { return make(chan struct{}) }

type fixture struct {
	srv      *httptest.Server
	triggers atomic.Int32
	ready    atomic.Bool
}

func newFixture(t *testing.T, token string, mounts ...Mount) *fixture {
	t.Helper()
	st := status.NewFakeStore()
	web := status.Firewall{Name: "web-1", Mode: status.ModePush, DesiredDigest: "sha256:aa", AppliedDigest: "sha256:aa"}
	web.SetCondition(status.Condition{Type: status.Ready, Status: true, Reason: status.ReasonApplied}, t0)
	db := status.Firewall{Name: "db-1", Mode: status.ModePush, DesiredDigest: "sha256:bb"}
	db.SetCondition(status.Condition{Type: status.Ready, Status: false, Reason: status.ReasonConnectionFailed}, t0)
	db.SetCondition(status.Condition{Type: status.Unreachable, Status: true, Reason: status.ReasonConnectionFailed, Message: "connection refused"}, t0)
	st.Put(web, &status.HistoryEntry{Time: t0, Digest: "sha256:aa", Generation: 1, Result: status.ResultApplied})
	st.Put(db, nil)
	st.SetRevision(status.Revision{Current: "main@sha1:bad", LastGood: "main@sha1:good",
		Diagnostics: diag.List{{Pos: diag.Pos{File: "rules/a.yaml", Line: 3, Col: 7}, Code: "unknown-tag", Msg: `unknown tag "dbb"`}}})
	rs := &nft.Ruleset{Version: nft.IRVersion, Table: nft.DefaultTable, Chains: []nft.Chain{{Name: "input", Hook: nft.HookInput, Policy: nft.Drop}}}
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "fwgit_test_total", Help: "x"})
	reg.MustRegister(c)
	c.Inc()
	f := &fixture{}
	h := Handler(Options{
		Store:         st,
		View:          staticView{&Policy{Revision: "main@sha1:good", Rulesets: map[string]*nft.Ruleset{"web-1": rs, "new-1": rs}}},
		Gatherer:      reg,
		Trigger:       func() { f.triggers.Add(1) },
		WebhookSecret: config.NewSecret("hook-secret"),
		ReadToken:     config.NewSecret(token),
		Ready:         f.ready.Load,
		Mounts:        mounts,
	})
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) do(t *testing.T, method, path, token string, body string, hdr map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestStatusEndpoints(t *testing.T) {
	f := newFixture(t, "")
	code, body := f.do(t, "GET", "/v1/status", "", "", nil)
	if code != 200 {
		t.Fatalf("GET /v1/status = %d %s", code, body)
	}
	var st StatusResponse
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	type row struct{ Name, Condition, Reason, Message string }
	var got []row
	for _, fw := range st.Firewalls {
		got = append(got, row{fw.Name, fw.Condition, fw.Reason, fw.Message})
	}
	want := []row{{"db-1", "Unreachable", "ConnectionFailed", "connection refused"}, {"web-1", "Ready", "Applied", ""}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("/v1/status firewalls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"Ready": 1, "Unreachable": 1}, st.Counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if st.Revision.LastGood != "main@sha1:good" || st.Revision.Errors != 1 {
		t.Errorf("revision = %+v", st.Revision)
	}

	code, body = f.do(t, "GET", "/v1/firewalls/web-1", "", "", nil)
	var fw FirewallResponse
	if err := json.Unmarshal([]byte(body), &fw); err != nil || code != 200 {
		t.Fatalf("GET /v1/firewalls/web-1 = %d %s", code, body)
	}
	if !strings.Contains(fw.Ruleset, "table inet fwgit") || len(fw.History) != 1 || fw.History[0].Generation != 1 {
		t.Errorf("firewall detail = ruleset %q, history %+v", fw.Ruleset, fw.History)
	}
	// In the policy but not reconciled yet: shown with its ruleset.
	if code, _ := f.do(t, "GET", "/v1/firewalls/new-1", "", "", nil); code != 200 {
		t.Errorf("GET /v1/firewalls/new-1 = %d, want 200", code)
	}
	if code, body := f.do(t, "GET", "/v1/firewalls/nope", "", "", nil); code != 404 || !strings.Contains(body, "ResourceNotFound") {
		t.Errorf("GET /v1/firewalls/nope = %d %s, want 404", code, body)
	}

	code, body = f.do(t, "GET", "/v1/revision", "", "", nil)
	if code != 200 || !strings.Contains(body, `"file":"rules/a.yaml"`) || !strings.Contains(body, `"line":3`) {
		t.Errorf("GET /v1/revision = %d %s", code, body)
	}
	if code, _ := f.do(t, "POST", "/v1/status", "", "{}", nil); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /v1/status = %d, want 405", code)
	}
	if code, body := f.do(t, "GET", "/metrics", "", "", nil); code != 200 || !strings.Contains(body, "fwgit_test_total 1") {
		t.Errorf("GET /metrics = %d %s", code, body)
	}
}

func TestProbes(t *testing.T) {
	f := newFixture(t, "tok")
	if code, _ := f.do(t, "GET", "/healthz", "", "", nil); code != 200 {
		t.Errorf("/healthz = %d, want 200", code)
	}
	if code, _ := f.do(t, "GET", "/readyz", "", "", nil); code != 503 {
		t.Errorf("/readyz before the first load = %d, want 503", code)
	}
	f.ready.Store(true)
	if code, _ := f.do(t, "GET", "/readyz", "", "", nil); code != 200 {
		t.Errorf("/readyz after the first load = %d, want 200", code)
	}
}

func TestWebhook(t *testing.T) {
	body := `{"ref":"refs/heads/main"}`
	tests := []struct {
		name string
		sig  string
		want int
	}{
		{"valid", Sign([]byte("hook-secret"), []byte(body)), http.StatusAccepted},
		{"missing", "", http.StatusUnauthorized},
		{"wrong secret", Sign([]byte("guess"), []byte(body)), http.StatusUnauthorized},
		{"other body", Sign([]byte("hook-secret"), []byte(body+" ")), http.StatusUnauthorized},
		{"sha1 form", "sha1=" + strings.TrimPrefix(Sign([]byte("hook-secret"), []byte(body)), "sha256="), http.StatusUnauthorized},
		{"not hex", "sha256=zz", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "read-token") // the webhook needs no bearer token
			hdr := map[string]string{}
			if tc.sig != "" {
				hdr[HeaderSignature] = tc.sig
			}
			code, resp := f.do(t, "POST", "/hooks/git", "", body, hdr)
			if code != tc.want {
				t.Fatalf("POST /hooks/git = %d %s, want %d", code, resp, tc.want)
			}
			wantTriggers := int32(0)
			if tc.want == http.StatusAccepted {
				wantTriggers = 1
			}
			if n := f.triggers.Load(); n != wantTriggers {
				t.Errorf("triggers = %d, want %d", n, wantTriggers)
			}
		})
	}
	t.Run("no secret configured", func(t *testing.T) {
		h := Handler(Options{Store: status.NewFakeStore(), Trigger: func() { t.Error("triggered without a secret") }})
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/hooks/git", strings.NewReader(body))
		req.Header.Set(HeaderSignature, Sign(nil, []byte(body)))
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("POST /hooks/git without a secret = %d, want 401", rec.Code)
		}
	})
}

func TestBearerToken(t *testing.T) {
	var seen atomic.Pointer[string]
	mount := func(mux *http.ServeMux, v PolicyView) {
		mux.HandleFunc("GET /rules", func(w http.ResponseWriter, r *http.Request) {
			rev := v.Policy().Revision
			seen.Store(&rev)
			w.Write([]byte("[]"))
		})
	}
	f := newFixture(t, "s3cret", mount)
	tests := []struct {
		path, token string
		want        int
	}{
		{"/v1/status", "", 401},
		{"/v1/status", "wrong", 401},
		{"/v1/status", "s3cret", 200},
		{"/metrics", "", 401},
		{"/rules", "", 401},
		{"/rules", "s3cret", 200},
		{"/healthz", "", 200},
	}
	for _, tc := range tests {
		t.Run(tc.path+" "+tc.token, func(t *testing.T) {
			code, body := f.do(t, "GET", tc.path, tc.token, "", nil)
			if code != tc.want {
				t.Errorf("GET %s with token %q = %d %s, want %d", tc.path, tc.token, code, body, tc.want)
			}
		})
	}
	if p := seen.Load(); p == nil || *p != "main@sha1:good" {
		t.Errorf("mounted handler did not see the policy view")
	}
}
