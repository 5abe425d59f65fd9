// Package reconcile owns the controller's level-triggered loop: a keyed work
// queue ([Queue]: deduplicated keys, never one key on two workers, per-key
// exponential backoff with jitter), the worker [Loop] (bounded workers,
// resync with ±5 % jitter, panic recovery, [Terminal] errors that wait for
// new inputs), the injectable [Clock], and [Firewall], the reconciler that
// drives one firewall's agent to the desired ruleset and records the
// outcome in status.
//
// Events only enqueue names; a reconcile always re-reads the desired state
// and the agent's state. reconcile does not load or compile policy (it is
// given a [DesiredFunc]) and does not serve HTTP.
package reconcile
