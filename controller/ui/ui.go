package ui

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/config"
	"github.com/fwgit/fwgit/controller/status"
)

// PolicyReader gives the current good revision; [api.PolicyView] (the
// controller) satisfies it.
type PolicyReader interface {
	// Policy returns the current good revision, or nil before the first
	// good load.
	Policy() *api.Policy
}

// StatusReader reads the status store; [status.Store] satisfies it.
type StatusReader interface {
	Get(name string) (status.Firewall, error)
	List() ([]status.Firewall, error)
	History(name string, n int) ([]status.HistoryEntry, error)
	Revision() (status.Revision, error)
}

// Archive returns an earlier good revision's policy by its revision string,
// or nil when it is not kept. [Recorder] is one.
type Archive interface {
	PolicyAt(revision string) *api.Policy
}

// Deps are what the console reads. Policy and Status are required.
type Deps struct {
	Policy PolicyReader
	Status StatusReader
	// Archive, when set, holds earlier good policies so the pending-change
	// page can show the plan from the revision the agents run.
	Archive Archive
	// RepoWebURL is the template of links to a file in the repository's
	// web view, with {revision}, {commit}, {path} and {line} placeholders
	// (config.Config.RepoWebURL); empty means no links.
	RepoWebURL string
	// RepoPath is the policy's directory inside the repository
	// (config.Git.Path), prefixed to file names in links.
	RepoPath string
	// Token, when set, protects every page: the same bearer token as the
	// read API, entered once on the login form.
	Token config.Secret
	// Refresh is how often pages poll for changes (default 5s; negative
	// turns live refresh off).
	Refresh time.Duration
	// Now is the clock used for ages (default time.Now).
	Now func() time.Time
	Log *slog.Logger
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// pages holds every template; they are compiled into the binary, so a
// parse error is a build defect that the package tests catch.
var pages = template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html"))

// console is the web console's handler.
type console struct {
	d      Deps
	mux    *http.ServeMux
	assets http.Handler
	// session is the cookie value a login sets (derived from the token).
	session string

	mu    sync.Mutex
	cache planCache
}

// New returns the console's handler. It serves GET /ui/… and redirects GET /
// to /ui/; any other path answers 404. Mount it on the API listener with
// [Front] (in front of the API's bearer-token check, since the console
// authenticates browsers itself) and mount [TraceMount] among the API's
// endpoint sets.
func New(d Deps) http.Handler {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Refresh == 0 {
		d.Refresh = 5 * time.Second
	}
	c := &console{d: d, mux: http.NewServeMux()}
	if !d.Token.IsZero() {
		c.session = sessionValue(d.Token)
	}
	sub, _ := fs.Sub(assetFS, "assets")
	c.assets = http.StripPrefix("/ui/static/", http.FileServerFS(sub))
	c.routes()
	return c
}

// Front routes GET / and everything under /ui/ to console and every other
// request to next (the API handler).
func Front(console, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" || r.URL.Path == "/ui" || len(r.URL.Path) >= 4 && r.URL.Path[:4] == "/ui/" {
			console.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Mount returns an [api.Mount] that serves the console on the API's mux.
// Use it only when no read token is configured: the API's bearer check runs
// before every mounted handler, so a browser could not log in. Deps.Policy
// defaults to the mount's view.
func Mount(d Deps) api.Mount {
	return func(mux *http.ServeMux, view api.PolicyView) {
		if d.Policy == nil {
			d.Policy = view
		}
		h := New(d)
		mux.Handle("GET /{$}", h)
		mux.Handle("/ui/", h)
		mux.Handle("/ui", h)
	}
}

func (c *console) routes() {
	m := c.mux
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusFound)
	})
	m.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
	})
	m.Handle("GET /ui/static/", c.assets)
	m.Handle("GET /ui/login", c.page(c.loginForm, false))
	m.Handle("POST /ui/login", c.page(c.login, false))
	m.Handle("POST /ui/logout", c.page(c.logout, false))
	m.Handle("GET /ui/{$}", c.page(c.overview, true))
	m.Handle("GET /ui/firewalls/{name}", c.page(c.firewall, true))
	m.Handle("GET /ui/rules/{uuid}", c.page(c.rule, true))
	m.Handle("GET /ui/trace", c.page(c.trace, true))
	m.Handle("GET /ui/pending", c.page(c.pending, true))
	m.Handle("GET /ui/live", c.page(c.live, true))
	m.Handle("/", c.page(func(w http.ResponseWriter, r *http.Request, p *page) error {
		return notFound("no such page")
	}, false))
}

// ServeHTTP sets the security headers on every answer, then routes.
func (c *console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	// The asset and redirect answers get a policy without a nonce; pages
	// replace it with one that admits their script.
	h.Set("Content-Security-Policy", csp(""))
	c.mux.ServeHTTP(w, r)
}

// csp is the Content-Security-Policy of a page whose scripts carry nonce.
func csp(nonce string) string {
	script := "'none'"
	if nonce != "" {
		script = "'nonce-" + nonce + "'"
	}
	return "default-src 'self'; script-src " + script + "; style-src 'self'; img-src 'self'; " +
		"connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
}

// page is what every template receives: the layout's fields and the page's
// own data in Body. It never holds a secret.
type page struct {
	Title string
	Nav   string
	Nonce string
	// Live is the URL the refresh script polls and Stamp what it compares;
	// empty turns refresh off for the page.
	Live      string
	Stamp     string
	RefreshMS int64
	Authed    bool
	LoginOn   bool
	Rev       *revisionView
	Body      any
	template  string
	status    int
}

// httpError is an error with the status and text to show.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func notFound(format string, args ...any) error {
	return &httpError{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// pageFunc fills p (template, title, body) or returns an error to show.
type pageFunc func(w http.ResponseWriter, r *http.Request, p *page) error

// page adapts a pageFunc: authentication, the nonce and headers, the
// shared revision strip, rendering into a buffer (so a template error never
// sends half a page), error pages and panic recovery.
func (c *console) page(fn pageFunc, auth bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := &page{Nonce: nonce(), RefreshMS: c.d.Refresh.Milliseconds(), LoginOn: !c.d.Token.IsZero()}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				c.d.Log.Error("panic in console", "path", r.URL.Path, "panic", fmt.Sprint(v))
				c.fail(w, r, p, &httpError{http.StatusInternalServerError, "internal error"})
			}
		}()
		if auth {
			ok := c.authorized(r)
			if !ok {
				c.deny(w, r)
				return
			}
			p.Authed = p.LoginOn
		}
		if err := fn(w, r, p); err != nil {
			c.fail(w, r, p, err)
			return
		}
		if p.template == "" { // the handler wrote its own answer
			return
		}
		c.render(w, p)
	})
}

func (c *console) fail(w http.ResponseWriter, r *http.Request, p *page, err error) {
	var he *httpError
	if !errors.As(err, &he) {
		c.d.Log.Error("console page failed", "path", r.URL.Path, "error", err)
		he = &httpError{http.StatusInternalServerError, "internal error (see the controller's log)"}
	}
	p.template, p.Title, p.status, p.Body, p.Live = "error", http.StatusText(he.status), he.status, he.msg, ""
	c.render(w, p)
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (c *console) render(w http.ResponseWriter, p *page) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if p.Rev == nil && p.template != "login" {
		if rev, err := c.d.Status.Revision(); err == nil {
			p.Rev = c.revisionView(rev)
		}
	}
	if err := pages.ExecuteTemplate(buf, p.template, p); err != nil {
		c.d.Log.Error("rendering console page", "template", p.template, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", csp(p.Nonce))
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	status := p.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// nonce returns 128 random bits for the page's script-src.
func nonce() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
