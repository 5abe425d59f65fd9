package nft

import (
	"net/netip"
	"testing"
)

func BenchmarkRenderDigest(b *testing.B) {
	for _, bc := range []struct {
		name         string
		rules, elems int
	}{
		{"rules=10000", 10000, 16},
		{"elements=50000", 1, 50000},
	} {
		r := largeRuleset(bc.rules, bc.elems)
		if err := r.Validate(); err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = r.Digest() // Digest renders
			}
		})
	}
}

func BenchmarkValidate(b *testing.B) {
	r := largeRuleset(10000, 50000)
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNormalize(b *testing.B) {
	in := make([]netip.Prefix, 50000)
	for i := range in {
		in[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 14), byte(i >> 6), byte(i << 2)}), 30+i%3)
	}
	b.ReportAllocs()
	for b.Loop() {
		Normalize(in)
	}
}

// BenchmarkEval evaluates packets against a 500-rule input chain; the
// packet that matches nothing walks every rule.
func BenchmarkEval(b *testing.B) {
	r := largeRuleset(500, 1000)
	for _, bc := range []struct {
		name string
		p    Packet
	}{
		{"last-rule", Packet{Hook: HookInput, Src: netip.AddrFrom4([4]byte{198, 18, 1, 243}), Proto: ProtoTCP, DPort: 500}},
		{"policy", Packet{Hook: HookInput, Src: netip.AddrFrom4([4]byte{203, 0, 113, 1}), Proto: ProtoTCP, DPort: 1}},
	} {
		if got := r.Eval(bc.p); (bc.name == "policy") != (got.Rule == -1) {
			b.Fatalf("Eval(%+v) = %+v", bc.p, got)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.Eval(bc.p)
			}
		})
	}
}
