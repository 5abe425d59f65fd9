// Package api serves the controller's own HTTP endpoints: GET /v1/status,
// GET /v1/firewalls/{name}, GET /v1/revision, POST /hooks/git (GitHub-style
// HMAC-SHA256 webhook that triggers a fetch), /metrics, /healthz and
// /readyz, with an optional bearer token on everything but health and the
// webhook. It also defines [Policy] and [PolicyView], the read-only view of
// the current good revision that other endpoint sets (the FWAPI read API,
// the web console, pull-mode agents) receive through a [Mount].
//
// api only reads: it never changes status or policy, and it serves no
// FWAPI paths itself.
package api
