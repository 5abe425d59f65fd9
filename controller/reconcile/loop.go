package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/fwgit/fwgit/internal/logfield"
)

// TerminalError marks an error that retrying cannot fix: the key waits
// until its inputs change (a new revision enqueues it again).
type TerminalError struct{ Err error }

func (e *TerminalError) Error() string { return e.Err.Error() }
func (e *TerminalError) Unwrap() error { return e.Err }

// Terminal wraps err as a [TerminalError]; Terminal(nil) is nil.
func Terminal(err error) error {
	if err == nil {
		return nil
	}
	return &TerminalError{Err: err}
}

// IsTerminal reports whether err wraps a [TerminalError].
func IsTerminal(err error) bool {
	var te *TerminalError
	return errors.As(err, &te)
}

// PanicError is the error a recovered panic becomes.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Result tells the loop when to look at a key again after a success.
type Result struct {
	// RequeueAfter, when positive, replaces the resync interval once.
	RequeueAfter time.Duration
}

// Reconciler brings one key's actual state to its desired state. It is
// level-triggered: it must read everything it needs afresh on every call.
type Reconciler interface {
	Reconcile(ctx context.Context, key string) (Result, error)
}

// ReconcilerFunc adapts a function to [Reconciler].
type ReconcilerFunc func(ctx context.Context, key string) (Result, error)

// Reconcile calls f.
func (f ReconcilerFunc) Reconcile(ctx context.Context, key string) (Result, error) {
	return f(ctx, key)
}

// Options configure a [Loop].
type Options struct {
	// Workers is the number of keys reconciled at once (default 1).
	Workers int
	// Resync is the delay before a successful key is reconciled again
	// (±5 % jitter); zero disables resync.
	Resync time.Duration
	// BackoffMin and BackoffMax bound the per-key retry delay.
	BackoffMin, BackoffMax time.Duration
	// Budget bounds one Reconcile call (zero: no bound beyond ctx).
	Budget time.Duration
	Clock  Clock
	Log    *slog.Logger
	// Metrics may be nil.
	Metrics *Metrics
}

// Loop runs a [Reconciler] over a [Queue] with bounded workers. Each
// outcome has exactly one effect: success requeues at the resync interval,
// a transient error backs off per key, a terminal error waits for the key
// to be added again, and a panic is recovered, counted and treated as a
// transient error.
type Loop struct {
	r    Reconciler
	opts Options
	q    *Queue
}

// NewLoop returns a loop; call [Loop.Run] to start it.
func NewLoop(r Reconciler, opts Options) *Loop {
	if opts.Workers < 1 {
		opts.Workers = 1
	}
	if opts.Clock == nil {
		opts.Clock = RealClock{}
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.BackoffMin <= 0 {
		opts.BackoffMin = 750 * time.Millisecond
	}
	if opts.BackoffMax < opts.BackoffMin {
		opts.BackoffMax = max(opts.BackoffMin, 15*time.Minute)
	}
	return &Loop{r: r, opts: opts, q: NewQueue(opts.Clock, opts.BackoffMin, opts.BackoffMax)}
}

// Enqueue adds keys for reconciliation now.
func (l *Loop) Enqueue(keys ...string) {
	for _, k := range keys {
		l.q.Add(k)
	}
}

// Queue returns the loop's queue.
func (l *Loop) Queue() *Queue { return l.q }

// Run starts the workers and returns when ctx is cancelled and every
// worker has finished its current key.
func (l *Loop) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		<-ctx.Done()
		l.q.ShutDown()
		return nil
	})
	for range l.opts.Workers {
		g.Go(func() error {
			for {
				key, ok := l.q.Get()
				if !ok {
					return nil
				}
				l.process(ctx, key)
				l.q.Done(key)
			}
		})
	}
	return g.Wait()
}

const (
	resultSuccess  = "success"
	resultError    = "error"
	resultTerminal = "terminal"
	resultPanic    = "panic"
)

func (l *Loop) process(ctx context.Context, key string) {
	start := l.opts.Clock.Now()
	res, err := l.call(ctx, key)
	result := resultSuccess
	var pe *PanicError
	switch {
	case ctx.Err() != nil:
		// Shutting down: no requeue, no metric for a cut-short call.
		return
	case errors.As(err, &pe):
		result = resultPanic
		l.opts.Log.Error("reconcile panicked", logfield.Firewall, key, "panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))
		l.q.AddAfter(key, l.q.Backoff(key))
	case IsTerminal(err):
		result = resultTerminal
		l.q.Forget(key)
	case err != nil:
		result = resultError
		l.q.AddAfter(key, l.q.Backoff(key))
	default:
		l.q.Forget(key)
		next := res.RequeueAfter
		if next <= 0 && l.opts.Resync > 0 {
			next = Jitter(l.opts.Resync, 0.05)
		}
		if next > 0 {
			l.q.AddAfter(key, next)
		}
	}
	if m := l.opts.Metrics; m != nil {
		m.total.WithLabelValues(result).Inc()
		m.duration.WithLabelValues(result).Observe(l.opts.Clock.Now().Sub(start).Seconds())
		if result == resultPanic {
			m.panics.Inc()
		}
	}
}

var errBudget = errors.New("reconcile: budget exceeded")

func (l *Loop) call(ctx context.Context, key string) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	if l.opts.Budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, l.opts.Budget, errBudget)
		defer cancel()
	}
	return l.r.Reconcile(ctx, key)
}

// Metrics are the loop's Prometheus metrics.
type Metrics struct {
	total    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	panics   prometheus.Counter
}

// NewMetrics creates the loop metrics and registers them on reg:
// fwgit_reconcile_total{result}, fwgit_reconcile_duration_seconds{result}
// and fwgit_reconcile_panics_total.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fwgit_reconcile_total",
			Help: "Reconciliations by result (success, error, terminal, panic).",
		}, []string{"result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fwgit_reconcile_duration_seconds",
			Help:    "Time spent in one reconciliation, by result.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"result"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fwgit_reconcile_panics_total",
			Help: "Panics recovered in reconcile workers.",
		}),
	}
	for _, r := range []string{resultSuccess, resultError, resultTerminal, resultPanic} {
		m.total.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.total, m.duration, m.panics)
	}
	return m
}
