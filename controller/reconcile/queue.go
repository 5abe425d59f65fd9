package reconcile

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Queue is a keyed work queue. A key waiting in the queue is held once
// however often it is added; a key being processed is never handed to a
// second worker, and a key added while it is processed is handed out again
// after [Queue.Done]. Delayed adds (backoff, resync) keep only the earliest
// deadline per key.
type Queue struct {
	clock Clock

	mu         sync.Mutex
	cond       *sync.Cond
	queue      []string
	dirty      map[string]bool
	processing map[string]bool
	delayed    map[string]delayed
	failures   map[string]int
	shutdown   bool

	backoffMin, backoffMax time.Duration
}

type delayed struct {
	at    time.Time
	timer Timer
}

// NewQueue returns an empty queue whose per-key backoff grows from min to
// max.
func NewQueue(clock Clock, min, max time.Duration) *Queue {
	q := &Queue{
		clock:      clock,
		dirty:      map[string]bool{},
		processing: map[string]bool{},
		delayed:    map[string]delayed{},
		failures:   map[string]int{},
		backoffMin: min,
		backoffMax: max,
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Add queues key now, cancelling any delayed add of it.
func (q *Queue) Add(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(key)
}

func (q *Queue) addLocked(key string) {
	if q.shutdown {
		return
	}
	if d, ok := q.delayed[key]; ok {
		d.timer.Stop()
		delete(q.delayed, key)
	}
	if q.dirty[key] {
		return
	}
	q.dirty[key] = true
	if q.processing[key] {
		return
	}
	q.queue = append(q.queue, key)
	q.cond.Signal()
}

// AddAfter queues key after d. An earlier pending deadline for the key
// wins; a key already waiting in the queue is left alone.
func (q *Queue) AddAfter(key string, d time.Duration) {
	if d <= 0 {
		q.Add(key)
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown || (q.dirty[key] && !q.processing[key]) {
		return
	}
	at := q.clock.Now().Add(d)
	if old, ok := q.delayed[key]; ok {
		if !old.at.After(at) {
			return
		}
		old.timer.Stop()
	}
	var self Timer
	self = q.clock.AfterFunc(d, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		if cur, ok := q.delayed[key]; !ok || cur.timer != self {
			return
		}
		delete(q.delayed, key)
		q.addLocked(key)
	})
	q.delayed[key] = delayed{at: at, timer: self}
}

// Get blocks until a key is ready or the queue is shut down (ok false).
// The caller must call [Queue.Done] with the key when finished.
func (q *Queue) Get() (key string, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.queue) == 0 && !q.shutdown {
		q.cond.Wait()
	}
	if q.shutdown {
		return "", false
	}
	key = q.queue[0]
	q.queue[0] = ""
	q.queue = q.queue[1:]
	q.processing[key] = true
	delete(q.dirty, key)
	return key, true
}

// Done marks key finished; if it was added meanwhile it is queued again.
func (q *Queue) Done(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, key)
	if q.dirty[key] && !q.shutdown {
		q.queue = append(q.queue, key)
		q.cond.Signal()
	}
}

// Backoff records a failure of key and returns how long to wait before the
// next try: min doubled per consecutive failure, capped at max, with ±10 %
// jitter (never above max).
func (q *Queue) Backoff(key string) time.Duration {
	q.mu.Lock()
	n := q.failures[key]
	q.failures[key] = n + 1
	q.mu.Unlock()
	d := float64(q.backoffMin) * math.Pow(2, float64(n))
	if d > float64(q.backoffMax) || math.IsInf(d, 0) {
		d = float64(q.backoffMax)
	}
	d *= 0.9 + 0.2*rand.Float64()
	return min(time.Duration(d), q.backoffMax)
}

// Forget resets key's failure count.
func (q *Queue) Forget(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.failures, key)
}

// Failures returns key's consecutive failure count.
func (q *Queue) Failures(key string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.failures[key]
}

// Len returns the number of keys waiting (not delayed, not processing).
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queue)
}

// ShutDown stops the queue: pending timers are cancelled and every Get
// returns ok false.
func (q *Queue) ShutDown() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.shutdown = true
	for k, d := range q.delayed {
		d.timer.Stop()
		delete(q.delayed, k)
	}
	q.cond.Broadcast()
}

// Jitter returns d changed by a random amount within ±frac of it.
func Jitter(d time.Duration, frac float64) time.Duration {
	return time.Duration(float64(d) * (1 - frac + 2*frac*rand.Float64()))
}
