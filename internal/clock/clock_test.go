package clock

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	_ Clock = Real{}
	_ Clock = (*FakeClock)(nil)
)

func TestRealAfterFunc(t *testing.T) {
	var c Clock = Real{}
	done := make(chan struct{})
	before := c.Now()
	c.AfterFunc(time.Millisecond, func() { close(done) })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Real.AfterFunc did not call f")
	}
	if !c.Now().After(before) {
		t.Error("Real.Now did not move")
	}
	if !c.AfterFunc(time.Hour, func() {}).Stop() {
		t.Error("Stop of a pending real timer = false, want true")
	}
}

func TestFakeClockAdvance(t *testing.T) {
	c := NewFakeClock(t0)
	var order []string
	at := func(name string) func() {
		return func() { order = append(order, name+"@"+c.Now().Sub(t0).String()) }
	}
	c.AfterFunc(3*time.Second, at("c"))
	c.AfterFunc(time.Second, at("a"))
	c.AfterFunc(3*time.Second, at("d")) // same deadline as c: runs after it
	c.AfterFunc(2*time.Second, func() {
		at("b")()
		c.AfterFunc(time.Second, at("e")) // due at 3s, inside this Advance
		c.AfterFunc(time.Hour, at("late"))
	})
	if got := c.Timers(); !slices.Equal(got, []time.Time{t0.Add(time.Second), t0.Add(2 * time.Second), t0.Add(3 * time.Second), t0.Add(3 * time.Second)}) {
		t.Errorf("Timers = %v", got)
	}
	c.Advance(500 * time.Millisecond)
	if len(order) != 0 || c.Now() != t0.Add(500*time.Millisecond) {
		t.Fatalf("after 500ms: ran %v, now %v", order, c.Now())
	}
	c.Advance(4500 * time.Millisecond)
	want := []string{"a@1s", "b@2s", "c@3s", "d@3s", "e@3s"}
	if !slices.Equal(order, want) {
		t.Errorf("ran %v, want %v", order, want)
	}
	if c.Now() != t0.Add(5*time.Second) {
		t.Errorf("Now = %v, want t0+5s", c.Now())
	}
	if c.Pending() != 1 || !slices.Equal(c.Timers(), []time.Time{t0.Add(2*time.Second + time.Hour)}) {
		t.Errorf("Pending = %d, Timers = %v, want the one late timer", c.Pending(), c.Timers())
	}
}

func TestFakeClockStop(t *testing.T) {
	c := NewFakeClock(t0)
	var ran atomic.Int32
	stopped := c.AfterFunc(time.Second, func() { ran.Add(1) })
	fired := c.AfterFunc(time.Second, func() { ran.Add(1) })
	if !stopped.Stop() {
		t.Error("Stop of a pending timer = false, want true")
	}
	if stopped.Stop() {
		t.Error("second Stop = true, want false")
	}
	c.Advance(time.Second)
	if ran.Load() != 1 {
		t.Errorf("%d timers ran, want 1", ran.Load())
	}
	if fired.Stop() {
		t.Error("Stop after the timer ran = true, want false")
	}
	if c.Pending() != 0 || len(c.Timers()) != 0 {
		t.Errorf("Pending = %d, Timers = %v, want none", c.Pending(), c.Timers())
	}
}

func TestFakeClockSet(t *testing.T) {
	c := NewFakeClock(t0)
	ran := false
	c.AfterFunc(time.Second, func() { ran = true })
	c.Set(t0.Add(time.Minute))
	if ran || c.Now() != t0.Add(time.Minute) || c.Pending() != 1 {
		t.Fatalf("after Set: ran %v, now %v, pending %d; want the timer still pending", ran, c.Now(), c.Pending())
	}
	// The overdue timer runs on the next Advance, without moving the clock
	// back.
	c.Advance(0)
	if !ran || c.Now() != t0.Add(time.Minute) {
		t.Errorf("after Advance(0): ran %v, now %v", ran, c.Now())
	}
}
