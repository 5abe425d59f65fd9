package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/fwgit/fwgit/agent/agentconfig"
	"github.com/fwgit/fwgit/agent/dataplane"
	"github.com/fwgit/fwgit/agent/safety"
	"github.com/fwgit/fwgit/internal/agentapi"
	"github.com/fwgit/fwgit/internal/nft"
)

// shape builds a ruleset of the given size: rules rules in the input chain
// (each a source set and a port, cycling over a few sets), and cidrs /24
// prefixes spread over those sets.
func shape(rules, cidrs int) *nft.Ruleset {
	const nsets = 16
	elems := make([][]netip.Prefix, nsets)
	for i := range cidrs {
		// 10.0.0.0/8 in /24 steps, then the next /8s: never adjacent within
		// one set, so Normalize keeps them all.
		n := i * nsets
		a := netip.AddrFrom4([4]byte{byte(10 + n>>16), byte(n >> 8), byte(n), 0})
		elems[i%nsets] = append(elems[i%nsets], netip.PrefixFrom(a, 24))
	}
	rs := &nft.Ruleset{Version: nft.IRVersion, Table: nft.DefaultTable}
	var names []string
	for i := range nsets {
		ps := nft.Normalize(elems[i])
		if len(ps) == 0 {
			ps = []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(i), 0}), 24)}
		}
		name := nft.SetName(nft.SetIPv4, ps)
		rs.Sets = append(rs.Sets, nft.Set{Name: name, Type: nft.SetIPv4, Elements: ps, Comment: fmt.Sprintf("tag group %d", i)})
		names = append(names, name)
	}
	slices.SortFunc(rs.Sets, func(a, b nft.Set) int { return strings.Compare(a.Name, b.Name) })
	in := nft.Chain{Name: "input", Hook: nft.HookInput, Policy: nft.Drop, Rules: []nft.Rule{
		{CTState: nft.CTEstablished | nft.CTRelated, Verdict: nft.Accept, Comment: "fwgit:established"},
		{CTState: nft.CTInvalid, Verdict: nft.Drop, Comment: "fwgit:invalid"},
		{IIF: "lo", Verdict: nft.Accept, Comment: "fwgit:loopback"},
	}}
	for i := range rules {
		port := uint16(1024 + i%60000)
		in.Rules = append(in.Rules, nft.Rule{
			Family: nft.FamilyIPv4, Src: &nft.AddrMatch{Set: names[i%nsets]}, Proto: nft.ProtoTCP,
			DPorts: []nft.PortRange{{Lo: port, Hi: port}}, Verdict: nft.Accept,
			Comment: fmt.Sprintf("rule:%08x-0000-4000-8000-000000000000", i),
		})
	}
	rs.Chains = []nft.Chain{in, {Name: "output", Hook: nft.HookOutput, Policy: nft.Accept}}
	return rs
}

var shapes = []struct {
	name         string
	rules, cidrs int
}{
	{"policy-500", 500, 2000},
	{"rules-10k", 10_000, 16},
	{"set-50k", 10, 50_000},
}

// BenchmarkReapplyUnchanged measures PUT /ruleset of the ruleset the agent
// already runs, end to end over HTTPS on loopback with a kept-alive
// connection: decoding, digest and IR checks, no kernel work. The goal is
// 5 ms for a realistic policy.
//
// The "-decoded" variants change the revision string in every request (same
// digest), so the body differs each time and is decoded and checked in full
// instead of being recognised by its hash.
func BenchmarkReapplyUnchanged(b *testing.B) {
	for _, s := range shapes {
		for _, vary := range []bool{false, true} {
			name := s.name
			if vary {
				name += "-decoded"
			}
			b.Run(name, func(b *testing.B) { benchReapply(b, s.rules, s.cidrs, vary) })
		}
	}
}

func benchReapply(b *testing.B, rules, cidrs int, vary bool) {
	cfg, res := setup(b, agentconfig.DriftRepair)
	kernel := dataplane.NewFakeApplier(cfg.Table)
	r := run(b, cfg, res, kernel, safety.NewFakeClock(t0))
	rs := shape(rules, cidrs)
	req := &agentapi.RulesetRequest{Version: agentapi.Version, Generation: 1, Digest: rs.Digest(), Ruleset: rs}
	body, err := json.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	put := func() {
		if vary {
			n++
			req.Revision = fmt.Sprintf("main@sha1:%040x", n)
			body, _ = json.Marshal(req)
		}
		hr, _ := http.NewRequest(http.MethodPut, r.base+"/api/v1/ruleset", bytes.NewReader(body))
		hr.Header.Set(agentapi.HeaderAPIKey, r.key)
		resp, err := r.client.Do(hr)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("PUT = %d", resp.StatusCode)
		}
	}
	put()
	applies := kernel.Applies()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for b.Loop() {
		put()
	}
	b.StopTimer()
	if kernel.Applies() != applies {
		b.Fatalf("unchanged re-apply reached the kernel")
	}
}

// BenchmarkGuardReapplyUnchanged is the same without HTTP and JSON: the
// digest and IR checks alone.
func BenchmarkGuardReapplyUnchanged(b *testing.B) {
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) {
			store, err := safety.OpenStore(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			g := safety.NewGuard(safety.Options{Applier: dataplane.NewFakeApplier(""), Store: store, Table: nft.DefaultTable,
				Failsafe: safety.Failsafe{APIPort: 33033, AllowedIPs: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/24")}}})
			defer g.Close()
			rs := shape(s.rules, s.cidrs)
			req := &agentapi.RulesetRequest{Version: agentapi.Version, Generation: 1, Digest: rs.Digest(), Ruleset: rs}
			if _, err := g.Apply(b.Context(), req); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if res, err := g.Apply(b.Context(), req); err != nil || res.Changed {
					b.Fatalf("re-apply = %+v, %v", res, err)
				}
			}
		})
	}
}
