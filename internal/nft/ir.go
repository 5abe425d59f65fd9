package nft

import "net/netip"

// IRVersion is the version of the JSON form of [Ruleset]. The agent rejects
// documents with any other version.
const IRVersion = 1

// DefaultTable is the name of the table fwgit owns on every firewall.
const DefaultTable = "fwgit"

// Ruleset is everything fwgit puts on one firewall: exactly one table of the
// inet family. A Ruleset with no chains and no sets ([Ruleset.Empty]) means
// "no table": the agent deletes its table and filters nothing.
type Ruleset struct {
	// Version is [IRVersion].
	Version int `json:"version"`
	// Table is the table's name, normally [DefaultTable].
	Table string `json:"table"`
	// Sets are the named sets, sorted by name.
	Sets []Set `json:"sets,omitempty"`
	// Chains are the base chains, in the order they are rendered.
	Chains []Chain `json:"chains,omitempty"`
}

// Empty reports whether the ruleset holds no sets and no chains, which means
// the table must not exist.
func (r *Ruleset) Empty() bool { return r == nil || (len(r.Sets) == 0 && len(r.Chains) == 0) }

// SetType is the element type of a named set.
type SetType string

// The set types the IR knows. Address sets are always interval sets whose
// elements are normalised prefixes (see [Normalize]).
const (
	SetIPv4 SetType = "ipv4_addr"
	SetIPv6 SetType = "ipv6_addr"
)

// Set is a named interval set of addresses. Its name is derived from its
// content by the compiler, so a membership change is a set change.
type Set struct {
	Name string  `json:"name"`
	Type SetType `json:"type"`
	// Elements are sorted, non-overlapping prefixes of the set's family.
	Elements []netip.Prefix `json:"elements"`
	// Comment says what the set stands for (for humans; not matched).
	Comment string `json:"comment,omitempty"`
}

// Hook is the netfilter hook of a base chain.
type Hook string

// The hooks fwgit uses.
const (
	HookInput   Hook = "input"
	HookOutput  Hook = "output"
	HookForward Hook = "forward"
)

// Verdict is what a rule or a chain policy does with a packet.
type Verdict string

// The verdicts of the IR.
const (
	Accept Verdict = "accept"
	Drop   Verdict = "drop"
)

// Chain is a base chain of type filter.
type Chain struct {
	Name     string  `json:"name"`
	Hook     Hook    `json:"hook"`
	Priority int     `json:"priority"`
	Policy   Verdict `json:"policy"`
	Rules    []Rule  `json:"rules,omitempty"`
}

// Family restricts a rule to one IP family (nft "meta nfproto").
type Family string

// The families. FamilyAny matches both.
const (
	FamilyAny  Family = ""
	FamilyIPv4 Family = "ipv4"
	FamilyIPv6 Family = "ipv6"
)

// Proto is a layer-4 protocol (nft "meta l4proto").
type Proto string

// The protocols of the IR. ProtoAny matches every protocol.
const (
	ProtoAny    Proto = ""
	ProtoTCP    Proto = "tcp"
	ProtoUDP    Proto = "udp"
	ProtoICMP   Proto = "icmp"
	ProtoICMPv6 Proto = "icmpv6"
	ProtoAH     Proto = "ah"
	ProtoESP    Proto = "esp"
)

// Number returns the IANA protocol number.
func (p Proto) Number() uint8 {
	switch p {
	case ProtoTCP:
		return 6
	case ProtoUDP:
		return 17
	case ProtoICMP:
		return 1
	case ProtoICMPv6:
		return 58
	case ProtoAH:
		return 51
	case ProtoESP:
		return 50
	}
	return 0
}

// CTState is a set of conntrack states (nft "ct state"), as a bit mask.
type CTState uint8

// Conntrack states, with the kernel's bit values.
const (
	CTInvalid     CTState = 1 << 0
	CTEstablished CTState = 1 << 1
	CTRelated     CTState = 1 << 2
	CTNew         CTState = 1 << 3
)

// AddrMatch matches an address against either one named set or a list of
// prefixes. Exactly one of Set and Prefixes is set. Prefixes are normalised
// and of the rule's family; more than one prefix renders as an anonymous set.
type AddrMatch struct {
	Set      string         `json:"set,omitempty"`
	Prefixes []netip.Prefix `json:"prefixes,omitempty"`
}

// PortRange is an inclusive range of ports; Lo == Hi is a single port.
type PortRange struct {
	Lo uint16 `json:"lo"`
	Hi uint16 `json:"hi"`
}

// ICMPMatch is an ICMP or ICMPv6 type, optionally with a code.
type ICMPMatch struct {
	Type uint8  `json:"type"`
	Code *uint8 `json:"code,omitempty"`
}

// Rule is one nftables rule: every non-zero match must hold, then Verdict
// applies. The matches render and are encoded in this order: Family, IIF,
// OIF, CTState, Src, Dst, Proto, DPorts, ICMP, then Log, then Verdict.
type Rule struct {
	// Family restricts the rule to IPv4 or IPv6; it is required when Src or
	// Dst is set.
	Family Family `json:"family,omitempty"`
	// IIF and OIF match the input or output interface name exactly.
	IIF string `json:"iif,omitempty"`
	OIF string `json:"oif,omitempty"`
	// CTState, when non-zero, matches packets in any of the given states.
	CTState CTState    `json:"ctstate,omitempty"`
	Src     *AddrMatch `json:"src,omitempty"`
	Dst     *AddrMatch `json:"dst,omitempty"`
	Proto   Proto      `json:"proto,omitempty"`
	// DPorts matches the destination port (Proto tcp or udp only); empty
	// means every port. Ranges are sorted and do not overlap.
	DPorts []PortRange `json:"dports,omitempty"`
	// ICMP matches types (Proto icmp or icmpv6 only); empty means every type.
	// When an entry has a code, it is the only entry.
	ICMP []ICMPMatch `json:"icmp,omitempty"`
	// Log, when non-empty, adds a log statement with this prefix.
	Log     string  `json:"log,omitempty"`
	Verdict Verdict `json:"verdict"`
	// Comment names the rule's origin, e.g. "rule:<uuid>" or "fwgit:established".
	// The reference evaluator returns it so a verdict can be traced back.
	Comment string `json:"comment,omitempty"`
}
