package pullserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fwgit/fwgit/controller/ca"
	"github.com/fwgit/fwgit/controller/enroll"
	"github.com/fwgit/fwgit/controller/reconcile"
	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/httpapi"
	"github.com/fwgit/fwgit/internal/logfield"
	v1 "github.com/fwgit/fwgit/schema/v1"
)

// Defaults and limits.
const (
	// DefaultWait is the longest long poll unless configured.
	DefaultWait = 30 * time.Second
	// MaxStateBody caps POST state bodies.
	MaxStateBody = 1 << 20
	// MaxRenewBody caps POST certificate bodies.
	MaxRenewBody = 64 << 10
	// shutdownGrace bounds how long Run waits for requests to finish.
	shutdownGrace = 5 * time.Second
)

// Options configure a [Server].
type Options struct {
	// CA issues the server certificate and verifies client certificates.
	// Required.
	CA *ca.CA
	// Desired returns a firewall's desired state from the current policy
	// (the reconciler's function). Required.
	Desired reconcile.DesiredFunc
	// Enroll serves POST /api/v1/enroll (enroll.Handler); nil disables
	// enrollment on this listener.
	Enroll http.Handler
	// URL is the agent-facing base URL, returned with renewed
	// certificates.
	URL string
	// Names go into the server certificate besides
	// agentapi.ControllerServerName (the URL's host, the listen address).
	Names []string
	// Wait is the longest long poll (default [DefaultWait]). An agent may
	// ask for less with ?wait=.
	Wait time.Duration
	// ConfirmTimeout, when positive, is sent with every desired ruleset:
	// the agent rolls back unless it reaches the controller again (it
	// reports its state over a new connection) in time.
	ConfirmTimeout time.Duration
	// ClientLifetime is the validity of renewed client certificates
	// (default ca.DefaultClientLifetime).
	ClientLifetime time.Duration
	// Changed, when set, returns a channel that is closed when the policy
	// next changes (api.PolicyView.Changed); [Server.Run] then wakes every
	// long poll on each change, so no other publishing is needed.
	Changed func() <-chan struct{}
	// OnReport is called after each state report is stored, e.g. to
	// enqueue the firewall for a reconcile. It must not block.
	OnReport func(name string)
	// Now defaults to time.Now.
	Now func() time.Time
	// Log defaults to a logger that discards everything.
	Log *slog.Logger
}

// Report is the last state a pull-mode agent reported.
type Report struct {
	State agentapi.State
	// At is when the controller received it.
	At time.Time
	// Remote is the agent's address as the controller saw it.
	Remote string
}

// Server serves pull-mode agents. Create it with [New]; it is safe for
// concurrent use.
type Server struct {
	o      Options
	notify notifier

	mu      sync.Mutex
	reports map[string]Report

	certMu sync.Mutex
	cert   *tls.Certificate
}

// New checks o and returns a server.
func New(o Options) (*Server, error) {
	if o.CA == nil {
		return nil, errors.New("pullserver: no CA")
	}
	if o.Desired == nil {
		return nil, errors.New("pullserver: no desired-state function")
	}
	if o.Wait <= 0 {
		o.Wait = DefaultWait
	}
	if o.ClientLifetime <= 0 {
		o.ClientLifetime = ca.DefaultClientLifetime
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Server{o: o, reports: map[string]Report{}}, nil
}

// Handler returns the listener's routes. The agent routes expect requests
// that came over [Server.TLSConfig]: without verified client certificates
// they answer 401.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	wrap := func(h httpapi.Handler) http.Handler { return httpapi.Wrap(s.o.Log, h) }
	if s.o.Enroll != nil {
		mux.Handle("POST "+agentapi.PathEnroll, s.o.Enroll)
	}
	mux.Handle("GET /api/v1/agents/{name}/desired", wrap(s.agent(s.desired)))
	mux.Handle("POST /api/v1/agents/{name}/state", wrap(s.agent(s.state)))
	mux.Handle("POST /api/v1/agents/{name}/certificate", wrap(s.agent(s.renew)))
	mux.Handle("/", wrap(func(w http.ResponseWriter, r *http.Request) error {
		return httpapi.Errorf(http.StatusNotFound, "NotFound", "no such path on the agent-facing listener")
	}))
	return mux
}

// TLSConfig returns the listener's TLS settings: TLS 1.3, the server
// certificate, and client certificates verified against the CA when
// presented (enrollment comes without one).
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		ClientAuth:     tls.VerifyClientCertIfGiven,
		ClientCAs:      s.o.CA.Pool(),
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.certificate() },
	}
}

// certificate returns the server certificate, issuing a new one at first
// use and when half of its life has passed.
func (s *Server) certificate() (*tls.Certificate, error) {
	s.certMu.Lock()
	defer s.certMu.Unlock()
	now := s.o.Now()
	if c := s.cert; c != nil {
		half := c.Leaf.NotBefore.Add(c.Leaf.NotAfter.Sub(c.Leaf.NotBefore) / 2)
		if now.Before(half) {
			return c, nil
		}
	}
	c, err := s.o.CA.ServerCertificate(s.o.Names, now)
	if err != nil {
		return nil, err
	}
	s.cert = &c
	return s.cert, nil
}

// Run serves the listener ln (a plain TCP listener; Run adds TLS) until
// ctx ends, then wakes every long poll, waits for requests to finish (at
// most a few seconds) and returns nil. Every goroutine it starts has ended
// when it returns.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	if _, err := s.certificate(); err != nil {
		ln.Close()
		return err
	}
	t := httpapi.DefaultTimeouts
	t.Write = s.o.Wait + 30*time.Second
	srv := httpapi.NewServer("", s.Handler(), t, s.o.Log)
	srv.TLSConfig = s.TLSConfig()
	// Long polls watch their request's context, which ends with ctx.
	srv.BaseContext = func(net.Listener) context.Context { return ctx }
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	var watch sync.WaitGroup
	wctx, stopWatch := context.WithCancel(ctx)
	defer func() { stopWatch(); watch.Wait() }()
	if s.o.Changed != nil {
		watch.Go(func() { s.watch(wctx) })
	}
	s.o.Log.Info("agent-facing listener serving", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("agent-facing listener: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("agent-facing listener: %w", err)
	}
	return nil
}

// watch publishes to every long poll on each policy change until ctx ends.
func (s *Server) watch(ctx context.Context) {
	for {
		select {
		case <-s.o.Changed():
			s.Publish()
		case <-ctx.Done():
			return
		}
	}
}

// Publish wakes the long polls of the named firewalls, or of every
// firewall when no name is given (a new revision). Woken polls re-read the
// desired state and answer when its digest differs from what the agent
// runs, so a spurious wake costs one lookup.
func (s *Server) Publish(names ...string) { s.notify.publish(names...) }

// Report returns the last state firewall name reported, if any since the
// controller started.
func (s *Server) Report(name string) (Report, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reports[name]
	return r, ok
}

// PullState returns the state firewall name last reported, for the
// reconciler (reconcile.PullReports).
func (s *Server) PullState(name string) (agentapi.State, bool) {
	r, ok := s.Report(name)
	return r.State, ok
}

// Forget drops the report of a firewall that left the policy.
func (s *Server) Forget(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.reports, name)
}

// agent wraps h with the checks every agent path makes: a verified client
// certificate for {name}, and {name} a pull-mode firewall of the current
// policy. h receives the desired state.
func (s *Server) agent(h func(http.ResponseWriter, *http.Request, *reconcile.Desired) error) httpapi.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("name")
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
			return &httpapi.HTTPError{Status: http.StatusUnauthorized, Code: "ClientCertificateRequired",
				Msg: "this path needs a client certificate from the controller's CA (run `fwgit-agent enroll`)"}
		}
		if cn := r.TLS.VerifiedChains[0][0].Subject.CommonName; cn != name {
			return httpapi.Errorf(http.StatusForbidden, "WrongFirewall", "the client certificate is for firewall %q, not %q", cn, name)
		}
		d, err := s.desiredFor(name)
		if err != nil {
			return err
		}
		return h(w, r, d)
	}
}

// desiredFor returns the desired state of a pull-mode firewall, or the
// HTTP error that says why there is none.
func (s *Server) desiredFor(name string) (*reconcile.Desired, error) {
	d, err := s.o.Desired(name)
	switch {
	case errors.Is(err, reconcile.ErrGone):
		return nil, httpapi.Errorf(http.StatusNotFound, "UnknownFirewall", "firewall %q is not in the current policy", name)
	case errors.Is(err, reconcile.ErrNoPolicy):
		return nil, &httpapi.HTTPError{Status: http.StatusServiceUnavailable, Code: "NoPolicy",
			Msg: "the controller has not loaded a good revision yet", Header: http.Header{"Retry-After": {"5"}}}
	case err != nil:
		return nil, err
	case d.Agent == nil || d.Agent.Mode != v1.AgentPull:
		return nil, httpapi.Errorf(http.StatusForbidden, "NotPullMode", "firewall %q is not a pull-mode firewall (spec.agent.mode: pull)", name)
	}
	return d, nil
}

// desired serves the long poll.
func (s *Server) desired(w http.ResponseWriter, r *http.Request, d *reconcile.Desired) error {
	name := r.PathValue("name")
	have := strings.Trim(strings.TrimPrefix(r.Header.Get("If-None-Match"), "W/"), `"`)
	var gen uint64
	if g := r.Header.Get(agentapi.HeaderGeneration); g != "" {
		var err error
		if gen, err = strconv.ParseUint(g, 10, 64); err != nil {
			return httpapi.Errorf(http.StatusBadRequest, "InvalidParameters", "%s must be a generation number", agentapi.HeaderGeneration)
		}
	}
	wait := s.o.Wait
	if q := r.URL.Query().Get("wait"); q != "" {
		v, err := time.ParseDuration(q)
		if err != nil || v < 0 {
			return httpapi.Errorf(http.StatusBadRequest, "InvalidParameters", "wait must be a duration such as 30s")
		}
		wait = min(v, wait)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		// Take the wake-up channel before reading the desired state, so a
		// publish in between is not missed.
		wake := s.notify.wait(name)
		var err error
		if d, err = s.desiredFor(name); err != nil {
			return err
		}
		if d.Digest != have {
			req := agentapi.RulesetRequest{
				Version:    agentapi.Version,
				Generation: gen + 1,
				Digest:     d.Digest,
				Revision:   d.Revision,
				Ruleset:    d.Ruleset,
			}
			if s.o.ConfirmTimeout > 0 {
				req.ConfirmTimeoutMS = s.o.ConfirmTimeout.Milliseconds()
			}
			w.Header().Set("ETag", strconv.Quote(d.Digest))
			w.Header().Set("Cache-Control", "no-store")
			httpapi.WriteJSON(w, http.StatusOK, req)
			return nil
		}
		select {
		case <-wake:
			continue
		case <-timer.C:
		case <-r.Context().Done():
			// The client left or the controller shuts down: "nothing
			// new" is true either way, and the agent polls again.
		}
		w.Header().Set("ETag", strconv.Quote(d.Digest))
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
}

// state stores a report.
func (s *Server) state(w http.ResponseWriter, r *http.Request, d *reconcile.Desired) error {
	name := r.PathValue("name")
	var st agentapi.State
	if err := httpapi.DecodeJSON(w, r, MaxStateBody, &st); err != nil {
		return err
	}
	s.mu.Lock()
	s.reports[name] = Report{State: st, At: s.o.Now(), Remote: r.RemoteAddr}
	s.mu.Unlock()
	s.o.Log.Debug("agent reported", logfield.Firewall, name, logfield.Digest, st.Digest,
		logfield.Generation, st.Generation, "in_sync", st.Digest == d.Digest)
	if s.o.OnReport != nil {
		s.o.OnReport(name)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// renew signs a new client certificate for the key in the request.
func (s *Server) renew(w http.ResponseWriter, r *http.Request, _ *reconcile.Desired) error {
	name := r.PathValue("name")
	var req agentapi.RenewRequest
	if err := httpapi.DecodeJSON(w, r, MaxRenewBody, &req); err != nil {
		return err
	}
	csr, err := ca.CheckCSR([]byte(req.CSR))
	if err != nil {
		return &httpapi.HTTPError{Status: http.StatusBadRequest, Code: "BadCSR", Msg: strings.TrimPrefix(err.Error(), "ca: "), Err: err}
	}
	der, err := s.o.CA.SignClient(csr, name, s.o.ClientLifetime, s.o.Now())
	if err != nil {
		return err
	}
	s.o.Log.Info("client certificate renewed", logfield.Firewall, name, logfield.Remote, r.RemoteAddr)
	httpapi.WriteJSON(w, http.StatusOK, enroll.Response(s.o.URL, name, der, s.o.CA))
	return nil
}

// notifier hands out one channel per firewall name, closed by publish.
type notifier struct {
	mu     sync.Mutex
	byName map[string]chan struct{}
}

func (n *notifier) wait(name string) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.byName == nil {
		n.byName = map[string]chan struct{}{}
	}
	ch, ok := n.byName[name]
	if !ok {
		ch = make(chan struct{})
		n.byName[name] = ch
	}
	return ch
}

func (n *notifier) publish(names ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(names) == 0 {
		for name, ch := range n.byName {
			close(ch)
			delete(n.byName, name)
		}
		return
	}
	for _, name := range names {
		if ch, ok := n.byName[name]; ok {
			close(ch)
			delete(n.byName, name)
		}
	}
}

// waiting reports whether a poll of name has waited since its last
// publish (for tests).
func (n *notifier) waiting(name string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.byName[name]
	return ok
}
