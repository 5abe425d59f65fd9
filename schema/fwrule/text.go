package fwrule

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Text returns the canonical text of the rule (spec §6), the form FWAPI
// and fwadm show: targets de-duplicated and grouped (wildcards, ips,
// subnets, tags, vms), each group in UTF-16 order, a bare tag swallowing
// its valued forms, tags always quoted and escaped, ports stably sorted by
// start (PORTS form only when a range is present), ICMP types in the order
// upstream's flawed comparator and V8's sort give, and PRIORITY only when
// above 0. Enabled, log, owner, uuid and description are never printed.
func (r *Rule) Text() string {
	n := r.normalized()
	var b strings.Builder
	b.Grow(64 + 24*(len(n.From)+len(n.To)) + 8*(len(n.Ports)+len(n.Types)))
	b.WriteString("FROM ")
	writeSide(&b, n.From)
	b.WriteString(" TO ")
	writeSide(&b, n.To)
	b.WriteByte(' ')
	b.WriteString(strings.ToUpper(n.Action.String()))
	b.WriteByte(' ')
	b.WriteString(n.Protocol.String())
	switch n.Protocol {
	case TCP, UDP:
		writePorts(&b, n)
	case ICMP, ICMP6:
		writeTypes(&b, n)
	}
	if n.Priority > 0 {
		b.WriteString(" PRIORITY ")
		b.WriteString(strconv.Itoa(n.Priority))
	}
	return b.String()
}

// FWAPIText returns the canonical text after FWAPI's port folding (spec
// §6): what FWAPI returns for the rule.
func (r *Rule) FWAPIText() string { return r.fwapiFold().Text() }

// fwapiFold returns a copy of r with FWAPI's storage folding applied to its
// ports: "all" or 1-65535 anywhere makes the list PORT all, and a range
// n-n becomes the port n.
func (r *Rule) fwapiFold() *Rule {
	c := *r
	if c.Protocol != TCP && c.Protocol != UDP {
		return &c
	}
	for _, p := range c.Ports {
		if p.IsRange && p.Lo == 1 && p.Hi == 65535 {
			c.AllPorts = true
		}
	}
	if c.AllPorts {
		c.Ports = nil
		return &c
	}
	c.Ports = slices.Clone(c.Ports)
	for i, p := range c.Ports {
		if p.IsRange && p.Lo == p.Hi {
			c.Ports[i] = Port{Lo: p.Lo, Hi: p.Hi}
		}
	}
	return &c
}

// normalized returns the model Text prints: sides de-duplicated and in
// canonical order with offsets cleared, ports and types in printing order,
// HasPriority only when Priority is above 0. parse(r.Text()) normalises to
// the same model as r.
func (r *Rule) normalized() *Rule {
	n := &Rule{
		From:     normalizeSide(r.From),
		To:       normalizeSide(r.To),
		Action:   r.Action,
		Protocol: r.Protocol,
		AllPorts: r.AllPorts,
		AllTypes: r.AllTypes,
		Priority: r.Priority,
		Log:      r.Log,
	}
	if n.Priority > 0 {
		n.HasPriority = true
	} else {
		n.Priority = 0
	}
	if !r.AllPorts && len(r.Ports) > 0 {
		n.Ports = slices.Clone(r.Ports)
		slices.SortStableFunc(n.Ports, func(a, b Port) int { return a.Lo - b.Lo })
	}
	if !r.AllTypes && len(r.Types) > 0 {
		n.Types = slices.Clone(r.Types)
		v8Sort(n.Types, compareICMP)
	}
	return n
}

func groupRank(k TargetKind) int {
	// Wildcards first ("any" sorts before "vmall"), then ips, subnets,
	// tags and vms, as upstream's TARGET_TYPES.
	return int(k)
}

func compareTargets(a, b Target) int {
	if a.Kind != b.Kind {
		return groupRank(a.Kind) - groupRank(b.Kind)
	}
	if c := compareUTF16(a.Value, b.Value); c != 0 {
		return c
	}
	if a.Kind != TargetTag || a.HasValue != b.HasValue {
		if !a.HasValue && b.HasValue {
			return -1
		}
		if a.HasValue && !b.HasValue {
			return 1
		}
		return 0
	}
	return compareUTF16(a.TagValue, b.TagValue)
}

func normalizeSide(ts []Target) []Target {
	out := make([]Target, len(ts))
	for i, t := range ts {
		t.Offset = 0
		if !t.HasValue {
			t.TagValue = ""
		}
		out[i] = t
	}
	slices.SortFunc(out, compareTargets)
	w := 0
	for _, t := range out {
		if w > 0 {
			prev := out[w-1]
			if compareTargets(prev, t) == 0 {
				continue
			}
			// A bare tag swallows every valued tag of the same name.
			if t.Kind == TargetTag && prev.Kind == TargetTag && !prev.HasValue && prev.Value == t.Value {
				continue
			}
		}
		out[w] = t
		w++
	}
	return out[:w]
}

func writeSide(b *strings.Builder, ts []Target) {
	if len(ts) > 1 {
		b.WriteByte('(')
	}
	for i, t := range ts {
		if i > 0 {
			b.WriteString(" OR ")
		}
		writeTarget(b, t)
	}
	if len(ts) > 1 {
		b.WriteByte(')')
	}
}

// String returns the target as the canonical text prints it (§6): tag
// names and values in double quotes with the escape table applied.
func (t Target) String() string {
	var b strings.Builder
	writeTarget(&b, t)
	return b.String()
}

func writeTarget(b *strings.Builder, t Target) {
	switch t.Kind {
	case TargetAny:
		b.WriteString("any")
	case TargetAllVMs:
		b.WriteString("all vms")
	case TargetIP:
		b.WriteString("ip ")
		b.WriteString(t.Value)
	case TargetSubnet:
		b.WriteString("subnet ")
		b.WriteString(t.Value)
	case TargetVM:
		b.WriteString("vm ")
		b.WriteString(t.Value)
	case TargetTag:
		b.WriteString("tag ")
		writeQuoted(b, t.Value)
		if t.HasValue {
			b.WriteString(" = ")
			writeQuoted(b, t.TagValue)
		}
	}
}

// writeQuoted writes s in double quotes with upstream's tagEscape table.
func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\', '(', ')':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if escapedRune(r) {
				fmt.Fprintf(b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// escapedRune reports whether the printer writes r as \uXXXX: the other C0
// controls, DEL, and the Unicode spaces and invisible separators of the
// table in spec §6.
func escapedRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r == 0x85, r == 0xa0, r == 0x1680, r == 0x180e,
		r >= 0x2000 && r <= 0x200d, r == 0x2028, r == 0x2029, r == 0x202f,
		r == 0x205f, r == 0x2060, r == 0x3000, r == 0xfeff:
		return true
	}
	return false
}

func writePorts(b *strings.Builder, n *Rule) {
	if n.AllPorts {
		b.WriteString(" PORT all")
		return
	}
	hasRange := false
	for _, p := range n.Ports {
		if p.IsRange {
			hasRange = true
			break
		}
	}
	if hasRange {
		b.WriteString(" PORTS ")
		for i, p := range n.Ports {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Itoa(p.Lo))
			if p.IsRange {
				b.WriteString(" - ")
				b.WriteString(strconv.Itoa(p.Hi))
			}
		}
		return
	}
	b.WriteByte(' ')
	if len(n.Ports) > 1 {
		b.WriteByte('(')
	}
	for i, p := range n.Ports {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString("PORT ")
		b.WriteString(strconv.Itoa(p.Lo))
	}
	if len(n.Ports) > 1 {
		b.WriteByte(')')
	}
}

func writeTypes(b *strings.Builder, n *Rule) {
	if n.AllTypes {
		b.WriteString(" TYPE all")
		return
	}
	b.WriteByte(' ')
	if len(n.Types) > 1 {
		b.WriteByte('(')
	}
	for i, t := range n.Types {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString("TYPE ")
		b.WriteString(strconv.Itoa(t.Type))
		if t.HasCode {
			b.WriteString(" CODE ")
			b.WriteString(strconv.Itoa(t.Code))
		}
	}
	if len(n.Types) > 1 {
		b.WriteByte(')')
	}
}

// compareICMP reproduces upstream's icmpTypeSort comparator, which reads
// the first operand's length for both sides: with a first operand without
// a code it compares types only; with a code against no code the result is
// NaN, which V8 treats as equal.
func compareICMP(a, b ICMPType) int {
	switch {
	case !a.HasCode:
		return a.Type - b.Type
	case !b.HasCode:
		return 0
	}
	return (a.Type<<8 + a.Code) - (b.Type<<8 + b.Code)
}

// v8Sort sorts a as V8's Array.prototype.sort does for arrays shorter than
// 64 elements (TimSort's single-run path): it takes the initial run from
// the first element (reversing it when strictly descending), then
// binary-insertion-sorts the remaining elements into it. With an
// inconsistent comparator the result depends on exactly these steps.
func v8Sort[T any](a []T, cmp func(x, y T) int) {
	n := len(a)
	if n < 2 {
		return
	}
	run := 2
	if cmp(a[1], a[0]) < 0 {
		for run < n && cmp(a[run], a[run-1]) < 0 {
			run++
		}
		slices.Reverse(a[:run])
	} else {
		for run < n && cmp(a[run], a[run-1]) >= 0 {
			run++
		}
	}
	for i := run; i < n; i++ {
		pivot := a[i]
		lo, hi := 0, i
		for lo < hi {
			mid := lo + (hi-lo)>>1
			if cmp(pivot, a[mid]) < 0 {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		copy(a[lo+1:i+1], a[lo:i])
		a[lo] = pivot
	}
}
