// Package clock is the injectable time source of fwgit's timed loops (the
// controller's reconcile queue and the agent's confirm-or-rollback guard),
// in the shape of tailscale's tstime: [Clock] with [Real], the system
// clock, for production and [FakeClock], which moves only when a test
// tells it to, so tests never sleep.
package clock
