// Package plan compares two revisions of a policy repository firewall by
// firewall: which firewalls a change adds, removes, changes or leaves alone,
// the unified diff of each rendered ruleset, the rules that caused each
// change, and warnings for reviewers (selectors that match nothing, rules
// shadowed by a higher-precedence rule, rules that open a port to any). It
// renders the result as Markdown for a pull-request comment, as text and as
// JSON.
//
// plan is part of the pure compile core: it works on inventories and
// compiled rulesets handed to it, performs no I/O, reads no clock and does
// not log. It must not import net/http, os/exec, log/slog or google/nftables.
package plan
