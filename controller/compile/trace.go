package compile

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/internal/diag"
	"github.com/fwgit/fwgit/internal/nft"
	v1 "github.com/fwgit/fwgit/schema/v1"
)

// ErrQuery is wrapped by every error [Trace] returns for a query that does
// not describe a packet (bad address, unknown protocol, no address of the
// family on the firewall).
var ErrQuery = errors.New("compile: bad trace query")

// Query describes one packet to trace, with the fields and defaults of a
// Test case (DESIGN.md "The repository"): Direction "in" (default) means From
// is the source and the firewall the destination; "out" means the firewall is
// the source and To the destination.
type Query struct {
	Direction string `json:"direction,omitempty"`
	// From and To are addresses. The firewall's own side defaults to its
	// first address of the packet's family; the other side defaults to the
	// unspecified address (0.0.0.0 or ::), which only `any` rules match.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Proto is tcp, udp, icmp, icmp6, ah or esp.
	Proto string `json:"proto"`
	// Port is the destination port for tcp and udp.
	Port int `json:"port,omitempty"`
	// Type and Code are the ICMP type and code (nil means 0).
	Type *int `json:"type,omitempty"`
	Code *int `json:"code,omitempty"`
	// State is the conntrack state; zero means a new connection.
	State nft.CTState `json:"state,omitempty"`
}

// QueryFromCase returns the query of a Test case.
func QueryFromCase(tc v1.TestCase) Query {
	return Query{Direction: tc.Direction, From: tc.From, To: tc.To, Proto: tc.Proto, Port: tc.Port, Type: tc.Type, Code: tc.Code}
}

// RuleRef names a Rule manifest and where it is written.
type RuleRef struct {
	Name string `json:"name"`
	UUID string `json:"uuid"`
	File string `json:"file"`
	Line int    `json:"line"`
}

// Decider says what kind of thing decided a packet.
type Decider string

// The deciders of a [TraceResult].
const (
	// DecidedByRule: a user rule (TraceResult.Rule says which).
	DecidedByRule Decider = "rule"
	// DecidedByBuiltin: one of the always-present fwgit:… rules.
	DecidedByBuiltin Decider = "builtin"
	// DecidedByDefault: the chain policy (input drops, output accepts).
	DecidedByDefault Decider = "default"
	// DecidedByDisabled: the firewall is disabled and filters nothing.
	DecidedByDisabled Decider = "disabled"
)

// TraceResult is what the compiled ruleset of a firewall does with one
// packet, and why.
type TraceResult struct {
	Firewall string      `json:"firewall"`
	Verdict  nft.Verdict `json:"verdict"`
	Decider  Decider     `json:"decidedBy"`
	// Rule is the deciding Rule manifest when Decider is [DecidedByRule].
	Rule *RuleRef `json:"-"`
	// Builtin is the comment of the deciding fwgit:… rule.
	Builtin string `json:"builtin,omitempty"`
	// Chain is the base chain that decided ("" for a disabled firewall).
	Chain string `json:"chain,omitempty"`
	// Match is the text of the nftables rule that decided, as Render
	// prints it; empty when a policy decided.
	Match string `json:"nft,omitempty"`
	// Packet is the packet that was evaluated, defaults filled in.
	Packet Packet `json:"packet"`
}

// Packet is the evaluated packet in a form fit for people and JSON.
type Packet struct {
	Hook   string `json:"hook"`
	Family string `json:"family"`
	Src    string `json:"src"`
	Dst    string `json:"dst"`
	Proto  string `json:"proto"`
	Port   int    `json:"port,omitempty"`
	Type   *int   `json:"type,omitempty"`
	Code   *int   `json:"code,omitempty"`
}

// MarshalJSON writes the result with "rule" set to the deciding rule
// ({name, uuid, file, line}), or to "default", "disabled" or the builtin's
// comment when no user rule decided.
func (t TraceResult) MarshalJSON() ([]byte, error) {
	type plain TraceResult
	var rule any
	switch t.Decider {
	case DecidedByRule:
		rule = t.Rule
	case DecidedByBuiltin:
		rule = t.Builtin
	default:
		rule = string(t.Decider)
	}
	return json.Marshal(struct {
		plain
		Rule any `json:"rule"`
	}{plain(t), rule})
}

// String describes the decider: "rule web-in (rules/web.yaml:3)", "fwgit:
// established", "default policy of input" or "firewall disabled".
func (t TraceResult) String() string {
	switch t.Decider {
	case DecidedByRule:
		return fmt.Sprintf("rule %s (%s:%d)", t.Rule.Name, t.Rule.File, t.Rule.Line)
	case DecidedByBuiltin:
		return "always-present rule " + t.Builtin
	case DecidedByDisabled:
		return "firewall disabled (no table)"
	}
	if t.Chain == "" {
		return "no chain"
	}
	return "default policy of " + t.Chain
}

// Trace evaluates the packet q describes against the ruleset rs compiled
// for fw (pass nil to compile it here), with the IR's reference evaluator.
// It reports the verdict and the rule that decided, traced back to its
// manifest. It fails, wrapping [ErrQuery], only when q describes no packet.
func Trace(inv *model.Inventory, fw *model.Firewall, rs *nft.Ruleset, q Query) (TraceResult, error) {
	p, err := packetFor(fw, q)
	if err != nil {
		return TraceResult{}, err
	}
	if rs == nil {
		rs = Firewall(inv, fw)
	}
	res := TraceResult{Firewall: fw.Name, Packet: describePacket(p, q)}
	if rs.Empty() {
		res.Verdict, res.Decider = nft.Accept, DecidedByDisabled
		return res, nil
	}
	ev := rs.Eval(p)
	res.Verdict, res.Chain = ev.Verdict, ev.Chain
	switch {
	case ev.Matched == nil:
		res.Decider = DecidedByDefault
	default:
		res.Match = ev.Matched.String()
		if uuid, ok := RuleUUID(ev.Comment); ok {
			res.Decider = DecidedByRule
			res.Rule = ruleRef(inv, uuid)
		} else {
			res.Decider, res.Builtin = DecidedByBuiltin, ev.Comment
		}
	}
	return res, nil
}

// ruleRef finds the Rule with uuid in inv.
func ruleRef(inv *model.Inventory, uuid string) *RuleRef {
	for _, r := range inv.Rules {
		if r.UUID == uuid {
			return refOf(r)
		}
	}
	return &RuleRef{UUID: uuid}
}

func refOf(r *model.Rule) *RuleRef {
	return &RuleRef{Name: r.Name, UUID: r.UUID, File: r.Pos.File, Line: r.Pos.Line}
}

// Pos returns the position of the rule as a diag.Pos (line only).
func (r *RuleRef) Pos() diag.Pos { return diag.Pos{File: r.File, Line: r.Line} }

var protos = map[string]nft.Proto{
	"tcp": nft.ProtoTCP, "udp": nft.ProtoUDP, "icmp": nft.ProtoICMP,
	"icmp6": nft.ProtoICMPv6, "ah": nft.ProtoAH, "esp": nft.ProtoESP,
}

// packetFor builds the packet of q on fw.
func packetFor(fw *model.Firewall, q Query) (nft.Packet, error) {
	bad := func(format string, args ...any) (nft.Packet, error) {
		return nft.Packet{}, fmt.Errorf("%w: %s", ErrQuery, fmt.Sprintf(format, args...))
	}
	proto, ok := protos[strings.ToLower(q.Proto)]
	if !ok {
		return bad("unknown protocol %q (want tcp, udp, icmp, icmp6, ah or esp)", q.Proto)
	}
	var p nft.Packet
	p.Proto = proto
	p.CTState = q.State
	parse := func(what, s string) (netip.Addr, error) {
		if s == "" {
			return netip.Addr{}, nil
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("%w: %s address %q is not an IP address", ErrQuery, what, s)
		}
		return a.WithZone(""), nil
	}
	from, err := parse("from", q.From)
	if err != nil {
		return p, err
	}
	to, err := parse("to", q.To)
	if err != nil {
		return p, err
	}
	out := false
	switch q.Direction {
	case "", v1.DirectionIn:
		p.Hook = nft.HookInput
	case v1.DirectionOut:
		p.Hook, out = nft.HookOutput, true
	default:
		return bad("direction %q is neither in nor out", q.Direction)
	}
	// The family comes from the addresses given, else from the protocol.
	fam := nft.FamilyAny
	for _, a := range []netip.Addr{from, to} {
		if !a.IsValid() {
			continue
		}
		f := nft.FamilyIPv4
		if a.Is6() {
			f = nft.FamilyIPv6
		}
		if fam != nft.FamilyAny && fam != f {
			return bad("from %s and to %s are of different families", q.From, q.To)
		}
		fam = f
	}
	if fam == nft.FamilyAny {
		fam = nft.FamilyIPv4
		if proto == nft.ProtoICMPv6 {
			fam = nft.FamilyIPv6
		}
	}
	switch {
	case proto == nft.ProtoICMP && fam == nft.FamilyIPv6:
		return bad("icmp needs IPv4 addresses (use icmp6 for IPv6)")
	case proto == nft.ProtoICMPv6 && fam == nft.FamilyIPv4:
		return bad("icmp6 needs IPv6 addresses (use icmp for IPv4)")
	}
	p.Family = fam
	own := func() (netip.Addr, error) {
		for _, a := range fw.Addresses {
			if (fam == nft.FamilyIPv4) == a.Is4() {
				return a, nil
			}
		}
		return netip.Addr{}, fmt.Errorf("%w: firewall %s has no %s address", ErrQuery, fw.Name, fam)
	}
	unspecified := netip.IPv4Unspecified()
	if fam == nft.FamilyIPv6 {
		unspecified = netip.IPv6Unspecified()
	}
	if out {
		if !from.IsValid() {
			if from, err = own(); err != nil {
				return p, err
			}
		}
		if !to.IsValid() {
			to = unspecified
		}
	} else {
		if !to.IsValid() {
			if to, err = own(); err != nil {
				return p, err
			}
		}
		if !from.IsValid() {
			from = unspecified
		}
	}
	p.Src, p.Dst = from, to
	switch proto {
	case nft.ProtoTCP, nft.ProtoUDP:
		if q.Port < 1 || q.Port > 65535 {
			return bad("%s needs a port from 1 to 65535, not %d", q.Proto, q.Port)
		}
		p.DPort = uint16(q.Port)
	case nft.ProtoICMP, nft.ProtoICMPv6:
		for _, v := range []*int{q.Type, q.Code} {
			if v != nil && (*v < 0 || *v > 255) {
				return bad("ICMP type and code are 0 to 255, not %d", *v)
			}
		}
		if q.Type != nil {
			p.ICMPType = uint8(*q.Type)
		}
		if q.Code != nil {
			p.ICMPCode = uint8(*q.Code)
		}
	}
	if !out {
		p.IIF = "eth0"
	} else {
		p.OIF = "eth0"
	}
	return p, nil
}

func describePacket(p nft.Packet, q Query) Packet {
	d := Packet{Hook: string(p.Hook), Family: string(p.Family), Src: p.Src.String(), Dst: p.Dst.String(), Proto: strings.ToLower(q.Proto)}
	switch p.Proto {
	case nft.ProtoTCP, nft.ProtoUDP:
		d.Port = int(p.DPort)
	case nft.ProtoICMP, nft.ProtoICMPv6:
		t, c := int(p.ICMPType), int(p.ICMPCode)
		d.Type, d.Code = &t, &c
	}
	return d
}
