package pull

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fwgit/fwgit/agent/safety"
	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/logfield"
)

// Applier is the agent's guarded path to the kernel, as the loop needs it.
// *safety.Guard implements it.
type Applier interface {
	// Apply applies a ruleset request (all or nothing).
	Apply(ctx context.Context, req *agentapi.RulesetRequest) (agentapi.ApplyResult, error)
	// Confirm ends the commit-confirm window of a generation.
	Confirm(ctx context.Context, generation uint64) error
	// State returns what the agent runs.
	State(ctx context.Context) agentapi.State
}

var _ Applier = (*safety.Guard)(nil)

// Config configures a [Loop]. The zero value of every field but Dir means
// its default.
type Config struct {
	// Dir holds the enrollment (see [Enroll]). Required.
	Dir string
	// Wait is the long poll the agent asks for (default 30s; the
	// controller may answer sooner).
	Wait time.Duration
	// ReportInterval is how often the agent reports its state when nothing
	// happens (default 60s).
	ReportInterval time.Duration
	// MinBackoff and MaxBackoff bound the delay after a failure (default
	// 1s and 60s); it doubles per consecutive failure, with jitter.
	MinBackoff, MaxBackoff time.Duration
	// RequestTimeout bounds requests other than the long poll (default
	// 15s).
	RequestTimeout time.Duration
	// Now defaults to time.Now; it decides certificate renewal.
	Now func() time.Time
	// Log defaults to a logger that discards everything.
	Log *slog.Logger
}

// Loop keeps one firewall on its desired ruleset in pull mode.
type Loop struct {
	cfg Config
	ap  Applier
	log *slog.Logger
	tr  *http.Transport

	mu        sync.Mutex // guards id's certificate
	id        *Identity
	lastRenew time.Time

	report chan struct{}
}

// New loads the enrollment in cfg.Dir and returns a loop over ap.
func New(cfg Config, ap Applier) (*Loop, error) {
	if ap == nil {
		return nil, errors.New("pull: no applier")
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 30 * time.Second
	}
	if cfg.ReportInterval <= 0 {
		cfg.ReportInterval = time.Minute
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(60*time.Second, cfg.MinBackoff)
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 15 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	id, err := Load(cfg.Dir)
	if err != nil {
		return nil, err
	}
	l := &Loop{cfg: cfg, ap: ap, id: id, report: make(chan struct{}, 1)}
	l.log = cfg.Log.With(logfield.Firewall, id.Firewall)
	l.tr = newTransport(&tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    pool(id.CA),
		// The controller's certificate always carries this name; the
		// private CA pinned at enrollment is the trust anchor.
		ServerName: agentapi.ControllerServerName,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			l.mu.Lock()
			defer l.mu.Unlock()
			c := l.id.cert
			return &c, nil
		},
	})
	return l, nil
}

// Identity returns the loaded enrollment.
func (l *Loop) Identity() *Identity {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.id
}

// Run polls, applies and reports until ctx ends; it returns nil then,
// having joined its goroutines. Failures never end it: it backs off and
// tries again, and the firewall keeps the ruleset it runs.
func (l *Loop) Run(ctx context.Context) error {
	defer l.tr.CloseIdleConnections()
	l.log.Info("pull mode starting", "controller", l.id.URL)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { l.reporter(ctx); return nil })
	g.Go(func() error { l.poller(ctx); return nil })
	return g.Wait()
}

// requestReport asks the reporter to report now.
func (l *Loop) requestReport() {
	select {
	case l.report <- struct{}{}:
	default:
	}
}

// reporter reports the state on request and every ReportInterval.
func (l *Loop) reporter(ctx context.Context) {
	t := time.NewTicker(l.cfg.ReportInterval)
	defer t.Stop()
	for {
		if err := l.sendState(ctx); err != nil && ctx.Err() == nil {
			l.log.Debug("state report failed", logfield.Error, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-l.report:
		}
	}
}

// poller is the long-poll loop.
func (l *Loop) poller(ctx context.Context) {
	var failures int
	for ctx.Err() == nil {
		l.maybeRenew(ctx)
		st := l.ap.State(ctx)
		req, err := l.poll(ctx, st)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			d := backoff(failures, l.cfg.MinBackoff, l.cfg.MaxBackoff)
			l.log.Warn("controller unreachable; keeping the current ruleset", logfield.Error, err, "retry_in", d.Round(time.Millisecond))
			sleep(ctx, d)
			continue
		}
		if failures > 0 {
			l.log.Info("controller reachable again")
			failures = 0
			l.requestReport()
		}
		if req == nil {
			continue // 304: nothing changed
		}
		res, err := l.ap.Apply(ctx, req)
		l.requestReport()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			d := backoff(failures, l.cfg.MinBackoff, l.cfg.MaxBackoff)
			l.log.Error("apply refused; keeping the current ruleset", logfield.Generation, req.Generation,
				logfield.Digest, req.Digest, logfield.Error, err, "retry_in", d.Round(time.Millisecond))
			sleep(ctx, d)
			continue
		}
		l.log.Info("desired ruleset applied", logfield.Generation, req.Generation, logfield.Digest, req.Digest,
			logfield.Revision, req.Revision, "changed", res.Changed)
		if res.PendingConfirm != nil {
			l.confirm(ctx, res.PendingConfirm)
		}
	}
}

// poll asks for the desired ruleset; nil means the agent runs it already.
func (l *Loop) poll(ctx context.Context, st agentapi.State) (*agentapi.RulesetRequest, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Wait+l.cfg.RequestTimeout)
	defer cancel()
	id := l.Identity()
	u := id.URL + agentapi.DesiredPath(id.Firewall) + "?wait=" + l.cfg.Wait.String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if st.Digest != "" {
		req.Header.Set("If-None-Match", strconv.Quote(st.Digest))
	}
	req.Header.Set(agentapi.HeaderGeneration, strconv.FormatUint(st.Generation, 10))
	resp, err := (&http.Client{Transport: l.tr, CheckRedirect: noRedirect}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		return nil, nil
	case http.StatusOK:
	default:
		return nil, controllerError(resp.StatusCode, io.LimitReader(resp.Body, maxResponse))
	}
	var rr agentapi.RulesetRequest
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxRuleset))
	// A field this agent does not know could change what a rule means:
	// refuse rather than drop it.
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rr); err != nil {
		return nil, fmt.Errorf("decoding desired ruleset: %w", err)
	}
	return &rr, nil
}

// maxRuleset caps a desired ruleset's JSON (large address sets).
const maxRuleset = 64 << 20

// sendState reports the applier's state.
func (l *Loop) sendState(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
	defer cancel()
	st := l.ap.State(ctx)
	body, err := json.Marshal(st)
	if err != nil {
		return err
	}
	id := l.Identity()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, id.URL+agentapi.StatePath(id.Firewall), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return roundTrip(&http.Client{Transport: l.tr, CheckRedirect: noRedirect}, req, nil)
}

// confirm ends a commit-confirm window once the agent has reached the
// controller again over a new connection after the apply: proof that the
// new ruleset still lets it through. If it cannot before the deadline,
// it does nothing and the guard rolls back by itself.
func (l *Loop) confirm(ctx context.Context, p *agentapi.Pending) {
	log := l.log.With(logfield.Generation, p.Generation)
	margin := min(time.Second, time.Until(p.Deadline)/4)
	for attempt := 1; ; attempt++ {
		l.tr.CloseIdleConnections()
		cctx, cancel := context.WithDeadline(ctx, p.Deadline.Add(-margin))
		err := l.sendState(cctx)
		if err == nil {
			err = l.ap.Confirm(cctx, p.Generation)
			cancel()
			if err == nil {
				log.Info("commit-confirm: controller reached over a new connection; confirmed")
				l.requestReport()
				return
			}
			log.Error("commit-confirm: confirm refused", logfield.Error, err)
			return
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		if time.Until(p.Deadline) <= margin {
			log.Warn("commit-confirm: controller not reached in time; the agent rolls back", logfield.Error, err)
			return
		}
		sleep(ctx, min(time.Duration(attempt)*200*time.Millisecond, time.Until(p.Deadline)/4))
	}
}

// backoff returns the delay after n consecutive failures: lo doubled n-1
// times, capped at hi, then drawn uniformly from its upper half (jitter
// that spreads reconnecting agents without ever waiting less than half).
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	half := d / 2
	return half + rand.N(half+1)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
