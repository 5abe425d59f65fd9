// Package status owns what the controller knows about each firewall and
// about the policy revisions: per-firewall status (desired and applied
// digest, generation, conditions, drift), the apply history (the last
// [HistoryLimit] entries per firewall) and the current and last good
// revision with its diagnostics. [Store] has a bbolt implementation ([Bolt])
// that survives restarts and an in-memory [FakeStore]; [NewCollector] turns
// a store into Prometheus gauges at scrape time.
//
// status records outcomes; it never decides them. It makes no network
// calls and starts no goroutines.
package status
