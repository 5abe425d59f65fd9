package fleet

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/nft"
)

// FakeAgent is an in-memory agent with the protocol's semantics: an apply
// is all-or-nothing, a re-apply of the running digest changes nothing, a
// generation lower than the current one is refused unless it re-applies the
// same digest, and commit-confirm restores the previous ruleset unless the
// confirm arrives before the deadline. It is safe for concurrent use.
type FakeAgent struct {
	// AfterFunc schedules the rollback timer; nil means time.AfterFunc.
	// Tests with a fake clock replace it.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
	// Now is the agent's clock; nil means time.Now.
	Now func() time.Time

	mu         sync.Mutex
	cur        applied
	prev       applied
	pending    *agentapi.Pending
	stop       func() bool
	rolledBack *agentapi.RolledBack
	drift      *agentapi.Drift
	applies    int
	failNext   string
}

type applied struct {
	generation uint64
	digest     string
	revision   string
	ruleset    *nft.Ruleset
	at         time.Time
}

// NewFakeAgent returns an agent with no table.
func NewFakeAgent() *FakeAgent { return &FakeAgent{} }

func (a *FakeAgent) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Apply handles PUT /api/v1/ruleset. Errors are [*AgentError]s carrying
// the HTTP status a real agent would answer.
func (a *FakeAgent) Apply(req *agentapi.RulesetRequest) (*agentapi.ApplyResult, error) {
	bad := func(status int, code, format string, args ...any) (*agentapi.ApplyResult, error) {
		return nil, &AgentError{Op: "apply", Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
	}
	if req.Version != agentapi.Version {
		return bad(http.StatusBadRequest, "UnsupportedVersion", "protocol version %d not supported", req.Version)
	}
	if req.Ruleset == nil {
		return bad(http.StatusBadRequest, "InvalidRuleset", "no ruleset")
	}
	if err := req.Ruleset.Validate(); err != nil {
		return bad(http.StatusBadRequest, "InvalidRuleset", "%v", err)
	}
	if d := req.Ruleset.Digest(); d != req.Digest {
		return bad(http.StatusBadRequest, "DigestMismatch", "ruleset digest is %s, request says %s", d, req.Digest)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if req.Generation < a.cur.generation && req.Digest != a.cur.digest {
		return bad(http.StatusConflict, "StaleGeneration", "generation %d is below the current %d", req.Generation, a.cur.generation)
	}
	if a.failNext != "" {
		msg := a.failNext
		a.failNext = ""
		return bad(http.StatusInternalServerError, "ApplyFailed", "%s", msg)
	}
	if req.Digest == a.cur.digest && a.drift == nil && a.pending == nil {
		a.cur.generation = max(a.cur.generation, req.Generation)
		a.cur.revision = req.Revision
		return &agentapi.ApplyResult{Generation: a.cur.generation, Digest: a.cur.digest, Changed: false}, nil
	}
	if a.pending == nil {
		a.prev = a.cur
	} else if a.stop != nil {
		a.stop()
	}
	a.pending, a.stop = nil, nil
	a.cur = applied{generation: req.Generation, digest: req.Digest, revision: req.Revision, ruleset: req.Ruleset, at: a.now()}
	a.applies++
	a.drift = nil
	a.rolledBack = nil
	res := &agentapi.ApplyResult{Generation: req.Generation, Digest: req.Digest, Changed: true}
	if req.ConfirmTimeoutMS > 0 {
		d := time.Duration(req.ConfirmTimeoutMS) * time.Millisecond
		a.pending = &agentapi.Pending{Generation: req.Generation, Deadline: a.now().Add(d)}
		gen := req.Generation
		after := a.AfterFunc
		if after == nil {
			after = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
		}
		a.stop = after(d, func() { a.rollback(gen, "no confirmation before the deadline") })
		p := *a.pending
		res.PendingConfirm = &p
	}
	return res, nil
}

// Confirm handles POST /api/v1/confirm.
func (a *FakeAgent) Confirm(generation uint64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pending == nil {
		if a.cur.generation == generation {
			return nil // already confirmed
		}
		return &AgentError{Op: "confirm", Status: http.StatusConflict, Code: "NothingPending", Message: fmt.Sprintf("no confirmation pending for generation %d", generation)}
	}
	if a.pending.Generation != generation {
		return &AgentError{Op: "confirm", Status: http.StatusConflict, Code: "GenerationMismatch", Message: fmt.Sprintf("pending generation is %d, not %d", a.pending.Generation, generation)}
	}
	if a.stop != nil {
		a.stop()
	}
	a.pending, a.stop = nil, nil
	return nil
}

// Rollback undoes a pending apply now, as the deadline would.
func (a *FakeAgent) Rollback() {
	a.mu.Lock()
	gen := uint64(0)
	if a.pending != nil {
		gen = a.pending.Generation
	}
	a.mu.Unlock()
	a.rollback(gen, "no confirmation before the deadline")
}

func (a *FakeAgent) rollback(gen uint64, reason string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pending == nil || a.pending.Generation != gen {
		return
	}
	a.rolledBack = &agentapi.RolledBack{Generation: a.cur.generation, Digest: a.cur.digest, At: a.now(), Reason: reason}
	a.cur = a.prev
	a.pending, a.stop = nil, nil
	a.applies++
}

// State handles GET /api/v1/state.
func (a *FakeAgent) State() *agentapi.State {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := &agentapi.State{Generation: a.cur.generation, Digest: a.cur.digest, Revision: a.cur.revision, AppliedAt: a.cur.at}
	if a.pending != nil {
		p := *a.pending
		st.PendingConfirm = &p
	}
	if a.rolledBack != nil {
		r := *a.rolledBack
		st.RolledBack = &r
	}
	if a.drift != nil {
		d := *a.drift
		st.Drift = &d
	}
	return st
}

// Ruleset returns the running ruleset (nil when none was applied).
func (a *FakeAgent) Ruleset() *nft.Ruleset {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cur.ruleset
}

// Applies counts the times the agent's ruleset changed (applies and
// rollbacks), i.e. the kernel transactions a real agent would make.
func (a *FakeAgent) Applies() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.applies
}

// SetDrift makes the agent report drift until the next apply.
func (a *FakeAgent) SetDrift(reason string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.drift = &agentapi.Drift{DetectedAt: a.now(), Reason: reason}
}

// FailNextApply makes the next changing apply fail with msg, leaving the
// running ruleset in place.
func (a *FakeAgent) FailNextApply(msg string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failNext = msg
}

// FakeClient is a [Client] backed by [FakeAgent]s keyed by target name. It
// checks a target's API key and trust settings as [HTTPS] does, so tests see
// the same precondition errors.
type FakeClient struct {
	mu     sync.Mutex
	agents map[string]*fakeEntry
}

type fakeEntry struct {
	agent       *FakeAgent
	down        bool
	confirmDown bool
	fingerprint string
	calls       map[string]int
}

var _ Client = (*FakeClient)(nil)

// NewFakeClient returns a client with no agents; an agent is created on
// first use of its name.
func NewFakeClient() *FakeClient { return &FakeClient{agents: map[string]*fakeEntry{}} }

func (c *FakeClient) entry(name string) *fakeEntry {
	e, ok := c.agents[name]
	if !ok {
		e = &fakeEntry{agent: NewFakeAgent(), calls: map[string]int{}}
		c.agents[name] = e
	}
	return e
}

// Agent returns the agent of firewall name.
func (c *FakeClient) Agent(name string) *FakeAgent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entry(name).agent
}

// SetDown makes the agent unreachable (or reachable again).
func (c *FakeClient) SetDown(name string, down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entry(name).down = down
}

// SetConfirmDown makes new connections for confirms fail while other
// calls still work: what a ruleset that locks the controller out looks like.
func (c *FakeClient) SetConfirmDown(name string, down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entry(name).confirmDown = down
}

// SetFingerprint sets the fingerprint of the certificate the agent
// presents; a target pinning another one fails with [*FingerprintError].
func (c *FakeClient) SetFingerprint(name, fp string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entry(name).fingerprint = fp
}

// Calls returns how often op ("state", "apply", "confirm") was called for
// name.
func (c *FakeClient) Calls(name, op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entry(name).calls[op]
}

func (c *FakeClient) reach(ctx context.Context, t Target, op string) (*FakeAgent, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s %s: %w", ErrUnreachable, op, t.Name, err)
	}
	if t.APIKey.IsZero() {
		return nil, ErrNoAPIKey
	}
	if t.Fingerprint == "" && t.RootCAs == nil {
		return nil, ErrNoTrust
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(t.Name)
	e.calls[op]++
	if e.down || (op == "confirm" && e.confirmDown) {
		return nil, fmt.Errorf("%w: %s %s: connection refused", ErrUnreachable, op, t.Name)
	}
	if t.Fingerprint != "" && e.fingerprint != "" && t.Fingerprint != e.fingerprint {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, t.Name, &FingerprintError{Want: t.Fingerprint, Got: e.fingerprint})
	}
	return e.agent, nil
}

// State implements [Client].
func (c *FakeClient) State(ctx context.Context, t Target) (*agentapi.State, error) {
	a, err := c.reach(ctx, t, "state")
	if err != nil {
		return nil, err
	}
	return a.State(), nil
}

// Apply implements [Client].
func (c *FakeClient) Apply(ctx context.Context, t Target, req *agentapi.RulesetRequest) (*agentapi.ApplyResult, error) {
	a, err := c.reach(ctx, t, "apply")
	if err != nil {
		return nil, err
	}
	return a.Apply(req)
}

// Confirm implements [Client].
func (c *FakeClient) Confirm(ctx context.Context, t Target, generation uint64) error {
	a, err := c.reach(ctx, t, "confirm")
	if err != nil {
		return err
	}
	return a.Confirm(generation)
}
