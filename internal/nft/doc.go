// Package nft holds the ruleset IR that fwgit compiles for each firewall and
// that the agent applies: one table of the inet family with its chains, named
// interval sets and rules. The IR is deliberately narrower than the nftables
// language: a rule is a conjunction of a fixed set of matches and one verdict,
// so that the compiler, the agent's netlink encoder, the reference evaluator
// and the canonical text rendering all agree on what a rule means.
//
// The package provides the canonical [Ruleset.Render] in `nft -f` syntax
// (and [Ruleset.RenderReplace] for an atomic table swap), the
// [Ruleset.Digest] over it, structural validation ([Ruleset.Validate]) that
// the agent runs before it touches the kernel, strict decoding of the JSON
// form ([Decode]), a reference evaluator with nftables semantics
// ([Ruleset.Eval]), CIDR and port normalisation ([Normalize],
// [NormalizePorts]), interval boundaries for the kernel ([Intervals],
// [PrefixInterval]) and back to prefixes ([IntervalPrefixes]), and
// content-derived set names ([SetName]).
//
// It is pure: no I/O, no clock, no logging, and it does not import
// google/nftables. Its tests use the nft command, when present, as the
// oracle for the rendered text.
package nft
