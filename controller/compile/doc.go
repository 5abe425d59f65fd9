// Package compile turns a resolved [model.Inventory] into the nftables ruleset
// ([nft.Ruleset]) each firewall must run, following DESIGN.md "Compilation"
// and spec/fwrule.md §9: one `table inet fwgit` with an input chain (policy
// drop) and an output chain (policy accept), the always-present fwgit rules
// first, then the user rules in precedence order. It also answers "what
// happens to this packet" ([Trace]) over a compiled ruleset, for `fwgit
// trace`, `fwgit test` and the controller's console.
//
// compile is part of the pure compile core: it performs no I/O, reads no
// clock, does not log and keeps no globals. Output is deterministic: the same
// inventory gives the same bytes. It must not import net/http, os/exec,
// log/slog or google/nftables.
package compile
