// Package server is the agent's HTTPS API under /api/v1: ping, info, state,
// ruleset and confirm. It owns the request path in front of the kernel: the
// ALLOWED_IPS check on every request first (IPv4 and IPv6, IPv4-mapped
// addresses unmapped), then the X-API-Key check in constant time, body
// limits, the mapping of errors to JSON answers, and per-request panic
// recovery. It decodes and applies nothing itself: every body goes to its
// [Backend] (safety.Guard in the agent). It never logs or returns the API
// key.
package server
