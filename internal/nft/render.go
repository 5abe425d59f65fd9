package nft

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Render returns the canonical text of the ruleset in `nft -f` syntax, which
// `nft -f` loads as is. The text is deterministic: sets sorted by name, one
// element per line, chains in their order, and every rule's matches in one
// fixed order and form:
//
//	meta nfproto ipv4 iifname "eth0" oifname "eth1" ct state established,related
//	ip saddr @v4_0123456789ab ip daddr { 198.18.0.0/24, 198.18.2.1 }
//	meta l4proto tcp tcp dport { 22, 1000-2000 } | meta l4proto icmp icmp type 8 icmp code 0
//	log prefix "…" accept comment "…"
//
// (one line per rule). The protocol is always written as `meta l4proto`,
// ICMP types as numbers, a /32 or /128 prefix as a bare address, and more
// than one prefix, port range or ICMP type as an anonymous set. An empty
// ruleset renders as "" (no table). Render expects a ruleset that passes
// [Ruleset.Validate]; it does not check again.
func (r *Ruleset) Render() string {
	if r.Empty() {
		return ""
	}
	var b strings.Builder
	b.Grow(r.sizeHint())
	b.WriteString("table inet ")
	b.WriteString(r.Table)
	b.WriteString(" {\n")
	sets := make([]*Set, len(r.Sets))
	for i := range r.Sets {
		sets[i] = &r.Sets[i]
	}
	slices.SortStableFunc(sets, func(a, b *Set) int { return cmp.Compare(a.Name, b.Name) })
	buf := make([]byte, 0, 256)
	for _, s := range sets {
		b.WriteString("\tset ")
		b.WriteString(s.Name)
		b.WriteString(" {\n\t\ttype ")
		b.WriteString(string(s.Type))
		b.WriteString("; flags interval;\n")
		if s.Comment != "" {
			b.WriteString("\t\tcomment \"")
			b.WriteString(s.Comment)
			b.WriteString("\"\n")
		}
		if len(s.Elements) > 0 {
			b.WriteString("\t\telements = {\n")
			for _, p := range s.Elements {
				buf = append(buf[:0], "\t\t\t"...)
				buf = appendPrefix(buf, p)
				buf = append(buf, ",\n"...)
				b.Write(buf)
			}
			b.WriteString("\t\t}\n")
		}
		b.WriteString("\t}\n")
	}
	for i := range r.Chains {
		c := &r.Chains[i]
		b.WriteString("\tchain ")
		b.WriteString(c.Name)
		b.WriteString(" {\n\t\ttype filter hook ")
		b.WriteString(string(c.Hook))
		b.WriteString(" priority ")
		b.WriteString(strconv.Itoa(c.Priority))
		b.WriteString("; policy ")
		b.WriteString(string(c.Policy))
		b.WriteString(";\n")
		for j := range c.Rules {
			buf = append(buf[:0], "\t\t"...)
			buf = c.Rules[j].appendText(buf)
			buf = append(buf, '\n')
			b.Write(buf)
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// RenderReplace returns the text that makes `nft -f` replace the table
// atomically with this ruleset: `add table inet NAME` (so the delete cannot
// fail when the table is missing), `delete table inet NAME`, then
// [Ruleset.Render]. For an empty ruleset it only removes the table. A
// ruleset with no table name uses [DefaultTable].
func (r *Ruleset) RenderReplace() string {
	name := DefaultTable
	if r != nil && r.Table != "" {
		name = r.Table
	}
	return "add table inet " + name + "\ndelete table inet " + name + "\n" + r.Render()
}

// Digest returns "sha256:" and the hex SHA-256 of [Ruleset.Render]. Equal
// digests mean equal rulesets; the controller compares digests before it
// looks at any detail.
func (r *Ruleset) Digest() string { return TextDigest(r.Render()) }

// TextDigest is the digest of a ruleset whose [Ruleset.Render] text the
// caller already holds, so it need not be rendered twice.
func TextDigest(rendered string) string {
	sum := sha256.Sum256([]byte(rendered))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// String returns the rule in the form [Ruleset.Render] prints it.
func (ru *Rule) String() string { return string(ru.appendText(nil)) }

// appendText appends the rule's canonical text, without indentation or
// newline.
func (ru *Rule) appendText(b []byte) []byte {
	start := len(b)
	word := func(s string) {
		if len(b) > start {
			b = append(b, ' ')
		}
		b = append(b, s...)
	}
	if ru.Family != FamilyAny {
		word("meta nfproto ")
		b = append(b, ru.Family...)
	}
	if ru.IIF != "" {
		word(`iifname "`)
		b = append(b, ru.IIF...)
		b = append(b, '"')
	}
	if ru.OIF != "" {
		word(`oifname "`)
		b = append(b, ru.OIF...)
		b = append(b, '"')
	}
	if ru.CTState != 0 {
		word("ct state ")
		b = appendCTState(b, ru.CTState)
	}
	l3 := "ip "
	if ru.Family == FamilyIPv6 {
		l3 = "ip6 "
	}
	if ru.Src != nil {
		word(l3)
		b = append(b, "saddr "...)
		b = appendAddrMatch(b, ru.Src)
	}
	if ru.Dst != nil {
		word(l3)
		b = append(b, "daddr "...)
		b = appendAddrMatch(b, ru.Dst)
	}
	if ru.Proto != ProtoAny {
		word("meta l4proto ")
		b = append(b, ru.Proto...)
	}
	if len(ru.DPorts) > 0 {
		word(string(ru.Proto))
		b = append(b, " dport "...)
		b = appendList(b, len(ru.DPorts), func(b []byte, i int) []byte {
			pr := ru.DPorts[i]
			b = strconv.AppendUint(b, uint64(pr.Lo), 10)
			if pr.Hi != pr.Lo {
				b = append(b, '-')
				b = strconv.AppendUint(b, uint64(pr.Hi), 10)
			}
			return b
		})
	}
	if len(ru.ICMP) > 0 {
		word(string(ru.Proto))
		b = append(b, " type "...)
		b = appendList(b, len(ru.ICMP), func(b []byte, i int) []byte {
			return strconv.AppendUint(b, uint64(ru.ICMP[i].Type), 10)
		})
		if len(ru.ICMP) == 1 && ru.ICMP[0].Code != nil {
			word(string(ru.Proto))
			b = append(b, " code "...)
			b = strconv.AppendUint(b, uint64(*ru.ICMP[0].Code), 10)
		}
	}
	if ru.Log != "" {
		word(`log prefix "`)
		b = append(b, ru.Log...)
		b = append(b, '"')
	}
	if ru.Verdict != "" {
		word(string(ru.Verdict))
	}
	if ru.Comment != "" {
		word(`comment "`)
		b = append(b, ru.Comment...)
		b = append(b, '"')
	}
	return b
}

// ctStateNames are the conntrack states in the order Render prints them.
var ctStateNames = []struct {
	bit  CTState
	name string
}{
	{CTInvalid, "invalid"},
	{CTEstablished, "established"},
	{CTRelated, "related"},
	{CTNew, "new"},
}

func appendCTState(b []byte, s CTState) []byte {
	first := true
	for _, n := range ctStateNames {
		if s&n.bit == 0 {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, n.name...)
	}
	return b
}

func appendAddrMatch(b []byte, m *AddrMatch) []byte {
	if m.Set != "" {
		b = append(b, '@')
		return append(b, m.Set...)
	}
	return appendList(b, len(m.Prefixes), func(b []byte, i int) []byte {
		return appendPrefix(b, m.Prefixes[i])
	})
}

// appendList appends one item bare, or several as an anonymous set
// "{ a, b }".
func appendList(b []byte, n int, item func([]byte, int) []byte) []byte {
	if n == 1 {
		return item(b, 0)
	}
	b = append(b, "{ "...)
	for i := range n {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = item(b, i)
	}
	return append(b, " }"...)
}

// appendPrefix appends p, or only its address when it is a single address.
func appendPrefix(b []byte, p netip.Prefix) []byte {
	if p.IsSingleIP() {
		return p.Addr().AppendTo(b)
	}
	return p.AppendTo(b)
}

// sizeHint estimates the rendered size so the builder grows once.
func (r *Ruleset) sizeHint() int {
	n := 64
	for i := range r.Sets {
		n += 80 + len(r.Sets[i].Comment) + 24*len(r.Sets[i].Elements)
	}
	for i := range r.Chains {
		n += 80 + 96*len(r.Chains[i].Rules)
	}
	return n
}
