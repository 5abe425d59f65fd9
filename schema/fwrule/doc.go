// Package fwrule implements the Triton FWAPI firewall rule language
// (spec/fwrule.md): the lexer and parser, value checks and limits, language
// versions 1–4, typed errors with upstream's messages, and the canonical text
// printer, including FWAPI's port folding.
//
// The parser is an LALR(1) automaton built at first use from the same
// grammar as upstream's jison parser, so syntax errors name the same
// position, token and expected terminals, and value checks run in the same
// order relative to syntax errors. [Parse], [Create] and [FWAPI] are the
// three entry points of spec §0; [CreatePayload] validates a whole rule
// payload (§7).
//
// It is pure and imports only the standard library: no I/O, logging, clock
// or randomness.
package fwrule
