package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/fwgit/fwgit/controller/config"
	"github.com/fwgit/fwgit/controller/fleet"
	"github.com/fwgit/fwgit/controller/status"
	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/logfield"
	"github.com/fwgit/fwgit/internal/nft"
	v1 "github.com/fwgit/fwgit/schema/v1"
)

// ErrGone reports that a firewall is no longer in the policy; its status is
// removed (its agent is left as it is).
var ErrGone = errors.New("reconcile: firewall not in the policy")

// ErrNoPolicy reports that no good revision has been loaded yet.
var ErrNoPolicy = errors.New("reconcile: no good revision loaded yet")

// Desired is what one firewall should run, taken from the last good
// revision.
type Desired struct {
	Name string
	// Revision is the last good revision (branch@sha1:…).
	Revision string
	// Ruleset is the compiled ruleset; empty means "no table".
	Ruleset *nft.Ruleset
	// Digest is Ruleset.Digest().
	Digest string
	// Agent is the Firewall manifest's spec.agent; nil means no agent.
	Agent *v1.Agent
	// Stall is set when the newest revision is invalid: the firewall keeps
	// the last good ruleset and is marked Stalled.
	Stall *Stall
}

// Stall describes an invalid newest revision.
type Stall struct {
	Revision string
	Message  string
}

// DesiredFunc returns the desired state of a firewall from the current
// snapshot, or [ErrGone] or [ErrNoPolicy]. It must be cheap: the reconciler
// calls it on every reconcile.
type DesiredFunc func(name string) (*Desired, error)

// TargetFunc turns a firewall's agent settings into a [fleet.Target]
// (adding credentials and trust anchors from the controller's config).
type TargetFunc func(name string, agent *v1.Agent) (fleet.Target, error)

// Firewall reconciles one firewall per call: resolve the desired ruleset,
// observe the agent's state, apply only when the digests differ (or drift
// must be repaired), confirm over a new connection when commit-confirm is
// on, verify, and record the outcome in status through one deferred
// function.
type Firewall struct {
	Desired DesiredFunc
	Target  TargetFunc
	Fleet   fleet.Client
	Store   status.Store
	// ConfirmTimeout arms the agent's commit-confirm; zero disables it.
	ConfirmTimeout time.Duration
	// DriftMode is config.DriftRepair or config.DriftReport.
	DriftMode string
	// Pull holds what pull-mode agents last reported; nil when the
	// agent-facing listener is off.
	Pull  PullReports
	Clock Clock
	Log   *slog.Logger

	ids atomic.Uint64
}

// PullReports gives the last state each pull-mode agent reported.
type PullReports interface {
	PullState(name string) (agentapi.State, bool)
}

var _ Reconciler = (*Firewall)(nil)

// outcome collects what a reconcile learned, for the deferred recorder.
type outcome struct {
	mode       string
	state      *agentapi.State
	history    *status.HistoryEntry
	applied    bool
	rolledBack string // message when the agent undid (or will undo) our apply
	// notReady is a reason and message that keep the firewall not ready
	// without an error (no agent, pull mode, drift reported).
	notReadyReason, notReadyMsg string
}

// Reconcile implements [Reconciler].
func (r *Firewall) Reconcile(ctx context.Context, name string) (res Result, err error) {
	d, err := r.Desired(name)
	switch {
	case errors.Is(err, ErrGone):
		if derr := r.Store.Delete(name); derr != nil {
			return Result{}, derr
		}
		return Result{}, Terminal(err)
	case err != nil:
		return Result{}, Terminal(err)
	}
	log := r.Log.With(logfield.Firewall, name, logfield.Revision, d.Revision,
		logfield.ReconcileID, strconv.FormatUint(r.ids.Add(1), 36))
	fw, gerr := r.Store.Get(name)
	if gerr != nil && !errors.Is(gerr, status.ErrNotFound) {
		return Result{}, gerr
	}
	fw.Name = name
	o := &outcome{mode: status.ModePush}
	defer func() { r.record(log, &fw, d, o, err) }()

	switch {
	case d.Agent == nil:
		o.mode = status.ModeNone
		o.notReadyReason, o.notReadyMsg = status.ReasonNoAgent, "the Firewall manifest has no spec.agent"
		return Result{}, nil
	case d.Agent.Mode == v1.AgentPull:
		// Pull-mode agents fetch their ruleset from the agent-facing
		// listener and report there; nothing is pushed.
		o.mode = status.ModePull
		o.notReadyReason, o.notReadyMsg = status.ReasonPullMode, "waiting for the pull-mode agent to report"
		if r.Pull == nil {
			return Result{}, nil
		}
		if st, ok := r.Pull.PullState(name); ok {
			o.state = &st
			switch {
			case st.Digest == d.Digest:
				o.notReadyReason, o.notReadyMsg = "", ""
			case st.RolledBack != nil:
				o.rolledBack = fmt.Sprintf("the agent rolled back generation %d: %s", st.RolledBack.Generation, st.RolledBack.Reason)
			default:
				o.notReadyMsg = fmt.Sprintf("the pull-mode agent runs %s; it fetches %s on its next poll", short(st.Digest), short(d.Digest))
			}
		}
		return Result{}, nil
	}
	tg, err := r.Target(name, d.Agent)
	if err != nil {
		return Result{}, Terminal(err)
	}

	// observe
	st, err := r.Fleet.State(ctx, tg)
	if errors.Is(err, fleet.ErrNoTrust) || errors.Is(err, fleet.ErrNoAPIKey) {
		return Result{}, Terminal(err)
	}
	if err != nil {
		return Result{}, fmt.Errorf("observing agent: %w", err)
	}
	o.state = st
	if st.RolledBack != nil && st.RolledBack.Digest == d.Digest && st.Digest != d.Digest {
		o.rolledBack = fmt.Sprintf("agent rolled back generation %d at %s: %s", st.RolledBack.Generation,
			st.RolledBack.At.UTC().Format(time.RFC3339), st.RolledBack.Reason)
	}
	// An apply of the desired digest whose confirm was lost (a restart, a
	// dropped connection): confirming now, over a new connection, proves
	// the controller still gets through.
	if p := st.PendingConfirm; p != nil && st.Digest == d.Digest && p.Generation == st.Generation {
		if err := r.Fleet.Confirm(ctx, tg, p.Generation); err != nil {
			o.rolledBack = "confirm of pending generation " + strconv.FormatUint(p.Generation, 10) + " failed; the agent will roll back: " + err.Error()
			return Result{}, fmt.Errorf("confirming pending generation %d: %w", p.Generation, err)
		}
		log.Info("confirmed pending apply", logfield.Generation, p.Generation)
		if st, err = r.Fleet.State(ctx, tg); err != nil {
			return Result{}, fmt.Errorf("observing agent: %w", err)
		}
		o.state = st
	}

	// plan
	drift := st.Drift != nil && !st.Drift.Repaired
	if st.Digest == d.Digest && !drift {
		return Result{}, nil
	}
	if st.Digest == d.Digest && drift && r.DriftMode == config.DriftReport {
		o.notReadyReason, o.notReadyMsg = status.ReasonDrift, "agent reports drift: "+st.Drift.Reason+" (driftMode report: not repaired)"
		return Result{}, nil
	}

	// apply
	gen := max(fw.Generation, st.Generation) + 1
	fw.Generation = gen
	req := &agentapi.RulesetRequest{
		Version:    agentapi.Version,
		Generation: gen,
		Digest:     d.Digest,
		Revision:   d.Revision,
		Ruleset:    d.Ruleset,
	}
	if r.ConfirmTimeout > 0 {
		req.ConfirmTimeoutMS = r.ConfirmTimeout.Milliseconds()
	}
	start := r.Clock.Now()
	h := &status.HistoryEntry{Time: start, Revision: d.Revision, Digest: d.Digest, Generation: gen, Result: status.ResultFailed}
	o.history = h
	defer func() {
		h.Duration = r.Clock.Now().Sub(start)
		if err != nil {
			h.Error = err.Error()
		}
	}()
	ares, err := r.Fleet.Apply(ctx, tg, req)
	if err != nil {
		var ae *fleet.AgentError
		if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
			// The agent refuses this ruleset as such: retrying the same
			// revision cannot help.
			return Result{}, Terminal(fmt.Errorf("applying: %w", err))
		}
		return Result{}, fmt.Errorf("applying: %w", err)
	}
	if ares.PendingConfirm != nil {
		if err := r.Fleet.Confirm(ctx, tg, gen); err != nil {
			h.Result = status.ResultRolledBack
			o.rolledBack = "confirm failed, the agent rolls back by itself: " + err.Error()
			return Result{}, fmt.Errorf("confirming generation %d: %w", gen, err)
		}
	}
	h.Result = status.ResultApplied
	o.applied = true

	// verify
	st, err = r.Fleet.State(ctx, tg)
	if err != nil {
		return Result{}, fmt.Errorf("verifying: %w", err)
	}
	o.state = st
	if st.Digest != d.Digest {
		h.Result = status.ResultFailed
		return Result{}, fmt.Errorf("verifying: agent reports digest %s after applying %s", short(st.Digest), short(d.Digest))
	}
	o.rolledBack = "" // an earlier rollback is history now
	return Result{}, nil
}

// record turns the outcome of one reconcile into status. It is the only
// place that writes a firewall's status.
func (r *Firewall) record(log *slog.Logger, fw *status.Firewall, d *Desired, o *outcome, err error) {
	now := r.Clock.Now()
	fw.Mode = o.mode
	fw.DesiredRevision, fw.DesiredDigest = d.Revision, d.Digest

	if d.Stall != nil {
		fw.SetCondition(status.Condition{Type: status.Stalled, Status: true, Reason: status.ReasonInvalidRevision,
			Message: fmt.Sprintf("revision %s is invalid; serving %s: %s", d.Stall.Revision, d.Revision, d.Stall.Message)}, now)
	} else {
		fw.RemoveCondition(status.Stalled)
	}

	if st := o.state; st != nil {
		fw.AppliedDigest, fw.AppliedGeneration = st.Digest, st.Generation
		fw.AppliedRevision = st.Revision
		if fw.AppliedRevision == "" && st.Digest == d.Digest {
			fw.AppliedRevision = d.Revision
		}
		fw.Drift = nil
		if st.Drift != nil {
			fw.Drift = &status.Drift{DetectedAt: st.Drift.DetectedAt, Reason: st.Drift.Reason, Repaired: st.Drift.Repaired}
		}
		inSync := st.Digest == d.Digest && (st.Drift == nil || st.Drift.Repaired)
		c := status.Condition{Type: status.InSync, Status: inSync, Reason: status.ReasonUpToDate}
		switch {
		case !inSync && st.Digest == d.Digest:
			c.Reason, c.Message = status.ReasonDrift, "agent reports drift: "+st.Drift.Reason
		case !inSync:
			c.Reason, c.Message = status.ReasonProgressing, fmt.Sprintf("agent runs %s, want %s", short(st.Digest), short(d.Digest))
		}
		fw.SetCondition(c, now)
	}
	if o.applied && o.state != nil && o.state.Digest == d.Digest {
		fw.LastApply = now
	}

	unreachable := errors.Is(err, fleet.ErrUnreachable) || errors.Is(err, fleet.ErrNoTrust) || errors.Is(err, fleet.ErrNoAPIKey)
	if unreachable && o.rolledBack == "" {
		reason := status.ReasonConnectionFailed
		var fe *fleet.FingerprintError
		switch {
		case errors.Is(err, fleet.ErrNoTrust):
			reason = status.ReasonNoTrust
		case errors.Is(err, fleet.ErrNoAPIKey):
			reason = status.ReasonNoCredentials
		case errors.As(err, &fe):
			reason = status.ReasonFingerprint
		}
		fw.SetCondition(status.Condition{Type: status.Unreachable, Status: true, Reason: reason, Message: err.Error()}, now)
	} else if o.state != nil {
		fw.RemoveCondition(status.Unreachable)
	}

	switch {
	case o.rolledBack != "":
		fw.SetCondition(status.Condition{Type: status.RolledBack, Status: true, Reason: status.ReasonRolledBack, Message: o.rolledBack}, now)
	case fw.IsTrue(status.InSync):
		fw.RemoveCondition(status.RolledBack)
	}

	ready := status.Condition{Type: status.Ready, Status: true, Reason: status.ReasonUpToDate,
		Message: "agent runs " + short(d.Digest) + " of " + d.Revision}
	if o.applied {
		ready.Reason = status.ReasonApplied
	}
	switch {
	case d.Stall != nil:
		ready = status.Condition{Type: status.Ready, Reason: status.ReasonInvalidRevision, Message: fw.Condition(status.Stalled).Message}
	case o.rolledBack != "":
		ready = status.Condition{Type: status.Ready, Reason: status.ReasonRolledBack, Message: o.rolledBack}
	case err != nil:
		ready = status.Condition{Type: status.Ready, Reason: errorReason(err, unreachable), Message: err.Error()}
	case o.notReadyReason != "":
		ready = status.Condition{Type: status.Ready, Reason: o.notReadyReason, Message: o.notReadyMsg}
	case !fw.IsTrue(status.InSync):
		ready = status.Condition{Type: status.Ready, Reason: status.ReasonProgressing, Message: "waiting for the agent to run " + short(d.Digest)}
	}
	if d.Stall != nil && !fw.IsTrue(status.InSync) && o.state != nil {
		ready.Message += "; agent not yet on the last good ruleset"
	}
	fw.SetCondition(ready, now)

	if perr := r.Store.Put(*fw, o.history); perr != nil {
		log.Error("recording status", logfield.Error, perr)
	}
	switch {
	case err != nil && !IsTerminal(err):
		log.Warn("reconcile failed", logfield.Error, err)
	case err != nil:
		log.Warn("reconcile stopped", logfield.Error, err)
	case o.applied:
		log.Info("ruleset applied", logfield.Digest, d.Digest, logfield.Generation, fw.Generation)
	default:
		log.Debug("reconciled", logfield.Digest, d.Digest)
	}
}

func errorReason(err error, unreachable bool) string {
	var ae *fleet.AgentError
	switch {
	case unreachable:
		if errors.Is(err, fleet.ErrNoTrust) {
			return status.ReasonNoTrust
		}
		if errors.Is(err, fleet.ErrNoAPIKey) {
			return status.ReasonNoCredentials
		}
		return status.ReasonConnectionFailed
	case errors.As(err, &ae):
		return status.ReasonAgentError
	}
	return status.ReasonApplyFailed
}

// short abbreviates a digest for messages: "sha256:0123456789ab".
func short(d string) string {
	if d == "" {
		return "no ruleset"
	}
	if len(d) > 19 {
		return d[:19]
	}
	return d
}
