package fwrule

import (
	"fmt"
	"strings"
)

// isIPv4 is Node's net.isIPv4: four decimal octets 0–255 without leading
// zeros.
func isIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, seg := range parts {
		if seg == "" || len(seg) > 3 || len(seg) > 1 && seg[0] == '0' {
			return false
		}
		if n, ok := smallNumber(seg); !ok || n > 255 {
			return false
		}
	}
	return true
}

// isIPv6 is Node's net.isIPv6 for text without dots or a zone, which is
// all the rule tokens can hold: groups of 1–4 hex digits, eight of them, or
// at most seven around a single "::".
func isIPv6(s string) bool {
	if strings.ContainsAny(s, ".%") {
		return false
	}
	groups := func(part string) (int, bool) {
		if part == "" {
			return 0, true
		}
		n := 0
		for _, g := range strings.Split(part, ":") {
			if g == "" || len(g) > 4 {
				return 0, false
			}
			for i := 0; i < len(g); i++ {
				if hexVal(g[i]) < 0 {
					return 0, false
				}
			}
			n++
		}
		return n, true
	}
	if i := strings.Index(s, "::"); i >= 0 {
		left, right := s[:i], s[i+2:]
		if strings.Contains(right, "::") || strings.HasPrefix(right, ":") {
			return false
		}
		a, ok1 := groups(left)
		b, ok2 := groups(right)
		return ok1 && ok2 && a+b <= 7
	}
	n, ok := groups(s)
	return ok && n == 8
}

// isUUID matches upstream's lower-case 8-4-4-4-12 regex.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isLowerHex(c) {
				return false
			}
		}
	}
	return true
}

// parseIP6Addr parses an address the way the ip6addr 0.2.2 library that
// upstream's subnet check uses does. It returns the 128-bit address as
// eight fields and whether the input was a bare dotted quad.
func parseIP6Addr(input string) (f [8]uint16, bare bool, ok bool) {
	input = strings.ToLower(input)
	if len(input) > 40 {
		return f, false, false
	}
	var ip6, ip4 []string
	exp := -1
	value := ""
	for i := 0; i < len(input); i++ {
		c := input[i]
		switch {
		case c == ':':
			if i+1 < len(input) && input[i+1] == ':' {
				if exp >= 0 {
					return f, false, false
				}
				if value != "" {
					ip6 = append(ip6, value)
					value = ""
				}
				exp = len(ip6)
				i++
			} else {
				if value == "" {
					return f, false, false
				}
				ip6 = append(ip6, value)
				value = ""
			}
		case c == '.':
			ip4 = append(ip4, value)
			value = ""
		default:
			value += string(c)
		}
	}
	if value != "" {
		if len(ip4) != 0 {
			ip4 = append(ip4, value)
		} else {
			ip6 = append(ip6, value)
		}
	} else if exp != len(ip6) || len(ip4) > 0 {
		return f, false, false
	}
	if len(ip4) == 0 {
		if len(ip6) > 8 || len(ip6) < 8 && exp < 0 {
			return f, false, false
		}
	} else {
		if len(ip4) != 4 {
			return f, false, false
		}
		if len(ip6) == 0 && exp < 0 {
			bare = true
			ip6 = []string{"ffff"}
			exp = 0
		}
		if len(ip6) > 6 || len(ip6) < 6 && exp < 0 {
			return f, false, false
		}
	}
	var nums []uint16
	for _, fld := range ip6 {
		v := 0
		for i := 0; i < len(fld); i++ {
			h := hexVal(fld[i])
			if h < 0 {
				return f, false, false
			}
			v = v<<4 | h
			if v > 0xffff {
				return f, false, false
			}
		}
		nums = append(nums, uint16(v))
	}
	if len(ip4) != 0 {
		var oct [4]int
		for i, fld := range ip4 {
			n, ok := smallNumber(fld)
			if !ok || fld == "" || n > 255 {
				return f, false, false
			}
			oct[i] = n
		}
		nums = append(nums, uint16(oct[0]<<8|oct[1]), uint16(oct[2]<<8|oct[3]))
	}
	if len(nums) < 8 && exp >= 0 {
		full := make([]uint16, 0, 8)
		full = append(full, nums[:exp]...)
		for i := len(nums); i < 8; i++ {
			full = append(full, 0)
		}
		nums = append(full, nums[exp:]...)
	}
	if len(nums) != 8 {
		return f, false, false
	}
	copy(f[:], nums)
	if len(ip4) != 0 && (f[0]|f[1]|f[2]|f[3]|f[4] != 0 || f[5] != 0xffff) {
		return f, false, false
	}
	return f, bare, true
}

// checkSubnet is upstream's validateSubnet; it returns the error kind and
// message, or "" when cidr is acceptable.
func checkSubnet(cidr string, enforceMask bool) (Kind, string) {
	addr, suffix, _ := strings.Cut(cidr, "/")
	f, bare, ok := parseIP6Addr(addr)
	if !ok {
		return KindInvalidSubnetAddress, fmt.Sprintf("Subnet \"%s\" is invalid (bad address component)", cidr)
	}
	plen, _ := smallNumber(suffix)
	if bare {
		plen += 96
	}
	if plen > 128 {
		return KindInvalidSubnetPrefix, fmt.Sprintf("Subnet \"%s\" is invalid (bad prefix length)", cidr)
	}
	if enforceMask {
		for i := 0; i < 8; i++ {
			bitsHere := plen - 16*i
			var mask uint16
			switch {
			case bitsHere >= 16:
				mask = 0xffff
			case bitsHere > 0:
				mask = 0xffff << (16 - bitsHere)
			}
			if f[i]&^mask != 0 {
				return KindSubnetHostBits, fmt.Sprintf("Subnet \"%s\" is invalid (bits set to right of mask)", cidr)
			}
		}
	}
	return "", ""
}
