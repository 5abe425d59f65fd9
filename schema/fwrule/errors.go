package fwrule

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an [Error]. The rule-text kinds are exactly the vocabulary
// of spec/fwrule.md §5.4; the payload kinds (§7) are fwgit's own names.
type Kind string

// Error kinds of the rule text (spec §5.4).
const (
	KindSyntax               Kind = "syntax"
	KindSyntaxEOF            Kind = "syntax_eof"
	KindLexical              Kind = "lexical"
	KindInvalidIPv4          Kind = "invalid_ipv4"
	KindInvalidIPv6          Kind = "invalid_ipv6"
	KindInvalidSubnetAddress Kind = "invalid_subnet_address"
	KindInvalidSubnetPrefix  Kind = "invalid_subnet_prefix"
	KindSubnetHostBits       Kind = "subnet_host_bits"
	KindInvalidPort          Kind = "invalid_port"
	KindInvalidPortRange     Kind = "invalid_port_range"
	KindPortRangeOrder       Kind = "port_range_order"
	KindInvalidUUID          Kind = "invalid_uuid"
	KindInvalidICMPType      Kind = "invalid_icmp_type"
	KindInvalidICMPCode      Kind = "invalid_icmp_code"
	KindInvalidPriority      Kind = "invalid_priority"
	KindFeatureVersion       Kind = "feature_version"
	KindTooManyPorts         Kind = "too_many_ports"
	KindTooManyTypes         Kind = "too_many_types"
	KindTooManyTargets       Kind = "too_many_targets"
	KindICMPFamilyMismatch   Kind = "icmp_family_mismatch"
	KindNoVMTargets          Kind = "no_vm_targets"
)

// Error kinds of the rule payload (spec §7).
const (
	KindNoRule           Kind = "no_rule"            // No rule specified
	KindInvalidRuleUUID  Kind = "invalid_rule_uuid"  // Invalid rule UUID
	KindInvalidOwnerUUID Kind = "invalid_owner_uuid" // Invalid owner UUID
	KindInvalidBool      Kind = "invalid_bool"       // enabled/log/global must be true or false
	KindInvalidString    Kind = "invalid_string"     // X must be a string / shorter than 255 characters
	KindGlobalAndOwner   Kind = "global_and_owner"   // cannot specify both global and owner_uuid
	KindOwnerRequired    Kind = "owner_required"     // owner_uuid required
)

// Error is one problem with a rule. Msg is upstream's message text (spec
// §5); the position fields locate the offending token in the rule text so a
// caller can point inside the rule string.
type Error struct {
	Kind Kind
	// Msg is the upstream message, byte for byte for value, rule-level and
	// payload errors; syntax and lexical errors use jison's shape.
	Msg string
	// Offset is the byte offset of the offending token in the rule text;
	// Line and Col are its 1-based line and byte column. All are zero for
	// payload errors that do not concern the text.
	Offset, Line, Col int
	// Token is the source text of the offending token ("" at end of input).
	Token string
	// Field is the payload field the error concerns: "rule" for everything
	// about the text (upstream's InvalidParamError field).
	Field string
}

// Error returns Msg.
func (e *Error) Error() string { return e.Msg }

// MultiError lists several payload problems in upstream order (spec §5.1):
// rule, uuid, owner_uuid, enabled, log, then the string fields and global.
type MultiError struct {
	Errs []*Error
}

// Error summarises the list the way verror's MultiError does.
func (m *MultiError) Error() string {
	if len(m.Errs) == 0 {
		return "no errors"
	}
	msgs := make([]string, len(m.Errs))
	for i, e := range m.Errs {
		msgs[i] = e.Msg
	}
	return fmt.Sprintf("first of %d errors: %s", len(m.Errs), strings.Join(msgs, "; "))
}

// Unwrap returns the listed errors, so errors.As finds each [*Error].
func (m *MultiError) Unwrap() []error {
	out := make([]error, len(m.Errs))
	for i, e := range m.Errs {
		out[i] = e
	}
	return out
}

// IsKind reports whether err is, or wraps, an [*Error] of the given kind
// (for a [MultiError], any of its errors).
func IsKind(err error, kind Kind) bool {
	var m *MultiError
	if errors.As(err, &m) {
		for _, e := range m.Errs {
			if e.Kind == kind {
				return true
			}
		}
		return false
	}
	var e *Error
	return errors.As(err, &e) && e.Kind == kind
}

// newErrAt builds a rule-text error located at byte offset off of text.
func newErrAt(kind Kind, text string, off int, token, msg string) *Error {
	line, col := lineCol(text, off)
	return &Error{Kind: kind, Msg: msg, Offset: off, Line: line, Col: col, Token: token, Field: "rule"}
}

// lineCol returns the 1-based line and byte column of offset off in text.
func lineCol(text string, off int) (int, int) {
	if off > len(text) {
		off = len(text)
	}
	line, start := 1, 0
	for i := 0; i < off; i++ {
		if text[i] == '\n' {
			line++
			start = i + 1
		}
	}
	return line, off - start + 1
}
