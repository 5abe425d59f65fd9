// Package ui serves the controller's read-only web console under /ui/: an
// overview of every firewall's condition with filters, sorting and paging; a
// page per firewall (addresses, tags, agent, the rules that name it, the
// rendered nftables ruleset and the apply history); a page per rule; a packet
// tracer; and the pending change (the plan between the revision the agents
// run and the desired one). It also serves the tracer as JSON at
// GET /v1/trace ([TraceHandler]).
//
// Pages are html/template documents with embedded CSS and one small script
// (loaded with a per-request nonce) that polls /ui/live and reloads a page
// when the status it shows changed; every page works without JavaScript.
// Every response carries a strict Content-Security-Policy, nosniff, a
// no-referrer policy and frame denial. When a read token is configured, the
// console asks for it once on a login form and keeps a derived value (never
// the token) in an HttpOnly, SameSite=Strict cookie, Secure over TLS.
//
// ui only reads: it never changes policy, status or agents, and every form
// but the login form is a GET. It assembles page data from the current good
// policy, the status store and an optional archive of earlier policies
// through small interfaces it owns; the matching, compiling, tracing and
// planning are those of controller/model, controller/compile and
// controller/plan, never re-implemented here. No secret (agent API keys,
// enrollment secrets, the webhook secret, the read token) is ever handed to
// a template.
package ui
