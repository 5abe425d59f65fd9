// Package fwapi serves the read endpoints of Triton's Firewall API (FWAPI)
// from the current good revision of the policy repository: GET /ping,
// GET /rules, GET /rules/{uuid}, GET /rules/{uuid}/vms,
// GET /firewalls/vms/{uuid} and POST /resolve, exactly as spec/fwapi.md
// describes (parameters, validation, error bodies, JSON shapes, ordering and
// the Git-derived version field). Writes answer 405 naming the repository:
// the repository is the source of truth.
//
// fwapi owns HTTP parsing, validation and serialisation only; the matching
// lives in controller/model as pure functions. It never changes state.
package fwapi
