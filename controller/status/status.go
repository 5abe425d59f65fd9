package status

import (
	"errors"
	"slices"
	"time"

	"github.com/fwgit/fwgit/internal/diag"
)

// ErrNotFound is returned for a firewall the store does not know.
var ErrNotFound = errors.New("status: firewall not found")

// HistoryLimit is how many apply-history entries are kept per firewall.
const HistoryLimit = 100

// ConditionType names a condition, as in Kubernetes and Flux.
type ConditionType string

// The conditions of a firewall.
const (
	// Ready is true when the agent runs the newest valid revision's
	// ruleset and nothing is wrong.
	Ready ConditionType = "Ready"
	// InSync is true when the agent reports the desired digest.
	InSync ConditionType = "InSync"
	// Stalled is true when the newest revision is invalid: the last good
	// revision keeps serving until a later commit fixes it.
	Stalled ConditionType = "Stalled"
	// Unreachable is true when the agent cannot be reached or trusted.
	Unreachable ConditionType = "Unreachable"
	// RolledBack is true when the agent undid our last apply because no
	// confirmation arrived.
	RolledBack ConditionType = "RolledBack"
)

// Reasons used in conditions. They are stable words tools may match on.
const (
	ReasonApplied          = "Applied"
	ReasonUpToDate         = "UpToDate"
	ReasonProgressing      = "Progressing"
	ReasonInvalidRevision  = "InvalidRevision"
	ReasonAgentError       = "AgentError"
	ReasonConnectionFailed = "ConnectionFailed"
	ReasonNoTrust          = "NoTrustAnchor"
	ReasonFingerprint      = "FingerprintMismatch"
	ReasonNoCredentials    = "NoCredentials"
	ReasonNoAgent          = "NoAgent"
	ReasonPullMode         = "PullMode"
	ReasonConfirmFailed    = "ConfirmFailed"
	ReasonRolledBack       = "RolledBackByAgent"
	ReasonDrift            = "DriftDetected"
	ReasonApplyFailed      = "ApplyFailed"
	ReasonVerifyFailed     = "VerifyFailed"
	ReasonNoPolicy         = "NoPolicy"
)

// Condition is one observation about a firewall.
type Condition struct {
	Type ConditionType `json:"type"`
	// Status is true or false.
	Status  bool   `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message,omitempty"`
	// LastTransitionTime is when Status last changed.
	LastTransitionTime time.Time `json:"lastTransitionTime"`
}

// Drift is what an agent reported about its table differing from the
// applied ruleset.
type Drift struct {
	DetectedAt time.Time `json:"detectedAt"`
	Reason     string    `json:"reason"`
	Repaired   bool      `json:"repaired"`
}

// Agent modes recorded in status.
const (
	ModePush = "push"
	ModePull = "pull"
	ModeNone = "none"
)

// Firewall is the status of one firewall.
type Firewall struct {
	Name string `json:"name"`
	// Mode is push, pull or none.
	Mode string `json:"mode"`
	// DesiredRevision and DesiredDigest are what the controller wants the
	// agent to run: the last good revision's ruleset.
	DesiredRevision string `json:"desiredRevision,omitempty"`
	DesiredDigest   string `json:"desiredDigest,omitempty"`
	// AppliedDigest, AppliedRevision and AppliedGeneration are what the
	// agent last reported running.
	AppliedDigest     string `json:"appliedDigest,omitempty"`
	AppliedRevision   string `json:"appliedRevision,omitempty"`
	AppliedGeneration uint64 `json:"appliedGeneration,omitempty"`
	// Generation is the last generation the controller sent; the next
	// apply uses a higher one.
	Generation uint64      `json:"generation"`
	Conditions []Condition `json:"conditions,omitempty"`
	// LastApply is when the controller last changed the agent's ruleset.
	LastApply time.Time `json:"lastApply,omitzero"`
	// LastReconcile is when the firewall was last reconciled.
	LastReconcile time.Time `json:"lastReconcile,omitzero"`
	Drift         *Drift    `json:"drift,omitempty"`
}

// Condition returns the condition of type t, or nil.
func (f *Firewall) Condition(t ConditionType) *Condition {
	for i := range f.Conditions {
		if f.Conditions[i].Type == t {
			return &f.Conditions[i]
		}
	}
	return nil
}

// IsTrue reports whether condition t is present and true.
func (f *Firewall) IsTrue(t ConditionType) bool {
	c := f.Condition(t)
	return c != nil && c.Status
}

// SetCondition sets condition c, keeping its LastTransitionTime when the
// status did not change, and keeps the conditions sorted by type.
func (f *Firewall) SetCondition(c Condition, now time.Time) {
	if old := f.Condition(c.Type); old != nil {
		c.LastTransitionTime = old.LastTransitionTime
		if old.Status != c.Status {
			c.LastTransitionTime = now
		}
		*old = c
		return
	}
	c.LastTransitionTime = now
	f.Conditions = append(f.Conditions, c)
	slices.SortFunc(f.Conditions, func(a, b Condition) int {
		return condOrder(a.Type) - condOrder(b.Type)
	})
}

// RemoveCondition drops condition t.
func (f *Firewall) RemoveCondition(t ConditionType) {
	f.Conditions = slices.DeleteFunc(f.Conditions, func(c Condition) bool { return c.Type == t })
}

func condOrder(t ConditionType) int {
	switch t {
	case Ready:
		return 0
	case InSync:
		return 1
	case Stalled:
		return 2
	case Unreachable:
		return 3
	case RolledBack:
		return 4
	}
	return 5
}

// Summary is the one word that describes a firewall in a table: the first
// true of Stalled, RolledBack and Unreachable, else Ready, else NotReady,
// else Unknown when nothing was observed yet.
func (f *Firewall) Summary() string {
	for _, t := range []ConditionType{Stalled, RolledBack, Unreachable} {
		if f.IsTrue(t) {
			return string(t)
		}
	}
	c := f.Condition(Ready)
	switch {
	case c == nil:
		return "Unknown"
	case c.Status:
		return string(Ready)
	}
	return "NotReady"
}

// Summaries lists every value [Firewall.Summary] can return, so metrics
// can report zero counts.
var Summaries = []string{"Ready", "NotReady", "Stalled", "RolledBack", "Unreachable", "Unknown"}

// Message returns the headline condition's message.
func (f *Firewall) Message() (reason, msg string) {
	s := f.Summary()
	if c := f.Condition(ConditionType(s)); c != nil {
		return c.Reason, c.Message
	}
	if c := f.Condition(Ready); c != nil {
		return c.Reason, c.Message
	}
	return "", ""
}

// Results of an apply-history entry.
const (
	ResultApplied    = "applied"
	ResultFailed     = "failed"
	ResultRolledBack = "rolledBack"
)

// HistoryEntry is one attempt to change a firewall's ruleset.
type HistoryEntry struct {
	Time       time.Time     `json:"time"`
	Revision   string        `json:"revision"`
	Digest     string        `json:"digest"`
	Generation uint64        `json:"generation"`
	Result     string        `json:"result"`
	Duration   time.Duration `json:"duration"`
	Error      string        `json:"error,omitempty"`
}

// Commit describes a commit for status.
type Commit struct {
	Hash    string    `json:"hash,omitempty"`
	Branch  string    `json:"branch,omitempty"`
	Subject string    `json:"subject,omitempty"`
	Author  string    `json:"author,omitempty"`
	Time    time.Time `json:"time,omitzero"`
}

// Revision records the newest revision seen and the last good one.
type Revision struct {
	// Current is the newest revision the source produced.
	Current       string `json:"current,omitempty"`
	CurrentCommit Commit `json:"currentCommit,omitzero"`
	// Valid reports whether Current loaded without errors.
	Valid bool `json:"valid"`
	// LastGood is the revision whose rulesets are being served.
	LastGood       string `json:"lastGood,omitempty"`
	LastGoodCommit Commit `json:"lastGoodCommit,omitzero"`
	// Diagnostics are Current's problems (errors and warnings), capped.
	Diagnostics diag.List `json:"diagnostics,omitempty"`
	// Omitted counts diagnostics left out by the cap.
	Omitted   int       `json:"omitted,omitempty"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// Store persists firewall status, apply history and revision info. All
// methods are safe for concurrent use. Callers serialise writes per
// firewall (the reconcile queue runs one worker per firewall).
type Store interface {
	// Get returns a firewall's status or [ErrNotFound].
	Get(name string) (Firewall, error)
	// List returns every firewall's status sorted by name.
	List() ([]Firewall, error)
	// Put stores fw and, when h is not nil, appends h to its history, in
	// one transaction.
	Put(fw Firewall, h *HistoryEntry) error
	// Delete removes a firewall and its history.
	Delete(name string) error
	// History returns up to n entries, newest first (n <= 0: all kept).
	History(name string, n int) ([]HistoryEntry, error)
	// Revision returns the revision info (zero before the first load).
	Revision() (Revision, error)
	// SetRevision stores the revision info.
	SetRevision(r Revision) error
	// Close releases the store.
	Close() error
}
