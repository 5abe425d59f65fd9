package dataplane

import (
	"cmp"
	"math/bits"
	"net/netip"
)

// u128 is a set key of up to 16 bytes as an unsigned number (big-endian
// keys: addresses and ports).
type u128 struct{ hi, lo uint64 }

func keyU128(k []byte) u128 {
	var u u128
	for _, b := range k {
		u.hi = u.hi<<8 | u.lo>>56
		u.lo = u.lo<<8 | uint64(b)
	}
	return u
}

func (u u128) cmp(v u128) int {
	if c := cmp.Compare(u.hi, v.hi); c != 0 {
		return c
	}
	return cmp.Compare(u.lo, v.lo)
}

func (u u128) sub1() u128 {
	lo, borrow := bits.Sub64(u.lo, 1, 0)
	return u128{u.hi - borrow, lo}
}

func (u u128) add1() u128 {
	lo, carry := bits.Add64(u.lo, 1, 0)
	return u128{u.hi + carry, lo}
}

func (u u128) or(v u128) u128 { return u128{u.hi | v.hi, u.lo | v.lo} }

func (u u128) trailingZeros() int {
	if u.lo != 0 {
		return bits.TrailingZeros64(u.lo)
	}
	return 64 + bits.TrailingZeros64(u.hi)
}

// maxU128 returns the largest key of n bits (0 ≤ n ≤ 128).
func maxU128(n int) u128 {
	switch {
	case n <= 0:
		return u128{}
	case n < 64:
		return u128{lo: 1<<n - 1}
	case n < 128:
		return u128{hi: 1<<(n-64) - 1, lo: ^uint64(0)}
	}
	return u128{^uint64(0), ^uint64(0)}
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

// appendRangePrefixes appends the fewest prefixes that cover the inclusive
// address range [lo, hi] of an address family of bitLen bits.
func appendRangePrefixes(out []netip.Prefix, lo, hi u128, bitLen int) []netip.Prefix {
	if lo.cmp(hi) > 0 {
		return out
	}
	for {
		host := min(lo.trailingZeros(), bitLen)
		for host > 0 && lo.or(maxU128(host)).cmp(hi) > 0 {
			host--
		}
		out = append(out, netip.PrefixFrom(lo.addr(bitLen), bitLen-host))
		last := lo.or(maxU128(host))
		if last.cmp(hi) >= 0 {
			return out
		}
		lo = last.add1()
	}
}

// appendKey appends the low n bytes of u, big-endian.
func (u u128) appendKey(b []byte, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		if i >= 8 {
			b = append(b, byte(u.hi>>(8*(i-8))))
		} else {
			b = append(b, byte(u.lo>>(8*i)))
		}
	}
	return b
}
