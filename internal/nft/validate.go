package nft

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// Limits that [Ruleset.Validate] enforces. They keep one apply inside what
// one kernel transaction handles in reasonable time and memory (see
// spec/nftables-limits.md) and match nftables' own string limits.
const (
	// MaxRules is the most rules a ruleset may hold over all chains.
	MaxRules = 200_000
	// MaxElements is the most addresses (set elements plus prefixes in
	// rules) and port ranges a ruleset may hold in total.
	MaxElements = 1_000_000
	// MaxSets is the most named sets a ruleset may hold.
	MaxSets = 10_000
	// MaxCommentLen is the longest comment in bytes (nft's limit).
	MaxCommentLen = 128
	// MaxLogPrefixLen is the longest log prefix in bytes (the kernel's
	// NF_LOG_PREFIXLEN minus its terminating NUL).
	MaxLogPrefixLen = 127
	// MaxIfNameLen is the longest interface name in bytes (IFNAMSIZ - 1).
	MaxIfNameLen = 15
)

// ErrInvalid is wrapped by every error [Ruleset.Validate] returns, so
// callers can test errors.Is(err, nft.ErrInvalid).
var ErrInvalid = errors.New("nft: invalid ruleset")

// ValidationError says what is wrong with a ruleset and where. Set names a
// set, or Chain (and Rule, its index, or -1 when the problem is the chain
// itself) names a chain; both are empty for a problem with the ruleset as a
// whole.
type ValidationError struct {
	Set   string
	Chain string
	Rule  int
	Msg   string
}

// Error returns "nft: chain input rule 3: …", "nft: set v4_…: …" or
// "nft: …".
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("nft: ")
	switch {
	case e.Set != "":
		fmt.Fprintf(&b, "set %q: ", e.Set)
	case e.Chain != "" && e.Rule >= 0:
		fmt.Fprintf(&b, "chain %q rule %d: ", e.Chain, e.Rule)
	case e.Chain != "":
		fmt.Fprintf(&b, "chain %q: ", e.Chain)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns [ErrInvalid].
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// Validate checks everything the agent must know before it touches the
// kernel, and everything [Ruleset.Render] relies on to print text that
// `nft -f` loads: the version, names (see [SetName] for sets), unique chains
// and sets, one chain per hook, known hooks, policies, verdicts, families
// and protocols, normalised set elements of the set's family, address
// matches that refer to existing sets or prefixes of the rule's family,
// ports (1–65535, sorted, not overlapping) only with tcp or udp, ICMP types
// only with icmp or icmpv6, string lengths and characters, and the size
// limits. It returns the first problem found as a [*ValidationError].
func (r *Ruleset) Validate() error {
	if r == nil {
		return &ValidationError{Rule: -1, Msg: "no ruleset"}
	}
	v := validator{r: r, sets: make(map[string]SetType, len(r.Sets))}
	return v.run()
}

type validator struct {
	r        *Ruleset
	sets     map[string]SetType
	elements int
}

func (v *validator) run() error {
	r := v.r
	if r.Version != IRVersion {
		return &ValidationError{Rule: -1, Msg: fmt.Sprintf("version %d is not supported (want %d)", r.Version, IRVersion)}
	}
	if !validName(r.Table) {
		return &ValidationError{Rule: -1, Msg: fmt.Sprintf("invalid table name %q", r.Table)}
	}
	if len(r.Sets) > MaxSets {
		return &ValidationError{Rule: -1, Msg: fmt.Sprintf("%d sets exceed the limit of %d", len(r.Sets), MaxSets)}
	}
	for i := range r.Sets {
		if err := v.set(&r.Sets[i]); err != nil {
			return err
		}
	}
	hooks := make(map[Hook]string, len(r.Chains))
	names := make(map[string]bool, len(r.Chains))
	rules := 0
	for ci := range r.Chains {
		c := &r.Chains[ci]
		cerr := func(format string, args ...any) error {
			return &ValidationError{Chain: c.Name, Rule: -1, Msg: fmt.Sprintf(format, args...)}
		}
		if !validName(c.Name) {
			return &ValidationError{Rule: -1, Msg: fmt.Sprintf("chain %d: invalid name %q", ci, c.Name)}
		}
		if names[c.Name] {
			return cerr("duplicate chain name")
		}
		names[c.Name] = true
		switch c.Hook {
		case HookInput, HookOutput, HookForward:
		default:
			return cerr("unknown hook %q", c.Hook)
		}
		if other, ok := hooks[c.Hook]; ok {
			return cerr("hook %s is already used by chain %q", c.Hook, other)
		}
		hooks[c.Hook] = c.Name
		if c.Priority < math.MinInt32 || c.Priority > math.MaxInt32 {
			return cerr("priority %d out of range", c.Priority)
		}
		if c.Policy != Accept && c.Policy != Drop {
			return cerr("unknown policy %q", c.Policy)
		}
		rules += len(c.Rules)
		if rules > MaxRules {
			return &ValidationError{Rule: -1, Msg: fmt.Sprintf("more than %d rules", MaxRules)}
		}
		for ri := range c.Rules {
			if msg := v.rule(&c.Rules[ri]); msg != "" {
				return &ValidationError{Chain: c.Name, Rule: ri, Msg: msg}
			}
		}
	}
	if v.elements > MaxElements {
		return &ValidationError{Rule: -1, Msg: fmt.Sprintf("%d elements exceed the limit of %d", v.elements, MaxElements)}
	}
	return nil
}

func (v *validator) set(s *Set) error {
	serr := func(format string, args ...any) error {
		return &ValidationError{Set: s.Name, Rule: -1, Msg: fmt.Sprintf(format, args...)}
	}
	if !validName(s.Name) {
		return &ValidationError{Rule: -1, Msg: fmt.Sprintf("invalid set name %q", s.Name)}
	}
	if _, dup := v.sets[s.Name]; dup {
		return serr("duplicate set name")
	}
	fam := setFamily(s.Type)
	if fam == FamilyAny {
		return serr("unknown set type %q", s.Type)
	}
	v.sets[s.Name] = s.Type
	v.elements += len(s.Elements)
	if v.elements > MaxElements {
		return serr("more than %d elements in the ruleset", MaxElements)
	}
	for _, p := range s.Elements {
		if !p.IsValid() {
			return serr("invalid element")
		}
		if prefixFamily(p) != fam {
			return serr("element %s is not %s", p, fam)
		}
	}
	if !IsNormalized(s.Elements) {
		return serr("elements are not normalised (sorted, masked, merged)")
	}
	if msg := checkText("comment", s.Comment, MaxCommentLen); msg != "" {
		return serr("%s", msg)
	}
	return nil
}

// rule returns a message for the first problem of ru, or "".
func (v *validator) rule(ru *Rule) string {
	switch ru.Family {
	case FamilyAny, FamilyIPv4, FamilyIPv6:
	default:
		return fmt.Sprintf("unknown family %q", ru.Family)
	}
	if msg := checkIfName("iif", ru.IIF); msg != "" {
		return msg
	}
	if msg := checkIfName("oif", ru.OIF); msg != "" {
		return msg
	}
	if ru.CTState&^(CTInvalid|CTEstablished|CTRelated|CTNew) != 0 {
		return fmt.Sprintf("unknown ct state bits %#x", uint8(ru.CTState))
	}
	if msg := v.addr("src", ru.Family, ru.Src); msg != "" {
		return msg
	}
	if msg := v.addr("dst", ru.Family, ru.Dst); msg != "" {
		return msg
	}
	switch ru.Proto {
	case ProtoAny, ProtoTCP, ProtoUDP, ProtoAH, ProtoESP:
	case ProtoICMP:
		if ru.Family == FamilyIPv6 {
			return "proto icmp needs family ipv4 or any"
		}
	case ProtoICMPv6:
		if ru.Family == FamilyIPv4 {
			return "proto icmpv6 needs family ipv6 or any"
		}
	default:
		return fmt.Sprintf("unknown proto %q", ru.Proto)
	}
	if len(ru.DPorts) > 0 {
		if ru.Proto != ProtoTCP && ru.Proto != ProtoUDP {
			return "dports need proto tcp or udp"
		}
		v.elements += len(ru.DPorts)
		for i, pr := range ru.DPorts {
			switch {
			case pr.Lo == 0:
				return "port 0 is not a port (an empty dports list means every port)"
			case pr.Lo > pr.Hi:
				return fmt.Sprintf("port range %d-%d is reversed", pr.Lo, pr.Hi)
			case i > 0 && pr.Lo <= ru.DPorts[i-1].Hi:
				return "dports are not sorted or overlap"
			}
		}
	}
	if len(ru.ICMP) > 0 {
		if ru.Proto != ProtoICMP && ru.Proto != ProtoICMPv6 {
			return "icmp types need proto icmp or icmpv6"
		}
		for i, m := range ru.ICMP {
			if m.Code != nil && len(ru.ICMP) > 1 {
				return "an icmp type with a code must be the only one"
			}
			if i > 0 && m.Type <= ru.ICMP[i-1].Type {
				return "icmp types are not sorted or repeat"
			}
		}
	}
	if msg := checkText("log prefix", ru.Log, MaxLogPrefixLen); msg != "" {
		return msg
	}
	if strings.ContainsRune(ru.Log, '$') {
		// nft expands $name in a log prefix as a variable.
		return "log prefix must not contain $"
	}
	switch ru.Verdict {
	case Accept, Drop:
	case "":
		if ru.Log == "" {
			return "a rule needs a verdict or a log prefix"
		}
	default:
		return fmt.Sprintf("unknown verdict %q", ru.Verdict)
	}
	return checkText("comment", ru.Comment, MaxCommentLen)
}

func (v *validator) addr(what string, fam Family, m *AddrMatch) string {
	if m == nil {
		return ""
	}
	if fam == FamilyAny {
		return what + " needs the rule's family"
	}
	switch {
	case m.Set != "" && len(m.Prefixes) > 0:
		return what + " has both a set and prefixes"
	case m.Set != "":
		t, ok := v.sets[m.Set]
		if !ok {
			return fmt.Sprintf("%s refers to unknown set %q", what, m.Set)
		}
		if setFamily(t) != fam {
			return fmt.Sprintf("%s set %q is not %s", what, m.Set, fam)
		}
	case len(m.Prefixes) > 0:
		v.elements += len(m.Prefixes)
		for _, p := range m.Prefixes {
			if !p.IsValid() {
				return what + " has an invalid prefix"
			}
			if prefixFamily(p) != fam {
				return fmt.Sprintf("%s prefix %s is not %s", what, p, fam)
			}
		}
		if !IsNormalized(m.Prefixes) {
			return what + " prefixes are not normalised (sorted, masked, merged)"
		}
	default:
		return what + " has neither a set nor prefixes"
	}
	return ""
}

// setFamily returns the family of a set type, or FamilyAny for an unknown
// type.
func setFamily(t SetType) Family {
	switch t {
	case SetIPv4:
		return FamilyIPv4
	case SetIPv6:
		return FamilyIPv6
	}
	return FamilyAny
}

func prefixFamily(p netip.Prefix) Family {
	if p.Addr().Is4() {
		return FamilyIPv4
	}
	return FamilyIPv6
}

// checkText returns a message when s cannot be printed inside an nft
// quoted string: too long, not UTF-8, or holding control characters,
// quotes or backslashes (nft has no escapes).
func checkText(what, s string, maxLen int) string {
	if len(s) > maxLen {
		return fmt.Sprintf("%s is %d bytes, longer than %d", what, len(s), maxLen)
	}
	if !utf8.ValidString(s) {
		return what + " is not valid UTF-8"
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f || c == '"' || c == '\\' || (c >= 0x80 && c < 0xa0) {
			return fmt.Sprintf("%s contains the character %q", what, c)
		}
	}
	return ""
}

// checkIfName returns a message when s is not an interface name nft and
// the kernel accept. A trailing '*' is nft's prefix wildcard.
func checkIfName(what, s string) string {
	if s == "" {
		return ""
	}
	if len(s) > MaxIfNameLen {
		return fmt.Sprintf("%s name %q is longer than %d bytes", what, s, MaxIfNameLen)
	}
	if s == "*" {
		return what + " name must not be only a wildcard"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '-' || c == '.' || c == '@' || c == '+' || (c == '*' && i == len(s)-1)
		if !ok {
			return fmt.Sprintf("%s name %q contains %q", what, s, c)
		}
	}
	return ""
}
