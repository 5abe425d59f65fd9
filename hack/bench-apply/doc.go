// Package main is the bench-apply command. It measures how fast the
// agent's dataplane applies a ruleset compared with `nft -f` of the same
// ruleset's canonical text, in a throwaway network namespace: 10,000
// rules, 50,000 CIDRs in sets and a realistic 500-rule policy, each as an
// atomic replace of a table that already holds it, alternating the two
// tools, and prints the medians and their ratio. It also times the
// agent-side check that makes re-applying an unchanged ruleset free (a
// digest comparison, no kernel work), and, for reference, the kernel reads
// a drift check costs.
//
// Run it as root: `go run ./hack/bench-apply [-runs 7]`. It creates and
// deletes its own namespace and touches nothing else.
package main
