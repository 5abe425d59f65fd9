// Package netns creates and drives Linux network namespaces for fwgit's
// kernel tests, `fwgit test --netns` and the demo lab: named namespaces
// whose names start with [Prefix] so leftovers can be found, veth pairs
// with IPv4 and IPv6 addresses between them, running a function or a
// command inside one, loading an nftables ruleset into one, and probes that
// send real TCP, UDP and ICMP packets between two namespaces to show what a
// ruleset does.
//
// Every probe is bounded by a short timeout. The package never touches the
// host's own network namespace beyond creating and deleting the named
// namespaces under /run/netns, and it never deletes a namespace it was not
// asked to. It needs CAP_NET_ADMIN (and CAP_NET_RAW for ICMP probes) and
// the `ip` and `nft` commands.
package netns
