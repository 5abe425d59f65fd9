package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// eventually polls cond until it holds or 5 seconds pass; it waits for
// other goroutines, never for time to pass on the fake clock.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestQueueDedupeAndExclusive(t *testing.T) {
	q := NewQueue(NewFakeClock(t0), time.Second, time.Minute)
	q.Add("a")
	q.Add("a")
	q.Add("b")
	if q.Len() != 2 {
		t.Fatalf("Len() = %d after adding a, a, b; want 2", q.Len())
	}
	k, _ := q.Get()
	if k != "a" {
		t.Fatalf("Get() = %q, want a", k)
	}
	q.Add("a") // while a is processing
	if q.Len() != 1 {
		t.Fatalf("Len() = %d with a processing and re-added; want 1 (only b)", q.Len())
	}
	k2, _ := q.Get()
	if k2 != "b" {
		t.Fatalf("Get() = %q, want b: a must not go to a second worker", k2)
	}
	q.Done("a")
	if q.Len() != 1 {
		t.Fatalf("Len() = %d after Done(a); want 1 (a again)", q.Len())
	}
	if k, _ := q.Get(); k != "a" {
		t.Fatalf("Get() = %q, want a", k)
	}
	q.ShutDown()
	if _, ok := q.Get(); ok {
		t.Fatal("Get() after ShutDown returned ok")
	}
}

func TestQueueAddAfterEarliestWins(t *testing.T) {
	clk := NewFakeClock(t0)
	q := NewQueue(clk, time.Second, time.Minute)
	q.AddAfter("a", 10*time.Second)
	q.AddAfter("a", 5*time.Second)
	q.AddAfter("a", 20*time.Second)
	if diff := cmp.Diff([]time.Time{t0.Add(5 * time.Second)}, clk.Timers()); diff != "" {
		t.Fatalf("timers (-want +got):\n%s", diff)
	}
	clk.Advance(4 * time.Second)
	if q.Len() != 0 {
		t.Fatalf("Len() = %d before the deadline, want 0", q.Len())
	}
	clk.Advance(time.Second)
	if q.Len() != 1 {
		t.Fatalf("Len() = %d at the deadline, want 1", q.Len())
	}
	// An immediate Add cancels a pending delayed one.
	q.AddAfter("b", time.Minute)
	q.Add("b")
	if len(clk.Timers()) != 0 {
		t.Errorf("timers after Add = %v, want none", clk.Timers())
	}
}

func TestQueueBackoff(t *testing.T) {
	q := NewQueue(NewFakeClock(t0), 750*time.Millisecond, 15*time.Minute)
	want := 750 * time.Millisecond
	for i := range 15 {
		got := q.Backoff("a")
		lo, hi := time.Duration(float64(want)*0.9), min(time.Duration(float64(want)*1.1), 15*time.Minute)
		if got < lo || got > hi {
			t.Fatalf("Backoff #%d = %v, want within [%v, %v]", i+1, got, lo, hi)
		}
		want = min(want*2, 15*time.Minute)
	}
	if q.Failures("b") != 0 || q.Failures("a") != 15 {
		t.Errorf("failures a=%d b=%d, want 15 and 0 (per key)", q.Failures("a"), q.Failures("b"))
	}
	q.Forget("a")
	if got := q.Backoff("a"); got > 825*time.Millisecond {
		t.Errorf("Backoff after Forget = %v, want about 750ms", got)
	}
}

type scripted struct {
	mu    sync.Mutex
	calls map[string]int
	fn    func(key string, n int) (Result, error)
}

func (s *scripted) Reconcile(_ context.Context, key string) (Result, error) {
	s.mu.Lock()
	s.calls[key]++
	n := s.calls[key]
	s.mu.Unlock()
	return s.fn(key, n)
}

func (s *scripted) count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[key]
}

func TestLoopOutcomes(t *testing.T) {
	tests := []struct {
		name string
		err  func(n int) error
		// wantDelay is the requeue delay range after the first call;
		// zero means no requeue.
		lo, hi      time.Duration
		wantResult  string
		wantPanics  float64
		secondCalls int
	}{
		{name: "success resyncs", err: func(int) error { return nil }, lo: 57 * time.Second, hi: 63 * time.Second, wantResult: "success"},
		{name: "transient backs off", err: func(int) error { return errors.New("agent down") }, lo: 675 * time.Millisecond, hi: 825 * time.Millisecond, wantResult: "error"},
		{name: "terminal waits", err: func(int) error { return Terminal(errors.New("bad commit")) }, wantResult: "terminal"},
		{name: "panic is recovered", err: func(int) error { panic("boom") }, lo: 675 * time.Millisecond, hi: 825 * time.Millisecond, wantResult: "panic", wantPanics: 2}, // the first call and the retry both panic
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := NewFakeClock(t0)
			r := &scripted{calls: map[string]int{}, fn: func(_ string, n int) (Result, error) { return Result{}, tc.err(n) }}
			reg := prometheus.NewRegistry()
			m := NewMetrics(reg)
			l := NewLoop(r, Options{Workers: 2, Resync: time.Minute, BackoffMin: 750 * time.Millisecond, BackoffMax: time.Hour, Clock: clk, Metrics: m})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- l.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run() = %v", err)
				}
			}()
			l.Enqueue("fw")
			eventually(t, "the result metric", func() bool { return counterValue(t, reg, "fwgit_reconcile_total", tc.wantResult) == 1 })
			timers := clk.Timers()
			if tc.lo == 0 {
				if len(timers) != 0 {
					t.Fatalf("timers = %v, want none", timers)
				}
			} else {
				if len(timers) != 1 {
					t.Fatalf("timers = %v, want one", timers)
				}
				if d := timers[0].Sub(t0); d < tc.lo || d > tc.hi {
					t.Fatalf("requeue after %v, want within [%v, %v]", d, tc.lo, tc.hi)
				}
				clk.Advance(tc.hi)
				eventually(t, "the second call", func() bool { return r.count("fw") == 2 })
			}
			if got := counterValue(t, reg, "fwgit_reconcile_panics_total", ""); got != tc.wantPanics {
				t.Errorf("panics = %v, want %v", got, tc.wantPanics)
			}
		})
	}
}

func TestLoopBoundedAndExclusive(t *testing.T) {
	var inflight, peak atomic.Int32
	var mu sync.Mutex
	busy := map[string]bool{}
	var dup atomic.Bool
	var calls atomic.Int32
	r := ReconcilerFunc(func(_ context.Context, key string) (Result, error) {
		n := inflight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		mu.Lock()
		if busy[key] {
			dup.Store(true)
		}
		busy[key] = true
		mu.Unlock()
		time.Sleep(200 * time.Microsecond)
		mu.Lock()
		busy[key] = false
		mu.Unlock()
		inflight.Add(-1)
		calls.Add(1)
		return Result{}, nil
	})
	l := NewLoop(r, Options{Workers: 4, Clock: NewFakeClock(t0)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	for round := range 20 {
		for i := range 10 {
			l.Enqueue(fmt.Sprintf("fw-%d", (i+round)%10))
		}
	}
	eventually(t, "the queue to drain", func() bool { return l.Queue().Len() == 0 && inflight.Load() == 0 })
	cancel()
	<-done
	if dup.Load() {
		t.Error("a key ran on two workers at once")
	}
	if p := peak.Load(); p > 4 {
		t.Errorf("peak concurrency = %d, want <= 4", p)
	}
	if c := calls.Load(); c < 10 || c > 200 {
		t.Errorf("calls = %d, want between 10 (deduplicated) and 200", c)
	}
}

func TestTerminal(t *testing.T) {
	base := errors.New("invalid revision")
	err := fmt.Errorf("reconciling db-1: %w", Terminal(base))
	if !IsTerminal(err) || !errors.Is(err, base) {
		t.Errorf("IsTerminal(%v) = %v, errors.Is base = %v; want true, true", err, IsTerminal(err), errors.Is(err, base))
	}
	if IsTerminal(errors.New("timeout")) || Terminal(nil) != nil {
		t.Error("plain errors must not be terminal and Terminal(nil) must be nil")
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if result == "" {
				return m.GetCounter().GetValue()
			}
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
