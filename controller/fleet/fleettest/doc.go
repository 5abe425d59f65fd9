// Package fleettest runs agents for tests: [Agent] serves the push-mode
// agent protocol (internal/agentapi) over real HTTPS on loopback, around a
// [fleet.FakeAgent] in-memory transactional table, with its own self-signed
// certificate, API key check, and the ability to go down and come back on
// the same address. It imports nothing from agent/ (the controller must not)
// and is used only by tests and benchmarks.
package fleettest
