package fwapi

import (
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/internal/httpapi"
	"github.com/fwgit/fwgit/schema/fwrule"
)

// MaxBody is the largest request body accepted (413 above it).
const MaxBody = 1 << 20

// HeaderRevision carries the served commit on every answer of the six
// endpoints while a Git revision is loaded.
const HeaderRevision = "X-Fwgit-Revision"

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// Config says what the 405 answers name and whether a bearer token guards
// the endpoints.
type Config struct {
	// Repository is the Git URL or the local directory the controller reads.
	// User information in a URL is removed before it is shown.
	Repository string
	// Branch is set for Git sources.
	Branch string
	// Path is the policy's path inside the repository, when configured.
	Path string
	// Token, when non-empty, is required as "Authorization: Bearer <token>"
	// on every endpoint but /ping.
	Token string
}

// LoadState is the repository service state /ping reports.
type LoadState string

// The service states of §4.
const (
	Initializing LoadState = "initializing"
	Online       LoadState = "online"
	Offline      LoadState = "offline"
)

// Snapshot is one good revision as the endpoints see it. It is immutable.
type Snapshot struct {
	Inventory *model.Inventory
	// Commit is the served commit's full hash; empty for a plain directory.
	Commit string

	versions    map[string]string
	texts       map[string]string
	foldedRules map[string]*fwrule.Rule
}

// NewSnapshot prepares a revision for serving: the canonical text of every
// rule is computed once. versions maps rule UUIDs to their version field
// (see [Versions]); a missing entry falls back to the plain-directory form.
func NewSnapshot(inv *model.Inventory, commit string, versions map[string]string) *Snapshot {
	s := &Snapshot{Inventory: inv, Commit: commit, versions: versions,
		texts: make(map[string]string, len(inv.Rules)), foldedRules: make(map[string]*fwrule.Rule, len(inv.Rules))}
	for _, r := range inv.Rules {
		p, err := fwrule.FWAPI(r.Text, fwrule.Options{EnforceSubnetMask: true})
		if err != nil { // cannot happen for a rule of a good revision; show what we have
			p = r.Parsed
		}
		s.foldedRules[r.UUID] = p
		if p != nil {
			s.texts[r.UUID] = p.FWAPIText()
		} else {
			s.texts[r.UUID] = r.Text
		}
	}
	return s
}

func (s *Snapshot) canonical(r *model.Rule) string { return s.texts[r.UUID] }
func (s *Snapshot) folded(r *model.Rule) *fwrule.Rule {
	if p := s.foldedRules[r.UUID]; p != nil {
		return p
	}
	return r.Parsed
}

// version is r's version field: from the Git history, or for a plain
// directory from fp, r's fingerprint.
func (s *Snapshot) version(r *model.Rule, fp fingerprint) string {
	if v, ok := s.versions[r.UUID]; ok {
		return v
	}
	return DirVersion(fp.key())
}

// Server serves the FWAPI read endpoints. Publish swaps the served revision
// atomically between requests.
type Server struct {
	cfg  Config
	log  *slog.Logger
	snap atomic.Pointer[Snapshot]

	mu    sync.Mutex
	state LoadState

	// current, when set, supplies the snapshot to serve (see [Mount]);
	// otherwise the last [Server.Publish] is served.
	current func() *Snapshot
}

// New returns a server that answers 503 until the first [Server.Publish].
func New(cfg Config, log *slog.Logger) *Server {
	cfg.Repository = redactURL(cfg.Repository)
	return &Server{cfg: cfg, log: log, state: Initializing}
}

// Publish makes snap the served revision.
func (s *Server) Publish(snap *Snapshot) {
	s.snap.Store(snap)
	s.mu.Lock()
	s.state = Online
	s.mu.Unlock()
}

// LoadFailed records a failed load attempt: the service is offline unless
// a good revision is already served.
func (s *Server) LoadFailed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snap.Load() == nil {
		s.state = Offline
	}
}

func (s *Server) snapshot() *Snapshot {
	if s.current != nil {
		return s.current()
	}
	return s.snap.Load()
}

func (s *Server) loadState() LoadState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Paths are the patterns [Server.Register] mounts; everything under them is
// answered by the server, unknown sub-paths with 404. "/firewalls" is
// there so that the mux does not redirect it to "/firewalls/".
var Paths = []string{"/ping", "/rules", "/rules/", "/firewalls", "/firewalls/", "/resolve", "/updates"}

// Register mounts the endpoints on mux.
func (s *Server) Register(mux *http.ServeMux) {
	h := s.Handler()
	for _, p := range Paths {
		mux.Handle(p, h)
	}
}

// Handler returns the handler for the FWAPI paths.
func (s *Server) Handler() http.Handler {
	return httpapi.Wrap(s.log, s.serve)
}

// Route kinds.
const (
	kindPing    = "ping"
	kindRules   = "rules"
	kindRule    = "rule"
	kindRuleVMs = "rulevms"
	kindFwVMs   = "fwvms"
	kindResolve = "resolve"
	kindUpdates = "updates"
)

// route is a matched path: its kind and its :uuid.
type route struct {
	kind  string
	uuid  string
	allow string
}

// match routes an escaped path. Paths match exactly, segment by segment;
// :uuid is one segment, percent-decoded.
func match(escaped string) (route, bool) {
	switch escaped {
	case "/ping":
		return route{kind: kindPing, allow: "GET, HEAD"}, true
	case "/rules":
		return route{kind: kindRules, allow: "GET, HEAD"}, true
	case "/resolve":
		return route{kind: kindResolve, allow: "POST"}, true
	case "/updates":
		return route{kind: kindUpdates, allow: ""}, true
	}
	seg := strings.Split(escaped, "/")[1:]
	var kind string
	switch {
	case len(seg) == 2 && seg[0] == "rules":
		kind = kindRule
	case len(seg) == 3 && seg[0] == "rules" && seg[2] == "vms":
		kind = kindRuleVMs
	case len(seg) == 3 && seg[0] == "firewalls" && seg[1] == "vms":
		kind, seg = kindFwVMs, seg[1:]
	default:
		return route{}, false
	}
	id, err := url.PathUnescape(seg[1])
	if err != nil {
		return route{}, false
	}
	return route{kind: kind, uuid: id, allow: "GET, HEAD"}, true
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) error {
	rt, ok := match(r.URL.EscapedPath())
	if rt.kind != kindPing && s.cfg.Token != "" && !s.authorized(r) {
		return &httpapi.HTTPError{Status: http.StatusUnauthorized, Code: "InvalidCredentials",
			Msg: "missing or invalid bearer token", Header: http.Header{"Www-Authenticate": {"Bearer"}}}
	}
	if !ok {
		return NotFound(r)
	}
	if err := s.checkMethod(rt, r); err != nil {
		return err
	}
	if rt.kind == kindPing {
		return s.ping(w)
	}
	snap := s.snapshot()
	if snap == nil {
		return httpapi.Errorf(http.StatusServiceUnavailable, "ServiceUnavailable", "no valid revision of the repository has been loaded yet")
	}
	if snap.Commit != "" {
		w.Header().Set(HeaderRevision, snap.Commit)
	}
	q := parseQuery(r.URL.RawQuery)
	switch rt.kind {
	case kindRules:
		return s.listRules(w, snap, q)
	case kindRule:
		return s.getRule(w, snap, rt.uuid, q)
	case kindRuleVMs:
		return s.ruleVMs(w, snap, rt.uuid, q)
	case kindFwVMs:
		return s.firewallRules(w, snap, rt.uuid, q)
	case kindResolve:
		return s.resolve(w, r, snap, q)
	}
	return NotFound(r)
}

// NotFound is the FWAPI answer for an unknown path.
func NotFound(r *http.Request) error {
	return httpapi.Errorf(http.StatusNotFound, "ResourceNotFound", "%s does not exist", r.URL.EscapedPath())
}

func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && httpapi.SecretEqual(tok, s.cfg.Token)
}

// checkMethod answers 405 for methods a path does not allow (§1.6, §11.1):
// the read-only body for every method but GET and HEAD on /rules… and for
// the write methods on /updates, the generic body otherwise.
func (s *Server) checkMethod(rt route, r *http.Request) error {
	var allowed, write bool
	switch rt.kind {
	case kindResolve:
		allowed = r.Method == http.MethodPost
	case kindUpdates:
		switch r.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			write = true
		}
	default:
		allowed = r.Method == http.MethodGet || r.Method == http.MethodHead
		write = !allowed && (rt.kind == kindRules || rt.kind == kindRule || rt.kind == kindRuleVMs)
	}
	if allowed {
		return nil
	}
	h := http.Header{"Allow": {rt.allow}}
	if write {
		return &httpapi.HTTPError{Status: http.StatusMethodNotAllowed, Header: h, Body: s.readOnlyBody()}
	}
	return &httpapi.HTTPError{Status: http.StatusMethodNotAllowed, Code: "MethodNotAllowed",
		Msg: r.Method + " is not allowed", Header: h}
}

type readOnly struct {
	Code       string `json:"code"`
	Message    string `json:"message"`
	Repository string `json:"repository"`
	Branch     string `json:"branch,omitempty"`
	Path       string `json:"path,omitempty"`
}

func (s *Server) readOnlyBody() readOnly {
	msg := "rules are read-only here: change them in the Git repository " + s.cfg.Repository
	if s.cfg.Branch == "" {
		msg = "rules are read-only here: change them in " + s.cfg.Repository
	}
	return readOnly{Code: "MethodNotAllowed", Message: msg, Repository: s.cfg.Repository, Branch: s.cfg.Branch, Path: s.cfg.Path}
}

// redactURL removes user information (user:password@) from a URL; other
// strings (local directories) are returned unchanged.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}

type pingBody struct {
	Healthy  bool              `json:"healthy"`
	Services map[string]string `json:"services"`
	Status   string            `json:"status"`
	Revision string            `json:"revision,omitempty"`
}

func (s *Server) ping(w http.ResponseWriter) error {
	s.snapshot() // follow the controller's policy, if any
	st := s.loadState()
	status := "OK"
	switch st {
	case Offline:
		status = "offline"
	case Initializing:
		status = "initializing"
	}
	body := pingBody{Healthy: status == "OK", Services: map[string]string{"repository": string(st)}, Status: status}
	if snap := s.snap.Load(); snap != nil && snap.Commit != "" {
		body.Revision = snap.Commit
		w.Header().Set(HeaderRevision, snap.Commit)
	}
	httpapi.WriteJSON(w, http.StatusOK, body)
	return nil
}
