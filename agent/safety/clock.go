package safety

import (
	"time"

	"github.com/fwgit/fwgit/internal/clock"
)

// Clock is the time source of [Guard]: the system clock in production,
// [FakeClock] in tests.
type Clock = clock.Clock

// Timer is a pending [Clock.AfterFunc] call.
type Timer = clock.Timer

// FakeClock is a [Clock] that moves only when told to (see
// [clock.FakeClock]).
type FakeClock = clock.FakeClock

// NewFakeClock returns a FakeClock reading t.
func NewFakeClock(t time.Time) *FakeClock { return clock.NewFakeClock(t) }

// SystemClock returns the [Clock] of package time.
func SystemClock() Clock { return clock.Real{} }
