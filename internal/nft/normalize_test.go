package nft

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// prefixCmp compares netip values, which go-cmp cannot look into.
var prefixCmp = cmp.Options{
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
}

func pfx(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a := netip.MustParseAddr(s)
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out[i] = p
	}
	return out
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name string
		in   []netip.Prefix
		want []netip.Prefix
	}{
		{"nil", nil, nil},
		{"only invalid", []netip.Prefix{{}}, nil},
		{"single", pfx("198.18.0.1"), pfx("198.18.0.1/32")},
		{"masks host bits", pfx("198.18.0.77/24"), pfx("198.18.0.0/24")},
		{"duplicates", pfx("198.18.0.0/24", "198.18.0.0/24", "198.18.0.5/24"), pfx("198.18.0.0/24")},
		{"nested", pfx("198.18.1.0/24", "198.18.0.0/16", "198.18.2.3"), pfx("198.18.0.0/16")},
		{"adjacent halves merge", pfx("198.18.0.128/25", "198.18.0.0/25"), pfx("198.18.0.0/24")},
		{"adjacent hosts merge", pfx("198.18.0.1", "198.18.0.0", "198.18.0.3", "198.18.0.2"), pfx("198.18.0.0/30")},
		{"adjacent unaligned stay two", pfx("12.0.0.0/8", "11.0.0.0/8"), pfx("11.0.0.0/8", "12.0.0.0/8")},
		{"overlap across blocks", pfx("198.18.0.0/23", "198.18.1.0/24", "198.18.2.0/24"), pfx("198.18.0.0/23", "198.18.2.0/24")},
		{"range split minimally", pfx("198.18.0.1", "198.18.0.2/31", "198.18.0.4/30", "198.18.0.8"), pfx("198.18.0.1/32", "198.18.0.2/31", "198.18.0.4/30", "198.18.0.8/32")},
		{"sorted", pfx("198.19.0.0/16", "10.0.0.0/8", "198.18.5.0/24"), pfx("10.0.0.0/8", "198.18.5.0/24", "198.19.0.0/16")},
		{"families apart, v4 first", pfx("fd00::/8", "198.18.0.0/15", "0.0.0.0/0"), pfx("0.0.0.0/0", "fd00::/8")},
		{"v4 all swallows everything v4", pfx("198.18.0.0/24", "0.0.0.0/0", "255.255.255.255"), pfx("0.0.0.0/0")},
		{"top of v4 space", pfx("255.255.255.254", "255.255.255.255"), pfx("255.255.255.254/31")},
		{"v6 all", pfx("fd00::1", "::/0"), pfx("::/0")},
		{"v6 halves merge", pfx("8000::/1", "::/1"), pfx("::/0")},
		{"v6 top", pfx("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), pfx("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127")},
		{"v6 across the 64-bit word", pfx("fd00:0:0:0:ffff:ffff:ffff:ffff", "fd00:0:0:1::"), pfx("fd00::ffff:ffff:ffff:ffff/128", "fd00:0:0:1::/128")},
		{"v6 word boundary merge", pfx("fd00::/65", "fd00:0:0:0:8000::/65"), pfx("fd00::/64")},
		{"mapped stays v6", pfx("::ffff:198.18.0.1", "198.18.0.1"), pfx("198.18.0.1/32", "::ffff:198.18.0.1/128")},
		{"mapped merges with v6 only", pfx("::ffff:198.18.0.0/127", "::ffff:198.18.0.2/127"), pfx("::ffff:198.18.0.0/126")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]netip.Prefix(nil), tc.in...)
			got := Normalize(tc.in)
			if diff := cmp.Diff(tc.want, got, prefixCmp); diff != "" {
				t.Errorf("Normalize(%v) mismatch (-want +got):\n%s", tc.in, diff)
			}
			if diff := cmp.Diff(in, tc.in, prefixCmp); diff != "" {
				t.Errorf("Normalize modified its input:\n%s", diff)
			}
			if !IsNormalized(got) {
				t.Errorf("IsNormalized(Normalize(%v)) = false, want true", tc.in)
			}
		})
	}
}

// TestNormalizeCoverage checks on random inputs inside a small space that
// the result covers exactly the input addresses and is a fixed point.
func TestNormalizeCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := netip.MustParseAddr("198.18.0.0").As4()
	for iter := range 300 {
		n := rng.IntN(12)
		var in []netip.Prefix
		for range n {
			host := rng.IntN(1024)
			bits := 22 + rng.IntN(11)
			a := base
			a[2] = byte(host >> 8)
			a[3] = byte(host)
			in = append(in, netip.PrefixFrom(netip.AddrFrom4(a), bits))
		}
		got := Normalize(in)
		for host := range 1024 {
			a := base
			a[2] = byte(host >> 8)
			a[3] = byte(host)
			addr := netip.AddrFrom4(a)
			if containsAny(in, addr) != containsAny(got, addr) {
				t.Fatalf("iteration %d: Normalize(%v) = %v; coverage of %v differs", iter, in, got, addr)
			}
		}
		if again := Normalize(got); !cmp.Equal(again, got, prefixCmp) {
			t.Fatalf("Normalize is not idempotent: %v then %v", got, again)
		}
		for i := 1; i < len(got); i++ {
			if got[i-1].Overlaps(got[i]) || got[i-1].Addr().Compare(got[i].Addr()) >= 0 {
				t.Fatalf("Normalize(%v) = %v: not sorted and disjoint", in, got)
			}
			// Two neighbours that make up one aligned prefix must have been merged.
			if got[i-1].Bits() == got[i].Bits() {
				parent, _ := got[i-1].Addr().Prefix(got[i].Bits() - 1)
				if parent.Contains(got[i].Addr()) {
					t.Fatalf("Normalize(%v) = %v: %v and %v should merge", in, got, got[i-1], got[i])
				}
			}
		}
	}
}

func containsAny(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func TestIsNormalized(t *testing.T) {
	tests := []struct {
		name string
		in   []netip.Prefix
		want bool
	}{
		{"empty", nil, true},
		{"normalised", pfx("11.0.0.0/8", "12.0.0.0/8", "fd00::/8"), true},
		{"unmasked", []netip.Prefix{netip.MustParsePrefix("198.18.0.1/24")}, false},
		{"unsorted", pfx("198.18.1.0/24", "10.0.0.0/8"), false},
		{"mergeable", pfx("198.18.0.0/25", "198.18.0.128/25"), false},
		{"nested", pfx("198.18.0.0/16", "198.18.0.0/24"), false},
		{"invalid", []netip.Prefix{{}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsNormalized(tc.in); got != tc.want {
				t.Errorf("IsNormalized(%v) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestIntervals(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name string
		in   []netip.Prefix
		want []Interval
	}{
		{"empty", nil, []Interval{}},
		{"host", pfx("198.18.0.1"), []Interval{{a("198.18.0.1"), a("198.18.0.2")}}},
		{"merged first", pfx("198.18.0.128/25", "198.18.0.0/25"), []Interval{{a("198.18.0.0"), a("198.18.1.0")}}},
		{"one per prefix", pfx("11.0.0.0/8", "12.0.0.0/8"), []Interval{{a("11.0.0.0"), a("12.0.0.0")}, {a("12.0.0.0"), a("13.0.0.0")}}},
		{"v4 top has no end", pfx("255.255.255.0/24"), []Interval{{Start: a("255.255.255.0")}}},
		{"v4 all", pfx("0.0.0.0/0"), []Interval{{Start: a("0.0.0.0")}}},
		{"v6 carry", pfx("fd00::ffff:ffff:ffff:ffff"), []Interval{{a("fd00::ffff:ffff:ffff:ffff"), a("fd00:0:0:1::")}}},
		{"v6 all", pfx("::/0"), []Interval{{Start: a("::")}}},
		{"mixed", pfx("fd00::/8", "198.18.0.0/15"), []Interval{{a("198.18.0.0"), a("198.20.0.0")}, {a("fd00::"), a("fe00::")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Intervals(tc.in)
			if diff := cmp.Diff(tc.want, got, prefixCmp); diff != "" {
				t.Errorf("Intervals(%v) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

// TestIntervalPrefixes covers ranges as the kernel lists them: any order,
// overlapping, touching, and not on prefix boundaries.
func TestIntervalPrefixes(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name string
		in   []Interval
		want []netip.Prefix
	}{
		{"none", nil, nil},
		{"invalid start", []Interval{{End: a("198.18.0.1")}}, nil},
		{"empty", []Interval{{a("198.18.0.1"), a("198.18.0.1")}}, nil},
		{"backwards", []Interval{{a("198.18.0.2"), a("198.18.0.1")}}, nil},
		{"mixed families", []Interval{{a("198.18.0.1"), a("fd00::1")}, {a("fd00::1"), a("198.18.0.2")}}, nil},
		{"one prefix", []Interval{{a("10.0.0.0"), a("11.0.0.0")}}, pfx("10.0.0.0/8")},
		{"no end runs to the top", []Interval{{Start: a("224.0.0.0")}}, pfx("224.0.0.0/3")},
		{"unsorted, overlapping and touching", []Interval{
			{a("172.16.0.0"), a("172.32.0.0")}, {a("10.0.0.128"), a("10.0.1.0")}, {a("10.0.0.0"), a("10.0.0.200")},
		}, pfx("10.0.0.0/24", "172.16.0.0/12")},
		{"mapped stays v6, v4 first", []Interval{{a("::ffff:198.18.0.0"), a("::ffff:198.18.0.4")}, {a("198.18.0.0"), a("198.18.0.1")}},
			pfx("198.18.0.0/32", "::ffff:198.18.0.0/126")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, IntervalPrefixes(tc.in), prefixCmp); diff != "" {
				t.Errorf("IntervalPrefixes(%v) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

// TestIntervalPrefixesRange checks the split of one inclusive range into
// the fewest prefixes.
func TestIntervalPrefixesRange(t *testing.T) {
	tests := []struct {
		lo, hi string
		want   []string
	}{
		{"10.0.0.1", "10.0.0.6", []string{"10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"}},
		{"0.0.0.0", "255.255.255.255", []string{"0.0.0.0/0"}},
		{"255.255.255.255", "255.255.255.255", []string{"255.255.255.255/32"}},
		{"::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", []string{"::/0"}},
		{"fd00::", "fd00:0:0:1::ffff", []string{"fd00::/64", "fd00:0:0:1::/112"}},
		{"fd00::8000:0:0:0", "fd00::ffff:ffff:ffff:ffff", []string{"fd00::8000:0:0:0/65"}},
	}
	for _, tc := range tests {
		t.Run(tc.lo+"-"+tc.hi, func(t *testing.T) {
			lo, hi := netip.MustParseAddr(tc.lo), netip.MustParseAddr(tc.hi)
			// Next is the zero Addr after the top address: no end.
			got := IntervalPrefixes([]Interval{{Start: lo, End: hi.Next()}})
			var gs []string
			for _, p := range got {
				gs = append(gs, p.String())
			}
			if diff := cmp.Diff(tc.want, gs); diff != "" {
				t.Errorf("IntervalPrefixes(%s-%s) mismatch (-want +got):\n%s", tc.lo, tc.hi, diff)
			}
		})
	}
}

// TestIntervalPrefixesInverse checks IntervalPrefixes(Intervals(ps)) ==
// Normalize(ps) on random inputs of both families, and that
// PrefixInterval of each prefix of a normalised list is its interval.
func TestIntervalPrefixesInverse(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	b4 := netip.MustParseAddr("198.18.0.0").As4()
	b6 := netip.MustParseAddr("fd00::").As16()
	for range 300 {
		var in []netip.Prefix
		for range rng.IntN(12) {
			host := rng.IntN(1024)
			if rng.IntN(2) == 0 {
				a := b4
				a[2], a[3] = byte(host>>8), byte(host)
				in = append(in, netip.PrefixFrom(netip.AddrFrom4(a), 22+rng.IntN(11)))
			} else {
				a := b6
				a[14], a[15] = byte(host>>8), byte(host)
				in = append(in, netip.PrefixFrom(netip.AddrFrom16(a), 118+rng.IntN(11)))
			}
		}
		if rng.IntN(20) == 0 {
			in = append(in, netip.MustParsePrefix("255.255.255.0/24"), netip.MustParsePrefix("::/0"))
		}
		ivs := Intervals(in)
		if got, want := IntervalPrefixes(ivs), Normalize(in); !cmp.Equal(got, want, prefixCmp) {
			t.Fatalf("IntervalPrefixes(Intervals(%v)) = %v, want %v", in, got, want)
		}
		for i, p := range Normalize(in) {
			if iv := PrefixInterval(p); iv != ivs[i] {
				t.Fatalf("PrefixInterval(%v) = %v, want %v", p, iv, ivs[i])
			}
		}
	}
	if iv := PrefixInterval(netip.Prefix{}); iv != (Interval{}) {
		t.Errorf("PrefixInterval(invalid) = %v, want the zero Interval", iv)
	}
	if iv, want := PrefixInterval(netip.MustParsePrefix("198.18.0.77/24")), (Interval{netip.MustParseAddr("198.18.0.0"), netip.MustParseAddr("198.18.1.0")}); iv != want {
		t.Errorf("PrefixInterval(198.18.0.77/24) = %v, want %v (masked)", iv, want)
	}
}

func TestSetName(t *testing.T) {
	a := SetName(SetIPv4, pfx("198.18.0.0/24", "198.18.1.0/24", "10.0.0.1"))
	tests := []struct {
		name  string
		typ   SetType
		elems []netip.Prefix
		same  bool
	}{
		{"reordered", SetIPv4, pfx("10.0.0.1", "198.18.1.0/24", "198.18.0.0/24"), true},
		{"same after normalising", SetIPv4, pfx("198.18.0.0/23", "10.0.0.1", "10.0.0.1"), true},
		{"unmasked input", SetIPv4, pfx("198.18.0.9/23", "10.0.0.1"), true},
		{"one more member", SetIPv4, pfx("198.18.0.0/23", "10.0.0.1", "10.0.0.2"), false},
		{"one member less", SetIPv4, pfx("198.18.0.0/23"), false},
	}
	if len(a) != 15 || a[:3] != "v4_" || !validName(a) {
		t.Fatalf("SetName = %q, want v4_ and 12 hex digits", a)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := SetName(tc.typ, tc.elems)
			if (got == a) != tc.same {
				t.Errorf("SetName(%v) = %q, base %q: same = %v, want %v", tc.elems, got, a, got == a, tc.same)
			}
		})
	}
	if got := SetName(SetIPv6, pfx("fd00::1")); got[:3] != "v6_" || len(got) != 15 {
		t.Errorf("SetName(SetIPv6, …) = %q, want v6_ and 12 hex digits", got)
	}
}

func TestNormalizePorts(t *testing.T) {
	tests := []struct {
		name string
		in   []PortRange
		want []PortRange
	}{
		{"nil", nil, nil},
		{"sorted", []PortRange{{443, 443}, {80, 80}}, []PortRange{{80, 80}, {443, 443}}},
		{"reversed range", []PortRange{{2000, 1000}}, []PortRange{{1000, 2000}}},
		{"overlap", []PortRange{{1000, 2000}, {1500, 2500}, {22, 22}}, []PortRange{{22, 22}, {1000, 2500}}},
		{"adjacent", []PortRange{{80, 80}, {81, 81}, {83, 90}}, []PortRange{{80, 81}, {83, 90}}},
		{"contained", []PortRange{{1, 65535}, {80, 80}}, []PortRange{{1, 65535}}},
		{"top", []PortRange{{65535, 65535}, {65534, 65534}, {65535, 65535}}, []PortRange{{65534, 65535}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, NormalizePorts(tc.in)); diff != "" {
				t.Errorf("NormalizePorts(%v) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}
