package nft

import (
	"cmp"
	"math/bits"
	"net/netip"
	"slices"
)

// Normalize returns the minimal sorted list of prefixes that covers exactly
// the addresses of ps: every prefix is masked, duplicates and prefixes
// inside others are dropped, and overlapping or adjacent prefixes are merged
// (198.18.0.0/24 and 198.18.1.0/24 become 198.18.0.0/23). IPv4 and IPv6 are
// kept apart; IPv4 prefixes sort first. An IPv4-mapped IPv6 prefix
// (::ffff:198.18.0.1/128) stays IPv6, because nftables matches it only in an
// IPv6 header. Invalid prefixes are dropped. The input is not modified, and
// the result is never nil when the input holds a valid prefix.
//
// Normalize is what the kernel needs for interval sets: it neither merges
// nor fully validates intervals (see spec/nftables-limits.md, G4).
func Normalize(ps []netip.Prefix) []netip.Prefix {
	rs := make([]addrRange, 0, len(ps))
	for _, p := range ps {
		if !p.IsValid() {
			continue
		}
		p = p.Masked()
		lo := toU128(p.Addr())
		bitLen := p.Addr().BitLen()
		hi := lo.or(hostMask(bitLen - p.Bits()))
		rs = append(rs, addrRange{v6: bitLen == 128, lo: lo, hi: hi})
	}
	return normalizeRanges(rs)
}

// normalizeRanges returns the minimal sorted prefixes covering exactly the
// ranges rs, which it sorts in place; nil for none.
func normalizeRanges(rs []addrRange) []netip.Prefix {
	if len(rs) == 0 {
		return nil
	}
	slices.SortFunc(rs, func(a, b addrRange) int {
		if a.v6 != b.v6 {
			if a.v6 {
				return 1
			}
			return -1
		}
		if c := a.lo.cmp(b.lo); c != 0 {
			return c
		}
		return b.hi.cmp(a.hi)
	})
	// Merge overlapping and adjacent ranges of the same family.
	merged := rs[:1]
	for _, r := range rs[1:] {
		last := &merged[len(merged)-1]
		if last.v6 == r.v6 && (last.hi.isMax(last.bitLen()) || r.lo.cmp(last.hi.add1()) <= 0) {
			if r.hi.cmp(last.hi) > 0 {
				last.hi = r.hi
			}
			continue
		}
		merged = append(merged, r)
	}
	out := make([]netip.Prefix, 0, len(merged))
	for _, r := range merged {
		out = r.appendPrefixes(out)
	}
	return out
}

// IsNormalized reports whether ps is already in the form [Normalize]
// returns: valid, masked, sorted, non-overlapping and with no two prefixes
// that could be merged into one.
func IsNormalized(ps []netip.Prefix) bool {
	return slices.Equal(Normalize(ps), ps)
}

// Interval is one interval of an nftables interval set, as the kernel
// stores it: Start is the first address and End the first address after
// the interval. End is the zero [netip.Addr] when the interval runs to the
// top of the address space (255.255.255.255 or ffff:…:ffff): the kernel
// then gets no end element.
type Interval struct {
	Start netip.Addr
	End   netip.Addr
}

// Intervals returns one [Interval] per prefix of [Normalize](ps), in the
// same order. These are the start and end elements the agent sends for an
// interval set; one interval per prefix (rather than per merged range)
// keeps what the kernel lists equal to the prefixes [Ruleset.Render]
// prints.
func Intervals(ps []netip.Prefix) []Interval {
	norm := Normalize(ps)
	out := make([]Interval, 0, len(norm))
	for _, p := range norm {
		out = append(out, PrefixInterval(p))
	}
	return out
}

// PrefixInterval returns the [Interval] of the masked prefix p, whatever
// the other prefixes of its set; the zero Interval for an invalid p.
// [Intervals] is PrefixInterval of every prefix of [Normalize](ps).
func PrefixInterval(p netip.Prefix) Interval {
	if !p.IsValid() {
		return Interval{}
	}
	p = p.Masked()
	bitLen := p.Addr().BitLen()
	last := toU128(p.Addr()).or(hostMask(bitLen - p.Bits()))
	iv := Interval{Start: p.Addr()}
	if !last.isMax(bitLen) {
		iv.End = last.add1().addr(bitLen)
	}
	return iv
}

// IntervalPrefixes is the inverse of [Intervals]: it returns the minimal
// sorted list of prefixes, as [Normalize] returns it, that covers exactly
// the addresses of ivs, so IntervalPrefixes(Intervals(ps)) equals
// Normalize(ps). The intervals may come in any order, overlap and touch,
// and need not start or end on a prefix boundary. An interval whose Start
// is invalid, whose End is not after Start, or whose End is of the other
// family (IPv4 versus IPv6; an IPv4-mapped address is IPv6) covers
// nothing. It turns the intervals read back from a kernel set into the
// prefixes of the IR.
func IntervalPrefixes(ivs []Interval) []netip.Prefix {
	rs := make([]addrRange, 0, len(ivs))
	for _, iv := range ivs {
		if !iv.Start.IsValid() {
			continue
		}
		bitLen := iv.Start.BitLen()
		r := addrRange{v6: bitLen == 128, lo: toU128(iv.Start), hi: hostMask(bitLen)}
		if iv.End.IsValid() {
			if iv.End.BitLen() != bitLen || iv.End.Compare(iv.Start) <= 0 {
				continue
			}
			r.hi = toU128(iv.End).sub1()
		}
		rs = append(rs, r)
	}
	return normalizeRanges(rs)
}

// addrRange is an inclusive address range of one family.
type addrRange struct {
	v6     bool
	lo, hi u128
}

func (r addrRange) bitLen() int {
	if r.v6 {
		return 128
	}
	return 32
}

// appendPrefixes appends the minimal prefixes covering r, in order.
func (r addrRange) appendPrefixes(out []netip.Prefix) []netip.Prefix {
	bitLen := r.bitLen()
	lo := r.lo
	for {
		// The largest block starting at lo: limited by lo's alignment and
		// by the end of the range.
		host := min(lo.trailingZeros(), bitLen)
		for host > 0 && lo.or(hostMask(host)).cmp(r.hi) > 0 {
			host--
		}
		out = append(out, netip.PrefixFrom(lo.addr(bitLen), bitLen-host))
		last := lo.or(hostMask(host))
		if last.cmp(r.hi) >= 0 || last.isMax(bitLen) {
			return out
		}
		lo = last.add1()
	}
}

// u128 is an address as an unsigned 128-bit number; IPv4 addresses use the
// low 32 bits.
type u128 struct{ hi, lo uint64 }

func toU128(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{lo: uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])}
	}
	b := a.As16()
	var u u128
	for i := range 8 {
		u.hi = u.hi<<8 | uint64(b[i])
		u.lo = u.lo<<8 | uint64(b[8+i])
	}
	return u
}

func (u u128) addr(bitLen int) netip.Addr {
	if bitLen == 32 {
		return netip.AddrFrom4([4]byte{byte(u.lo >> 24), byte(u.lo >> 16), byte(u.lo >> 8), byte(u.lo)})
	}
	var b [16]byte
	for i := range 8 {
		b[i] = byte(u.hi >> (56 - 8*i))
		b[8+i] = byte(u.lo >> (56 - 8*i))
	}
	return netip.AddrFrom16(b)
}

// hostMask returns a value with the low n bits set (0 ≤ n ≤ 128).
func hostMask(n int) u128 {
	switch {
	case n <= 0:
		return u128{}
	case n < 64:
		return u128{lo: 1<<n - 1}
	case n < 128:
		return u128{hi: 1<<(n-64) - 1, lo: ^uint64(0)}
	}
	return u128{hi: ^uint64(0), lo: ^uint64(0)}
}

func (u u128) or(v u128) u128 { return u128{u.hi | v.hi, u.lo | v.lo} }

func (u u128) add1() u128 {
	lo, carry := bits.Add64(u.lo, 1, 0)
	return u128{u.hi + carry, lo}
}

func (u u128) sub1() u128 {
	lo, borrow := bits.Sub64(u.lo, 1, 0)
	return u128{u.hi - borrow, lo}
}

func (u u128) cmp(v u128) int {
	if c := cmp.Compare(u.hi, v.hi); c != 0 {
		return c
	}
	return cmp.Compare(u.lo, v.lo)
}

func (u u128) isMax(bitLen int) bool { return u == hostMask(bitLen) }

func (u u128) trailingZeros() int {
	if u.lo != 0 {
		return bits.TrailingZeros64(u.lo)
	}
	return 64 + bits.TrailingZeros64(u.hi)
}
