package compiletest

import (
	"cmp"
	"net/netip"
	"strconv"
	"strings"

	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/schema/fwrule"
)

// State is the conntrack state of a packet.
type State int

// Conntrack states. New is the first packet of a connection.
const (
	New State = iota
	Established
	Related
	Invalid
)

// Packet is one packet seen by a firewall.
type Packet struct {
	// Out is false for a packet arriving at the firewall (inbound) and
	// true for one the firewall sends (outbound).
	Out bool
	// Src and Dst are the addresses; their family is the packet's family.
	Src, Dst netip.Addr
	Proto    fwrule.Protocol
	// Port is the destination port of tcp and udp packets.
	Port int
	// Type and Code are the ICMP type and code of icmp and icmp6 packets.
	Type, Code int
	State      State
	// Loopback marks a packet on the loopback interface.
	Loopback bool
}

// The always-present behaviours, named as the compiled comments name them
// so a caller can compare; the values are part of fwgit's observable output
// (rule comments), not shared code.
const (
	BuiltinEstablished = "fwgit:established"
	BuiltinInvalid     = "fwgit:invalid"
	BuiltinLoopback    = "fwgit:loopback"
	BuiltinNeighbour   = "fwgit:icmpv6-nd"
	BuiltinAgent       = "fwgit:agent"
	BuiltinManagement  = "fwgit:management"
)

// Decision is the reference answer for one packet.
type Decision struct {
	Accept bool
	// Rule is the user rule that decided, or nil.
	Rule *model.Rule
	// Builtin names the always-present behaviour that decided, or "".
	Builtin string
	// Disabled is set when the firewall filters nothing.
	Disabled bool
	// Default is set when no rule matched and the default policy decided
	// (inbound drop, outbound accept).
	Default bool
}

// Evaluate answers what the policy of inv does with p on fw.
func Evaluate(inv *model.Inventory, fw *model.Firewall, p Packet) Decision {
	if !fw.Enabled {
		return Decision{Accept: true, Disabled: true}
	}
	v6 := p.Src.Is6()
	switch p.State {
	case Established, Related:
		return Decision{Accept: true, Builtin: BuiltinEstablished}
	case Invalid:
		return Decision{Builtin: BuiltinInvalid}
	}
	if p.Loopback {
		return Decision{Accept: true, Builtin: BuiltinLoopback}
	}
	if v6 && p.Proto == fwrule.ICMP6 && p.Type >= 133 && p.Type <= 136 {
		return Decision{Accept: true, Builtin: BuiltinNeighbour}
	}
	if !p.Out && p.Proto == fwrule.TCP {
		if p.Port == inv.Settings.AgentPort && inAny(inv.Settings.ControllerAddresses, p.Src) {
			return Decision{Accept: true, Builtin: BuiltinAgent}
		}
		if p.Port == 22 && inAny(fw.Management, p.Src) {
			return Decision{Accept: true, Builtin: BuiltinManagement}
		}
	}
	var best *model.Rule
	for _, r := range inv.Rules {
		if !applies(inv, r, fw, p) {
			continue
		}
		if best == nil || before(r, best, !p.Out) {
			best = r
		}
	}
	if best != nil {
		return Decision{Accept: best.Parsed.Action == fwrule.Allow, Rule: best}
	}
	return Decision{Accept: p.Out, Default: true}
}

func inAny(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// before reports whether a takes precedence over b: higher priority, then
// the action against the default (ALLOW inbound, BLOCK outbound), then the
// lower UUID and name as a stable tie-break.
func before(a, b *model.Rule, inbound bool) bool {
	rank := func(r *model.Rule) int {
		if (r.Parsed.Action == fwrule.Allow) == inbound {
			return 0
		}
		return 1
	}
	return cmp.Or(
		cmp.Compare(b.Parsed.Priority, a.Parsed.Priority),
		cmp.Compare(rank(a), rank(b)),
		strings.Compare(a.UUID, b.UUID),
		strings.Compare(a.Name, b.Name),
	) < 0
}

// inScope reports whether rule r may touch firewall f: global rules touch
// every firewall, owned rules only the owner's.
func inScope(r *model.Rule, f *model.Firewall) bool {
	return r.Global || (r.Owner != "" && f.Owner == r.Owner)
}

// selects reports whether target t of r selects firewall f.
func selects(r *model.Rule, t fwrule.Target, f *model.Firewall) bool {
	if !inScope(r, f) {
		return false
	}
	switch t.Kind {
	case fwrule.TargetAllVMs:
		return true
	case fwrule.TargetVM:
		return f.UUID == t.Value
	case fwrule.TargetTag:
		v, ok := f.Tags[t.Value]
		return ok && (!t.HasValue || v.String() == t.TagValue)
	}
	return false
}

// applies reports whether r decides p on fw if nothing earlier does.
func applies(inv *model.Inventory, r *model.Rule, fw *model.Firewall, p Packet) bool {
	if !r.Enabled || r.Parsed == nil {
		return false
	}
	pr := r.Parsed
	// A rule at priority 0 that restates the default is not installed.
	if pr.Priority == 0 && ((!p.Out && pr.Action == fwrule.Block) || (p.Out && pr.Action == fwrule.Allow)) {
		return false
	}
	mine, other := pr.To, pr.From
	peer := p.Src
	if p.Out {
		mine, other = pr.From, pr.To
		peer = p.Dst
	}
	onMySide := false
	for _, t := range mine {
		if selects(r, t, fw) {
			onMySide = true
		}
	}
	if !onMySide || pr.Protocol != p.Proto {
		return false
	}
	if (pr.Protocol == fwrule.ICMP && !p.Src.Is4()) || (pr.Protocol == fwrule.ICMP6 && !p.Src.Is6()) {
		return false
	}
	if !sideHas(inv, r, other, peer) {
		return false
	}
	switch pr.Protocol {
	case fwrule.TCP, fwrule.UDP:
		if pr.AllPorts {
			return true
		}
		for _, port := range pr.Ports {
			if port.Lo <= p.Port && p.Port <= port.Hi {
				return true
			}
		}
		return false
	case fwrule.ICMP, fwrule.ICMP6:
		if pr.AllTypes {
			return true
		}
		for _, t := range pr.Types {
			if t.Type == p.Type && (!t.HasCode || t.Code == p.Code) {
				return true
			}
		}
		return false
	}
	return true
}

// sideHas reports whether address a belongs to the side made of targets.
func sideHas(inv *model.Inventory, r *model.Rule, targets []fwrule.Target, a netip.Addr) bool {
	for _, t := range targets {
		switch t.Kind {
		case fwrule.TargetAny:
			return true
		case fwrule.TargetIP:
			if ip, err := netip.ParseAddr(t.Value); err == nil && ip == a {
				return true
			}
		case fwrule.TargetSubnet:
			if sn, ok := subnet(t.Value); ok && sn.Contains(a) {
				return true
			}
		default:
			for _, f := range inv.Firewalls {
				if !selects(r, t, f) {
					continue
				}
				for _, fa := range f.Addresses {
					if fa == a {
						return true
					}
				}
			}
		}
	}
	return false
}

// subnet reads a CIDR as fwrule accepts it (IPv4 octets may carry leading
// zeros) and masks it.
func subnet(s string) (netip.Prefix, bool) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return netip.Prefix{}, false
	}
	bits, err := strconv.Atoi(s[i+1:])
	if err != nil {
		return netip.Prefix{}, false
	}
	addr := s[:i]
	if !strings.Contains(addr, ":") {
		octets := strings.Split(addr, ".")
		for j, o := range octets {
			n, err := strconv.Atoi(o)
			if err != nil {
				return netip.Prefix{}, false
			}
			octets[j] = strconv.Itoa(n)
		}
		addr = strings.Join(octets, ".")
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, false
	}
	p, err := a.Prefix(bits)
	return p, err == nil
}
