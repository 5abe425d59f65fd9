// Package compiletest is an independent reference evaluator of fwgit policy:
// it interprets the manifests (a [model.Inventory] and its parsed rules)
// directly from DESIGN.md "Compilation" and spec/fwrule.md §9, without
// looking at the compiled nftables IR, and answers accept or drop for one
// packet on one firewall together with the rule that decided. The
// differential fuzz test of package compile checks that compiling and then
// evaluating the IR always gives the same answer.
//
// It is written for clarity, not speed, and must not import package compile
// or reuse its helpers: agreement between two separate readings of the spec
// is the point. It is pure: no I/O, clock or logging.
package compiletest
