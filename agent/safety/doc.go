// Package safety is the only path from the agent's API to the kernel, and it
// owns what keeps a firewall reachable and consistent:
//
//   - the always-on failsafe rules ([Failsafe]) prepended to every input
//     chain, whatever the controller sent;
//   - the last-known-good store ([Store]): the applied and the previous
//     request in STATE_DIR, written atomically and re-applied at start;
//   - commit-confirm, a dead-man timer that restores the previous ruleset
//     unless the controller confirms the new one in time;
//   - one kernel transaction at a time, generation ordering, digest checks
//     ([CheckRequest]), and drift detection and repair.
//
// [Guard] ties them together over a dataplane.Applier. The package does no
// networking and serves no HTTP; time comes from an injected [Clock], so
// tests never sleep. It never touches anything but the agent's own table:
// that is the Applier's contract.
package safety
