// Package fleet is the controller's side of the push-mode agent protocol
// (internal/agentapi): [Client] reads an agent's state, sends it a ruleset
// and confirms it. [HTTPS] is the real client: TLS verified against the
// Firewall manifest's certificate fingerprint or a configured CA and never
// unverified, the agent's API key in X-API-Key, a deadline on every call,
// bounded retries of transient failures (go-retryablehttp), and capped
// response bodies. [FakeClient] and [FakeAgent] behave like an agent
// (all-or-nothing applies, commit-confirm with rollback) for tests.
//
// fleet decides nothing about what to apply; package reconcile does. It
// never logs secrets: API keys travel only in request headers.
package fleet
