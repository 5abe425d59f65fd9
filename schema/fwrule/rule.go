package fwrule

// This file is the package's contract with the rest of fwgit: the parsed rule
// model. Other packages (schema/load, controller/model, controller/compile,
// the FWAPI endpoints) depend on these types; keep them stable.

// TargetKind is the kind of a rule target (spec/fwrule.md §0).
type TargetKind int

// Target kinds, in the canonical grouping order of spec §6: wildcards, ips,
// subnets, tags, vms.
const (
	TargetAny TargetKind = iota + 1
	TargetAllVMs
	TargetIP
	TargetSubnet
	TargetTag
	TargetVM
)

// Target is one target on a side of a rule.
type Target struct {
	Kind TargetKind
	// Value is the address as written (TargetIP), the CIDR as written with
	// its "/len" (TargetSubnet), the VM UUID (TargetVM) or the unescaped tag
	// name (TargetTag). Empty for TargetAny and TargetAllVMs.
	Value string
	// TagValue is the unescaped tag value when HasValue is true.
	TagValue string
	HasValue bool
	// Offset is the byte offset in the rule text where the target starts
	// (its keyword), so diagnostics can point inside the rule string.
	Offset int
}

// Action is ALLOW or BLOCK.
type Action int

// The two actions.
const (
	Allow Action = iota + 1
	Block
)

// Protocol is one of the six protocols of the language.
type Protocol int

// The protocols.
const (
	TCP Protocol = iota + 1
	UDP
	ICMP
	ICMP6
	AH
	ESP
)

// String returns the protocol's lower-case name ("tcp", "icmp6", ...).
func (p Protocol) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case ICMP:
		return "icmp"
	case ICMP6:
		return "icmp6"
	case AH:
		return "ah"
	case ESP:
		return "esp"
	}
	return ""
}

// String returns "allow" or "block".
func (a Action) String() string {
	switch a {
	case Allow:
		return "allow"
	case Block:
		return "block"
	}
	return ""
}

// Port is one entry of a tcp/udp port list: a single port (IsRange false,
// Lo == Hi) or a range written with "-" (IsRange true; "50-50" stays a range).
type Port struct {
	Lo, Hi  int
	IsRange bool
}

// ICMPType is one entry of an icmp/icmp6 type list.
type ICMPType struct {
	Type    int
	Code    int
	HasCode bool
}

// Rule is a parsed rule (spec §0). Lists keep source order and duplicates;
// the canonical printer sorts and de-duplicates as §6 says.
type Rule struct {
	From, To []Target
	Action   Action
	Protocol Protocol
	// Ports is the port list of a tcp/udp rule; AllPorts is set for PORT all
	// (then Ports is empty).
	Ports    []Port
	AllPorts bool
	// Types is the type list of an icmp/icmp6 rule; AllTypes is set for
	// TYPE all (then Types is empty).
	Types    []ICMPType
	AllTypes bool
	// Priority is 0–100; HasPriority records whether the text had a
	// PRIORITY clause.
	Priority    int
	HasPriority bool
	// Log is not part of the text: it is the payload's log field.
	Log bool
}
