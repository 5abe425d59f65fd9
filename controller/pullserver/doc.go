// Package pullserver owns the controller's agent-facing listener: HTTPS with
// a server certificate from the controller's CA (package ca), where
// pull-mode agents behind NAT dial in. It serves
//
//   - POST /api/v1/enroll, handed to the enrollment handler (package
//     enroll): the one path that needs no client certificate;
//   - GET /api/v1/agents/{name}/desired: the firewall's desired ruleset
//     (agentapi.RulesetRequest, ETag = digest) as a long poll that answers
//     at once when the digest differs from If-None-Match, wakes when the
//     controller publishes ([Server.Publish]), and otherwise answers 304
//     after the wait;
//   - POST /api/v1/agents/{name}/state: the agent's agentapi.State, kept
//     as the firewall's last [Report] and announced to the controller;
//   - POST /api/v1/agents/{name}/certificate: renewal of the client
//     certificate before it expires.
//
// The agent paths require mutual TLS: a client certificate that chains to
// the CA and whose common name is {name}, and a firewall that the current
// policy still declares in pull mode (asked through a
// reconcile.DesiredFunc on every request, so removing a firewall or moving
// it to push mode locks its agent out at once).
//
// The package holds no policy and writes no status: the controller gives it
// the desired state and reads reports back. It keeps no per-agent state but
// the last report, so several controllers can serve the same agents. It
// must not import agent code.
package pullserver
