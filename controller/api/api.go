package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fwgit/fwgit/controller/config"
	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/controller/source"
	"github.com/fwgit/fwgit/controller/status"
	"github.com/fwgit/fwgit/internal/diag"
	"github.com/fwgit/fwgit/internal/httpapi"
	"github.com/fwgit/fwgit/internal/nft"
)

// Policy is one good revision, loaded, validated and compiled. It is
// immutable and safe for concurrent readers.
type Policy struct {
	// Revision is "branch@sha1:<hash>" or "dir@sha256:<hash>".
	Revision string
	Commit   source.Commit
	// FS holds the revision's files.
	FS        fs.FS
	Inventory *model.Inventory
	// Rulesets maps firewall name to its compiled ruleset (an empty
	// ruleset means "no table"); Digests to the ruleset's digest.
	Rulesets map[string]*nft.Ruleset
	Digests  map[string]string
	// Warnings are the revision's non-blocking diagnostics.
	Warnings diag.List
	LoadedAt time.Time
}

// PolicyView gives read-only access to the current good revision.
type PolicyView interface {
	// Policy returns the current good revision, or nil before the first
	// good load.
	Policy() *Policy
	// Changed returns a channel that is closed when the policy next
	// changes (for long polls).
	Changed() <-chan struct{}
}

// Mount registers extra handlers on the API listener's mux: the FWAPI
// read endpoints and the web console use it. They are served behind the
// same bearer token and server limits.
type Mount func(mux *http.ServeMux, view PolicyView)

// MaxWebhookBody caps the webhook's request body.
const MaxWebhookBody = 5 << 20

// Options configure [Handler].
type Options struct {
	Store status.Store
	View  PolicyView
	// Gatherer is the registry /metrics serves.
	Gatherer prometheus.Gatherer
	// Trigger asks the source to fetch at once.
	Trigger func()
	// WebhookSecret authenticates POST /hooks/git; empty refuses every call.
	WebhookSecret config.Secret
	// ReadToken, when set, is required as a bearer token on every path but
	// /healthz, /readyz, /hooks/git and /ping.
	ReadToken config.Secret
	// Ready reports whether the first good revision has been loaded.
	Ready  func() bool
	Mounts []Mount
	Log    *slog.Logger
}

// Handler returns the API's handler.
func Handler(o Options) http.Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &server{o: o}
	mux := http.NewServeMux()
	wrap := func(h httpapi.Handler) http.Handler { return httpapi.Wrap(o.Log, h) }
	mux.Handle("GET /v1/status", wrap(s.status))
	mux.Handle("GET /v1/firewalls/{name}", wrap(s.firewall))
	mux.Handle("GET /v1/revision", wrap(s.revision))
	mux.Handle("POST /hooks/git", wrap(s.webhook))
	mux.Handle("GET /healthz", wrap(func(w http.ResponseWriter, r *http.Request) error {
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return nil
	}))
	mux.Handle("GET /readyz", wrap(func(w http.ResponseWriter, r *http.Request) error {
		if o.Ready != nil && !o.Ready() {
			return httpapi.Errorf(http.StatusServiceUnavailable, "NotReady", "no good revision loaded yet")
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return nil
	}))
	if o.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(o.Log.Handler(), slog.LevelWarn)}))
	}
	for _, m := range o.Mounts {
		m(mux, o.View)
	}
	return s.auth(mux)
}

type server struct{ o Options }

// open paths need no bearer token: probes, FWAPI's /ping (spec/fwapi.md
// §1.7) and the (HMAC-authenticated) webhook. The web console is served in
// front of this handler with its own login.
func open(path string) bool {
	switch path {
	case "/healthz", "/readyz", "/hooks/git", "/ping":
		return true
	}
	return false
}

func (s *server) auth(next http.Handler) http.Handler {
	if s.o.ReadToken.IsZero() {
		return next
	}
	want := s.o.ReadToken.Reveal()
	deny := httpapi.Wrap(s.o.Log, func(w http.ResponseWriter, r *http.Request) error {
		return &httpapi.HTTPError{Status: http.StatusUnauthorized, Code: "InvalidCredentials",
			Msg: "missing or invalid bearer token", Header: http.Header{"Www-Authenticate": {"Bearer"}}}
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if open(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !httpapi.SecretEqual(got, want) {
			deny.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Condition is a condition as the API shows it.
type Condition struct {
	Type               string    `json:"type"`
	Status             string    `json:"status"`
	Reason             string    `json:"reason"`
	Message            string    `json:"message,omitempty"`
	LastTransitionTime time.Time `json:"lastTransitionTime"`
}

// FirewallStatus is one firewall in GET /v1/status.
type FirewallStatus struct {
	Name string `json:"name"`
	Mode string `json:"mode"`
	// Condition is the headline: Ready, NotReady, Stalled, RolledBack,
	// Unreachable or Unknown; Reason and Message explain it.
	Condition         string        `json:"condition"`
	Reason            string        `json:"reason,omitempty"`
	Message           string        `json:"message,omitempty"`
	DesiredRevision   string        `json:"desiredRevision,omitempty"`
	DesiredDigest     string        `json:"desiredDigest,omitempty"`
	AppliedDigest     string        `json:"appliedDigest,omitempty"`
	AppliedRevision   string        `json:"appliedRevision,omitempty"`
	AppliedGeneration uint64        `json:"appliedGeneration,omitempty"`
	LastApply         time.Time     `json:"lastApply,omitzero"`
	Since             time.Time     `json:"since,omitzero"`
	Drift             *status.Drift `json:"drift,omitempty"`
	Conditions        []Condition   `json:"conditions"`
}

// RevisionInfo is the body of GET /v1/revision.
type RevisionInfo struct {
	Current        string        `json:"current,omitempty"`
	CurrentCommit  status.Commit `json:"currentCommit,omitzero"`
	Valid          bool          `json:"valid"`
	LastGood       string        `json:"lastGood,omitempty"`
	LastGoodCommit status.Commit `json:"lastGoodCommit,omitzero"`
	Errors         int           `json:"errors"`
	Warnings       int           `json:"warnings"`
	Diagnostics    diag.List     `json:"diagnostics"`
	Omitted        int           `json:"omitted,omitempty"`
	UpdatedAt      time.Time     `json:"updatedAt,omitzero"`
}

// StatusResponse is the body of GET /v1/status.
type StatusResponse struct {
	Revision  RevisionInfo     `json:"revision"`
	Counts    map[string]int   `json:"counts"`
	Firewalls []FirewallStatus `json:"firewalls"`
}

// FirewallResponse is the body of GET /v1/firewalls/{name}.
type FirewallResponse struct {
	FirewallStatus
	// Ruleset is the desired ruleset rendered in nft syntax, from the last
	// good revision.
	Ruleset string                `json:"ruleset"`
	History []status.HistoryEntry `json:"history"`
}

func toFirewall(fw status.Firewall) FirewallStatus {
	out := FirewallStatus{
		Name: fw.Name, Mode: fw.Mode, Condition: fw.Summary(),
		DesiredRevision: fw.DesiredRevision, DesiredDigest: fw.DesiredDigest,
		AppliedDigest: fw.AppliedDigest, AppliedRevision: fw.AppliedRevision, AppliedGeneration: fw.AppliedGeneration,
		LastApply: fw.LastApply, Drift: fw.Drift, Conditions: []Condition{},
	}
	out.Reason, out.Message = fw.Message()
	if c := fw.Condition(status.ConditionType(out.Condition)); c != nil {
		out.Since = c.LastTransitionTime
	} else if c := fw.Condition(status.Ready); c != nil {
		out.Since = c.LastTransitionTime
	}
	for _, c := range fw.Conditions {
		st := "False"
		if c.Status {
			st = "True"
		}
		out.Conditions = append(out.Conditions, Condition{Type: string(c.Type), Status: st, Reason: c.Reason, Message: c.Message, LastTransitionTime: c.LastTransitionTime})
	}
	return out
}

func toRevision(r status.Revision) RevisionInfo {
	d := r.Diagnostics
	if d == nil {
		d = diag.List{}
	}
	return RevisionInfo{
		Current: r.Current, CurrentCommit: r.CurrentCommit, Valid: r.Valid,
		LastGood: r.LastGood, LastGoodCommit: r.LastGoodCommit,
		Errors: d.Errors(), Warnings: d.Warnings(), Diagnostics: d, Omitted: r.Omitted, UpdatedAt: r.UpdatedAt,
	}
}

func (s *server) status(w http.ResponseWriter, r *http.Request) error {
	fws, err := s.o.Store.List()
	if err != nil {
		return err
	}
	rev, err := s.o.Store.Revision()
	if err != nil {
		return err
	}
	resp := StatusResponse{Revision: toRevision(rev), Counts: map[string]int{}, Firewalls: make([]FirewallStatus, 0, len(fws))}
	for _, fw := range fws {
		f := toFirewall(fw)
		resp.Counts[f.Condition]++
		resp.Firewalls = append(resp.Firewalls, f)
	}
	httpapi.WriteJSON(w, http.StatusOK, resp)
	return nil
}

func (s *server) firewall(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	fw, err := s.o.Store.Get(name)
	var pol *Policy
	if s.o.View != nil {
		pol = s.o.View.Policy()
	}
	var rs *nft.Ruleset
	if pol != nil {
		rs = pol.Rulesets[name]
	}
	switch {
	case errors.Is(err, status.ErrNotFound) && rs == nil:
		return httpapi.Errorf(http.StatusNotFound, "ResourceNotFound", "firewall %q not found", name)
	case errors.Is(err, status.ErrNotFound):
		fw = status.Firewall{Name: name}
	case err != nil:
		return err
	}
	hist, err := s.o.Store.History(name, 0)
	if err != nil {
		return err
	}
	if hist == nil {
		hist = []status.HistoryEntry{}
	}
	resp := FirewallResponse{FirewallStatus: toFirewall(fw), History: hist}
	if rs != nil {
		resp.Ruleset = rs.Render()
	}
	httpapi.WriteJSON(w, http.StatusOK, resp)
	return nil
}

func (s *server) revision(w http.ResponseWriter, r *http.Request) error {
	rev, err := s.o.Store.Revision()
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, toRevision(rev))
	return nil
}

// HeaderSignature is GitHub's webhook signature header.
const HeaderSignature = "X-Hub-Signature-256"

// Sign returns the X-Hub-Signature-256 value of body: "sha256=" and the hex
// HMAC-SHA256 of the body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (s *server) webhook(w http.ResponseWriter, r *http.Request) error {
	unauthorized := httpapi.Errorf(http.StatusUnauthorized, "InvalidSignature", "missing or invalid "+HeaderSignature)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return httpapi.Errorf(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "webhook body over %d bytes", MaxWebhookBody)
		}
		return httpapi.Errorf(http.StatusBadRequest, "InvalidContent", "reading body")
	}
	if s.o.WebhookSecret.IsZero() {
		return unauthorized
	}
	got, ok := strings.CutPrefix(r.Header.Get(HeaderSignature), "sha256=")
	gotRaw, err := hex.DecodeString(got)
	if !ok || err != nil {
		return unauthorized
	}
	m := hmac.New(sha256.New, []byte(s.o.WebhookSecret.Reveal()))
	m.Write(body)
	if !hmac.Equal(gotRaw, m.Sum(nil)) {
		return unauthorized
	}
	if s.o.Trigger != nil {
		s.o.Trigger()
	}
	httpapi.WriteJSON(w, http.StatusAccepted, map[string]string{"status": "fetch triggered"})
	return nil
}
