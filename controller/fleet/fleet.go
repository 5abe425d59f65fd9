package fleet

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/fwgit/fwgit/controller/config"
	"github.com/fwgit/fwgit/internal/agentapi"
)

// Target is one agent and how to trust and authenticate to it.
type Target struct {
	// Name is the firewall's name (for errors and metrics).
	Name string
	// URL is the agent's base URL, e.g. "https://198.18.0.10:33033"; the
	// API lives under /api/v1.
	URL string
	// Fingerprint, "sha256:" and 64 hex digits, pins the agent's leaf
	// certificate. When set, host names are not checked: the pin is the
	// identity.
	Fingerprint string
	// RootCAs verifies the agent's certificate chain and host name when no
	// fingerprint is set.
	RootCAs *x509.CertPool
	// APIKey is sent in X-API-Key.
	APIKey config.Secret
}

// Client talks to agents. Implementations must be safe for concurrent use.
type Client interface {
	// State returns GET /api/v1/state.
	State(ctx context.Context, t Target) (*agentapi.State, error)
	// Apply sends PUT /api/v1/ruleset.
	Apply(ctx context.Context, t Target, req *agentapi.RulesetRequest) (*agentapi.ApplyResult, error)
	// Confirm sends POST /api/v1/confirm over a new connection, proving
	// that the applied ruleset still admits the controller.
	Confirm(ctx context.Context, t Target, generation uint64) error
}

// ErrNoTrust reports a target with neither a fingerprint nor a CA: fleet
// never talks to an agent it cannot verify.
var ErrNoTrust = errors.New("fleet: agent has neither a certificate fingerprint nor a CA to verify it")

// ErrNoAPIKey reports a target without an API key.
var ErrNoAPIKey = errors.New("fleet: no API key configured for agent")

// ErrUnreachable wraps transport failures: connection refused, timeouts,
// TLS failures. Agent answers (even errors) are [*AgentError] instead.
var ErrUnreachable = errors.New("fleet: agent unreachable")

// FingerprintError reports that an agent presented a certificate whose
// fingerprint is not the pinned one. The connection was closed before any
// request (and the API key) was sent.
type FingerprintError struct {
	Want, Got string
}

func (e *FingerprintError) Error() string {
	return fmt.Sprintf("fleet: agent certificate fingerprint %s does not match pinned %s", e.Got, e.Want)
}

// AgentError is an error answer from an agent.
type AgentError struct {
	Op     string
	Status int
	// Code and Message come from the agent's JSON error body.
	Code    string
	Message string
}

func (e *AgentError) Error() string {
	if e.Code == "" && e.Message == "" {
		return fmt.Sprintf("fleet: %s: agent answered %d", e.Op, e.Status)
	}
	return fmt.Sprintf("fleet: %s: agent answered %d %s: %s", e.Op, e.Status, e.Code, e.Message)
}
