package nft

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidate(t *testing.T) {
	v4set := func(r *Ruleset) string { return r.Sets[1].Name }
	v6set := func(r *Ruleset) string { return r.Sets[0].Name }
	in := func(r *Ruleset, i int) *Rule { return &r.Chains[0].Rules[i] }
	tests := []struct {
		name   string
		mutate func(r *Ruleset)
		want   *ValidationError // nil: valid
	}{
		{"sample is valid", func(r *Ruleset) {}, nil},
		{"empty is valid", func(r *Ruleset) { r.Sets, r.Chains = nil, nil }, nil},
		{"version", func(r *Ruleset) { r.Version = 2 }, &ValidationError{Rule: -1}},
		{"table name empty", func(r *Ruleset) { r.Table = "" }, &ValidationError{Rule: -1}},
		{"table name too long", func(r *Ruleset) { r.Table = strings.Repeat("a", 33) }, &ValidationError{Rule: -1}},
		{"table name 32 ok", func(r *Ruleset) { r.Table = strings.Repeat("a", 32) }, nil},
		{"table name digit first", func(r *Ruleset) { r.Table = "1fw" }, &ValidationError{Rule: -1}},
		{"table name space", func(r *Ruleset) { r.Table = "fw git" }, &ValidationError{Rule: -1}},
		{"table name keyword", func(r *Ruleset) { r.Table = "accept" }, &ValidationError{Rule: -1}},
		{"set name invalid", func(r *Ruleset) { r.Sets[0].Name = "a.b" }, &ValidationError{Rule: -1}},
		{"set name duplicate", func(r *Ruleset) { r.Sets[0].Name = r.Sets[1].Name }, &ValidationError{Set: "$v4", Rule: -1}},
		{"set type unknown", func(r *Ruleset) { r.Sets[1].Type = "ether_addr" }, &ValidationError{Set: "$v4", Rule: -1}},
		{"set element of other family", func(r *Ruleset) { r.Sets[1].Elements = pfx("fd00::1") }, &ValidationError{Set: "$v4", Rule: -1}},
		{"set element mapped in v4 set", func(r *Ruleset) { r.Sets[1].Elements = pfx("::ffff:198.18.0.1") }, &ValidationError{Set: "$v4", Rule: -1}},
		{"set element invalid", func(r *Ruleset) { r.Sets[1].Elements = []netip.Prefix{{}} }, &ValidationError{Set: "$v4", Rule: -1}},
		{"set not normalised", func(r *Ruleset) { r.Sets[1].Elements = pfx("198.18.0.0/25", "198.18.0.128/25") }, &ValidationError{Set: "$v4", Rule: -1}},
		{"set unmasked", func(r *Ruleset) { r.Sets[1].Elements = []netip.Prefix{netip.MustParsePrefix("198.18.0.1/24")} }, &ValidationError{Set: "$v4", Rule: -1}},
		{"set comment quote", func(r *Ruleset) { r.Sets[1].Comment = `a"b` }, &ValidationError{Set: "$v4", Rule: -1}},
		{"set comment too long", func(r *Ruleset) { r.Sets[1].Comment = strings.Repeat("x", 129) }, &ValidationError{Set: "$v4", Rule: -1}},
		{"set comment 128 ok", func(r *Ruleset) { r.Sets[1].Comment = strings.Repeat("x", 128) }, nil},
		{"empty set ok", func(r *Ruleset) { r.Sets[1].Elements = nil }, nil},
		{"chain name invalid", func(r *Ruleset) { r.Chains[1].Name = "drop" }, &ValidationError{Rule: -1}},
		{"chain name duplicate", func(r *Ruleset) { r.Chains[1].Name = "input" }, &ValidationError{Chain: "input", Rule: -1}},
		{"chain hook unknown", func(r *Ruleset) { r.Chains[1].Hook = "prerouting" }, &ValidationError{Chain: "output", Rule: -1}},
		{"chain hook twice", func(r *Ruleset) { r.Chains[1].Hook = HookInput }, &ValidationError{Chain: "output", Rule: -1}},
		{"chain policy unknown", func(r *Ruleset) { r.Chains[1].Policy = "reject" }, &ValidationError{Chain: "output", Rule: -1}},
		{"chain priority too big", func(r *Ruleset) { r.Chains[1].Priority = 1 << 31 }, &ValidationError{Chain: "output", Rule: -1}},
		{"chain priority negative ok", func(r *Ruleset) { r.Chains[1].Priority = -150 }, nil},
		{"forward chain ok", func(r *Ruleset) { r.Chains[1].Hook, r.Chains[1].Name = HookForward, "forward" }, nil},
		{"rule family unknown", func(r *Ruleset) { in(r, 0).Family = "arp" }, &ValidationError{Chain: "input", Rule: 0}},
		{"rule verdict unknown", func(r *Ruleset) { in(r, 1).Verdict = "reject" }, &ValidationError{Chain: "input", Rule: 1}},
		{"rule without verdict or log", func(r *Ruleset) { in(r, 1).Verdict = "" }, &ValidationError{Chain: "input", Rule: 1}},
		{"log-only rule ok", func(r *Ruleset) { in(r, 1).Verdict, in(r, 1).Log = "", "x" }, nil},
		{"ct state unknown bit", func(r *Ruleset) { in(r, 0).CTState = 1 << 6 }, &ValidationError{Chain: "input", Rule: 0}},
		{"iif too long", func(r *Ruleset) { in(r, 2).IIF = "abcdefghijklmnop" }, &ValidationError{Chain: "input", Rule: 2}},
		{"iif 15 ok", func(r *Ruleset) { in(r, 2).IIF = "abcdefghijklmno" }, nil},
		{"iif quote", func(r *Ruleset) { in(r, 2).IIF = `l"o` }, &ValidationError{Chain: "input", Rule: 2}},
		{"iif inner wildcard", func(r *Ruleset) { in(r, 2).IIF = "e*th" }, &ValidationError{Chain: "input", Rule: 2}},
		{"iif only wildcard", func(r *Ruleset) { in(r, 2).IIF = "*" }, &ValidationError{Chain: "input", Rule: 2}},
		{"oif slash", func(r *Ruleset) { r.Chains[1].Rules[0].OIF = "a/b" }, &ValidationError{Chain: "output", Rule: 0}},
		{"src without family", func(r *Ruleset) { in(r, 4).Family = FamilyAny }, &ValidationError{Chain: "input", Rule: 4}},
		{"src of other family", func(r *Ruleset) { in(r, 4).Family = FamilyIPv6 }, &ValidationError{Chain: "input", Rule: 4}},
		{"src set unknown", func(r *Ruleset) { in(r, 5).Src.Set = "v4_nothere" }, &ValidationError{Chain: "input", Rule: 5}},
		{"src set of other family", func(r *Ruleset) { in(r, 5).Src.Set = v6set(r) }, &ValidationError{Chain: "input", Rule: 5}},
		{"src set and prefixes", func(r *Ruleset) { in(r, 5).Src.Prefixes = pfx("198.18.0.1") }, &ValidationError{Chain: "input", Rule: 5}},
		{"src empty match", func(r *Ruleset) { in(r, 5).Src = &AddrMatch{} }, &ValidationError{Chain: "input", Rule: 5}},
		{"src prefixes unsorted", func(r *Ruleset) { in(r, 8).Src.Prefixes = pfx("198.18.9.9", "198.18.7.0/24") }, &ValidationError{Chain: "input", Rule: 8}},
		{"dst prefix of other family", func(r *Ruleset) { in(r, 8).Dst.Prefixes = pfx("fd00::1") }, &ValidationError{Chain: "input", Rule: 8}},
		{"dst mapped is v6", func(r *Ruleset) { in(r, 8).Dst.Prefixes = pfx("::ffff:198.18.0.1") }, &ValidationError{Chain: "input", Rule: 8}},
		{"v6 rule with v6 set ok", func(r *Ruleset) { in(r, 6).Src.Set = v6set(r) }, nil},
		{"proto unknown", func(r *Ruleset) { in(r, 9).Proto = "sctp" }, &ValidationError{Chain: "input", Rule: 9}},
		{"dports without proto", func(r *Ruleset) { in(r, 4).Proto = ProtoAny }, &ValidationError{Chain: "input", Rule: 4}},
		{"dports with esp", func(r *Ruleset) { in(r, 4).Proto = ProtoESP }, &ValidationError{Chain: "input", Rule: 4}},
		{"port 0", func(r *Ruleset) { in(r, 4).DPorts = []PortRange{{0, 10}} }, &ValidationError{Chain: "input", Rule: 4}},
		{"port range reversed", func(r *Ruleset) { in(r, 4).DPorts = []PortRange{{10, 9}} }, &ValidationError{Chain: "input", Rule: 4}},
		{"ports unsorted", func(r *Ruleset) { in(r, 4).DPorts = []PortRange{{443, 443}, {80, 80}} }, &ValidationError{Chain: "input", Rule: 4}},
		{"ports overlap", func(r *Ruleset) { in(r, 4).DPorts = []PortRange{{80, 90}, {90, 100}} }, &ValidationError{Chain: "input", Rule: 4}},
		{"ports adjacent ok", func(r *Ruleset) { in(r, 4).DPorts = []PortRange{{80, 89}, {90, 100}, {65535, 65535}} }, nil},
		{"icmp types with tcp", func(r *Ruleset) { in(r, 7).Proto = ProtoTCP }, &ValidationError{Chain: "input", Rule: 7}},
		{"icmp with ipv6", func(r *Ruleset) { in(r, 7).Family = FamilyIPv6 }, &ValidationError{Chain: "input", Rule: 7}},
		{"icmpv6 with ipv4", func(r *Ruleset) { in(r, 3).Family = FamilyIPv4 }, &ValidationError{Chain: "input", Rule: 3}},
		{"icmpv6 with any ok", func(r *Ruleset) { in(r, 3).Family = FamilyAny }, nil},
		{"icmp code not alone", func(r *Ruleset) { in(r, 7).ICMP = []ICMPMatch{{Type: 0}, {Type: 8, Code: u8(0)}} }, &ValidationError{Chain: "input", Rule: 7}},
		{"icmp types repeat", func(r *Ruleset) { in(r, 3).ICMP = []ICMPMatch{{Type: 133}, {Type: 133}} }, &ValidationError{Chain: "input", Rule: 3}},
		{"icmp types unsorted", func(r *Ruleset) { in(r, 3).ICMP = []ICMPMatch{{Type: 134}, {Type: 133}} }, &ValidationError{Chain: "input", Rule: 3}},
		{"log prefix 127 ok", func(r *Ruleset) { in(r, 5).Log = strings.Repeat("l", 127) }, nil},
		{"log prefix too long", func(r *Ruleset) { in(r, 5).Log = strings.Repeat("l", 128) }, &ValidationError{Chain: "input", Rule: 5}},
		{"log prefix dollar", func(r *Ruleset) { in(r, 5).Log = "a $b" }, &ValidationError{Chain: "input", Rule: 5}},
		{"log prefix newline", func(r *Ruleset) { in(r, 5).Log = "a\nb" }, &ValidationError{Chain: "input", Rule: 5}},
		{"comment NUL", func(r *Ruleset) { in(r, 5).Comment = "a\x00b" }, &ValidationError{Chain: "input", Rule: 5}},
		{"comment backslash", func(r *Ruleset) { in(r, 5).Comment = `a\b` }, &ValidationError{Chain: "input", Rule: 5}},
		{"comment bad utf-8", func(r *Ruleset) { in(r, 5).Comment = "a\xffb" }, &ValidationError{Chain: "input", Rule: 5}},
		{"comment unicode ok", func(r *Ruleset) { in(r, 5).Comment = "größe ✓" }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := sampleRuleset()
			if tc.want != nil && tc.want.Set == "$v4" {
				tc.want.Set = v4set(r)
			}
			tc.mutate(r)
			err := r.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v, want an error wrapping ErrInvalid", err)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %T, want *ValidationError", err)
			}
			got := ValidationError{Set: ve.Set, Chain: ve.Chain, Rule: ve.Rule}
			if diff := cmp.Diff(*tc.want, got); diff != "" {
				t.Errorf("Validate() = %v: location mismatch (-want +got):\n%s", err, diff)
			}
			if ve.Msg == "" {
				t.Errorf("Validate() = %v: empty message", err)
			}
		})
	}
}

func TestValidateNil(t *testing.T) {
	var r *Ruleset
	if err := r.Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("(*Ruleset)(nil).Validate() = %v, want ErrInvalid", err)
	}
}

func TestValidateLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds rulesets at the size limits")
	}
	t.Run("rules", func(t *testing.T) {
		r := &Ruleset{Version: IRVersion, Table: DefaultTable, Chains: []Chain{
			{Name: "input", Hook: HookInput, Policy: Drop, Rules: make([]Rule, MaxRules)},
			{Name: "output", Hook: HookOutput, Policy: Accept},
		}}
		for i := range r.Chains[0].Rules {
			r.Chains[0].Rules[i].Verdict = Accept
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("Validate() with %d rules = %v, want nil", MaxRules, err)
		}
		r.Chains[1].Rules = []Rule{{Verdict: Accept}}
		if err := r.Validate(); !errors.Is(err, ErrInvalid) {
			t.Fatalf("Validate() with %d rules = %v, want ErrInvalid", MaxRules+1, err)
		}
	})
	t.Run("elements", func(t *testing.T) {
		// Every other IPv6 /128 so that nothing merges.
		elems := make([]netip.Prefix, MaxElements)
		for i := range elems {
			var b [16]byte
			b[0] = 0xfd
			b[12], b[13], b[14], b[15] = byte(i>>23), byte(i>>15), byte(i>>7), byte(i<<1)
			elems[i] = netip.PrefixFrom(netip.AddrFrom16(b), 128)
		}
		r := &Ruleset{Version: IRVersion, Table: DefaultTable, Sets: []Set{{Name: "big", Type: SetIPv6, Elements: elems}}}
		if err := r.Validate(); err != nil {
			t.Fatalf("Validate() with %d elements = %v, want nil", MaxElements, err)
		}
		r.Chains = []Chain{{Name: "input", Hook: HookInput, Policy: Drop, Rules: []Rule{
			{Family: FamilyIPv4, Src: &AddrMatch{Prefixes: pfx("198.18.0.1")}, Verdict: Accept},
		}}}
		if err := r.Validate(); !errors.Is(err, ErrInvalid) {
			t.Fatalf("Validate() with %d elements = %v, want ErrInvalid", MaxElements+1, err)
		}
	})
}

func TestValidationErrorText(t *testing.T) {
	tests := []struct {
		err  ValidationError
		want string
	}{
		{ValidationError{Rule: -1, Msg: "m"}, "nft: m"},
		{ValidationError{Set: "v4_x", Rule: -1, Msg: "m"}, `nft: set "v4_x": m`},
		{ValidationError{Chain: "input", Rule: -1, Msg: "m"}, `nft: chain "input": m`},
		{ValidationError{Chain: "input", Rule: 3, Msg: "m"}, `nft: chain "input" rule 3: m`},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
}
