package ui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/config"
	"github.com/fwgit/fwgit/controller/status"
	"github.com/fwgit/fwgit/internal/diag"
)

func TestPages(t *testing.T) {
	pol := policyOf(t, fixture, rev1)
	h, _ := testConsole(t, pol, nil)
	pg, http80 := ruleUUID(t, pol, "pg"), ruleUUID(t, pol, "http-in")
	for _, tc := range []struct {
		name   string
		path   string
		code   int
		want   []string
		reject []string
	}{
		{"root redirects", "/", http.StatusFound, nil, nil},
		{"overview", "/ui/", 200, []string{
			`<a href="/ui/firewalls/web-1">web-1</a>`, `<a href="/ui/firewalls/bastion">bastion</a>`,
			"Showing 1–3 of 3", `<span class="n">3</span> Ready`, `<span class="n">3</span> InSync`, `<span class="n">0</span> Stalled`,
			"main@sha1:111111111111", "first &lt;commit&gt;", "by Ada", "1h ago", "5m ago", ">pull<", ">push<", "role=db",
			`data-live="/ui/live"`}, []string{"Refused"}},
		{"firewall", "/ui/firewalls/db-1", 200, []string{
			"198.18.0.20", "role=db", "push to <code>https://198.18.0.20:33033</code>", "not pinned in the manifest",
			// The rule that names it, with canonical text and file:line.
			`<a href="/ui/rules/` + pg + `">pg</a>`, `FROM tag &#34;role&#34; = &#34;web&#34; TO tag &#34;role&#34; = &#34;db&#34; ALLOW tcp PORT 5432`,
			`href="https://git.example.com/net/policy/blob/1111111111111111111111111111111111111111/rules/db.yaml#L2">rules/db.yaml:2:1</a>`,
			// The ruleset, its rule comment linked to the Rule page.
			"table inet fwgit {", `accept comment &#34;<a href="/ui/rules/` + pg + `">rule:` + pg + `</a>&#34;`,
			// The history.
			"applied", "42ms", "InSync"}, nil},
		{"pull firewall", "/ui/firewalls/bastion", 200, []string{"pull mode", "none (receives global rules only)"}, nil},
		{"unknown firewall", "/ui/firewalls/nope", 404, []string{"neither in the current good revision nor in status"}, nil},
		{"rule", "/ui/rules/" + pg, 200, []string{
			"FROM tag &#34;role&#34; = &#34;web&#34; TO tag &#34;role&#34; = &#34;db&#34; ALLOW tcp PORT 5432",
			"owner <code>" + ownerA + "</code>", "Log</dt><dd>yes", `<a href="/ui/firewalls/db-1">db-1</a>`,
			"rules/db.yaml:2:1", `<a href="/ui/firewalls/web-1">web-1</a>`}, []string{`<a href="/ui/firewalls/bastion">`}},
		{"global rule with warning", "/ui/rules/" + http80, 200, []string{
			"global: every firewall", `<a href="/ui/firewalls/web-1">web-1</a>`, "open-to-any", "opens tcp"}, nil},
		{"unknown rule", "/ui/rules/00000000-0000-4000-8000-000000000000", 404, nil, nil},
		{"tracer form", "/ui/trace", 200, []string{`<option value="tcp" selected>`, `<option value="db-1">`}, []string{"Verdict"}},
		{"tracer accept by rule", "/ui/trace?firewall=db-1&from=198.18.0.10&proto=tcp&port=5432", 200, []string{
			`id="verdict">accept<`, `<a href="/ui/rules/` + pg + `">pg</a> at`, "rules/db.yaml:2:1",
			"tcp dport 5432", "- {firewall: db-1, from: 198.18.0.10, proto: tcp, port: 5432, expect: accept}"}, nil},
		{"tracer default drop", "/ui/trace?firewall=db-1&from=203.0.113.9&proto=tcp&port=5432", 200, []string{
			`id="verdict">drop<`, "default policy of the input chain", "none matched"}, nil},
		{"tracer builtin", "/ui/trace?firewall=web-1&direction=out&to=203.0.113.9&proto=udp&port=53", 200, []string{
			`id="verdict">accept<`, "direction: out"}, nil},
		{"tracer bad query", "/ui/trace?firewall=db-1&proto=tcp&port=x", 400, []string{`port &#34;x&#34; is not a number`}, nil},
		{"tracer unknown firewall", "/ui/trace?firewall=zz&proto=tcp&port=1", 400, []string{`&#34;zz&#34; is not in revision`}, nil},
		{"pending, nothing", "/ui/pending", 200, []string{"Nothing is pending"}, nil},
		{"unknown page", "/ui/nope", 404, []string{"no such page"}, nil},
		{"stylesheet", "/ui/static/style.css", 200, []string{".cond-Ready"}, nil},
		{"script", "/ui/static/live.js", 200, []string{"data-stamp"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := get(t, h, tc.path)
			if code != tc.code {
				t.Fatalf("GET %s = %d, want %d\n%s", tc.path, code, tc.code, body)
			}
			mustContain(t, tc.path, body, tc.want...)
			mustNotContain(t, tc.path, body, tc.reject...)
		})
	}
}

// TestEscaping commits a description and a tag value that try to inject
// markup and proves every page shows them as text.
func TestEscaping(t *testing.T) {
	pol := policyOf(t, fixture, rev1)
	h, st := testConsole(t, pol, nil)
	// A refused commit whose diagnostic and subject quote markup too.
	if err := st.SetRevision(status.Revision{Current: rev2, Valid: false, LastGood: rev1,
		CurrentCommit: status.Commit{Hash: strings.TrimPrefix(rev2, "main@sha1:"), Subject: `<script>alert("subject")</script>`},
		Diagnostics:   diag.List{{Pos: diag.Pos{File: "rules/x.yaml", Line: 3, Col: 9}, Severity: diag.Error, Code: "x", Msg: `unknown tag "<img src=y onerror=z>"`}},
	}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/ui/", "/ui/?tag=" + url.QueryEscape("note="+evilTag), "/ui/firewalls/web-1",
		"/ui/rules/" + ruleUUID(t, pol, "http-in"), "/ui/trace?firewall=" + url.QueryEscape(evilTag) + "&proto=tcp&port=1", "/ui/pending"} {
		t.Run(path, func(t *testing.T) {
			_, _, body := get(t, h, path)
			mustNotContain(t, path, body, "<script>alert", "<img src=", "<b onclick", `onerror=alert(1)>`, "<img src=y")
			// Every <script> is the nonce'd asset.
			for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1) {
				if !strings.Contains(m, `src="/ui/static/live.js"`) || !strings.Contains(m, "nonce=") {
					t.Errorf("%s has script tag %s", path, m)
				}
			}
		})
	}
	_, _, fw := get(t, h, "/ui/firewalls/web-1")
	mustContain(t, "firewall page", fw, "note=&#34;&gt;&lt;img src=x onerror=alert(1)&gt;")
	_, _, rule := get(t, h, "/ui/rules/"+ruleUUID(t, pol, "http-in"))
	mustContain(t, "rule page", rule, `&lt;script&gt;alert(&#34;desc&#34;)&lt;/script&gt;&lt;b onclick=&#34;x()&#34;&gt;bold&lt;/b&gt;`)
	_, _, ov := get(t, h, "/ui/")
	mustContain(t, "overview", ov, `&lt;script&gt;alert(&#34;subject&#34;)&lt;/script&gt;`, `unknown tag &#34;&lt;img src=y onerror=z&gt;&#34;`)
}

var nonceRE = regexp.MustCompile(`script-src 'nonce-([A-Za-z0-9_-]+)'`)

func TestHeaders(t *testing.T) {
	pol := policyOf(t, fixture, rev1)
	h, _ := testConsole(t, pol, nil)
	seen := map[string]bool{}
	for _, path := range []string{"/", "/ui/", "/ui/firewalls/db-1", "/ui/trace", "/ui/pending", "/ui/login", "/ui/nope",
		"/ui/static/style.css", "/ui/live", "/ui/rules/" + ruleUUID(t, pol, "pg")} {
		t.Run(path, func(t *testing.T) {
			_, hd, body := get(t, h, path)
			got := map[string]string{}
			for _, k := range []string{"X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options"} {
				got[k] = hd.Get(k)
			}
			want := map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("headers (-want +got):\n%s", d)
			}
			c := hd.Get("Content-Security-Policy")
			for _, w := range []string{"default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
				if !strings.Contains(c, w) {
					t.Errorf("CSP %q lacks %q", c, w)
				}
			}
			if strings.Contains(c, "unsafe-inline") || strings.Contains(c, "unsafe-eval") {
				t.Errorf("CSP %q allows inline code", c)
			}
			if !strings.HasPrefix(body, "<!doctype html>") {
				return
			}
			m := nonceRE.FindStringSubmatch(c)
			if m == nil {
				t.Fatalf("page CSP %q has no nonce", c)
			}
			if seen[m[1]] {
				t.Errorf("nonce %s reused", m[1])
			}
			seen[m[1]] = true
			if strings.Contains(body, "<script") && !strings.Contains(body, `nonce="`+m[1]+`"`) {
				t.Errorf("the page's script does not carry the header's nonce")
			}
		})
	}
}

const testToken = "read-token-0123456789abcdef"

func TestAuth(t *testing.T) {
	pol := policyOf(t, fixture, rev1)
	h, _ := testConsole(t, pol, func(d *Deps) { d.Token = config.NewSecret(testToken) })
	post := func(form url.Values, hdr ...string) *http.Response {
		req := httptest.NewRequest("POST", "/ui/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Result()
	}

	t.Run("pages redirect to the login form", func(t *testing.T) {
		for _, path := range []string{"/ui/", "/ui/firewalls/db-1", "/ui/trace?firewall=db-1&proto=tcp&port=1", "/ui/pending"} {
			code, hd, body := get(t, h, path)
			if code != http.StatusSeeOther || hd.Get("Location") != "/ui/login?next="+url.QueryEscape(path) {
				t.Errorf("GET %s = %d to %q, want 303 to the login form", path, code, hd.Get("Location"))
			}
			mustNotContain(t, path, body, "198.18.0.20", "table inet")
		}
		if code, _, _ := get(t, h, "/ui/live"); code != http.StatusUnauthorized {
			t.Errorf("GET /ui/live = %d, want 401", code)
		}
		if code, _, _ := get(t, h, "/ui/static/style.css"); code != 200 {
			t.Errorf("the stylesheet = %d without a session, want 200 (the login page needs it)", code)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		resp := post(url.Values{"token": {"nope"}, "next": {"/ui/pending"}})
		if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
			t.Errorf("wrong token = %d with %d cookies, want 401 and none", resp.StatusCode, len(resp.Cookies()))
		}
	})
	t.Run("cross-origin login", func(t *testing.T) {
		for _, hdr := range [][]string{
			{"Origin", "https://evil.example"},
			{"Origin", "null"}, // a sandboxed frame's form
			{"Sec-Fetch-Site", "cross-site"},
			{"Sec-Fetch-Site", "same-site", "Origin", "http://example.com"},
		} {
			resp := post(url.Values{"token": {testToken}}, hdr...)
			if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
				t.Errorf("login with %q = %d with %d cookies, want 403 and none", hdr, resp.StatusCode, len(resp.Cookies()))
			}
		}
	})
	var cookie *http.Cookie
	t.Run("login", func(t *testing.T) {
		resp := post(url.Values{"token": {testToken}, "next": {"/ui/pending"}}, "Origin", "http://example.com")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/pending" {
			t.Fatalf("login = %d to %q, want 303 to /ui/pending", resp.StatusCode, resp.Header.Get("Location"))
		}
		cs := resp.Cookies()
		if len(cs) != 1 {
			t.Fatalf("login set %d cookies, want 1", len(cs))
		}
		cookie = cs[0]
		got := []any{cookie.Name, cookie.HttpOnly, cookie.SameSite, cookie.Secure, cookie.Path, strings.Contains(cookie.Value, testToken)}
		want := []any{CookieName, true, http.SameSiteStrictMode, false, "/ui/", false}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("cookie (-want +got):\n%s", d)
		}
	})
	t.Run("secure over TLS", func(t *testing.T) {
		req := httptest.NewRequest("POST", "https://example.com/ui/login", strings.NewReader("token="+testToken))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if cs := rec.Result().Cookies(); len(cs) != 1 || !cs[0].Secure {
			t.Errorf("login over TLS set %v, want one Secure cookie", cs)
		}
	})
	t.Run("open redirect refused", func(t *testing.T) {
		for _, next := range []string{"https://evil.example/", "//evil.example/ui/", "/v1/status", "/ui/\\evil"} {
			resp := post(url.Values{"token": {testToken}, "next": {next}})
			if loc := resp.Header.Get("Location"); loc != "/ui/" {
				t.Errorf("next=%q redirected to %q, want /ui/", next, loc)
			}
		}
	})
	t.Run("session and bearer", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			hdr  []string
			code int
		}{
			{"cookie", []string{"Cookie", cookie.Name + "=" + cookie.Value}, 200},
			{"bearer", []string{"Authorization", "Bearer " + testToken}, 200},
			{"forged cookie", []string{"Cookie", cookie.Name + "=" + testToken}, http.StatusSeeOther},
			{"wrong bearer", []string{"Authorization", "Bearer x" + testToken}, http.StatusSeeOther},
			{"token in the URL is not a login", nil, http.StatusSeeOther},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code, _, body := get(t, h, "/ui/?token="+testToken, tc.hdr...)
				if code != tc.code {
					t.Errorf("GET /ui/ = %d, want %d", code, tc.code)
				}
				if code == 200 {
					mustContain(t, "overview", body, "web-1", `action="/ui/logout"`)
				}
			})
		}
	})
	t.Run("cross-origin logout", func(t *testing.T) {
		for _, hdr := range [][]string{{"Origin", "https://evil.example"}, {"Origin", "null"}, {"Sec-Fetch-Site", "cross-site"}} {
			req := httptest.NewRequest("POST", "/ui/logout", nil)
			req.Header.Set(hdr[0], hdr[1])
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusForbidden || len(rec.Result().Cookies()) != 0 {
				t.Errorf("logout with %q = %d with cookies %v, want 403 and none", hdr, rec.Code, rec.Result().Cookies())
			}
		}
	})
	t.Run("logout", func(t *testing.T) {
		req := httptest.NewRequest("POST", "/ui/logout", nil)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		cs := rec.Result().Cookies()
		if len(cs) != 1 || cs[0].MaxAge >= 0 || cs[0].Value != "" {
			t.Errorf("logout cookies = %v, want one that expires", cs)
		}
	})
}

// TestNoSecretInPages renders every page, logged in with a configured
// token, and checks that neither the token nor the session value derived
// from it appears in any page or header but the login's Set-Cookie.
func TestNoSecretInPages(t *testing.T) {
	pol := policyOf(t, fixture, rev1)
	h, _ := testConsole(t, pol, func(d *Deps) { d.Token = config.NewSecret(testToken) })
	session := sessionValue(config.NewSecret(testToken))
	for _, path := range allPages(t, pol) {
		code, hd, body := get(t, h, path, "Authorization", "Bearer "+testToken)
		if code >= 500 {
			t.Errorf("GET %s = %d", path, code)
		}
		mustNotContain(t, path, body, testToken, session)
		for k, vs := range hd {
			mustNotContain(t, path+" header "+k, strings.Join(vs, " "), testToken, session)
		}
	}
}

// allPages lists a URL of every page of the console for pol.
func allPages(t testing.TB, pol *api.Policy) []string {
	out := []string{"/", "/ui/", "/ui/?cond=Stalled&sort=mode&dir=desc", "/ui/login", "/ui/trace", "/ui/pending", "/ui/live", "/ui/nope",
		"/ui/trace?firewall=db-1&from=198.18.0.10&proto=tcp&port=5432", "/ui/trace?firewall=db-1&proto=tcp&port=x"}
	for _, f := range pol.Inventory.Firewalls {
		out = append(out, "/ui/firewalls/"+f.Name)
	}
	for _, r := range pol.Inventory.Rules {
		out = append(out, "/ui/rules/"+r.UUID)
	}
	return out
}

func TestTraceJSON(t *testing.T) {
	pol := policyOf(t, fixture, rev1)
	pg := ruleUUID(t, pol, "pg")
	h := TraceHandler(fixedPolicy{pol}, nil)
	for _, tc := range []struct {
		name  string
		query string
		code  int
		want  map[string]any
	}{
		{"accept by a rule", "firewall=db-1&from=198.18.0.10&proto=tcp&port=5432", 200, map[string]any{
			"verdict": "accept", "decidedBy": "rule", "revision": rev1,
			"rule": map[string]any{"name": "pg", "uuid": pg, "file": "rules/db.yaml", "line": 2.0},
		}},
		{"default policy", "firewall=db-1&from=203.0.113.1&proto=tcp&port=5432", 200, map[string]any{
			"verdict": "drop", "decidedBy": "default", "rule": "default", "revision": rev1,
		}},
		{"outbound default", "firewall=db-1&direction=out&to=203.0.113.1&proto=udp&port=53", 200, map[string]any{
			"verdict": "accept", "decidedBy": "default", "rule": "default", "revision": rev1,
		}},
		{"icmp type and code", "firewall=web-1&from=203.0.113.1&proto=icmp&type=8&code=0", 200, map[string]any{
			"verdict": "drop", "decidedBy": "default", "rule": "default", "revision": rev1,
		}},
		{"bad port", "firewall=db-1&proto=tcp&port=70000", 400, map[string]any{"code": "InvalidParameters"}},
		{"bad address", "firewall=db-1&from=nope&proto=tcp&port=1", 400, map[string]any{"code": "InvalidParameters"}},
		{"no proto", "firewall=db-1", 400, map[string]any{"code": "InvalidParameters", "message": "proto is required"}},
		{"unknown firewall", "firewall=zz&proto=tcp&port=1", 404, map[string]any{"code": "ResourceNotFound"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, hd, body := get(t, h, "/v1/trace?"+tc.query)
			if code != tc.code || hd.Get("Content-Type") != "application/json" {
				t.Fatalf("GET /v1/trace?%s = %d %s, want %d JSON\n%s", tc.query, code, hd.Get("Content-Type"), tc.code, body)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			for k := range got {
				if _, ok := tc.want[k]; !ok {
					delete(got, k)
				}
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("GET /v1/trace?%s (-want +got):\n%s", tc.query, d)
			}
		})
	}
	t.Run("nft rule text", func(t *testing.T) {
		_, _, body := get(t, h, "/v1/trace?firewall=db-1&from=198.18.0.10&proto=tcp&port=5432")
		var got struct{ NFT string }
		json.Unmarshal([]byte(body), &got)
		if !strings.Contains(got.NFT, "tcp dport 5432") || !strings.Contains(got.NFT, `comment "rule:`+pg+`"`) {
			t.Errorf("nft = %q, want the matching rule", got.NFT)
		}
	})
	t.Run("no revision", func(t *testing.T) {
		if code, _, _ := get(t, TraceHandler(fixedPolicy{}, nil), "/v1/trace?firewall=db-1&proto=tcp&port=1"); code != 503 {
			t.Errorf("without a policy = %d, want 503", code)
		}
	})
	t.Run("mount", func(t *testing.T) {
		mux := http.NewServeMux()
		TraceMount(nil)(mux, viewOf{pol})
		if code, _, _ := get(t, mux, "/v1/trace?firewall=db-1&from=198.18.0.10&proto=tcp&port=5432"); code != 200 {
			t.Errorf("mounted /v1/trace = %d", code)
		}
	})
}

type viewOf struct{ p *api.Policy }

func (v viewOf) Policy() *api.Policy      { return v.p }
func (v viewOf) Changed() <-chan struct{} { return nil }

// fixture2 opens port 8080 on web and drops the pg rule.
func fixture2() map[string]string {
	f := map[string]string{}
	for k, v := range fixture {
		f[k] = v
	}
	f["rules/web.yaml"] = strings.Replace(f["rules/web.yaml"], "PORT 80", "PORT 8080", 1)
	delete(f, "rules/db.yaml")
	return f
}

func TestPending(t *testing.T) {
	p1, p2 := policyOf(t, fixture, rev1), policyOf(t, fixture2(), rev2)
	for _, tc := range []struct {
		name    string
		archive bool
		want    []string
		reject  []string
	}{
		{"plan from the archived applied revision", true, []string{
			"2 firewalls do not run", "Plan <code>main@sha1:111111111111</code> → <code>main@sha1:222222222222</code>",
			`<span class="d-add">&#43;`, "dport 8080", `<span class="d-del">-`, "rule <a href=\"/ui/rules/", "rules/web.yaml:2</span>", "rule pg removed",
			"fwgit plan: `main@sha1:1111111111111111111111111111111111111111`"}, []string{"Revisions without a plan"}},
		{"no archive: explain and show the desired rulesets", false, []string{
			"Revisions without a plan", "is not in the controller's memory",
			"fwgit plan --base 1111111111111111111111111111111111111111 --head 2222222222222222222222222222222222222222",
			"db-1: desired ruleset"}, []string{"Plan <code>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := syncedStore(t, p1) // agents run rev1
			d := Deps{Policy: fixedPolicy{p2}, Status: st, Now: func() time.Time { return testNow }}
			if tc.archive {
				rc := NewRecorder(4)
				rc.Observe(p1)
				rc.Observe(p2)
				d.Archive = rc
			}
			_, _, body := get(t, New(d), "/ui/pending")
			mustContain(t, "pending", body, tc.want...)
			mustNotContain(t, "pending", body, tc.reject...)
		})
	}
}

func TestOverviewFilterSortPage(t *testing.T) {
	pol := policyOf(t, fixture, rev1)
	st := status.NewFakeStore()
	// 120 firewalls in status only: every fifth Stalled, every seventh
	// out of sync; names fw-000 … fw-119.
	for i := range 120 {
		fw := status.Firewall{Name: "fw-" + pad3(i), Mode: status.ModePush, LastApply: testNow.Add(-time.Duration(i) * time.Minute)}
		fw.SetCondition(status.Condition{Type: status.Ready, Status: i%5 != 0}, testNow)
		fw.SetCondition(status.Condition{Type: status.InSync, Status: i%7 != 0}, testNow)
		if i%5 == 0 {
			fw.SetCondition(status.Condition{Type: status.Stalled, Status: true, Reason: status.ReasonInvalidRevision}, testNow)
		}
		st.Put(fw, nil)
	}
	h := New(Deps{Policy: fixedPolicy{pol}, Status: st, Now: func() time.Time { return testNow }})
	names := func(body string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`<tr data-firewall="([^"]+)">`).FindAllStringSubmatch(body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	for _, tc := range []struct {
		query      string
		first      []string
		n          int
		showing    string
		countsWant []string
	}{
		{"", []string{"bastion", "db-1", "fw-000"}, 50, "Showing 1–50 of 123", []string{
			`<span class="n">24</span> Stalled`, `<span class="n">18</span> OutOfSync`, `<span class="n">3</span> Unknown`}},
		{"page=3", []string{"fw-098", "fw-099"}, 23, "Showing 101–123 of 123", nil},
		{"cond=Stalled", []string{"fw-000", "fw-005", "fw-010"}, 24, "Showing 1–24 of 24 matching", nil},
		{"cond=OutOfSync&sort=lastApply&dir=desc", []string{"fw-000", "fw-007", "fw-014"}, 18, "of 18 matching", nil},
		{"tag=role%3Dweb", []string{"web-1"}, 1, "of 1 matching", nil},
		{"tag=role", []string{"bastion", "db-1", "web-1"}, 3, "of 3 matching", nil},
		{"owner=" + ownerA, []string{"db-1", "web-1"}, 2, "of 2 matching", nil},
		{"sort=name&dir=desc&per=2", []string{"web-1", "fw-119"}, 2, "Showing 1–2 of 123", nil},
		{"cond=Bogus&sort=bogus&page=999", []string{"fw-098", "fw-099"}, 23, "Showing 101–123", nil},
	} {
		t.Run(tc.query, func(t *testing.T) {
			code, _, body := get(t, h, "/ui/?"+tc.query)
			if code != 200 {
				t.Fatalf("GET = %d", code)
			}
			got := names(body)
			if len(got) != tc.n {
				t.Errorf("rows = %d, want %d", len(got), tc.n)
			}
			if len(got) >= len(tc.first) {
				got = got[:len(tc.first)]
			}
			if d := cmp.Diff(tc.first, got); d != "" {
				t.Errorf("first rows (-want +got):\n%s", d)
			}
			mustContain(t, "overview", body, append(tc.countsWant, tc.showing)...)
		})
	}
	// Sort links flip the direction of the current column and keep filters.
	_, _, body := get(t, h, "/ui/?cond=Stalled&sort=mode")
	mustContain(t, "sorted overview", body, `aria-sort="ascending"><a href="/ui/?cond=Stalled&amp;dir=desc&amp;sort=mode">Agent <span class="arrow">▲</span>`)
}

func pad3(i int) string { return fmt.Sprintf("%03d", i) }

func TestRecorder(t *testing.T) {
	rc := NewRecorder(2)
	ps := []*api.Policy{{Revision: "a"}, {Revision: "b"}, {Revision: "c"}}
	for _, p := range ps {
		rc.Observe(p)
		rc.Observe(p)
	}
	rc.Observe(nil)
	got := []bool{rc.PolicyAt("a") == nil, rc.PolicyAt("b") == ps[1], rc.PolicyAt("c") == ps[2]}
	if d := cmp.Diff([]bool{true, true, true}, got); d != "" {
		t.Errorf("kept (-want +got):\n%s", d)
	}
}

func TestFileLink(t *testing.T) {
	for _, tc := range []struct {
		name, tmpl, repoPath, file string
		line                       int
		rev, commit, want          string
	}{
		{"github style", "https://git.example.com/p/blob/{commit}/{path}#L{line}", "", "rules/web.yaml", 12, rev1, "abc", "https://git.example.com/p/blob/abc/rules/web.yaml#L12"},
		{"repo path and escaping", "https://g.example/{path}?at={revision}#{line}", "policy dir", "rules/a b#c.yaml", 3, "main@sha1:ab", "ab", "https://g.example/policy%20dir/rules/a%20b%23c.yaml?at=main@sha1:ab#3"},
		{"no template", "", "", "rules/web.yaml", 1, rev1, "abc", ""},
		{"directory source has no commit", "https://g.example/{commit}/{path}", "", "rules/web.yaml", 1, "dir@sha256:aa", "", ""},
		{"pseudo file", "https://g.example/{commit}/{path}", "", "(commit abc)", 0, rev1, "abc", ""},
		{"not http", "javascript:alert(1)//{path}", "", "x.yaml", 1, rev1, "abc", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &console{d: Deps{RepoWebURL: tc.tmpl, RepoPath: tc.repoPath}}
			if got := c.fileLink(tc.file, tc.line, tc.rev, tc.commit); got != tc.want {
				t.Errorf("fileLink(%q, %d) = %q, want %q", tc.file, tc.line, got, tc.want)
			}
		})
	}
}

func TestRulesetLines(t *testing.T) {
	id := "5761afb0-c77a-5702-beb8-a0131335d9c5"
	got := rulesetLines("table inet fwgit {\n\ttcp dport 1 log prefix \"fwgit " + id + " \" accept comment \"rule:" + id + "\"\n\tct state invalid drop comment \"fwgit:invalid\"\n}\n")
	want := []nftLine{
		{Pre: "table inet fwgit {"},
		{Pre: "\ttcp dport 1 log prefix \"fwgit " + id + " \" accept comment \"", UUID: id, Post: "\""},
		{Pre: "\tct state invalid drop comment \"fwgit:invalid\""},
		{Pre: "}"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("rulesetLines (-want +got):\n%s", d)
	}
}

func TestLiveStampChanges(t *testing.T) {
	pol := policyOf(t, fixture, rev1)
	h, st := testConsole(t, pol, nil)
	stampOf := func() string {
		_, _, body := get(t, h, "/ui/live")
		var v struct{ Stamp string }
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		return v.Stamp
	}
	before := stampOf()
	if again := stampOf(); again != before {
		t.Errorf("stamp changed without a change: %s, %s", before, again)
	}
	fw, _ := st.Get("db-1")
	fw.SetCondition(status.Condition{Type: status.InSync, Status: false}, testNow)
	st.Put(fw, nil)
	if after := stampOf(); after == before {
		t.Errorf("stamp %s did not change when db-1 went out of sync", after)
	}
	_, _, body := get(t, h, "/ui/")
	mustContain(t, "overview", body, `data-stamp="`+stampOf()+`"`)
}

func TestMountServesConsole(t *testing.T) {
	pol := policyOf(t, fixture, rev1)
	h := api.Handler(api.Options{Store: syncedStore(t, pol), View: viewOf{pol},
		Mounts: []api.Mount{Mount(Deps{Status: syncedStore(t, pol)}), TraceMount(nil)}})
	for _, tc := range []struct {
		path string
		code int
	}{{"/", http.StatusFound}, {"/ui/", 200}, {"/ui/firewalls/db-1", 200}, {"/v1/trace?firewall=db-1&proto=tcp&port=22", 200}, {"/v1/status", 200}} {
		if code, _, body := get(t, h, tc.path); code != tc.code {
			t.Errorf("GET %s = %d, want %d\n%s", tc.path, code, tc.code, body)
		}
	}
	front := Front(New(Deps{Policy: fixedPolicy{pol}, Status: syncedStore(t, pol)}), http.NotFoundHandler())
	for _, tc := range []struct {
		path string
		code int
	}{{"/", http.StatusFound}, {"/ui/", 200}, {"/ui", http.StatusMovedPermanently}, {"/v1/status", 404}} {
		if code, _, _ := get(t, front, tc.path); code != tc.code {
			t.Errorf("Front: GET %s = %d, want %d", tc.path, code, tc.code)
		}
	}
}
