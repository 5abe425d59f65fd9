package nft

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRenderSample(t *testing.T) {
	r := sampleRuleset()
	if err := r.Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
	v4 := SetName(SetIPv4, r.Sets[1].Elements)
	v6 := SetName(SetIPv6, r.Sets[0].Elements)
	want := `table inet fwgit {
	set ` + v4 + ` {
		type ipv4_addr; flags interval;
		comment "tag role = www"
		elements = {
			198.18.0.10/31,
			198.18.1.0/24,
		}
	}
	set ` + v6 + ` {
		type ipv6_addr; flags interval;
		comment "tag role = www"
		elements = {
			fd00:1::10/127,
		}
	}
	chain input {
		type filter hook input priority 0; policy drop;
		ct state established,related accept comment "fwgit:established"
		ct state invalid drop comment "fwgit:invalid"
		iifname "lo" accept comment "fwgit:loopback"
		meta nfproto ipv6 meta l4proto icmpv6 icmpv6 type { 133, 134, 135, 136 } accept comment "fwgit:nd"
		meta nfproto ipv4 ip saddr 198.18.100.0/24 meta l4proto tcp tcp dport 22 accept comment "fwgit:management"
		meta nfproto ipv4 ip saddr @` + v4 + ` meta l4proto tcp tcp dport { 80, 443, 8000-8999 } log prefix "fwgit 1a2b3c4d " accept comment "rule:1a2b3c4d-0000-4000-8000-000000000001"
		meta nfproto ipv6 ip6 saddr @` + v6 + ` meta l4proto tcp tcp dport { 80, 443, 8000-8999 } log prefix "fwgit 1a2b3c4d " accept comment "rule:1a2b3c4d-0000-4000-8000-000000000001"
		meta nfproto ipv4 meta l4proto icmp icmp type 8 icmp code 0 accept comment "rule:2"
		meta nfproto ipv4 ip saddr { 198.18.7.0/24, 198.18.9.9 } ip daddr 198.18.0.1 meta l4proto udp udp dport 53 drop comment "rule:3"
		meta l4proto esp accept comment "rule:4"
		meta nfproto ipv6 meta l4proto ah log prefix "ah seen"
	}
	chain output {
		type filter hook output priority 0; policy accept;
		meta nfproto ipv6 oifname "veth*" ip6 daddr fd00:2::/64 drop comment "rule:5"
	}
}
`
	if diff := cmp.Diff(want, r.Render()); diff != "" {
		t.Errorf("Render() mismatch (-want +got):\n%s", diff)
	}
	sum := sha256.Sum256([]byte(want))
	if got, want := r.Digest(), "sha256:"+hex.EncodeToString(sum[:]); got != want {
		t.Errorf("Digest() = %s, want %s", got, want)
	}
	if got, want := r.RenderReplace(), "add table inet fwgit\ndelete table inet fwgit\n"+want; got != want {
		t.Errorf("RenderReplace() = %q, want %q", got, want)
	}
}

func TestRenderEmpty(t *testing.T) {
	tests := []struct {
		name        string
		r           *Ruleset
		wantReplace string
	}{
		{"nil", nil, "add table inet fwgit\ndelete table inet fwgit\n"},
		{"no chains or sets", &Ruleset{Version: IRVersion, Table: "other"}, "add table inet other\ndelete table inet other\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.Render(); got != "" {
				t.Errorf("Render() = %q, want \"\"", got)
			}
			if got := tc.r.RenderReplace(); got != tc.wantReplace {
				t.Errorf("RenderReplace() = %q, want %q", got, tc.wantReplace)
			}
			if got, want := tc.r.Digest(), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; got != want {
				t.Errorf("Digest() = %s, want %s (SHA-256 of nothing)", got, want)
			}
		})
	}
}

func TestRuleString(t *testing.T) {
	tests := []struct {
		name string
		rule Rule
		want string
	}{
		{"verdict only", Rule{Verdict: Drop}, "drop"},
		{"all ct states", Rule{CTState: CTNew | CTRelated | CTEstablished | CTInvalid, Verdict: Accept}, "ct state invalid,established,related,new accept"},
		{"single port range", Rule{Proto: ProtoUDP, DPorts: []PortRange{{1000, 2000}}, Verdict: Accept}, "meta l4proto udp udp dport 1000-2000 accept"},
		{"icmp any type", Rule{Family: FamilyIPv4, Proto: ProtoICMP, Verdict: Accept}, "meta nfproto ipv4 meta l4proto icmp accept"},
		{"icmpv6 code", Rule{Proto: ProtoICMPv6, ICMP: []ICMPMatch{{Type: 1, Code: u8(4)}}, Verdict: Drop}, "meta l4proto icmpv6 icmpv6 type 1 icmpv6 code 4 drop"},
		{"mapped address", Rule{Family: FamilyIPv6, Src: &AddrMatch{Prefixes: pfx("::ffff:198.18.0.1")}, Verdict: Drop}, "meta nfproto ipv6 ip6 saddr ::ffff:198.18.0.1 drop"},
		{"both interfaces", Rule{IIF: "eth0", OIF: "eth1", Verdict: Accept}, `iifname "eth0" oifname "eth1" accept`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.rule.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRenderDeterministic checks that Render depends only on content: the
// order sets come in and the order of elements before normalisation do not
// change a byte.
func TestRenderDeterministic(t *testing.T) {
	var elems []netip.Prefix
	for i := range 200 {
		elems = append(elems, netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(i), byte(i * 7)}), 24+i%9))
	}
	build := func(seed uint64) *Ruleset {
		rng := rand.New(rand.NewPCG(seed, seed))
		e := append([]netip.Prefix(nil), elems...)
		rng.Shuffle(len(e), func(i, j int) { e[i], e[j] = e[j], e[i] })
		r := sampleRuleset()
		r.Sets = append(r.Sets, Set{Name: SetName(SetIPv4, e), Type: SetIPv4, Elements: Normalize(e)})
		rng.Shuffle(len(r.Sets), func(i, j int) { r.Sets[i], r.Sets[j] = r.Sets[j], r.Sets[i] })
		return r
	}
	first := build(1)
	want := first.Render()
	if err := first.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	for seed := uint64(2); seed < 12; seed++ {
		r := build(seed)
		if got := r.Render(); got != want {
			t.Fatalf("seed %d: Render differs:\n%s", seed, cmp.Diff(want, got))
		}
		if r.Digest() != first.Digest() {
			t.Fatalf("seed %d: Digest differs", seed)
		}
	}
	if strings.Index(want, "set v4_") > strings.Index(want, "set v6_") {
		t.Errorf("sets are not sorted by name:\n%s", want)
	}
	// Render does not reorder the caller's sets.
	r := build(3)
	names := make([]string, len(r.Sets))
	for i := range r.Sets {
		names[i] = r.Sets[i].Name
	}
	r.Render()
	for i := range r.Sets {
		if r.Sets[i].Name != names[i] {
			t.Fatalf("Render reordered r.Sets")
		}
	}
}

func TestDigestChanges(t *testing.T) {
	base := sampleRuleset().Digest()
	tests := []struct {
		name   string
		mutate func(r *Ruleset)
	}{
		{"policy", func(r *Ruleset) { r.Chains[0].Policy = Accept }},
		{"port", func(r *Ruleset) { r.Chains[0].Rules[4].DPorts[0].Lo, r.Chains[0].Rules[4].DPorts[0].Hi = 2222, 2222 }},
		{"comment", func(r *Ruleset) { r.Chains[0].Rules[0].Comment = "x" }},
		{"set element", func(r *Ruleset) { r.Sets[1].Elements = pfx("198.18.0.10/31") }},
		{"rule order", func(r *Ruleset) { c := r.Chains[0].Rules; c[0], c[1] = c[1], c[0] }},
		{"table name", func(r *Ruleset) { r.Table = "fwgit2" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := sampleRuleset()
			tc.mutate(r)
			if got := r.Digest(); got == base {
				t.Errorf("Digest() unchanged after changing the %s", tc.name)
			}
		})
	}
}
