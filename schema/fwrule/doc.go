// Package fwrule implements the Triton FWAPI firewall rule language
// (spec/fwrule.md): the lexer and parser, value checks and limits, language
// versions 1–4, typed errors with upstream's messages, and the canonical text
// printer, including FWAPI's port folding. It is pure and imports only the
// standard library.
package fwrule
