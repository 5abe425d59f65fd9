// Package dataplanetest builds rulesets for tests and benchmarks of the
// agent's dataplane: a sample that uses every match of the IR, and the
// large shapes of spec/nftables-limits.md (many rules, many CIDRs, a
// realistic policy). It only builds values; it must not touch the kernel.
package dataplanetest
