// Package model resolves the objects of one revision into an [Inventory]: a
// closed world where tags map to firewalls, references are checked and
// zero-match selectors are reported ([Build]). On that world it answers the
// compiler's questions (which firewalls a rule side selects, which rules
// apply to a firewall, which firewalls a change affects: [Diff]) and the
// FWAPI lookups (rule to firewalls, firewall to rules, resolve, rule
// filters), all as pure functions.
//
// model is part of the pure compile core: no I/O, clock, logging or globals.
// It reads nothing itself; schema/load hands it the decoded objects.
package model
