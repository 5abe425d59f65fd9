package compile

import (
	"slices"

	v1 "github.com/fwgit/fwgit/schema/v1"
)

// Peer returns the address, as the case writes it, of the host that plays
// the other end of a case sent on a wire: From when the traffic comes in,
// To when it goes out ("" when the case names none). When no packet can
// stand for the case, it returns why instead: no probe sends AH or ESP,
// and conntrack treats an ICMP error without a connection as invalid.
// Callers that send probes (fwgit test --netns, the e2e lab) parse the
// address and add the checks of their own network.
func Peer(tc v1.TestCase) (addr, unsendable string) {
	switch tc.Proto {
	case "ah", "esp":
		return "", "no probe sends " + tc.Proto
	case "icmp", "icmp6":
		if tc.Type != nil && isICMPError(tc.Proto, *tc.Type) {
			return "", "conntrack treats an ICMP error without a connection as invalid"
		}
	}
	if tc.Direction == v1.DirectionOut {
		return tc.To, ""
	}
	return tc.From, ""
}

// isICMPError reports whether type t of proto (icmp or icmp6) is an error
// message: destination unreachable, source quench, redirect, time exceeded
// and parameter problem for ICMPv4; types 1 to 4 for ICMPv6.
func isICMPError(proto string, t int) bool {
	if proto == "icmp6" {
		return t >= 1 && t <= 4
	}
	return slices.Contains([]int{3, 4, 5, 11, 12}, t)
}
