package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fwgit/fwgit/agent/agentconfig"
	"github.com/fwgit/fwgit/agent/dataplane"
	"github.com/fwgit/fwgit/agent/pull"
	"github.com/fwgit/fwgit/agent/safety"
	"github.com/fwgit/fwgit/agent/server"
	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/logfield"
	"github.com/fwgit/fwgit/internal/nft"
	"github.com/fwgit/fwgit/internal/version"
)

// Deps are the agent's side effects, injected so tests can replace them.
type Deps struct {
	// Applier is the kernel (dataplane.Netlink) or a fake. Required.
	Applier dataplane.Applier
	// Log defaults to a logger that discards everything.
	Log *slog.Logger
	// Clock defaults to the system clock; it drives commit-confirm and the
	// drift interval.
	Clock safety.Clock
	// Listener, when set, is served instead of listening on Config.Listen.
	// Connections can queue on it before the persisted ruleset is restored.
	Listener net.Listener
	// Listen, when set and Listener is not, opens the listener on
	// Config.Listen once the ruleset is restored (default net.Listen).
	Listen func(network, address string) (net.Listener, error)
	// PullDir, when it holds an enrollment (`fwgit-agent enroll`), makes
	// the agent also dial the controller there: it long-polls its desired
	// ruleset over mutual TLS and reports its state (pull mode, for agents
	// the controller cannot reach).
	PullDir string
}

// Agent is a configured fwgit-agent.
type Agent struct {
	cfg   agentconfig.Config
	deps  Deps
	cert  tls.Certificate
	guard *safety.Guard
	srv   *server.Server
	log   *slog.Logger
}

// New checks cfg, loads the TLS key pair and opens the state directory. It
// does not touch the kernel or the network: [Agent.Run] does.
func New(cfg agentconfig.Config, d Deps) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid settings:\n%w", err)
	}
	if d.Applier == nil {
		return nil, errors.New("agent: no applier")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Clock == nil {
		d.Clock = safety.SystemClock()
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("loading TLS key pair %s, %s (run `fwgit-agent init`): %w", cfg.TLSCert, cfg.TLSKey, err)
	}
	store, err := safety.OpenStore(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	port, _ := cfg.Port() // checked by Validate
	a := &Agent{cfg: cfg, deps: d, cert: cert, log: d.Log}
	a.guard = safety.NewGuard(safety.Options{
		Applier:  d.Applier,
		Store:    store,
		Failsafe: safety.Failsafe{APIPort: port, AllowedIPs: cfg.AllowedIPs, MgmtCIDRs: cfg.MgmtCIDRs},
		Table:    cfg.Table,
		Clock:    d.Clock,
		Log:      d.Log,
		// A controller's apply that meets the drift check waits for it
		// rather than being told to come back.
		ApplyWait: 5 * time.Second,
	})
	a.srv = server.New(server.Config{
		APIKey:     cfg.APIKey.Reveal(),
		AllowedIPs: cfg.AllowedIPs,
		Table:      cfg.Table,
		Info:       Info(cfg),
	}, a.guard, d.Log)
	return a, nil
}

// Info describes this agent for GET /info.
func Info(cfg agentconfig.Config) agentapi.Info {
	host, _ := os.Hostname()
	return agentapi.Info{
		Version:    version.String(),
		Hostname:   host,
		Kernel:     kernelRelease(),
		Table:      cfg.Table,
		Features:   []string{fmt.Sprintf("ir-v%d", nft.IRVersion), "commit-confirm", "failsafe", "drift-" + string(cfg.DriftMode)},
		IRVersions: []int{nft.IRVersion},
	}
}

// kernelRelease returns what `uname -r` prints.
func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// Handler returns the API handler, for tests and for embedding.
func (a *Agent) Handler() http.Handler { return a.srv.Handler() }

// Run restores the persisted ruleset into the kernel, then serves the API and
// runs the drift check until ctx ends. It returns nil after a clean
// shutdown, having joined every goroutine and stopped the commit-confirm
// timer (a pending confirmation stays on disk for the next start).
func (a *Agent) Run(ctx context.Context) error {
	defer a.guard.Close()
	a.log.Info("agent starting", "config", a.cfg, "version", version.String())
	// Restore first: the firewall must hold its last ruleset before the
	// agent answers anyone. A refusal is reported in /state and the agent
	// serves anyway, so the controller can send a good ruleset.
	if err := a.guard.Restore(ctx); err != nil {
		a.log.Error("restoring the persisted ruleset", logfield.Error, err)
	}
	ln := a.deps.Listener
	if ln == nil {
		listen := a.deps.Listen
		if listen == nil {
			listen = net.Listen
		}
		var err error
		if ln, err = listen("tcp", a.cfg.Listen); err != nil {
			return fmt.Errorf("listening: %w", err)
		}
	}
	a.log.Info("serving", "addr", ln.Addr().String())
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.srv.Serve(ctx, ln, a.cert) })
	g.Go(func() error { return a.driftLoop(ctx) })
	if a.deps.PullDir != "" && pull.Enrolled(a.deps.PullDir) {
		l, err := pull.New(pull.Config{Dir: a.deps.PullDir, Log: a.log.With("component", "pull")}, a.guard)
		if err != nil {
			return fmt.Errorf("pull mode: %w", err)
		}
		a.log.Info("pull mode: following the controller", "dir", a.deps.PullDir)
		g.Go(func() error { return l.Run(ctx) })
	}
	return g.Wait()
}

// driftLoop checks for drift every DriftInterval until ctx ends.
func (a *Agent) driftLoop(ctx context.Context) error {
	if a.cfg.DriftInterval <= 0 {
		return nil
	}
	repair := a.cfg.DriftMode == agentconfig.DriftRepair
	tick := make(chan struct{}, 1)
	for {
		t := a.deps.Clock.AfterFunc(a.cfg.DriftInterval, func() {
			select {
			case tick <- struct{}{}:
			default:
			}
		})
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-tick:
		}
		cctx, cancel := context.WithTimeout(ctx, max(a.cfg.DriftInterval, time.Minute))
		_, err := a.guard.CheckDrift(cctx, repair)
		cancel()
		if err != nil && !errors.Is(err, safety.ErrBusy) {
			a.log.Warn("drift check", logfield.Error, err)
		}
	}
}
