package safety

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/fwgit/fwgit/agent/dataplane"
	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/logfield"
	"github.com/fwgit/fwgit/internal/nft"
)

// MaxConfirmTimeout is the longest commit-confirm window a request may ask
// for.
const MaxConfirmTimeout = 24 * time.Hour

// rollbackRetry is how long a failed rollback waits before it tries again,
// and rollbackBudget how long one rollback may take.
const (
	rollbackRetry  = 5 * time.Second
	rollbackBudget = 2 * time.Minute
)

// Options configure a [Guard]. Applier, Store and Table are required.
type Options struct {
	Applier  dataplane.Applier
	Store    *Store
	Failsafe Failsafe
	// Table is the table the agent owns; requests for another are refused.
	Table string
	// Clock defaults to [SystemClock].
	Clock Clock
	// Log defaults to a logger that discards everything.
	Log *slog.Logger
	// ApplyWait is how long an apply waits for another transaction (a
	// drift check, a rollback, another apply) to finish before it fails
	// with [ErrBusy]; zero fails at once.
	ApplyWait time.Duration
}

// Guard is the agent's single path to the kernel. It serialises kernel work
// (one apply, rollback or repair at a time), adds the failsafe rules,
// persists every change before answering, runs the commit-confirm timer and
// detects drift. Its methods are safe for concurrent use.
type Guard struct {
	applier   dataplane.Applier
	store     *Store
	failsafe  Failsafe
	table     string
	clock     Clock
	log       *slog.Logger
	applyWait time.Duration

	// sem is held for every kernel transaction and state change; the holder
	// may read the fields below without mu.
	sem chan struct{}
	wg  sync.WaitGroup // timer callbacks in flight

	mu        sync.Mutex // guards the fields below for readers without sem
	st        Persisted
	owned     bool         // st describes what our table must hold
	effective *nft.Ruleset // what the kernel holds: st.Current plus failsafe
	effDigest string
	drift     *agentapi.Drift
	lastErr   string
	dirty     bool // st has changes the store did not take
	timer     Timer
	closed    bool

	// rawSum is the SHA-256 of the last request body [Guard.ApplyJSON]
	// handled, valid while rawOK: nothing has changed the state since, so
	// the same bytes would be a no-op again. Only the holder of sem uses them.
	rawSum [sha256.Size]byte
	rawOK  bool
}

// NewGuard returns a Guard. Call [Guard.Restore] once before serving, and
// [Guard.Close] when done.
func NewGuard(o Options) *Guard {
	if o.Clock == nil {
		o.Clock = SystemClock()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Guard{
		applier:   o.Applier,
		store:     o.Store,
		failsafe:  o.Failsafe,
		table:     o.Table,
		clock:     o.Clock,
		log:       o.Log,
		applyWait: o.ApplyWait,
		sem:       make(chan struct{}, 1),
	}
}

// acquireApply takes sem for an apply, waiting up to applyWait (real time:
// it bounds a request, it schedules nothing) for the holder to finish.
func (g *Guard) acquireApply(ctx context.Context) bool {
	if g.tryAcquire() {
		return true
	}
	if g.applyWait <= 0 {
		return false
	}
	t := time.NewTimer(g.applyWait)
	defer t.Stop()
	select {
	case g.sem <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

func (g *Guard) tryAcquire() bool {
	select {
	case g.sem <- struct{}{}:
		return true
	default:
		return false
	}
}

func (g *Guard) acquire(ctx context.Context) error {
	select {
	case g.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (g *Guard) release() { <-g.sem }

// empty is the ruleset that means "no table".
func (g *Guard) empty() *nft.Ruleset { return &nft.Ruleset{Version: nft.IRVersion, Table: g.table} }

// effectiveOf returns what the kernel must hold for rec: its ruleset with the
// failsafe rules, or no table for nil.
func (g *Guard) effectiveOf(rec *Record) *nft.Ruleset {
	if rec == nil {
		return g.empty()
	}
	return g.failsafe.Apply(rec.Request.Ruleset)
}

// Restore loads the persisted state and puts it back into the kernel: the
// current ruleset, or, when a commit-confirm deadline passed while the agent
// was down, the previous one. With no state file it does nothing. A corrupt
// state file is logged and reported in [Guard.State], and the kernel's table
// is left as it is; Restore then returns nil, because the agent must keep
// serving so the controller can send a good ruleset. An error means the
// kernel refused the persisted ruleset.
func (g *Guard) Restore(ctx context.Context) error {
	if err := g.acquire(ctx); err != nil {
		return err
	}
	defer g.release()
	g.rawOK = false
	p, err := g.store.Load(g.table)
	if err != nil {
		g.log.Error("state not restored; leaving the kernel's table as it is", logfield.Error, err)
		g.setLastError(err.Error())
		return nil
	}
	if p == nil {
		g.log.Info("no persisted state; leaving the kernel's table as it is")
		return nil
	}
	g.mu.Lock()
	g.st = *p
	g.owned = true
	g.mu.Unlock()
	if pend := p.Pending; pend != nil && !g.clock.Now().Before(pend.Deadline) {
		return g.rollback(ctx, "no confirmation before the deadline (found at start)")
	}
	eff := g.effectiveOf(p.Current)
	digest := eff.Digest()
	if err := g.kernelApply(ctx, eff, digest); err != nil {
		g.setLastError("restoring persisted ruleset: " + err.Error())
		return &ApplyError{Err: err}
	}
	g.mu.Lock()
	g.effective, g.effDigest = eff, digest
	g.mu.Unlock()
	log := g.log
	if p.Current != nil {
		log = log.With(logfield.Generation, p.Current.Request.Generation, logfield.Digest, p.Current.Request.Digest)
	}
	log.Info("restored persisted ruleset")
	if pend := p.Pending; pend != nil {
		g.arm(pend.Generation, pend.Deadline.Sub(g.clock.Now()))
	}
	return nil
}

// Apply checks req ([CheckRequest]), then makes its ruleset, with the
// failsafe rules, the kernel's, persists it and arms commit-confirm when
// asked. A request whose digest is already applied does no kernel work. It
// fails with [ErrBusy] while another transaction runs, with [ErrStale] for a
// generation not above the applied one (unless the digest is the same), with
// a [*RequestError] for a bad request and an [*ApplyError] when the kernel
// refuses (the previous ruleset then still runs).
func (g *Guard) Apply(ctx context.Context, req *agentapi.RulesetRequest) (agentapi.ApplyResult, error) {
	start := time.Now()
	if err := CheckRequest(req, g.table); err != nil {
		return agentapi.ApplyResult{}, err
	}
	if !g.acquireApply(ctx) {
		return agentapi.ApplyResult{}, ErrBusy
	}
	defer g.release()
	g.rawOK = false
	return g.apply(ctx, req, start)
}

// ApplyJSON is [Guard.Apply] of a request body ([DecodeRequest]). When the
// body is byte for byte the last one it handled and nothing has changed the
// state since (no other apply, rollback, confirm or failed save), the answer
// is the unchanged re-apply's without decoding the body again: those bytes
// were decoded and checked once, and the same bytes check the same way.
func (g *Guard) ApplyJSON(ctx context.Context, body []byte) (agentapi.ApplyResult, error) {
	start := time.Now()
	sum := sha256.Sum256(body)
	if !g.acquireApply(ctx) {
		return agentapi.ApplyResult{}, ErrBusy
	}
	defer g.release()
	if g.rawOK && sum == g.rawSum && !g.dirty && g.st.Current != nil {
		cur := g.st.Current
		return agentapi.ApplyResult{Generation: cur.Request.Generation, Digest: cur.Request.Digest, PendingConfirm: copyPending(g.st.Pending),
			DurationMS: float64(time.Since(start).Microseconds()) / 1000}, nil
	}
	g.rawOK = false
	req, err := DecodeRequest(body)
	if err != nil {
		return agentapi.ApplyResult{}, err
	}
	if err := CheckRequest(req, g.table); err != nil {
		return agentapi.ApplyResult{}, err
	}
	res, err := g.apply(ctx, req, start)
	if err == nil {
		g.rawSum, g.rawOK = sum, true
	}
	return res, err
}

// apply is the body of [Guard.Apply] for a checked request; the caller
// holds sem.
func (g *Guard) apply(ctx context.Context, req *agentapi.RulesetRequest, start time.Time) (agentapi.ApplyResult, error) {
	log := g.log.With(logfield.Generation, req.Generation, logfield.Digest, req.Digest, logfield.Revision, req.Revision)

	if cur := g.st.Current; cur != nil && cur.Request.Digest == req.Digest {
		return g.reapply(req, start, log)
	}
	if cur := g.st.Current; cur != nil && req.Generation <= cur.Request.Generation {
		return agentapi.ApplyResult{}, fmt.Errorf("%w: generation %d is not above the applied generation %d", ErrStale, req.Generation, cur.Request.Generation)
	}

	eff := g.failsafe.Apply(req.Ruleset)
	digest := eff.Digest()
	if err := g.kernelApply(ctx, eff, digest); err != nil {
		log.Error("apply failed; the previous ruleset is still in place", logfield.Error, err)
		g.setLastError("applying generation " + fmt.Sprint(req.Generation) + ": " + err.Error())
		return agentapi.ApplyResult{}, &ApplyError{Err: err}
	}

	now := g.clock.Now()
	next := g.st
	if next.Pending == nil {
		// The running ruleset was confirmed (or never needed to be): it is
		// what a rollback of this one restores. Otherwise the last good one
		// stays the rollback target.
		next.Previous = next.Current
	}
	next.Current = &Record{Request: *req, AppliedAt: now}
	next.Pending, next.RolledBack = nil, nil
	if req.ConfirmTimeoutMS > 0 {
		next.Pending = &agentapi.Pending{Generation: req.Generation, Deadline: now.Add(time.Duration(req.ConfirmTimeoutMS) * time.Millisecond)}
	}
	g.disarm()
	g.mu.Lock()
	g.st, g.owned = next, true
	g.effective, g.effDigest = eff, digest
	g.drift, g.lastErr = nil, ""
	g.mu.Unlock()
	if next.Pending != nil {
		g.arm(req.Generation, next.Pending.Deadline.Sub(now))
	}
	res := agentapi.ApplyResult{Generation: req.Generation, Digest: req.Digest, Changed: true, PendingConfirm: copyPending(next.Pending)}
	res.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	if err := g.save(); err != nil {
		log.Error("ruleset applied but not persisted", logfield.Error, err)
		return res, &PersistError{Err: err}
	}
	log.Info("ruleset applied", logfield.Duration, time.Since(start), "pending_confirm", next.Pending != nil)
	return res, nil
}

// reapply answers a request whose digest is already applied: no kernel
// work; a higher generation (or an earlier failed save) is persisted.
func (g *Guard) reapply(req *agentapi.RulesetRequest, start time.Time, log *slog.Logger) (agentapi.ApplyResult, error) {
	cur := g.st.Current
	if req.Generation > cur.Request.Generation {
		rec := *cur
		rec.Request.Generation, rec.Request.Revision = req.Generation, req.Revision
		next := g.st
		next.Current = &rec
		if next.Pending != nil {
			// The pending ruleset is now known by its new generation.
			p := *next.Pending
			p.Generation = req.Generation
			next.Pending = &p
		}
		g.mu.Lock()
		g.st, g.dirty = next, true
		g.mu.Unlock()
	}
	res := agentapi.ApplyResult{Generation: g.st.Current.Request.Generation, Digest: req.Digest, PendingConfirm: copyPending(g.st.Pending)}
	if g.dirty {
		if err := g.save(); err != nil {
			return res, &PersistError{Err: err}
		}
	}
	res.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	log.Debug("ruleset unchanged")
	return res, nil
}

// Confirm ends the commit-confirm window of generation gen: the ruleset
// stays. It fails with [ErrNotPending] when nothing awaits confirmation,
// [ErrPendingMismatch] when another generation does, and [ErrConfirmLate]
// (after rolling back) when the deadline has passed.
func (g *Guard) Confirm(ctx context.Context, gen uint64) error {
	if err := g.acquire(ctx); err != nil {
		return err
	}
	defer g.release()
	g.rawOK = false
	p := g.st.Pending
	switch {
	case p == nil:
		return ErrNotPending
	case p.Generation != gen:
		return fmt.Errorf("%w: generation %d awaits confirmation, not %d", ErrPendingMismatch, p.Generation, gen)
	case !g.clock.Now().Before(p.Deadline):
		if err := g.rollback(ctx, "confirmation came after the deadline"); err != nil {
			return err
		}
		return ErrConfirmLate
	}
	g.disarm()
	next := g.st
	next.Pending = nil
	g.mu.Lock()
	g.st = next
	g.mu.Unlock()
	if err := g.save(); err != nil {
		return &PersistError{Err: err}
	}
	g.log.Info("ruleset confirmed", logfield.Generation, gen)
	return nil
}

// expire runs when the commit-confirm timer of generation gen fires.
func (g *Guard) expire(gen uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), rollbackBudget)
	defer cancel()
	if err := g.acquire(ctx); err != nil {
		g.log.Error("rollback could not start", logfield.Generation, gen, logfield.Error, err)
		return
	}
	defer g.release()
	if p := g.st.Pending; p == nil || p.Generation != gen {
		return
	}
	_ = g.rollback(ctx, "no confirmation before the deadline")
}

// rollback restores the previous ruleset (no table when there is none) in
// place of the pending one, records it and persists. On failure it reports
// the error and tries again in [rollbackRetry]. The caller holds sem.
func (g *Guard) rollback(ctx context.Context, reason string) error {
	g.rawOK = false
	cur, prev := g.st.Current, g.st.Previous
	log := g.log.With(logfield.Generation, cur.Request.Generation, logfield.Digest, cur.Request.Digest)
	eff := g.effectiveOf(prev)
	digest := eff.Digest()
	if err := g.kernelApply(ctx, eff, digest); err != nil {
		log.Error("rollback failed; retrying", logfield.Error, err)
		g.setLastError("rolling back generation " + fmt.Sprint(cur.Request.Generation) + ": " + err.Error())
		g.arm(cur.Request.Generation, rollbackRetry)
		return &ApplyError{Err: err}
	}
	g.disarm()
	next := g.st
	next.Current, next.Previous, next.Pending = prev, nil, nil
	next.RolledBack = &agentapi.RolledBack{Generation: cur.Request.Generation, Digest: cur.Request.Digest, At: g.clock.Now(), Reason: reason}
	g.mu.Lock()
	g.st, g.effective, g.effDigest, g.drift = next, eff, digest, nil
	g.mu.Unlock()
	restored := "no table"
	if prev != nil {
		restored = fmt.Sprintf("generation %d", prev.Request.Generation)
	}
	log.Warn("ruleset rolled back", "reason", reason, "restored", restored)
	if err := g.save(); err != nil {
		log.Error("rollback not persisted", logfield.Error, err)
		return &PersistError{Err: err}
	}
	return nil
}

// CheckDrift compares the kernel's table with what the agent applied. On a
// difference it records a drift and, with repair, re-applies the last good
// ruleset. It returns the drift found (nil when in sync or when the agent
// owns no state yet) and [ErrBusy] when another transaction runs; the next
// check will look again.
func (g *Guard) CheckDrift(ctx context.Context, repair bool) (*agentapi.Drift, error) {
	if !g.tryAcquire() {
		return nil, ErrBusy
	}
	defer g.release()
	if !g.owned {
		return nil, nil
	}
	want, wantDigest := g.effective, g.effDigest
	if want == nil {
		// Restore could not apply the state: the kernel never held it, so
		// the difference is not drift but the error already reported.
		return nil, nil
	}
	got, err := g.applier.Read(ctx)
	var reason string
	switch {
	case errors.Is(err, dataplane.ErrForeign):
		reason = "table holds objects fwgit did not create"
	case err != nil:
		g.setLastError("reading table: " + err.Error())
		return nil, fmt.Errorf("reading table: %w", err)
	case same(got, want, wantDigest):
		g.mu.Lock()
		if g.drift != nil && !g.drift.Repaired {
			g.log.Info("drift resolved")
			g.drift = nil
		}
		g.mu.Unlock()
		return nil, nil
	case got.Empty():
		reason = "table is missing"
	case want.Empty():
		reason = "table exists but should not"
	default:
		reason = fmt.Sprintf("table differs (digest %s, want %s)", got.Digest(), wantDigest)
	}
	d := &agentapi.Drift{DetectedAt: g.clock.Now(), Reason: reason}
	g.mu.Lock()
	old := g.drift
	g.mu.Unlock()
	if repair {
		if err := g.kernelApply(ctx, want, wantDigest); err != nil {
			g.log.Error("drift repair failed", "reason", reason, logfield.Error, err)
			g.setLastError("repairing drift: " + err.Error())
		} else {
			d.Repaired = true
			g.log.Warn("drift repaired", "reason", reason)
		}
	} else if old == nil || old.Repaired || old.Reason != reason {
		g.log.Warn("drift detected", "reason", reason)
	} else {
		d.DetectedAt = old.DetectedAt // the same drift as last time
	}
	g.mu.Lock()
	g.drift = d
	g.mu.Unlock()
	return d, nil
}

// kernelApply applies eff. An unknown outcome (lost netlink answer) is
// resolved by reading the table back.
func (g *Guard) kernelApply(ctx context.Context, eff *nft.Ruleset, digest string) error {
	err := g.applier.Apply(ctx, eff)
	if errors.Is(err, dataplane.ErrUnknownOutcome) {
		if got, rerr := g.applier.Read(ctx); rerr == nil && same(got, eff, digest) {
			g.log.Warn("apply outcome was unknown; read-back shows it committed")
			return nil
		}
	}
	return err
}

// same reports whether the kernel's table got is the ruleset want.
func same(got, want *nft.Ruleset, wantDigest string) bool {
	if got.Empty() || want.Empty() {
		return got.Empty() && want.Empty()
	}
	return got.Digest() == wantDigest
}

// arm starts the commit-confirm timer for generation gen. The caller holds
// sem.
func (g *Guard) arm(gen uint64, d time.Duration) {
	g.disarm()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	g.wg.Add(1)
	g.timer = g.clock.AfterFunc(max(d, 0), func() {
		defer g.wg.Done()
		g.expire(gen)
	})
}

// disarm stops the commit-confirm timer. The caller holds sem.
func (g *Guard) disarm() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.timer != nil && g.timer.Stop() {
		g.wg.Done()
	}
	g.timer = nil
}

// save persists the state; the caller holds sem.
func (g *Guard) save() error {
	g.mu.Lock()
	st := g.st
	g.mu.Unlock()
	if err := g.store.Save(&st); err != nil {
		g.mu.Lock()
		g.dirty = true
		g.lastErr = err.Error()
		g.mu.Unlock()
		return err
	}
	g.mu.Lock()
	g.dirty = false
	g.mu.Unlock()
	return nil
}

func (g *Guard) setLastError(msg string) {
	g.mu.Lock()
	g.lastErr = msg
	g.mu.Unlock()
}

// State returns the agent's state for GET /state. It does not wait for a
// running apply.
func (g *Guard) State(ctx context.Context) agentapi.State {
	g.mu.Lock()
	st := agentapi.State{
		PendingConfirm:  copyPending(g.st.Pending),
		LastError:       g.lastErr,
		EffectiveDigest: g.effDigest,
	}
	if c := g.st.Current; c != nil {
		st.Generation, st.Digest, st.Revision, st.AppliedAt = c.Request.Generation, c.Request.Digest, c.Request.Revision, c.AppliedAt
	}
	if rb := g.st.RolledBack; rb != nil {
		c := *rb
		st.RolledBack = &c
	}
	if d := g.drift; d != nil {
		c := *d
		st.Drift = &c
	}
	g.mu.Unlock()
	fcs, err := g.applier.ForeignChains(ctx)
	if err != nil {
		g.log.Warn("listing foreign chains", logfield.Error, err)
	}
	for _, fc := range fcs {
		st.ForeignChains = append(st.ForeignChains, agentapi.ForeignChain(fc))
	}
	return st
}

// Close stops the commit-confirm timer and waits for a rollback in
// progress. A pending confirmation stays persisted: the next start rolls it
// back if its deadline has passed, or re-arms it.
func (g *Guard) Close() {
	g.sem <- struct{}{}
	g.disarm()
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	<-g.sem
	g.wg.Wait()
}

func copyPending(p *agentapi.Pending) *agentapi.Pending {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}
