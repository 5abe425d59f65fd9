package fwrule

import "fmt"

// Create parses text and applies the rule-level checks of spec §4 in
// upstream's order: protocol target count, targets per side (to first),
// ICMP address family, and "affects VMs". It matches upstream's create()
// with a payload holding only the rule text, so an empty text is the
// payload error "No rule specified".
func Create(text string, opts Options) (*Rule, error) {
	if text == "" {
		return nil, &Error{Kind: KindNoRule, Msg: "No rule specified", Field: "rule"}
	}
	r, info, err := parse(text, opts)
	if err != nil {
		return nil, err
	}
	if err := checkRule(text, r, info, opts); err != nil {
		return nil, err
	}
	return r, nil
}

// FWAPI is [Create] followed by FWAPI's storage folding (spec §6): ports
// are stored as ranges, so a list holding "all" or 1-65535 reads back as
// PORT all and a range n-n reads back as the port n. FWAPI itself runs
// with EnforceSubnetMask set; callers that want that pass it in opts.
func FWAPI(text string, opts Options) (*Rule, error) {
	r, err := Create(text, opts)
	if err != nil {
		return nil, err
	}
	return r.fwapiFold(), nil
}

// checkRule runs the rule-level checks of spec §4 (steps 2–5).
func checkRule(text string, r *Rule, info *parseInfo, opts Options) *Error {
	n := len(r.Ports) + len(r.Types)
	if r.AllPorts || r.AllTypes || r.Protocol == AH || r.Protocol == ESP {
		n++
	}
	if limit := opts.protoLimit(); n > limit {
		what, kind := "ports", KindTooManyPorts
		if r.Protocol == ICMP || r.Protocol == ICMP6 {
			what, kind = "types", KindTooManyTypes
		}
		off, tok := info.protoOff, info.protoToken
		if limit < len(info.entryOffs) {
			off, tok = info.entryOffs[limit], info.entryToks[limit]
		}
		return newErrAt(kind, text, off, tok, fmt.Sprintf("maximum of %d %s allowed", limit, what))
	}
	for _, side := range [][]Target{r.To, r.From} {
		if len(side) > maxTargetsPerSide {
			at := side[maxTargetsPerSide]
			return newErrAt(KindTooManyTargets, text, at.Offset, tokenAt(text, at.Offset),
				fmt.Sprintf("maximum of %d targets allowed per side", maxTargetsPerSide))
		}
	}
	if r.Protocol == ICMP || r.Protocol == ICMP6 {
		family, ok := "ICMPv4", isIPv4
		want := "IPv4"
		if r.Protocol == ICMP6 {
			family, ok, want = "ICMPv6", isIPv6, "IPv6"
		}
		for _, kind := range []TargetKind{TargetIP, TargetSubnet} {
			for _, tg := range append(append([]Target(nil), r.From...), r.To...) {
				if tg.Kind != kind {
					continue
				}
				addr, what := tg.Value, "address"
				if kind == TargetSubnet {
					addr, _, _ = cut(addr, '/')
					what = "subnet"
				}
				if !ok(addr) {
					return newErrAt(KindICMPFamilyMismatch, text, tg.Offset, tokenAt(text, tg.Offset),
						fmt.Sprintf("rule affects %s but contains a non-%s %s", family, want, what))
				}
			}
		}
	}
	for _, side := range [][]Target{r.From, r.To} {
		for _, tg := range side {
			if tg.Kind == TargetAllVMs || tg.Kind == TargetTag || tg.Kind == TargetVM {
				return nil
			}
		}
	}
	return newErrAt(KindNoVMTargets, text, info.start, tokenAt(text, info.start), "rule does not affect VMs")
}

// maxTargetsPerSide is upstream's MAX_TARGETS_PER_SIDE.
const maxTargetsPerSide = 24

func cut(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// tokenAt returns the text of the token starting at off.
func tokenAt(text string, off int) string {
	l := lexer{in: text, pos: off}
	if tok, ok := l.next(); ok {
		return tok.text
	}
	return ""
}

// Payload is a rule payload as upstream's create() takes it (spec §7).
// Fields that upstream accepts in several JSON types are of type any: nil
// means absent.
type Payload struct {
	// Rule is the rule text; empty means absent ("No rule specified").
	Rule string
	// UUID and OwnerUUID must be lower-case UUID strings when present.
	UUID      any
	OwnerUUID any
	// Enabled, Log and Global are booleans or the strings "true"/"false".
	Enabled any
	Log     any
	Global  any
	// Description and CreatedBy are strings of at most 255 characters.
	Description any
	CreatedBy   any
}

// CreatePayload validates p as upstream's create() does. Payload problems
// and a rule parse error are gathered in upstream order (rule, uuid,
// owner_uuid, enabled, log, created_by, description, global); one problem is
// returned as an [*Error], several as a [*MultiError]. Only when there are
// none do the rule-level checks of [Create] run. enforceGlobal adds the
// global/owner_uuid checks that FWAPI and fwadm apply. The returned rule's
// Log is the payload's log.
func CreatePayload(p Payload, opts Options, enforceGlobal bool) (*Rule, error) {
	var errs []*Error
	var r *Rule
	var info *parseInfo
	if p.Rule == "" {
		errs = append(errs, &Error{Kind: KindNoRule, Msg: "No rule specified", Field: "rule"})
	} else {
		var err error
		r, info, err = parse(p.Rule, opts)
		if err != nil {
			errs = append(errs, err.(*Error))
		}
	}
	if p.UUID != nil && !isUUIDValue(p.UUID) {
		errs = append(errs, &Error{Kind: KindInvalidRuleUUID, Msg: "Invalid rule UUID", Field: "uuid"})
	}
	if p.OwnerUUID != nil && !isUUIDValue(p.OwnerUUID) {
		errs = append(errs, &Error{Kind: KindInvalidOwnerUUID, Msg: "Invalid owner UUID", Field: "owner_uuid"})
	}
	if p.Enabled != nil && !isBoolValue(p.Enabled) {
		errs = append(errs, &Error{Kind: KindInvalidBool, Msg: "enabled must be true or false", Field: "enabled"})
	}
	if p.Log != nil && !isBoolValue(p.Log) {
		errs = append(errs, &Error{Kind: KindInvalidBool, Msg: "log must be true or false", Field: "log"})
	}
	for _, f := range []struct {
		name string
		v    any
	}{{"created_by", p.CreatedBy}, {"description", p.Description}} {
		if f.v == nil {
			continue
		}
		s, ok := f.v.(string)
		switch {
		case !ok:
			errs = append(errs, &Error{Kind: KindInvalidString, Msg: f.name + " must be a string", Field: f.name})
		case utf16Len(s) > 255:
			errs = append(errs, &Error{Kind: KindInvalidString,
				Msg: f.name + " must be shorter than 255 characters", Field: f.name})
		}
	}
	if enforceGlobal {
		if p.Global != nil && !isBoolValue(p.Global) {
			errs = append(errs, &Error{Kind: KindInvalidBool, Msg: "global must be true or false", Field: "global"})
		}
		if p.Global != nil && p.OwnerUUID != nil && truthy(p.Global) {
			errs = append(errs, &Error{Kind: KindGlobalAndOwner,
				Msg: "cannot specify both global and owner_uuid", Field: "global"})
		}
		if p.Global == nil && p.OwnerUUID == nil {
			errs = append(errs, &Error{Kind: KindOwnerRequired, Msg: "owner_uuid required", Field: "owner_uuid"})
		}
	}
	switch len(errs) {
	case 0:
	case 1:
		return nil, errs[0]
	default:
		return nil, &MultiError{Errs: errs}
	}
	if err := checkRule(p.Rule, r, info, opts); err != nil {
		return nil, err
	}
	r.Log = p.Log == true || p.Log == "true"
	return r, nil
}

func isUUIDValue(v any) bool {
	s, ok := v.(string)
	return ok && isUUID(s)
}

func isBoolValue(v any) bool {
	switch b := v.(type) {
	case bool:
		return true
	case string:
		return b == "true" || b == "false"
	}
	return false
}

// truthy is JavaScript truthiness for the JSON value types.
func truthy(v any) bool {
	switch b := v.(type) {
	case nil:
		return false
	case bool:
		return b
	case string:
		return b != ""
	case float64:
		return b != 0 && b == b
	case int:
		return b != 0
	}
	return true
}
