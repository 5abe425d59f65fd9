package reconcile

import (
	"time"

	"github.com/fwgit/fwgit/internal/clock"
)

// Clock is the time source of the queue and the reconciler, injected so
// tests can move time without sleeping (tailscale's tstime shape).
type Clock = clock.Clock

// Timer is a timer made by a [Clock].
type Timer = clock.Timer

// RealClock is the system clock.
type RealClock = clock.Real

// FakeClock is a [Clock] that moves only when told to (see
// [clock.FakeClock]).
type FakeClock = clock.FakeClock

// NewFakeClock returns a clock stopped at t.
func NewFakeClock(t time.Time) *FakeClock { return clock.NewFakeClock(t) }
