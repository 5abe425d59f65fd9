package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/ca"
	"github.com/fwgit/fwgit/controller/compile"
	"github.com/fwgit/fwgit/controller/config"
	"github.com/fwgit/fwgit/controller/enroll"
	"github.com/fwgit/fwgit/controller/fleet"
	"github.com/fwgit/fwgit/controller/fwapi"
	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/controller/pullserver"
	"github.com/fwgit/fwgit/controller/reconcile"
	"github.com/fwgit/fwgit/controller/source"
	"github.com/fwgit/fwgit/controller/status"
	"github.com/fwgit/fwgit/controller/ui"
	"github.com/fwgit/fwgit/internal/diag"
	"github.com/fwgit/fwgit/internal/httpapi"
	"github.com/fwgit/fwgit/internal/logfield"
	"github.com/fwgit/fwgit/internal/nft"
	"github.com/fwgit/fwgit/schema/load"
	v1 "github.com/fwgit/fwgit/schema/v1"
)

// MaxDiagnostics caps the diagnostics kept for a revision.
const MaxDiagnostics = 200

// Deps are the controller's collaborators. Only Log and Registry are
// usually set; the others replace the real implementation in tests.
type Deps struct {
	Log *slog.Logger
	// Registry receives every metric and is served on /metrics.
	Registry *prometheus.Registry
	// Clock drives backoff and resync (default: the system clock).
	Clock reconcile.Clock
	// Source replaces the Git or directory source built from the config.
	Source source.Source
	// Fleet replaces the HTTPS agent client.
	Fleet fleet.Client
	// Store replaces the bbolt store in the state directory. The
	// controller closes only a store it opened itself.
	Store status.Store
	// Mounts add endpoint sets to the API listener.
	Mounts []api.Mount
	// AgentHandler serves the agent-facing listener (cfg.Listen.Agents):
	// pull-mode agents and enrollment. Nil leaves the listener off.
	AgentHandler func(view api.PolicyView, store status.Store) http.Handler
	// UIRefresh is how often console pages poll for changes (default 5s).
	UIRefresh time.Duration
}

// Controller keeps every firewall on the newest valid revision.
type Controller struct {
	cfg      config.Config
	log      *slog.Logger
	reg      *prometheus.Registry
	clock    reconcile.Clock
	src      source.Source
	fleet    fleet.Client
	store    status.Store
	ownStore bool
	loop     *reconcile.Loop
	handler  http.Handler
	agentsH  http.Handler
	// rec keeps recent good policies for the console's pending-change page.
	rec *ui.Recorder
	// pull serves pull-mode agents and enrollment on Listen.Agents.
	pull       *pullserver.Server
	agentsAddr string

	creds *credentials

	policy atomic.Pointer[api.Policy]
	stall  atomic.Pointer[reconcile.Stall]
	ready  atomic.Bool

	mu        sync.Mutex
	changed   chan struct{}
	apiAddr   string
	listening chan struct{}

	loads *prometheus.CounterVec
}

// New builds a controller from a validated configuration. It reads every
// secret file and opens the status store; nothing runs before [Run].
func New(cfg config.Config, deps Deps) (*Controller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	c := &Controller{
		cfg: cfg, log: deps.Log, reg: deps.Registry, clock: deps.Clock,
		src: deps.Source, fleet: deps.Fleet, store: deps.Store,
		changed: make(chan struct{}), listening: make(chan struct{}),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.creds = newCredentials(c.log.With("component", "credentials"))
	if c.reg == nil {
		c.reg = prometheus.NewRegistry()
	}
	if c.clock == nil {
		c.clock = reconcile.RealClock{}
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	if err := c.readCredentials(); err != nil {
		return nil, err
	}
	var webhook, token config.Secret
	var err error
	if cfg.WebhookSecretFile != "" {
		if webhook, err = config.ReadSecret(cfg.WebhookSecretFile); err != nil {
			return nil, fmt.Errorf("webhookSecretFile: %w", err)
		}
	}
	if cfg.ReadTokenFile != "" {
		if token, err = config.ReadSecret(cfg.ReadTokenFile); err != nil {
			return nil, fmt.Errorf("readTokenFile: %w", err)
		}
	}
	if c.src == nil {
		if c.src, err = c.newSource(); err != nil {
			return nil, err
		}
	}
	if c.fleet == nil {
		c.fleet = fleet.NewHTTPS(fleet.HTTPSOptions{Timeout: cfg.AgentTimeout.D(), Registerer: c.reg})
	}
	if c.store == nil {
		st, err := status.Open(filepath.Join(cfg.StateDir, "status.db"))
		if err != nil {
			return nil, err
		}
		c.store, c.ownStore = st, true
	}
	c.loads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fwgit_revision_loads_total",
		Help: "Revisions loaded, by result (valid, invalid).",
	}, []string{"result"})
	for _, r := range []string{"valid", "invalid"} {
		c.loads.WithLabelValues(r)
	}
	for _, col := range []prometheus.Collector{c.loads, status.NewCollector(c.store)} {
		if err := c.reg.Register(col); err != nil {
			c.closeStore()
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	rec := &reconcile.Firewall{
		Desired:        c.desired,
		Target:         c.target,
		Fleet:          c.fleet,
		Store:          c.store,
		ConfirmTimeout: cfg.ConfirmTimeout.D(),
		DriftMode:      cfg.DriftMode,
		Clock:          c.clock,
		Log:            c.log.With("component", "reconcile"),
	}
	c.loop = reconcile.NewLoop(rec, reconcile.Options{
		Workers:    cfg.Concurrency,
		Resync:     cfg.ResyncInterval.D(),
		BackoffMin: cfg.Backoff.Min.D(),
		BackoffMax: cfg.Backoff.Max.D(),
		// Observe, apply, confirm and verify, each bounded by the agent
		// timeout, plus slack.
		Budget:  5*cfg.AgentTimeout.D() + 5*time.Second,
		Clock:   c.clock,
		Log:     c.log.With("component", "reconcile"),
		Metrics: reconcile.NewMetrics(c.reg),
	})
	c.handler = api.Handler(api.Options{
		Store:         c.store,
		View:          c,
		Gatherer:      c.reg,
		Trigger:       c.src.Trigger,
		WebhookSecret: webhook,
		ReadToken:     token,
		Ready:         c.ready.Load,
		Mounts: append([]api.Mount{c.fwapiMount(token), ui.TraceMount(c.log.With("component", "trace"))},
			deps.Mounts...),
		Log: c.log.With("component", "api"),
	})
	// The web console sits in front of the API's bearer check: it has its
	// own login (a cookie derived from the same token).
	repoPath := ""
	if cfg.Git != nil {
		repoPath = cfg.Git.Path
	}
	c.rec = ui.NewRecorder(8)
	c.handler = ui.Front(ui.New(ui.Deps{Policy: c, Status: c.store, Archive: c.rec,
		RepoWebURL: cfg.RepoWebURL, RepoPath: repoPath, Token: token, Refresh: deps.UIRefresh,
		Log: c.log.With("component", "ui")}), c.handler)
	switch {
	case deps.AgentHandler != nil && cfg.Listen.Agents != "":
		c.agentsH = deps.AgentHandler(c, c.store)
	case cfg.Listen.Agents != "":
		if c.pull, err = c.newPullServer(); err != nil {
			return nil, err
		}
		rec.Pull = c.pull
	}
	return c, nil
}

// newPullServer builds the agent-facing listener for pull-mode agents and
// enrollment: the controller's CA (created at first start in the state
// directory), the token store, and the long-poll server.
func (c *Controller) newPullServer() (*pullserver.Server, error) {
	authority, err := ca.LoadOrCreate(c.cfg.StateDir, time.Now())
	if err != nil {
		return nil, fmt.Errorf("controller CA: %w", err)
	}
	tokens, err := enroll.Open(c.cfg.StateDir, enroll.Options{})
	if err != nil {
		return nil, fmt.Errorf("enrollment tokens: %w", err)
	}
	url, err := c.cfg.AgentURL()
	if err != nil {
		return nil, err
	}
	names := slices.Clone(c.cfg.Pull.Names)
	if host, _, err := net.SplitHostPort(c.cfg.Listen.Agents); err == nil && host != "" {
		names = append(names, host)
	}
	log := c.log.With("component", "pull")
	return pullserver.New(pullserver.Options{
		CA:      authority,
		Desired: c.desired,
		Enroll: enroll.Handler(enroll.HandlerOptions{Store: tokens, CA: authority, URL: url,
			ClientLifetime: c.cfg.Pull.CertificateLifetime.D(), Log: log}),
		URL:            url,
		Names:          names,
		Wait:           c.cfg.Pull.Wait.D(),
		ConfirmTimeout: c.cfg.ConfirmTimeout.D(),
		ClientLifetime: c.cfg.Pull.CertificateLifetime.D(),
		Changed:        c.Changed,
		OnReport:       func(name string) { c.loop.Enqueue(name) },
		Log:            log,
	})
}

// fwapiMount serves the FWAPI read endpoints (spec/fwapi.md) from the
// current good revision; rule versions come from the local clone's history.
func (c *Controller) fwapiMount(token config.Secret) api.Mount {
	cfg := fwapi.Config{Token: token.Reveal()}
	var history func() (fwapi.History, error)
	if g := c.cfg.Git; g != nil {
		cfg.Repository, cfg.Branch, cfg.Path = g.URL, g.Branch, g.Path
		clone := filepath.Join(c.cfg.StateDir, "git")
		history = func() (fwapi.History, error) { return fwapi.NewGitHistory(clone, g.Path) }
	} else {
		cfg.Repository = c.cfg.Dir
	}
	return fwapi.Mount(cfg, history, c.log.With("component", "fwapi"))
}

func (c *Controller) readCredentials() error {
	all := []config.Credentials{c.cfg.Agents.Default}
	for _, cr := range c.cfg.Agents.Firewalls {
		all = append(all, cr)
	}
	return c.creds.load(all)
}

func (c *Controller) newSource() (source.Source, error) {
	log := c.log.With("component", "source")
	if c.cfg.Dir != "" {
		return source.NewDir(c.cfg.Dir, 0, log), nil
	}
	g := c.cfg.Git
	opts := source.GitOptions{
		URL: g.URL, Branch: g.Branch, Path: g.Path,
		Dir:      filepath.Join(c.cfg.StateDir, "git"),
		Interval: c.cfg.PollInterval.D(), Timeout: c.cfg.FetchTimeout.D(),
		Log: log, Registerer: c.reg,
	}
	if g.KeyringFile != "" {
		b, err := os.ReadFile(g.KeyringFile)
		if err != nil {
			return nil, fmt.Errorf("git.keyringFile: %w", err)
		}
		opts.Keyring = string(b)
	}
	if g.UsernameFile != "" {
		var err error
		if opts.Username, err = config.ReadSecret(g.UsernameFile); err != nil {
			return nil, fmt.Errorf("git.usernameFile: %w", err)
		}
		if opts.Password, err = config.ReadSecret(g.PasswordFile); err != nil {
			return nil, fmt.Errorf("git.passwordFile: %w", err)
		}
	}
	return source.NewGit(opts)
}

// Handler returns the API handler (what the API listener serves).
func (c *Controller) Handler() http.Handler { return c.handler }

// Registry returns the metrics registry.
func (c *Controller) Registry() *prometheus.Registry { return c.reg }

// Store returns the status store.
func (c *Controller) Store() status.Store { return c.store }

// Policy implements [api.PolicyView].
func (c *Controller) Policy() *api.Policy { return c.policy.Load() }

// Changed implements [api.PolicyView].
func (c *Controller) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// Ready reports whether a good revision has been loaded.
func (c *Controller) Ready() bool { return c.ready.Load() }

// Trigger asks the source to check for a new revision now.
func (c *Controller) Trigger() { c.src.Trigger() }

// Enqueue asks for firewalls to be reconciled now (an agent report, an
// operator request).
func (c *Controller) Enqueue(names ...string) { c.loop.Enqueue(names...) }

// APIAddr waits until the API listener is bound (or ctx ends) and returns
// its address.
func (c *Controller) APIAddr(ctx context.Context) (string, error) {
	select {
	case <-c.listening:
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.apiAddr, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Run runs the controller until ctx is cancelled: the source, the loader,
// the reconcile workers and the listeners. It returns after every goroutine
// it started has ended.
func (c *Controller) Run(ctx context.Context) error {
	defer c.closeStore()
	g, ctx := errgroup.WithContext(ctx)
	snaps := make(chan source.Snapshot)
	g.Go(func() error { return c.src.Run(ctx, snaps) })
	g.Go(func() error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case s := <-snaps:
				c.load(s)
			}
		}
	})
	g.Go(func() error { return c.loop.Run(ctx) })
	g.Go(func() error { return c.rec.Run(ctx, c) })
	g.Go(func() error { return c.serve(ctx, c.cfg.Listen.API, c.handler, true) })
	if c.agentsH != nil {
		g.Go(func() error { return c.serve(ctx, c.cfg.Listen.Agents, c.agentsH, false) })
	}
	if c.pull != nil {
		g.Go(func() error {
			ln, err := net.Listen("tcp", c.cfg.Listen.Agents)
			if err != nil {
				return fmt.Errorf("listening on %s: %w", c.cfg.Listen.Agents, err)
			}
			c.mu.Lock()
			c.agentsAddr = ln.Addr().String()
			c.mu.Unlock()
			return c.pull.Run(ctx, ln)
		})
	}
	c.log.Info("controller started", "api", c.cfg.Listen.API, "concurrency", c.cfg.Concurrency)
	err := g.Wait()
	if ci, ok := c.fleet.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
	c.log.Info("controller stopped")
	return err
}

func (c *Controller) closeStore() {
	if c.ownStore {
		if err := c.store.Close(); err != nil {
			c.log.Error("closing status store", logfield.Error, err)
		}
		c.ownStore = false
	}
}

func (c *Controller) serve(ctx context.Context, addr string, h http.Handler, isAPI bool) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	if isAPI {
		c.mu.Lock()
		c.apiAddr = ln.Addr().String()
		c.mu.Unlock()
		close(c.listening)
	}
	srv := httpapi.NewServer(addr, h, httpapi.DefaultTimeouts, c.log)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving %s: %w", addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func commitOf(s source.Snapshot) status.Commit {
	return status.Commit{Hash: s.Commit.Hash, Branch: s.Commit.Branch, Subject: s.Commit.Subject, Author: s.Commit.Author, Time: s.Commit.Time}
}

// load turns a snapshot into the new last good policy, or records why it
// cannot be one. It runs on one goroutine only.
func (c *Controller) load(snap source.Snapshot) {
	log := c.log.With(logfield.Revision, snap.Revision)
	rev, err := c.store.Revision()
	if err != nil {
		log.Error("reading revision info", logfield.Error, err)
	}
	rev.Current, rev.CurrentCommit, rev.UpdatedAt = snap.Revision, commitOf(snap), c.clock.Now()

	pol, diags := c.compile(snap)
	prev := c.policy.Load()
	if pol == nil {
		c.loads.WithLabelValues("invalid").Inc()
		if prev == nil {
			prev = c.recoverLastGood(log, rev.LastGood)
		}
		rev.Valid = false
		rev.Diagnostics, rev.Omitted = diags.Cap(MaxDiagnostics)
		if err := c.store.SetRevision(rev); err != nil {
			log.Error("recording revision", logfield.Error, err)
		}
		msg := "refused"
		if errs := diags.Errors(); errs > 0 {
			first := diags[slices.IndexFunc(diags, func(d diag.Diagnostic) bool { return d.Severity == diag.Error })]
			msg = first.Pos.String() + ": " + first.Msg
			if errs > 1 {
				msg += fmt.Sprintf(" (and %d more errors)", errs-1)
			}
		}
		c.stall.Store(&reconcile.Stall{Revision: snap.Revision, Message: msg})
		log.Warn("invalid revision: keeping the last good one", "errors", diags.Errors(), "first", msg, "last_good", rev.LastGood)
		if prev != nil {
			c.loop.Enqueue(names(prev)...)
		}
		return
	}
	c.install(pol, prev)
	c.loads.WithLabelValues("valid").Inc()

	rev.Valid = true
	rev.LastGood, rev.LastGoodCommit = snap.Revision, commitOf(snap)
	rev.Diagnostics, rev.Omitted = diags.Cap(MaxDiagnostics)
	if err := c.store.SetRevision(rev); err != nil {
		log.Error("recording revision", logfield.Error, err)
	}
	log.Info("revision loaded", "firewalls", len(pol.Inventory.Firewalls), "warnings", diags.Warnings())

	// Every firewall of the new policy, of the previous one, and any left
	// in status (removed while the controller was down).
	all := names(pol)
	if prev != nil {
		all = append(all, names(prev)...)
	}
	if fws, err := c.store.List(); err == nil {
		for _, fw := range fws {
			all = append(all, fw.Name)
		}
	}
	slices.Sort(all)
	c.loop.Enqueue(slices.Compact(all)...)
}

// install compiles pol's rulesets (incrementally against prev) and makes
// pol the last good policy.
func (c *Controller) install(pol, prev *api.Policy) {
	if prev != nil {
		pol.Rulesets = compile.Update(prev.Rulesets, prev.Inventory, pol.Inventory)
	} else {
		pol.Rulesets = compile.All(pol.Inventory)
	}
	pol.Digests = make(map[string]string, len(pol.Rulesets))
	for name, rs := range pol.Rulesets {
		if prev != nil && prev.Rulesets[name] == rs {
			pol.Digests[name] = prev.Digests[name]
			continue
		}
		pol.Digests[name] = rs.Digest()
	}
	c.policy.Store(pol)
	c.stall.Store(nil)
	c.mu.Lock()
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	c.ready.Store(true)
}

// recoverLastGood reloads the last good revision recorded in status from
// the source's local state, so that a controller restarted on an invalid
// head keeps serving what it served before. It returns nil when it cannot.
func (c *Controller) recoverLastGood(log *slog.Logger, lastGood string) *api.Policy {
	rs, ok := c.src.(source.Revisioner)
	if lastGood == "" || !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.FetchTimeout.D())
	defer cancel()
	snap, err := rs.SnapshotAt(ctx, lastGood)
	if err != nil {
		log.Warn("reloading the last good revision", "last_good", lastGood, logfield.Error, err)
		return nil
	}
	pol, _ := c.compile(snap)
	if pol == nil {
		return nil
	}
	c.install(pol, nil)
	log.Info("serving the last good revision from the local clone", "last_good", lastGood)
	return pol
}

// compile loads and validates a snapshot; it returns nil and the
// diagnostics when the snapshot cannot become the last good policy.
func (c *Controller) compile(snap source.Snapshot) (*api.Policy, diag.List) {
	if snap.Refused != nil {
		return nil, diag.List{{Pos: diag.Pos{File: "(commit " + shortHash(snap.Commit.Hash) + ")"}, Severity: diag.Error, Code: "refused-revision", Msg: snap.Refused.Error()}}
	}
	repo := load.Load(snap.FS)
	inv, diags := model.Build(repo)
	all := append(slices.Clone(repo.Diags), diags...)
	all.Sort()
	if all.HasErrors() || inv == nil {
		return nil, all
	}
	return &api.Policy{
		Revision: snap.Revision, Commit: snap.Commit, FS: snap.FS, Inventory: inv,
		Warnings: all, LoadedAt: c.clock.Now(),
	}, all
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func names(p *api.Policy) []string {
	out := make([]string, 0, len(p.Inventory.Firewalls))
	for _, fw := range p.Inventory.Firewalls {
		out = append(out, fw.Name)
	}
	return out
}

// desired implements [reconcile.DesiredFunc] from the last good policy.
func (c *Controller) desired(name string) (*reconcile.Desired, error) {
	p := c.policy.Load()
	if p == nil {
		return nil, reconcile.ErrNoPolicy
	}
	fw := p.Inventory.FirewallByName(name)
	if fw == nil {
		return nil, reconcile.ErrGone
	}
	rs := p.Rulesets[name]
	if rs == nil {
		rs = compile.Empty()
	}
	d := &reconcile.Desired{Name: name, Revision: p.Revision, Ruleset: rs, Digest: p.Digests[name], Agent: fw.Agent}
	if d.Digest == "" {
		d.Digest = rs.Digest()
	}
	if s := c.stall.Load(); s != nil {
		d.Stall = s
	}
	return d, nil
}

// target implements [reconcile.TargetFunc]: the manifest's agent URL and
// pin, with the configured credentials (a configured fingerprint overrides
// the manifest's).
func (c *Controller) target(name string, a *v1.Agent) (fleet.Target, error) {
	if a.URL == "" {
		return fleet.Target{}, fmt.Errorf("firewall %s: spec.agent has no url", name)
	}
	cr := c.cfg.CredentialsFor(name)
	t := fleet.Target{Name: name, URL: a.URL, Fingerprint: a.Fingerprint}
	if cr.APIKeyFile != "" {
		key, err := c.creds.key(cr.APIKeyFile, false)
		if err != nil {
			return fleet.Target{}, fmt.Errorf("firewall %s: agent API key: %w", name, err)
		}
		t.APIKey = key
	}
	if cr.Fingerprint != "" {
		t.Fingerprint = cr.Fingerprint
	}
	if cr.CAFile != "" {
		pool, err := c.creds.pool(cr.CAFile, false)
		if err != nil {
			return fleet.Target{}, fmt.Errorf("firewall %s: agent CA: %w", name, err)
		}
		t.RootCAs = pool
	}
	return t, nil
}

var _ api.PolicyView = (*Controller)(nil)

// Ruleset returns the desired ruleset of firewall name in the current good
// policy, or nil.
func (c *Controller) Ruleset(name string) *nft.Ruleset {
	if p := c.policy.Load(); p != nil {
		return p.Rulesets[name]
	}
	return nil
}
