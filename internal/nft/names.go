package nft

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"slices"
)

// SetName returns the content-derived name of a set of type t holding
// elems: "v4_" for [SetIPv4] or "v6_" for [SetIPv6], then the first 12 hex
// digits of the SHA-256 over the normalised elements, one per line. Equal
// address groups get equal names whatever the input order, and a
// membership change gives a new name.
func SetName(t SetType, elems []netip.Prefix) string {
	h := sha256.New()
	buf := make([]byte, 0, 64)
	for _, p := range Normalize(elems) {
		buf = p.AppendTo(buf[:0])
		buf = append(buf, '\n')
		h.Write(buf)
	}
	prefix := "set_"
	switch t {
	case SetIPv4:
		prefix = "v4_"
	case SetIPv6:
		prefix = "v6_"
	}
	return prefix + hex.EncodeToString(h.Sum(nil))[:12]
}

// NormalizePorts returns the port ranges of rs sorted, with overlapping and
// adjacent ranges merged, and Lo ≤ Hi in each (a reversed range is
// swapped). This is the form [Ruleset.Validate] accepts for [Rule.DPorts].
func NormalizePorts(rs []PortRange) []PortRange {
	if len(rs) == 0 {
		return nil
	}
	s := make([]PortRange, len(rs))
	for i, r := range rs {
		if r.Lo > r.Hi {
			r.Lo, r.Hi = r.Hi, r.Lo
		}
		s[i] = r
	}
	slices.SortFunc(s, func(a, b PortRange) int {
		if c := cmp.Compare(a.Lo, b.Lo); c != 0 {
			return c
		}
		return cmp.Compare(a.Hi, b.Hi)
	})
	out := s[:1]
	for _, r := range s[1:] {
		last := &out[len(out)-1]
		if last.Hi == 65535 || int(r.Lo) <= int(last.Hi)+1 {
			last.Hi = max(last.Hi, r.Hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

// maxNameLen is the longest table, chain or set name the IR allows.
// nftables' own limit (NFT_NAME_MAXLEN) is 255 bytes; fwgit's names are short.
const maxNameLen = 32

// validName reports whether s is a name [Ruleset.Render] can print bare:
// [a-zA-Z_][a-zA-Z0-9_-]{0,31} and not a word the nft parser reads as a
// keyword.
func validName(s string) bool {
	if len(s) == 0 || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '-'):
		default:
			return false
		}
	}
	_, kw := nftKeywords[s]
	return !kw
}

// nftKeywords are the words that nft 1.0.6 (plus a few words newer releases
// reserve) rejects as a table, chain or set name, because its scanner turns
// them into keywords. The list was made by loading every token name of the
// nft grammar as a table, chain and set name with `nft -c -f`;
// TestRenderKeywordNamesKernel keeps it honest against the installed nft.
var nftKeywords = keywordSet("accept", "add", "ah", "all", "arp", "auto-merge", "bridge", "cgroup", "chain", "comment", "comp", "constant", "continue", "counter", "cpu", "create", "ct", "day", "dccp", "define", "delete", "describe", "destroy", "device", "devices", "dnat", "drop", "dst", "dup", "dynamic", "ecn", "element", "elements", "esp", "ether", "exists", "expires", "export", "exthdr", "fib", "flags", "flow", "flowtable", "flush", "frag", "fwd", "gc-interval", "geneve", "get", "goto", "gre", "gretap", "handle", "hbh", "hook", "hour", "ibriport", "ibrname", "icmp", "icmpv6", "igmp", "iif", "iifgroup", "iifname", "iiftype", "import", "include", "index", "inet", "insert", "interval", "ip", "ip6", "ipsec", "jhash", "jump", "last", "limit", "list", "ll", "log", "map", "mark", "masquerade", "meta", "meter", "mh", "missing", "monitor", "netdev", "nftrace", "nh", "notrack", "numgen", "obriport", "obrname", "offload", "oif", "oifgroup", "oifname", "oiftype", "osf", "pkttype", "policy", "position", "priority", "queue", "quota", "random", "redefine", "redirect", "reject", "rename", "replace", "reset", "return", "rt", "rt0", "rt2", "rtclassid", "rule", "ruleset", "sctp", "secmark", "set", "size", "skgid", "skuid", "snat", "socket", "srh", "symhash", "synproxy", "table", "tcp", "th", "time", "timeout", "tproxy", "type", "typeof", "udp", "udplite", "undefine", "update", "vlan", "vmap", "vni", "vxlan", "xt")

func keywordSet(words ...string) map[string]struct{} {
	m := make(map[string]struct{}, len(words))
	for _, w := range words {
		m[w] = struct{}{}
	}
	return m
}
