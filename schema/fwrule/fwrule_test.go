package fwrule

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	vmA = "8d9e0f5a-1234-4abc-9def-0123456789ab"
	vmB = "ca3eb1d6-1555-44fb-ea1a-0123456789ab" // version/variant digits not checked
)

// pre wraps a protocol clause into a rule that passes every rule-level check.
func pre(proto string) string { return "FROM any TO all vms ALLOW " + proto }

func TestErrors(t *testing.T) {
	v := func(n int) Options { return Options{MaxVersion: n, MaxVersionSet: true} }
	mask := Options{EnforceSubnetMask: true}
	tests := []struct {
		name string
		text string
		opts Options
		kind Kind
		msg  string
	}{
		// §3.1 addresses.
		{"ipv4 zero", "FROM ip 0.0.0.0 TO all vms ALLOW tcp PORT 1", Options{}, KindInvalidIPv4, `IPv4 address "0.0.0.0" is invalid`},
		{"ipv4 broadcast", "FROM ip 255.255.255.255 TO all vms ALLOW tcp PORT 1", Options{}, KindInvalidIPv4, `IPv4 address "255.255.255.255" is invalid`},
		{"ipv4 leading zero", "FROM ip 010.0.0.1 TO all vms ALLOW tcp PORT 1", Options{}, KindInvalidIPv4, `IPv4 address "010.0.0.1" is invalid`},
		{"ipv4 leading zeros everywhere", "FROM ip 01.02.03.04 TO all vms ALLOW tcp PORT 1", Options{}, KindInvalidIPv4, `IPv4 address "01.02.03.04" is invalid`},
		{"ipv4 octet", "FROM ip 1.2.3.256 TO all vms ALLOW tcp PORT 1", Options{}, KindInvalidIPv4, `IPv4 address "1.2.3.256" is invalid`},
		{"ipv6 group too long", "FROM ip fd00::12345 TO all vms ALLOW tcp PORT 1", Options{}, KindInvalidIPv6, `IPv6 address "fd00::12345" is invalid`},
		{"ipv6 two elisions", "FROM ip fd00::1::2 TO all vms ALLOW tcp PORT 1", Options{}, KindInvalidIPv6, `IPv6 address "fd00::1::2" is invalid`},
		{"ipv6 nine groups", "FROM ip 1:2:3:4:5:6:7:8:9 TO all vms ALLOW tcp PORT 1", Options{}, KindInvalidIPv6, `IPv6 address "1:2:3:4:5:6:7:8:9" is invalid`},
		{"subnet address", "FROM subnet 256.0.0.0/8 TO all vms ALLOW tcp PORT 1", Options{}, KindInvalidSubnetAddress, `Subnet "256.0.0.0/8" is invalid (bad address component)`},
		{"subnet v6 address", "FROM subnet fd00:::/8 TO all vms ALLOW tcp PORT 1", Options{}, KindInvalidSubnetAddress, `Subnet "fd00:::/8" is invalid (bad address component)`},
		{"subnet v4 prefix", "FROM subnet 10.0.0.0/33 TO all vms ALLOW tcp PORT 1", Options{}, KindInvalidSubnetPrefix, `Subnet "10.0.0.0/33" is invalid (bad prefix length)`},
		{"subnet v6 prefix", "FROM subnet fd00::/129 TO all vms ALLOW tcp PORT 1", Options{}, KindInvalidSubnetPrefix, `Subnet "fd00::/129" is invalid (bad prefix length)`},
		{"subnet host bits", "FROM subnet 10.1.0.0/8 TO all vms ALLOW tcp PORT 1", mask, KindSubnetHostBits, `Subnet "10.1.0.0/8" is invalid (bits set to right of mask)`},
		{"subnet host bits /0", "FROM subnet 10.0.0.0/0 TO all vms ALLOW tcp PORT 1", mask, KindSubnetHostBits, `Subnet "10.0.0.0/0" is invalid (bits set to right of mask)`},
		{"subnet v6 host bits", "FROM subnet fd00::1/64 TO all vms ALLOW tcp PORT 1", mask, KindSubnetHostBits, `Subnet "fd00::1/64" is invalid (bits set to right of mask)`},
		// §3.2 UUIDs.
		{"uuid upper case", "FROM vm 8D9E0F5A-1234-4abc-9def-0123456789ab TO any ALLOW tcp PORT 1", Options{}, KindInvalidUUID, `UUID "8D9E0F5A-1234-4abc-9def-0123456789ab" is invalid`},
		{"uuid word", "FROM vm web TO any ALLOW tcp PORT 1", Options{}, KindInvalidUUID, `UUID "web" is invalid`},
		// §3.3 ports.
		{"port zero", pre("tcp PORT 0"), Options{}, KindInvalidPort, `Port number "0" is invalid`},
		{"port too big", pre("tcp PORT 65536"), Options{}, KindInvalidPort, `Port number "65536" is invalid`},
		{"port hex", pre("tcp PORT 0x5"), Options{}, KindInvalidPort, `Port number "0x5" is invalid`},
		{"port exponent", pre("tcp PORT 9e1"), Options{}, KindInvalidPort, `Port number "9e1" is invalid`},
		{"port negative exponent", pre("tcp PORTS 99e-1"), Options{}, KindInvalidPort, `Port number "99e" is invalid`},
		{"port underscore", pre("tcp PORT _"), Options{}, KindInvalidPort, `Port number "_" is invalid`},
		{"port word", pre("tcp PORT hello"), Options{}, KindInvalidPort, `Port number "hello" is invalid`},
		{"port empty range end", pre("tcp PORTS 1-"), Options{}, KindInvalidPort, `Port number "" is invalid`},
		{"port range of three", pre("tcp PORTS 1-20-30"), Options{}, KindInvalidPortRange, `"1-20-30" is not a valid port number or range`},
		{"port range order", pre("tcp PORTS 20-10"), Options{}, KindPortRangeOrder, `The end of the range (10) cannot be less than the start (20)`},
		{"port range order spaced", pre("tcp PORTS 20 - 010"), Options{}, KindPortRangeOrder, `The end of the range (010) cannot be less than the start (20)`},
		{"first bad value wins", pre("tcp PORTS 0, 70000"), Options{}, KindInvalidPort, `Port number "0" is invalid`},
		// §3.4 ICMP.
		{"icmp type", pre("icmp TYPE 256"), Options{}, KindInvalidICMPType, `ICMP type "256" is invalid`},
		{"icmp code", pre("icmp TYPE 3 CODE 256"), Options{}, KindInvalidICMPCode, `ICMP code "256" is invalid`},
		{"icmp type word", pre("icmp TYPE echo"), Options{}, KindInvalidICMPType, `ICMP type "echo" is invalid`},
		{"icmp colon", pre("icmp TYPE 1:0"), Options{}, KindLexical, `Error at character 23: ':0', found: unexpected text`},
		// §3.5 priority.
		{"priority 101", pre("tcp PORT 80 PRIORITY 101"), Options{}, KindInvalidPriority, `Priority level "101" is invalid`},
		{"priority 0101", pre("tcp PORT 80 PRIORITY 0101"), Options{}, KindInvalidPriority, `Priority level "0101" is invalid`},
		{"priority word", pre("tcp PORT 80 PRIORITY world"), Options{}, KindInvalidPriority, `Priority level "world" is invalid`},
		{"priority string", pre(`tcp PORT 80 PRIORITY "world"`), Options{}, KindSyntax, `Error at character 46: '"world"', expected: 'WORD', found: STRING`},
		{"priority negative", pre("tcp PORT 80 PRIORITY -1"), Options{}, KindSyntax, `Error at character 46: '-', expected: 'WORD', found: -`},
		{"priority decimal", pre("tcp PORT 80 PRIORITY 72.1"), Options{}, KindLexical, `Error at character 23: '.1', found: unexpected text`},
		{"priority truncated", pre("tcp PORT 80 PRIORITY"), Options{}, KindSyntaxEOF, `Error at character 46: '', expected: 'WORD', found: EOF`},
		// §8 feature gating, each at the version before its feature.
		{"ports v1", pre("tcp PORTS 80"), v(1), KindFeatureVersion, `The rule uses a feature (port ranges) newer than this API allows`},
		{"ipv6 ip v2", "FROM ip fd00::1 TO all vms ALLOW tcp PORT 80", v(2), KindFeatureVersion, `The rule uses a feature (IPv6) newer than this API allows`},
		{"ipv6 subnet v2", "FROM subnet fd00::/8 TO all vms ALLOW tcp PORT 80", v(2), KindFeatureVersion, `The rule uses a feature (IPv6) newer than this API allows`},
		{"icmp6 v2", pre("icmp6 TYPE 128"), v(2), KindFeatureVersion, `The rule uses a feature (IPv6) newer than this API allows`},
		{"type all v2", pre("icmp TYPE all"), v(2), KindFeatureVersion, `The rule uses a feature (all ICMP types) newer than this API allows`},
		{"priority v3", pre("tcp PORT 80 PRIORITY 1"), v(3), KindFeatureVersion, `The rule uses a feature (priority levels) newer than this API allows`},
		{"ah v3", pre("ah"), v(3), KindFeatureVersion, `The rule uses a feature (AH) newer than this API allows`},
		{"esp v3", pre("esp"), v(3), KindFeatureVersion, `The rule uses a feature (ESP) newer than this API allows`},
		{"bad value before late gate", pre("tcp PORTS 0"), v(1), KindInvalidPort, `Port number "0" is invalid`},
		{"bad priority before gate", pre("tcp PORT 80 PRIORITY 500"), v(3), KindInvalidPriority, `Priority level "500" is invalid`},
		// §4 rule-level checks.
		{"9 ports at v3", pre("tcp PORTS 1, 2, 3, 4, 5, 6, 7, 8, 9"), v(3), KindTooManyPorts, `maximum of 8 ports allowed`},
		{"9 ports at explicit v0", pre("tcp PORTS 1, 2, 3, 4, 5, 6, 7, 8, 9"), v(0), KindTooManyPorts, `maximum of 8 ports allowed`},
		{"9 types at v3", pre("icmp (TYPE 1 AND TYPE 2 AND TYPE 3 AND TYPE 4 AND TYPE 5 AND TYPE 6 AND TYPE 7 AND TYPE 8 AND TYPE 9)"), v(3), KindTooManyTypes, `maximum of 8 types allowed`},
		{"25 ports", pre("tcp PORTS " + list("%d", ", ", 25)), Options{}, KindTooManyPorts, `maximum of 24 ports allowed`},
		{"25 types", pre("icmp6 (" + list("TYPE %d", " AND ", 25) + ")"), Options{}, KindTooManyTypes, `maximum of 24 types allowed`},
		{"25 targets", "FROM (" + strings.Repeat("tag a OR ", 24) + "tag a) TO all vms ALLOW tcp PORT 1", Options{}, KindTooManyTargets, `maximum of 24 targets allowed per side`},
		{"type count before family at v3", "FROM ip fd00::1 TO all vms ALLOW icmp (" + list("TYPE %d", " AND ", 9) + ")", v(3), KindTooManyTypes, `maximum of 8 types allowed`},
		{"type count before family", "FROM ip fd00::1 TO all vms ALLOW icmp (" + list("TYPE %d", " AND ", 25) + ")", Options{}, KindTooManyTypes, `maximum of 24 types allowed`},
		{"icmp v6 address", "FROM ip fd00::1 TO all vms ALLOW icmp TYPE 8", Options{}, KindICMPFamilyMismatch, `rule affects ICMPv4 but contains a non-IPv4 address`},
		{"icmp v6 subnet", "FROM subnet fd00::/8 TO all vms ALLOW icmp TYPE 8", Options{}, KindICMPFamilyMismatch, `rule affects ICMPv4 but contains a non-IPv4 subnet`},
		{"icmp leading-zero subnet", "FROM subnet 010.0.0.0/8 TO all vms ALLOW icmp TYPE 8", Options{}, KindICMPFamilyMismatch, `rule affects ICMPv4 but contains a non-IPv4 subnet`},
		{"icmp6 v4 address", "FROM (subnet 10.0.0.0/8 OR ip 10.0.0.1) TO all vms ALLOW icmp6 TYPE 128", Options{}, KindICMPFamilyMismatch, `rule affects ICMPv6 but contains a non-IPv6 address`},
		{"icmp6 v4 subnet", "FROM subnet 10.0.0.0/8 TO all vms ALLOW icmp6 TYPE 128", Options{}, KindICMPFamilyMismatch, `rule affects ICMPv6 but contains a non-IPv6 subnet`},
		{"any to any", "FROM any TO any ALLOW tcp PORT 80", Options{}, KindNoVMTargets, `rule does not affect VMs`},
		{"ip to subnet", "FROM ip 10.0.0.1 TO subnet 10.0.0.0/8 ALLOW tcp PORT 80", Options{}, KindNoVMTargets, `rule does not affect VMs`},
		{"empty create", "", Options{}, KindNoRule, `No rule specified`},
		// §1, §2 and §5.3 syntax and lexical errors.
		{"unknown target", "FROM foo TO all vms ALLOW tcp PORT 22", Options{}, KindSyntax, `Error at character 4: 'foo', expected: '(', 'all', 'any', 'ip', 'subnet', 'vm', 'tag', found: word`},
		{"all vms in or list", "FROM (all vms OR tag one) TO all vms ALLOW tcp PORT 22", Options{}, KindSyntax, `Error at character 13: 'OR', expected: ')', found: OR`},
		{"column restarts after newline", "FROM any\nTO all vms\nALLOW tcp PORT 80 PORT", Options{}, KindSyntax, `Error at character 17: 'PORT', expected: 'EOF', 'PRIORITY', ')', 'AND', found: PORT`},
		{"column restarts inside a tag", "FROM tag \"a\nbc\" foo", Options{}, KindSyntax, `Error at character 3: 'foo', expected: 'TO', ')', 'OR', '=', 'BLOCK', 'ALLOW', found: word`},
		{"eof", "FROM any TO", Options{}, KindSyntaxEOF, `Error at character 11: '', expected: '(', 'all', 'any', 'ip', 'subnet', 'vm', 'tag', found: EOF`},
		{"eof after comma", pre("tcp PORTS 1,"), Options{}, KindSyntaxEOF, `Error at character 38: '', expected: 'WORD', found: EOF`},
		{"empty parse", "   ", Options{}, KindSyntaxEOF, `Error at character 0: '', expected: 'FROM', found: EOF`},
		{"port all merged", pre("TCP (port ALL AND port 53)"), Options{}, KindSyntax, `Error at character 39: 'AND', expected: 'EOF', 'PRIORITY', ')', found: AND`},
		{"port all second", pre("tcp (PORT 53 AND PORT ALL)"), Options{}, KindSyntax, `Error at character 47: 'ALL', expected: 'WORD', found: ALL`},
		{"type all merged", pre("icmp (TYPE all AND TYPE 8)"), Options{}, KindSyntax, `Error at character 40: 'AND', expected: 'EOF', 'PRIORITY', ')', found: AND`},
		{"mixed case keyword", "From any TO all vms ALLOW tcp PORT 1", Options{}, KindSyntax, `Error at character 0: 'From', expected: 'FROM', found: word`},
		{"mixed case action", "FROM any TO all vms Allow tcp PORT 1", Options{}, KindSyntax, `Error at character 19: 'Allow', expected: 'TO', 'BLOCK', 'ALLOW', found: word`},
		{"upper-case ipv6", "FROM ip FD00::1 TO all vms ALLOW tcp PORT 1", Options{}, KindSyntax, `Error at character 7: 'FD00', expected: 'IPV4ADDR', 'IPV6ADDR', found: word`},
		{"dotted ipv6 tail", "FROM ip fd00::ffff:1.2.3.4 TO all vms ALLOW tcp PORT 1", Options{}, KindLexical, `Error at character 20: '.2.3.4 TO all vms AL', found: unexpected text`},
		{"zero-width space", "FROM\u200Bany TO all vms ALLOW tcp PORT 80", Options{}, KindLexical, "Error at character 4: '\u200Bany TO all vms ALLO', found: unexpected text"},
		{"keyword then dash", "FROM tag all-foo TO all vms ALLOW tcp PORT 1", Options{}, KindSyntax, `Error at character 8: 'all', expected: 'WORD', 'STRING', found: ALL`},
		{"non-ascii tag", "FROM tag é TO all vms ALLOW tcp PORT 1", Options{}, KindLexical, `Error at character 9: 'é TO all vms ALLOW t', found: unexpected text`},
		{"bad escape", `FROM tag "a\x" TO all vms ALLOW tcp PORT 1`, Options{}, KindLexical, `Error at character 9: '"a\x" TO all vms ALL', found: unexpected text`},
		{"tag a = b = c", "FROM tag a = b = c TO all vms ALLOW tcp PORT 1", Options{}, KindSyntax, `Error at character 14: '=', expected: 'TO', ')', 'OR', 'BLOCK', 'ALLOW', found: =`},
		{"ports without comma-less spacing", pre("tcp PORTS 1- 2"), Options{}, KindSyntax, `Error at character 38: '2', expected: 'EOF', 'PRIORITY', '-', ',', found: word`},
		{"ports in parentheses", pre("tcp ( PORTS 80 )"), Options{}, KindSyntax, `Error at character 31: 'PORTS', expected: 'PORT', found: PORTS`},
		{"ah with port", pre("ah PORT 50"), Options{}, KindSyntax, `Error at character 28: 'PORT', expected: 'EOF', 'PRIORITY', found: PORT`},
		{"double parentheses", "FROM ((tag a)) TO all vms ALLOW tcp PORT 1", Options{}, KindSyntax, `Error at character 6: '(', expected: 'all', 'any', 'ip', 'subnet', 'vm', 'tag', found: (`},
		{"or without parentheses", "FROM tag a OR tag b TO all vms ALLOW tcp PORT 1", Options{}, KindSyntax, `Error at character 10: 'OR', expected: 'TO', 'BLOCK', 'ALLOW', found: OR`},
		{"and without parentheses", pre("tcp PORT 80 AND PORT 81"), Options{}, KindSyntax, `Error at character 37: 'AND', expected: 'EOF', 'PRIORITY', found: AND`},
		{"not operator", "FROM NOT any TO all vms ALLOW tcp PORT 1", Options{}, KindSyntax, `Error at character 4: 'NOT', expected: '(', 'all', 'any', 'ip', 'subnet', 'vm', 'tag', found: word`},
		{"string port", pre(`tcp PORT "50"`), Options{}, KindSyntax, `Error at character 34: '"50"', expected: 'WORD', 'all', found: STRING`},
		{"long lexical offset capped", pre("tcp PORT 80 PRIORITY 1 ."), Options{}, KindLexical, `Error at character 23: '.', found: unexpected text`},
		{"syntax error before bad value", "FROM ip 0.0.0.0 foo TO all vms ALLOW tcp PORT 1", Options{}, KindSyntax, `Error at character 15: 'foo', expected: 'TO', ')', 'OR', 'BLOCK', 'ALLOW', found: word`},
		{"bad value before syntax error", "FROM ip 0.0.0.0 OR tag a TO all vms ALLOW tcp PORT 1", Options{}, KindInvalidIPv4, `IPv4 address "0.0.0.0" is invalid`},
		{"any or", "FROM (any OR all vms) TO all vms ALLOW tcp PORT 1", Options{}, KindSyntax, `Error at character 9: 'OR', expected: ')', found: OR`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Create(tc.text, tc.opts)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Create(%q) error = %v, want *Error", tc.text, err)
			}
			if diff := cmp.Diff(struct {
				Kind Kind
				Msg  string
			}{tc.kind, tc.msg}, struct {
				Kind Kind
				Msg  string
			}{e.Kind, e.Msg}); diff != "" {
				t.Errorf("Create(%q) error mismatch (-want +got):\n%s", tc.text, diff)
			}
			if !IsKind(err, tc.kind) {
				t.Errorf("IsKind(err, %q) = false", tc.kind)
			}
		})
	}
}

func list(format, sep string, n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(format, i+1)
	}
	return strings.Join(parts, sep)
}

// TestParseLayer checks that Parse stops short of the rule-level checks
// while Create applies them.
func TestParseLayer(t *testing.T) {
	for _, text := range []string{
		"FROM any TO any ALLOW tcp PORT 80",
		"FROM ip fd00::1 TO all vms ALLOW icmp TYPE 8",
		"FROM (" + strings.Repeat("tag a OR ", 24) + "tag a) TO all vms ALLOW tcp PORT 1",
		pre("tcp PORTS " + list("%d", ", ", 25)),
	} {
		if _, err := Parse(text, Options{}); err != nil {
			t.Errorf("Parse(%q) = %v, want success", text, err)
		}
		if _, err := Create(text, Options{}); err == nil {
			t.Errorf("Create(%q) succeeded, want a rule-level error", text)
		}
	}
	if _, err := Create(pre("tcp PORTS "+list("%d", ", ", 24)), Options{}); err != nil {
		t.Errorf("24 ports: %v", err)
	}
	if _, err := Create(pre("tcp PORTS "+list("%d", ", ", 9)), Options{MaxVersion: 4, MaxVersionSet: true}); err != nil {
		t.Errorf("9 ports at v4: %v", err)
	}
}

func TestErrorPosition(t *testing.T) {
	tests := []struct {
		name      string
		text      string
		opts      Options
		line, col int
		token     string
	}{
		{"syntax", "FROM foo TO all vms ALLOW tcp PORT 1", Options{}, 1, 6, "foo"},
		{"second line", "FROM any\n  TO all vms ALLOW tcp PORT 0", Options{}, 2, 29, "0"},
		{"eof", "FROM any TO", Options{}, 1, 12, ""},
		{"lexical", "FROM tag a.b TO all vms ALLOW tcp PORT 1", Options{}, 1, 11, "."},
		{"subnet", "FROM subnet 10.0.0.0/33 TO all vms ALLOW tcp PORT 1", Options{}, 1, 13, "10.0.0.0/33"},
		{"feature", pre("tcp PORTS 1"), Options{MaxVersion: 1, MaxVersionSet: true}, 1, 31, "PORTS"},
		{"ninth port", pre("tcp PORTS 1, 2, 3, 4, 5, 6, 7, 8, 9"), Options{MaxVersion: 3, MaxVersionSet: true}, 1, 61, "9"},
		{"25th target", "FROM (" + strings.Repeat("tag a OR ", 24) + "tag b) TO all vms ALLOW tcp PORT 1", Options{}, 1, 223, "tag"},
		{"family", "FROM (tag a OR ip fd00::1) TO all vms ALLOW icmp TYPE 8", Options{}, 1, 16, "ip"},
		{"no vms", "  FROM any TO any ALLOW tcp PORT 1", Options{}, 1, 3, "FROM"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Create(tc.text, tc.opts)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Create(%q) = %v, want *Error", tc.text, err)
			}
			got := [3]any{e.Line, e.Col, e.Token}
			want := [3]any{tc.line, tc.col, tc.token}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Create(%q) position (-want +got):\n%s", tc.text, diff)
			}
			if e.Offset < 0 || e.Offset > len(tc.text) || !strings.HasPrefix(tc.text[e.Offset:], e.Token) {
				t.Errorf("Offset %d does not point at %q", e.Offset, e.Token)
			}
		})
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"keywords mixed", "from ANY to VM " + vmA + " allow UDP ports 50", "FROM any TO vm " + vmA + " ALLOW udp PORT 50"},
		{"tag dedupe and bare swallows", "FROM (tag b OR tag a OR tag a OR tag a = x) TO all vms ALLOW tcp PORT 80", `FROM (tag "a" OR tag "b") TO all vms ALLOW tcp PORT 80`},
		{"ips lexical", "FROM (ip 10.0.0.2 OR ip 10.0.0.10 OR ip 9.0.0.1 OR ip fd00::1) TO all vms ALLOW tcp PORT 80", "FROM (ip 10.0.0.10 OR ip 10.0.0.2 OR ip 9.0.0.1 OR ip fd00::1) TO all vms ALLOW tcp PORT 80"},
		{"grouping", "FROM (vm " + vmB + " OR tag x OR subnet 10.0.0.0/8 OR ip 10.0.0.1 OR vm " + vmA + ") TO all vms ALLOW tcp PORT 80",
			"FROM (ip 10.0.0.1 OR subnet 10.0.0.0/8 OR tag \"x\" OR vm " + vmA + " OR vm " + vmB + ") TO all vms ALLOW tcp PORT 80"},
		{"tag values sorted", "FROM (tag n = v2 OR tag n = v1 OR tag m) TO all vms ALLOW tcp PORT 80", `FROM (tag "m" OR tag "n" = "v1" OR tag "n" = "v2") TO all vms ALLOW tcp PORT 80`},
		{"utf16 order", `FROM (tag "한" OR tag "some-tag" OR tag "some tag" OR tag "😀" OR tag "～") TO all vms ALLOW tcp PORT 80`,
			`FROM (tag "some tag" OR tag "some-tag" OR tag "한" OR tag "😀" OR tag "～") TO all vms ALLOW tcp PORT 80`},
		{"single target in parens", "FROM (ip 1.2.3.4) TO (all vms) ALLOW tcp PORT 80", "FROM ip 1.2.3.4 TO all vms ALLOW tcp PORT 80"},
		{"any in parens", "FROM (any) TO all vms BLOCK udp PORT 53", "FROM any TO all vms BLOCK udp PORT 53"},
		{"addresses as written", "FROM (ip fd00:0::1 OR subnet 10.0.0.0/08 OR subnet 010.0.0.0/8) TO all vms ALLOW tcp PORT 1", "FROM (ip fd00:0::1 OR subnet 010.0.0.0/8 OR subnet 10.0.0.0/08) TO all vms ALLOW tcp PORT 1"},
		{"subnet split", "FROM subnet 10.0.0.0\n/8 TO all vms ALLOW tcp PORT 1", "FROM subnet 10.0.0.0/8 TO all vms ALLOW tcp PORT 1"},
		{"subnet zero", "FROM subnet 0.0.0.0/0 TO all vms ALLOW tcp PORT 1", "FROM subnet 0.0.0.0/0 TO all vms ALLOW tcp PORT 1"},
		{"whitespace", "\u00a0 FROM\tany\nTO  all \u3000vms\r\nALLOW tcp PORT 1 \ufeff", "FROM any TO all vms ALLOW tcp PORT 1"},
		{"ports to and list", pre("tcp PORTS 1002, 1052"), pre("tcp (PORT 1002 AND PORT 1052)")},
		{"ports duplicates", pre("tcp PORTS 80, 80"), pre("tcp (PORT 80 AND PORT 80)")},
		{"and list duplicates", pre("tcp (PORT 80 AND PORT 80)"), pre("tcp (PORT 80 AND PORT 80)")},
		{"ports single", pre("tcp PORTS 80"), pre("tcp PORT 80")},
		{"ports pair", pre("tcp PORTS 80,81"), pre("tcp (PORT 80 AND PORT 81)")},
		{"port single in parens", pre("tcp (PORT 80)"), pre("tcp PORT 80")},
		{"port all", pre("tcp ( PORT all )"), pre("tcp PORT all")},
		{"port ALL", pre("tcp PORT ALL"), pre("tcp PORT all")},
		{"range kept", pre("tcp PORTS 1-5, 3"), pre("tcp PORTS 1 - 5, 3")},
		{"stable port sort", pre("tcp PORTS 9, 5-9, 5 - 6, 5"), pre("tcp PORTS 5 - 9, 5 - 6, 5, 9")},
		{"full range not folded", pre("tcp PORTS 1-65535"), pre("tcp PORTS 1 - 65535")},
		{"n-n stays range", pre("tcp PORTS 50-50"), pre("tcp PORTS 50 - 50")},
		{"range with spaced dash", pre("tcp PORTS 1 -2"), pre("tcp PORTS 1 - 2")},
		{"leading zeros", pre("tcp PORT 080"), pre("tcp PORT 80")},
		{"type leading zeros", pre("icmp TYPE 008 CODE 00"), pre("icmp TYPE 8 CODE 0")},
		{"priority zero", pre("tcp PORT 80 PRIORITY 00"), pre("tcp PORT 80")},
		{"priority", pre("tcp PORT 80 PRIORITY 010"), pre("tcp PORT 80 PRIORITY 10")},
		{"type all", pre("icmp6 (TYPE ALL)"), pre("icmp6 TYPE all")},
		{"types coded sorted", pre("icmp (TYPE 8 CODE 0 AND TYPE 3 CODE 1 AND TYPE 3 CODE 0)"), pre("icmp (TYPE 3 CODE 0 AND TYPE 3 CODE 1 AND TYPE 8 CODE 0)")},
		{"types uncoded sorted", pre("icmp (TYPE 8 AND TYPE 3 AND TYPE 3)"), pre("icmp (TYPE 3 AND TYPE 3 AND TYPE 8)")},
		{"icmp mixed unchanged", pre("icmp (TYPE 5 AND TYPE 3 CODE 1)"), pre("icmp (TYPE 5 AND TYPE 3 CODE 1)")},
		{"icmp mixed flawed", pre("icmp (TYPE 9 AND TYPE 8 CODE 0 AND TYPE 3 AND TYPE 1 CODE 2)"), pre("icmp (TYPE 3 AND TYPE 9 AND TYPE 1 CODE 2 AND TYPE 8 CODE 0)")},
		{"icmp mixed round trip", pre("icmp (TYPE 3 CODE 1 AND TYPE 3)"), pre("icmp (TYPE 3 CODE 1 AND TYPE 3)")},
		{"icmp descending run", pre("icmp (TYPE 9 CODE 1 AND TYPE 5 CODE 0 AND TYPE 2 AND TYPE 7)"), pre("icmp (TYPE 2 AND TYPE 5 CODE 0 AND TYPE 7 AND TYPE 9 CODE 1)")},
		{"ah", pre("ah"), pre("ah")},
		{"esp priority", pre("ESP PRIORITY 100"), pre("esp PRIORITY 100")},
		{"block", "FROM all vms TO any BLOCK tcp PORT 25", "FROM all vms TO any BLOCK tcp PORT 25"},
		{"tag number", "FROM tag 80 TO all vms ALLOW tcp PORT 1", `FROM tag "80" TO all vms ALLOW tcp PORT 1`},
		{"tag no spaces", "FROM tag foo=bar TO all vms ALLOW tcp PORT 1", `FROM tag "foo" = "bar" TO all vms ALLOW tcp PORT 1`},
		{"tag underscore word", "FROM tag port_x TO all vms ALLOW tcp PORT 1", `FROM tag "port_x" TO all vms ALLOW tcp PORT 1`},
		{"empty tags", `FROM (tag "" OR tag "a" = "") TO all vms ALLOW tcp PORT 1`, `FROM (tag "" OR tag "a" = "") TO all vms ALLOW tcp PORT 1`},
		{"keyword tag quoted", `FROM tag "all vms" TO all vms ALLOW tcp PORT 1`, `FROM tag "all vms" TO all vms ALLOW tcp PORT 1`},
		{"case kept", `FROM tag "Role" = "WWW" TO all vms ALLOW tcp PORT 1`, `FROM tag "Role" = "WWW" TO all vms ALLOW tcp PORT 1`},
		{"parens in quotes", `FROM tag "(a)" TO all vms ALLOW tcp PORT 1`, `FROM tag "\(a\)" TO all vms ALLOW tcp PORT 1`},
		{"escapes out", `FROM tag "q\"b\\s\/\b\f\n\r\t\(\)" TO all vms ALLOW tcp PORT 1`, `FROM tag "q\"b\\s/\b\f\n\r\t\(\)" TO all vms ALLOW tcp PORT 1`},
		{"unicode escapes", `FROM tag "\u000a\u0020\u0041\u00e9" TO all vms ALLOW tcp PORT 1`, `FROM tag "\n Aé" TO all vms ALLOW tcp PORT 1`},
		{"escaped controls", `FROM tag "\u0000\u000b\u001F\u007f" TO all vms ALLOW tcp PORT 1`, `FROM tag "\u0000\u000B\u001F\u007F" TO all vms ALLOW tcp PORT 1`},
		{"escaped spaces", "FROM tag \"\u0085\u00a0\u1680\u180e\u2000\u200a\u200b\u200d\u2028\u2029\u202f\u205f\u2060\u3000\ufeff\" TO all vms ALLOW tcp PORT 1",
			`FROM tag "\u0085\u00A0\u1680\u180E\u2000\u200A\u200B\u200D\u2028\u2029\u202F\u205F\u2060\u3000\uFEFF" TO all vms ALLOW tcp PORT 1`},
		{"surrogate pair escape", `FROM tag "\ud83d\ude00" TO all vms ALLOW tcp PORT 1`, `FROM tag "😀" TO all vms ALLOW tcp PORT 1`},
		{"lone surrogate", `FROM tag "\ud83d" TO all vms ALLOW tcp PORT 1`, "FROM tag \"\uFFFD\" TO all vms ALLOW tcp PORT 1"},
		{"raw unicode", `FROM tag "éß漢" TO all vms ALLOW tcp PORT 1`, `FROM tag "éß漢" TO all vms ALLOW tcp PORT 1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Create(tc.in, Options{})
			if err != nil {
				t.Fatalf("Create(%q) = %v", tc.in, err)
			}
			if got := r.Text(); got != tc.want {
				t.Errorf("Create(%q).Text() = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestFWAPIText(t *testing.T) {
	tests := []struct{ in, want string }{
		{pre("tcp PORTS 1 - 200, 1 - 65535"), pre("tcp PORT all")},
		{pre("tcp PORTS 1-65535"), pre("tcp PORT all")},
		{pre("udp PORT all"), pre("udp PORT all")},
		{pre("tcp PORTS 50-50"), pre("tcp PORT 50")},
		{pre("tcp PORTS 50-50, 40 - 40"), pre("tcp (PORT 40 AND PORT 50)")},
		{pre("tcp PORTS 5-5, 6-7"), pre("tcp PORTS 5, 6 - 7")},
		{pre("tcp PORTS 2-65535"), pre("tcp PORTS 2 - 65535")},
		{pre("icmp TYPE 8 CODE 0"), pre("icmp TYPE 8 CODE 0")},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			r, err := Create(tc.in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := r.FWAPIText(); got != tc.want {
				t.Errorf("FWAPIText() = %q, want %q", got, tc.want)
			}
			f, err := FWAPI(tc.in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Text(); got != tc.want {
				t.Errorf("FWAPI(%q).Text() = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestParsedJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{"FROM (tag b OR tag a = \"x y\" OR ip 10.0.0.1 OR subnet fd00::/8 OR vm " + vmA + " OR tag b) TO all vms ALLOW tcp PORTS 80, 1-5, 7 - 9",
			`{"from":[{"tag":"b"},{"tag":"a","value":"x y"},{"ip":"10.0.0.1"},{"subnet":"fd00::/8"},{"vm":"` + vmA + `"},{"tag":"b"}],"to":[{"allvms":true}],"action":"allow","protocol":"tcp","ports":[80,[1,5],[7,9]],"types":null,"priority":null,"log":false}`},
		{"FROM any TO tag \"\" BLOCK icmp6 (TYPE 128 AND TYPE 1 CODE 4) PRIORITY 0",
			`{"from":[{"any":true}],"to":[{"tag":""}],"action":"block","protocol":"icmp6","ports":null,"types":[[128,null],[1,4]],"priority":0,"log":false}`},
		{pre("udp PORT all"), `{"from":[{"any":true}],"to":[{"allvms":true}],"action":"allow","protocol":"udp","ports":"all","types":null,"priority":null,"log":false}`},
		{pre("icmp TYPE all PRIORITY 7"), `{"from":[{"any":true}],"to":[{"allvms":true}],"action":"allow","protocol":"icmp","ports":null,"types":"all","priority":7,"log":false}`},
		{pre("esp"), `{"from":[{"any":true}],"to":[{"allvms":true}],"action":"allow","protocol":"esp","ports":null,"types":null,"priority":null,"log":false}`},
		{"FROM tag \"<&>\" TO all vms ALLOW tcp PORT 1", `{"from":[{"tag":"<&>"}],"to":[{"allvms":true}],"action":"allow","protocol":"tcp","ports":[1],"types":null,"priority":null,"log":false}`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			r, err := Parse(tc.in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.ParsedJSON()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("ParsedJSON mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTargetOffsets(t *testing.T) {
	text := "FROM ( tag a OR\n ip 10.0.0.1 OR vm " + vmA + ") TO (all vms) ALLOW tcp PORT 1"
	r, err := Create(text, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tg := range append(append([]Target(nil), r.From...), r.To...) {
		got = append(got, text[tg.Offset:tg.Offset+3])
	}
	if diff := cmp.Diff([]string{"tag", "ip ", "vm ", "all"}, got); diff != "" {
		t.Errorf("target offsets (-want +got):\n%s", diff)
	}
}

func TestPayload(t *testing.T) {
	const rule = "FROM any TO all vms ALLOW tcp PORT 80"
	long := strings.Repeat("x", 256)
	tests := []struct {
		name          string
		p             Payload
		enforceGlobal bool
		want          []string // messages, in order
		log           bool
	}{
		{"valid global", Payload{Rule: rule, Global: true}, true, nil, false},
		{"valid owner with log", Payload{Rule: rule, OwnerUUID: vmA, Log: "true", Enabled: true}, true, nil, true},
		{"no rule", Payload{}, false, []string{"No rule specified"}, false},
		{"many", Payload{Rule: "FROM foo", UUID: "x", OwnerUUID: "y", Enabled: "yes", Log: 1, Description: 5, CreatedBy: long}, false,
			[]string{
				"Error at character 4: 'foo', expected: '(', 'all', 'any', 'ip', 'subnet', 'vm', 'tag', found: word",
				"Invalid rule UUID", "Invalid owner UUID", "enabled must be true or false", "log must be true or false",
				"created_by must be shorter than 255 characters", "description must be a string",
			}, false},
		{"255 characters is fine", Payload{Rule: rule, Description: strings.Repeat("é", 255)}, false, nil, false},
		{"global and owner", Payload{Rule: rule, OwnerUUID: vmA, Global: true}, true, []string{"cannot specify both global and owner_uuid"}, false},
		{"global false with owner", Payload{Rule: rule, OwnerUUID: vmA, Global: false}, true, nil, false},
		{"owner required", Payload{Rule: rule}, true, []string{"owner_uuid required"}, false},
		{"owner not required without enforceGlobal", Payload{Rule: rule}, false, nil, false},
		{"bad global", Payload{Rule: rule, Global: "maybe", OwnerUUID: vmA}, true, []string{"global must be true or false", "cannot specify both global and owner_uuid"}, false},
		{"rule-level check after payload", Payload{Rule: "FROM any TO any ALLOW tcp PORT 1", Global: true}, true, []string{"rule does not affect VMs"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := CreatePayload(tc.p, Options{}, tc.enforceGlobal)
			var got []string
			var m *MultiError
			var e *Error
			switch {
			case err == nil:
			case errors.As(err, &m):
				if len(m.Errs) < 2 {
					t.Errorf("MultiError with %d errors", len(m.Errs))
				}
				for _, e := range m.Errs {
					got = append(got, e.Msg)
				}
			case errors.As(err, &e):
				got = []string{e.Msg}
			default:
				t.Fatalf("CreatePayload error %T %v", err, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("CreatePayload errors (-want +got):\n%s", diff)
			}
			if err == nil && r.Log != tc.log {
				t.Errorf("Log = %v, want %v", r.Log, tc.log)
			}
		})
	}
}

// genRule returns a random valid rule text for the property tests.
func genRule(r *rand.Rand) string {
	names := []string{"a", "b", "role", `"some tag"`, `"some-tag"`, `"한"`, `"😀"`, `"～"`, `"q\"x"`, `"\u0041"`, `"(x)"`, "80", `""`, `"\u00a0"`, `"a\\b"`, `"\t"`}
	target := func() string {
		switch r.Intn(7) {
		case 0:
			return "ip " + []string{"10.0.0.1", "10.0.0.10", "9.1.1.1", "fd00::1", "fd00:0::1", "::1"}[r.Intn(6)]
		case 1:
			return "subnet " + []string{"10.0.0.0/8", "10.1.0.0/16", "fd00::/8", "0.0.0.0/0", "010.0.0.0/8"}[r.Intn(5)]
		case 2:
			return "vm " + []string{vmA, vmB}[r.Intn(2)]
		}
		s := "tag " + names[r.Intn(len(names))]
		if r.Intn(2) == 0 {
			s += " = " + names[r.Intn(len(names))]
		}
		return s
	}
	side := func() string {
		switch r.Intn(6) {
		case 0:
			return "any"
		case 1:
			return "all vms"
		}
		n := 1 + r.Intn(5)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = target()
		}
		if n == 1 && r.Intn(2) == 0 {
			return parts[0]
		}
		return "(" + strings.Join(parts, " OR ") + ")"
	}
	var proto string
	switch r.Intn(5) {
	case 0, 1:
		proto = []string{"tcp", "udp"}[r.Intn(2)]
		switch r.Intn(4) {
		case 0:
			proto += " PORT all"
		case 1:
			proto += " (" + list("PORT %d", " AND ", 1+r.Intn(4)) + ")"
		default:
			n := 1 + r.Intn(6)
			ps := make([]string, n)
			for i := range ps {
				lo := 1 + r.Intn(100)
				switch r.Intn(3) {
				case 0:
					ps[i] = fmt.Sprint(lo)
				case 1:
					ps[i] = fmt.Sprintf("%d-%d", lo, lo+r.Intn(3))
				default:
					ps[i] = fmt.Sprintf("%d - %d", lo, lo+r.Intn(100))
				}
			}
			proto += " PORTS " + strings.Join(ps, ", ")
		}
	case 2:
		proto = "icmp6 TYPE all"
		if r.Intn(4) > 0 {
			n := 1 + r.Intn(8)
			ts := make([]string, n)
			for i := range ts {
				ts[i] = fmt.Sprintf("TYPE %d", r.Intn(6))
				if r.Intn(2) == 0 {
					ts[i] += fmt.Sprintf(" CODE %d", r.Intn(3))
				}
			}
			proto = "icmp (" + strings.Join(ts, " AND ") + ")"
		}
	case 3:
		proto = "ah"
	default:
		proto = "esp"
	}
	s := "FROM " + side() + " TO " + side() + " " + []string{"ALLOW", "BLOCK"}[r.Intn(2)] + " " + proto
	if r.Intn(3) == 0 {
		s += fmt.Sprintf(" PRIORITY %d", r.Intn(101))
	}
	return s
}

// TestRoundTrip is the property of spec §6: for every valid rule,
// parse(text(r)) normalises to the same model as r, and printing is
// idempotent.
func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(42))
	n := 5000
	if testing.Short() {
		n = 500
	}
	checked := 0
	for i := 0; i < n; i++ {
		in := genRule(rng)
		r, err := Create(in, Options{})
		if err != nil {
			continue // e.g. icmp with an IPv6 address, or no VM targets
		}
		checked++
		text := r.Text()
		r2, err := Create(text, Options{})
		if err != nil {
			t.Fatalf("Create(Text(%q)) = %v; text %q", in, err, text)
		}
		if diff := cmp.Diff(r.normalized(), r2.normalized()); diff != "" {
			t.Fatalf("round trip of %q via %q changed the model (-want +got):\n%s", in, text, diff)
		}
		if got := r2.Text(); got != text {
			t.Fatalf("Text not idempotent for %q: %q then %q", in, text, got)
		}
	}
	if checked < n/4 {
		t.Fatalf("only %d of %d generated rules were valid", checked, n)
	}
}

func FuzzParse(f *testing.F) {
	rng := rand.New(rand.NewSource(7))
	for i := 0; i < 30; i++ {
		f.Add(genRule(rng))
	}
	for _, s := range []string{"", "FROM any TO", "FROM tag \"a\nbc\" foo", "FROM\u200Bany", `FROM tag "\ud83d" TO all vms ALLOW tcp PORT 1`,
		pre("icmp (TYPE 9 AND TYPE 8 CODE 0 AND TYPE 3 AND TYPE 1 CODE 2)"), pre("tcp PORTS 9, 5-9, 5 - 6, 5")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r, err := Create(in, Options{})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind == "" || e.Msg == "" {
				t.Fatalf("Create(%q) error %T %v lacks kind or message", in, err, err)
			}
			if e.Offset < 0 || e.Offset > len(in) || e.Line < 0 {
				t.Fatalf("Create(%q) error position %d:%d offset %d out of range", in, e.Line, e.Col, e.Offset)
			}
			return
		}
		text := r.Text()
		r2, err := Create(text, Options{})
		if err != nil {
			t.Fatalf("Create(Text(%q)) = %v; text %q", in, err, text)
		}
		if got := r2.Text(); got != text {
			t.Fatalf("Text of %q is %q but re-parses to %q", in, text, got)
		}
		if _, err := r.ParsedJSON(); err != nil {
			t.Fatal(err)
		}
	})
}

var benchRules = []string{
	"FROM any TO all vms ALLOW tcp PORT 22",
	"FROM tag role = www TO tag role = db ALLOW tcp PORT 5432",
	"FROM (ip 198.18.0.10 OR subnet 198.18.1.0/24) TO tag \"web server\" ALLOW tcp (PORT 80 AND PORT 443)",
	"FROM all vms TO any BLOCK udp PORTS 1000 - 2000, 53 PRIORITY 10",
	"FROM any TO vm " + vmA + " ALLOW icmp6 (TYPE 128 AND TYPE 1 CODE 4)",
	"FROM subnet fd00::/64 TO (tag monitoring OR tag bastion = yes) ALLOW tcp PORT all",
}

// BenchmarkParseText measures parse plus canonical print of typical rules.
func BenchmarkParseText(b *testing.B) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r, err := Create(benchRules[i%len(benchRules)], Options{})
		if err != nil {
			b.Fatal(err)
		}
		_ = r.Text()
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rules/s")
}
