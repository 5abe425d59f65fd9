package agentapi

import (
	"time"

	"github.com/fwgit/fwgit/internal/nft"
)

// Version is the protocol version, carried in every ruleset document.
const Version = 1

// HeaderAPIKey carries the agent's API key (compared in constant time).
const HeaderAPIKey = "X-API-Key"

// DefaultPort is the agent's default HTTPS port.
const DefaultPort = 33033

// Ping is the body of GET and PUT /api/v1/ping.
type Ping struct {
	OK      bool   `json:"ok"`
	Version string `json:"version"`
}

// Info is the body of GET /api/v1/info.
type Info struct {
	Version  string   `json:"version"`
	Hostname string   `json:"hostname"`
	Kernel   string   `json:"kernel"`
	Table    string   `json:"table"`
	Features []string `json:"features"`
	// IRVersions lists the ruleset document versions the agent accepts.
	IRVersions []int `json:"irVersions"`
}

// RulesetRequest is the body of PUT /api/v1/ruleset, and of the pull-mode
// desired-state answer. An empty Ruleset (no sets, no chains) deletes the
// agent's table.
type RulesetRequest struct {
	// Version is [Version].
	Version int `json:"version"`
	// Generation increases with every ruleset the controller sends to this
	// firewall; the agent refuses a generation lower than its current one
	// unless it is a re-apply of the same digest.
	Generation uint64 `json:"generation"`
	// Digest is Ruleset.Digest(); the agent recomputes and compares it.
	Digest string `json:"digest"`
	// Revision is the policy revision (branch@sha1:…) for status only.
	Revision string `json:"revision,omitempty"`
	// ConfirmTimeoutMS, when positive, arms commit-confirm: the agent
	// restores the previous ruleset unless POST /confirm arrives in time.
	ConfirmTimeoutMS int64        `json:"confirmTimeoutMs,omitempty"`
	Ruleset          *nft.Ruleset `json:"ruleset"`
}

// ApplyResult is the answer to PUT /api/v1/ruleset.
type ApplyResult struct {
	Generation uint64 `json:"generation"`
	Digest     string `json:"digest"`
	// Changed is false when the digest was already applied (no kernel work).
	Changed bool `json:"changed"`
	// PendingConfirm is set when commit-confirm is armed.
	PendingConfirm *Pending `json:"pendingConfirm,omitempty"`
	DurationMS     float64  `json:"durationMs"`
}

// Pending describes an armed commit-confirm.
type Pending struct {
	Generation uint64    `json:"generation"`
	Deadline   time.Time `json:"deadline"`
}

// ConfirmRequest is the body of POST /api/v1/confirm.
type ConfirmRequest struct {
	Generation uint64 `json:"generation"`
}

// State is the body of GET /api/v1/state, and what a pull-mode agent reports.
type State struct {
	Generation uint64    `json:"generation"`
	Digest     string    `json:"digest"`
	Revision   string    `json:"revision,omitempty"`
	AppliedAt  time.Time `json:"appliedAt,omitzero"`
	// PendingConfirm is set while a commit-confirm is armed.
	PendingConfirm *Pending `json:"pendingConfirm,omitempty"`
	// RolledBack is set when the last ruleset was rolled back because no
	// confirm came; it names the generation that was undone.
	RolledBack *RolledBack `json:"rolledBack,omitempty"`
	// Drift is set when the kernel's table differs from the applied ruleset.
	Drift     *Drift `json:"drift,omitempty"`
	LastError string `json:"lastError,omitempty"`
	// EffectiveDigest is the digest of what the agent put in the kernel:
	// the controller's ruleset plus the agent's failsafe rules. Digest stays
	// the controller's digest of what it sent.
	EffectiveDigest string `json:"effectiveDigest,omitempty"`
	// ForeignChains are other tables' base chains on our hooks that can
	// still drop traffic we accept.
	ForeignChains []ForeignChain `json:"foreignChains,omitempty"`
}

// RolledBack records an automatic rollback.
type RolledBack struct {
	Generation uint64    `json:"generation"`
	Digest     string    `json:"digest"`
	At         time.Time `json:"at"`
	Reason     string    `json:"reason"`
}

// Drift describes a difference between the kernel and the applied ruleset.
type Drift struct {
	DetectedAt time.Time `json:"detectedAt"`
	Reason     string    `json:"reason"`
	// Repaired is set when the agent re-applied the ruleset (repair mode).
	Repaired bool `json:"repaired"`
}

// ForeignChain is a base chain of another table.
type ForeignChain struct {
	Family   string `json:"family"`
	Table    string `json:"table"`
	Chain    string `json:"chain"`
	Hook     string `json:"hook"`
	Priority int    `json:"priority"`
	Policy   string `json:"policy"`
}

// Error is the JSON body of every error answer.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
