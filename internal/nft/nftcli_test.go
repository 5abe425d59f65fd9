package nft

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// nftCheck runs `nft -c -f` on text: a dry run that the kernel validates
// and then rolls back, so it changes nothing on the host. It skips the test
// under -short, without the nft binary, or without the permission to talk
// to nftables.
func nftCheck(t *testing.T, text string) error {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping nft -c checks in -short mode")
	}
	bin, err := exec.LookPath("nft")
	if err != nil {
		t.Skip("nft not installed")
	}
	run := func(text string) (string, error) {
		f := filepath.Join(t.TempDir(), "ruleset.nft")
		if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		cmd := exec.Command(bin, "-c", "-f", f)
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	probeOnce.Do(func() {
		if out, err := run("table inet fwgit_probe {\n}\n"); err != nil {
			probeErr = fmt.Sprintf("%v: %s", err, out)
		}
	})
	if probeErr != "" {
		t.Skipf("nft -c does not work here (needs CAP_NET_ADMIN): %s", probeErr)
	}
	out, err := run(text)
	if err != nil {
		return &nftError{err: err, out: out}
	}
	return nil
}

var (
	probeOnce sync.Once
	probeErr  string
)

type nftError struct {
	err error
	out string
}

func (e *nftError) Error() string { return e.err.Error() + ": " + e.out }

// TestRenderLoadsKernel checks that nft accepts what Render prints.
func TestRenderLoadsKernel(t *testing.T) {
	tests := []struct {
		name string
		r    *Ruleset
	}{
		{"sample", sampleRuleset()},
		{"large", largeRuleset(2000, 5000)},
		{"edge values", &Ruleset{Version: IRVersion, Table: "t-1_x", Sets: []Set{
			{Name: "all4", Type: SetIPv4, Elements: pfx("0.0.0.0/0")},
			{Name: "all6", Type: SetIPv6, Elements: pfx("::/0"), Comment: "ünïcode 'single' $dollar #hash ;{}[]"},
			{Name: "top6", Type: SetIPv6, Elements: pfx("::ffff:0.0.0.0/96", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")},
			{Name: "empty", Type: SetIPv4},
		}, Chains: []Chain{
			{Name: "input", Hook: HookInput, Priority: -2147483648, Policy: Accept, Rules: []Rule{
				{Family: FamilyIPv4, Src: &AddrMatch{Set: "all4"}, Dst: &AddrMatch{Prefixes: pfx("255.255.255.255")}, Proto: ProtoTCP, DPorts: []PortRange{{1, 1}, {65535, 65535}}, Verdict: Accept, Comment: strings.Repeat("c", MaxCommentLen)},
				{Family: FamilyIPv6, Src: &AddrMatch{Set: "top6"}, Proto: ProtoUDP, DPorts: []PortRange{{1, 65535}}, Log: strings.Repeat("l", MaxLogPrefixLen), Verdict: Drop},
				{IIF: "a.b-c@d+e_f1234", Proto: ProtoICMP, ICMP: []ICMPMatch{{Type: 0}, {Type: 255}}, Verdict: Accept, Comment: "ünïcode 'single' $dollar #hash ;{}[]"},
				{Family: FamilyIPv4, Proto: ProtoICMP, ICMP: []ICMPMatch{{Type: 3, Code: u8(255)}}, Verdict: Accept},
				{CTState: CTNew, Proto: ProtoAH, Verdict: Accept},
			}},
			{Name: "output", Hook: HookOutput, Priority: 2147483647, Policy: Accept},
			{Name: "forward", Hook: HookForward, Priority: 0, Policy: Drop, Rules: []Rule{{OIF: "x*", Log: "log only 'quoted' #"}}},
		}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.r.Validate(); err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			if err := nftCheck(t, tc.r.Render()); err != nil {
				t.Errorf("nft -c -f of Render() = %v", err)
			}
			if err := nftCheck(t, tc.r.RenderReplace()); err != nil {
				t.Errorf("nft -c -f of RenderReplace() = %v", err)
			}
		})
	}
}

// TestRenderNamesKernel checks names against nft's parser: names Validate
// accepts load, and the names of the keyword list are really refused by
// the installed nft as table names (the list may hold a few more, reserved
// by newer releases).
func TestRenderNamesKernel(t *testing.T) {
	ok := []string{"input", "output", "forward", "prerouting", "filter", "fwgit", "v4_0123456789ab", "a-b", "_x", "X9", "nat", "raw", "mangle", "security", "established", "related", "new", "invalid", "saddr", "daddr", "dport", "state", "code"}
	for _, name := range ok {
		if !validName(name) {
			t.Errorf("validName(%q) = false, want true", name)
			continue
		}
		r := &Ruleset{Version: IRVersion, Table: name,
			Sets:   []Set{{Name: name, Type: SetIPv4, Elements: pfx("198.18.0.1")}},
			Chains: []Chain{{Name: name, Hook: HookInput, Policy: Accept, Rules: []Rule{{Family: FamilyIPv4, Src: &AddrMatch{Set: name}, Verdict: Accept}}}},
		}
		if err := r.Validate(); err != nil {
			t.Errorf("Validate() with name %q = %v", name, err)
			continue
		}
		if err := nftCheck(t, r.Render()); err != nil {
			t.Errorf("name %q: nft -c -f = %v", name, err)
		}
	}
	newer := map[string]bool{"destroy": true, "last": true, "vxlan": true, "geneve": true, "gre": true, "gretap": true, "vni": true}
	for kw := range nftKeywords {
		if newer[kw] {
			continue
		}
		doc := "table inet " + kw + " {\n\tset " + kw + " { type ipv4_addr; flags interval; }\n" +
			"\tchain " + kw + " {\n\t\ttype filter hook input priority 0; policy accept;\n\t\tip saddr @" + kw + " accept\n\t}\n}\n"
		if err := nftCheck(t, doc); err == nil {
			t.Errorf("nft accepts keyword %q as a table, chain and set name; drop it from nftKeywords", kw)
		}
	}
}

// largeRuleset has rules rules in the input chain, each with its own
// address, and one IPv4 set of elems elements.
func largeRuleset(rules, elems int) *Ruleset {
	var set []netip.Prefix
	for i := range elems {
		// Every other /32 so that nothing merges.
		set = append(set, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 15), byte(i >> 7), byte(i << 1)}), 32))
	}
	set = Normalize(set)
	name := SetName(SetIPv4, set)
	r := &Ruleset{Version: IRVersion, Table: DefaultTable,
		Sets: []Set{{Name: name, Type: SetIPv4, Elements: set}},
		Chains: []Chain{
			{Name: "input", Hook: HookInput, Policy: Drop, Rules: []Rule{
				{CTState: CTEstablished | CTRelated, Verdict: Accept, Comment: "fwgit:established"},
				{Family: FamilyIPv4, Src: &AddrMatch{Set: name}, Verdict: Accept, Comment: "set"},
			}},
			{Name: "output", Hook: HookOutput, Policy: Accept},
		},
	}
	for i := range rules {
		r.Chains[0].Rules = append(r.Chains[0].Rules, Rule{
			Family:  FamilyIPv4,
			Src:     &AddrMatch{Prefixes: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), 32)}},
			Proto:   ProtoTCP,
			DPorts:  []PortRange{{uint16(1 + i%60000), uint16(1 + i%60000)}},
			Verdict: Accept,
			Comment: "rule:" + string(rune('a'+i%26)),
		})
	}
	return r
}
