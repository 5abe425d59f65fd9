// Package model resolves the objects of one revision into an [Inventory]: a
// closed world where tags map to firewalls, references are checked and
// zero-match selectors are reported. It also answers the FWAPI lookups (rule
// to firewalls, firewall to rules, resolve, rule filters) as pure functions.
//
// model is part of the pure compile core: no I/O, clock, logging or globals.
package model
