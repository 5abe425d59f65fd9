package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/fwgit/fwgit/agent/safety"
	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/httpapi"
	"github.com/fwgit/fwgit/internal/logfield"
)

// Body limits. Large rulesets are big (50,000 CIDRs are a few MiB of
// JSON), so PUT /ruleset gets far more room than the small requests.
const (
	DefaultRulesetLimit = 64 << 20
	DefaultBodyLimit    = 4 << 10
)

// applyBudget bounds one apply. The apply runs detached from the request's
// context: once a transaction has started, a client that hangs up must not
// cut it short.
const applyBudget = 5 * time.Minute

// Timeouts are the server's timeouts: reading a 64 MiB body over a slow link
// and applying 50,000 rules take longer than the defaults allow.
var Timeouts = httpapi.Timeouts{ReadHeader: 5 * time.Second, Read: 2 * time.Minute, Write: 6 * time.Minute, Idle: 2 * time.Minute}

// Backend does the work behind the API; safety.Guard implements it.
type Backend interface {
	// ApplyJSON decodes, checks and applies a PUT /ruleset body.
	ApplyJSON(ctx context.Context, body []byte) (agentapi.ApplyResult, error)
	Confirm(ctx context.Context, generation uint64) error
	State(ctx context.Context) agentapi.State
}

// Config configures a [Server].
type Config struct {
	// APIKey is the key every request must carry in X-API-Key.
	APIKey string
	// AllowedIPs are the client addresses the API answers; others get 403.
	AllowedIPs []netip.Prefix
	// Table is the table the agent owns; rulesets for another are refused.
	Table string
	// Info is the body of GET /info.
	Info agentapi.Info
	// RulesetLimit and BodyLimit cap request bodies (defaults
	// [DefaultRulesetLimit] and [DefaultBodyLimit]).
	RulesetLimit, BodyLimit int64
}

// LogValue keeps the API key out of logs: the configuration logs with the
// key redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("apiKey", "[redacted]"), slog.Any("allowedIPs", c.AllowedIPs),
		slog.String("table", c.Table), slog.Int64("rulesetLimit", c.RulesetLimit), slog.Int64("bodyLimit", c.BodyLimit))
}

// String keeps the API key out of fmt output.
func (c Config) String() string { return c.LogValue().String() }

// GoString keeps the API key out of %#v output.
func (c Config) GoString() string { return c.String() }

// Server is the agent's HTTPS API.
type Server struct {
	cfg     Config
	keyHash [sha256.Size]byte
	backend Backend
	log     *slog.Logger
	handler http.Handler
}

// New returns a Server over backend.
func New(cfg Config, backend Backend, log *slog.Logger) *Server {
	if cfg.RulesetLimit <= 0 {
		cfg.RulesetLimit = DefaultRulesetLimit
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = DefaultBodyLimit
	}
	s := &Server{cfg: cfg, keyHash: sha256.Sum256([]byte(cfg.APIKey)), backend: backend, log: log}
	s.handler = s.routes()
	return s
}

// route is one API path and the methods it answers.
type route struct {
	method, path string
	h            httpapi.Handler
}

func (s *Server) routes() http.Handler {
	rs := []route{
		{http.MethodGet, "/api/v1/ping", s.ping},
		{http.MethodPut, "/api/v1/ping", s.ping},
		{http.MethodGet, "/api/v1/info", s.info},
		{http.MethodGet, "/api/v1/state", s.state},
		{http.MethodPut, "/api/v1/ruleset", s.putRuleset},
		{http.MethodPost, "/api/v1/confirm", s.confirm},
	}
	mux := http.NewServeMux()
	allow := map[string][]string{}
	for _, r := range rs {
		mux.Handle(r.method+" "+r.path, httpapi.Wrap(s.log, r.h))
		allow[r.path] = append(allow[r.path], r.method)
	}
	// Everything else: 405 with Allow for a known path, 404 otherwise, both
	// as JSON like every other error.
	mux.Handle("/", httpapi.Wrap(s.log, func(w http.ResponseWriter, r *http.Request) error {
		if ms, ok := allow[r.URL.Path]; ok {
			if slices.Contains(ms, http.MethodGet) {
				ms = append(ms, http.MethodHead)
			}
			return &httpapi.HTTPError{Status: http.StatusMethodNotAllowed, Code: "MethodNotAllowed",
				Msg: r.Method + " is not allowed on " + r.URL.Path, Header: http.Header{"Allow": {strings.Join(ms, ", ")}}}
		}
		return httpapi.Errorf(http.StatusNotFound, "ResourceNotFound", "no such path %s", r.URL.Path)
	}))
	return s.protect(mux)
}

// Handler returns the API as an http.Handler, with the address and key
// checks, logging and panic recovery in front of every route.
func (s *Server) Handler() http.Handler { return s.handler }

// TLSConfig returns the server TLS configuration: cert, TLS 1.2 or newer.
func TLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
}

// Serve answers HTTPS on ln until ctx is cancelled, then shuts down
// gracefully (in-flight requests get ten seconds) and returns nil. It closes
// ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener, cert tls.Certificate) error {
	srv := httpapi.NewServer("", s.handler, Timeouts, s.log)
	srv.TLSConfig = TLSConfig(cert)
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// protect runs in front of every request: the address check first, then
// the API key, then the body limit; it logs each request and recovers from
// a panic.
func (s *Server) protect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		remote := RemoteAddr(r)
		log := s.log.With(logfield.Remote, remote.String(), logfield.Method, r.Method, logfield.Path, r.URL.Path)
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("panic in request", "panic", fmt.Sprint(p))
				if sw.status == 0 {
					httpapi.WriteJSON(sw, http.StatusInternalServerError, agentapi.Error{Code: "InternalError", Message: "internal error"})
				}
			}
			level := slog.LevelInfo
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				level = slog.LevelDebug
			}
			log.Log(r.Context(), level, "request", logfield.Status, sw.status, logfield.Duration, time.Since(start))
		}()
		if !s.allowed(remote) {
			log.Warn("request refused", "reason", "address not in ALLOWED_IPS")
			httpapi.WriteJSON(sw, http.StatusForbidden, agentapi.Error{Code: "Forbidden", Message: "address " + remote.String() + " is not allowed"})
			return
		}
		if key := r.Header.Get(agentapi.HeaderAPIKey); !s.keyOK(key) {
			log.Warn("request refused", "reason", "bad API key", "key_present", key != "")
			httpapi.WriteJSON(sw, http.StatusUnauthorized, agentapi.Error{Code: "Unauthorized", Message: "missing or wrong " + agentapi.HeaderAPIKey})
			return
		}
		limit := s.cfg.BodyLimit
		if r.URL.Path == "/api/v1/ruleset" {
			limit = s.cfg.RulesetLimit
		}
		if r.ContentLength > limit {
			httpapi.WriteJSON(sw, http.StatusRequestEntityTooLarge, agentapi.Error{Code: "RequestEntityTooLarge", Message: fmt.Sprintf("request body over %d bytes", limit)})
			return
		}
		r.Body = http.MaxBytesReader(sw, r.Body, limit)
		next.ServeHTTP(sw, r)
	})
}

// RemoteAddr returns the address a request came from, with any zone
// dropped and an IPv4-mapped IPv6 address unmapped, or the zero Addr when
// it cannot be parsed (which no prefix contains).
func RemoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().WithZone("").Unmap()
}

func (s *Server) allowed(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range s.cfg.AllowedIPs {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// keyOK compares SHA-256 digests of the keys in constant time, so neither
// the content nor the length of the configured key leaks through timing.
func (s *Server) keyOK(key string) bool {
	if key == "" || s.cfg.APIKey == "" {
		return false
	}
	h := sha256.Sum256([]byte(key))
	return subtle.ConstantTimeCompare(h[:], s.keyHash[:]) == 1
}

func (s *Server) ping(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodPut {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return bodyError(err)
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, agentapi.Ping{OK: true, Version: s.cfg.Info.Version})
	return nil
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) error {
	httpapi.WriteJSON(w, http.StatusOK, s.cfg.Info)
	return nil
}

func (s *Server) state(w http.ResponseWriter, r *http.Request) error {
	httpapi.WriteJSON(w, http.StatusOK, s.backend.State(r.Context()))
	return nil
}

func (s *Server) putRuleset(w http.ResponseWriter, r *http.Request) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return bodyError(err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), applyBudget)
	defer cancel()
	res, err := s.backend.ApplyJSON(ctx, data)
	if err != nil {
		return applyError(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) confirm(w http.ResponseWriter, r *http.Request) error {
	var req agentapi.ConfirmRequest
	if err := httpapi.DecodeJSON(w, r, s.cfg.BodyLimit, &req); err != nil {
		return err
	}
	if err := s.backend.Confirm(r.Context(), req.Generation); err != nil {
		return applyError(err)
	}
	httpapi.WriteJSON(w, http.StatusOK, s.backend.State(r.Context()))
	return nil
}

func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return httpapi.Errorf(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "request body over %d bytes", mbe.Limit)
	}
	return &httpapi.HTTPError{Status: http.StatusBadRequest, Code: "InvalidContent", Msg: "reading request body", Err: err}
}

// applyError maps the Backend's errors to answers. Messages of refusals and
// kernel errors go to the client: they are what the controller needs to
// show an operator, and hold no secrets.
func applyError(err error) error {
	var (
		re *safety.RequestError
		ae *safety.ApplyError
		pe *safety.PersistError
	)
	switch {
	case errors.As(err, &re):
		return &httpapi.HTTPError{Status: http.StatusBadRequest, Code: re.Code, Msg: re.Msg}
	case errors.Is(err, safety.ErrBusy):
		return &httpapi.HTTPError{Status: http.StatusConflict, Code: "ApplyInProgress", Msg: "apply in progress; retry", Header: http.Header{"Retry-After": {"1"}}}
	case errors.Is(err, safety.ErrStale):
		return &httpapi.HTTPError{Status: http.StatusConflict, Code: "StaleGeneration", Msg: err.Error()}
	case errors.Is(err, safety.ErrNotPending):
		return &httpapi.HTTPError{Status: http.StatusNotFound, Code: "NotPending", Msg: "no ruleset awaits confirmation"}
	case errors.Is(err, safety.ErrPendingMismatch):
		return &httpapi.HTTPError{Status: http.StatusConflict, Code: "PendingMismatch", Msg: err.Error()}
	case errors.Is(err, safety.ErrConfirmLate):
		return &httpapi.HTTPError{Status: http.StatusConflict, Code: "ConfirmTooLate", Msg: "the deadline passed; the previous ruleset was restored"}
	case errors.As(err, &ae):
		return &httpapi.HTTPError{Status: http.StatusInternalServerError, Code: "ApplyFailed", Msg: ae.Err.Error(), Err: err}
	case errors.As(err, &pe):
		return &httpapi.HTTPError{Status: http.StatusInternalServerError, Code: "StateNotPersisted", Msg: "ruleset applied but not persisted; retry to persist", Err: err}
	}
	return err
}
