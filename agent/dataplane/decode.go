package dataplane

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/fwgit/fwgit/internal/nft"
)

// foreignError says what in our table the IR cannot express. It wraps
// [ErrForeign].
type foreignError struct{ what string }

func (e *foreignError) Error() string { return ErrForeign.Error() + ": " + e.what }
func (e *foreignError) Unwrap() error { return ErrForeign }

func foreign(format string, args ...any) error {
	return &foreignError{what: fmt.Sprintf(format, args...)}
}

// Set flags as the kernel reports them (NFT_SET_*).
const (
	setFlagsNamed = unix.NFT_SET_INTERVAL
	setFlagsAnon  = unix.NFT_SET_ANONYMOUS | unix.NFT_SET_CONSTANT
)

// dSet is a set read back: its kind and its elements turned into the IR's
// values.
type dSet struct {
	name     string
	anon     bool
	keyType  uint32 // nft datatype magic
	prefixes []netip.Prefix
	ports    []nft.PortRange
	types    []uint8
	comment  string
}

// decodeSet checks that a set is one the encoder makes and turns its raw
// elements into prefixes, port ranges or ICMP types.
func decodeSet(s kSet, elems []kElem) (*dSet, error) {
	d := &dSet{name: s.name, keyType: s.keyType, comment: s.comment}
	if s.extra != "" {
		return nil, foreign("set %s has %s", s.name, s.extra)
	}
	if s.dataType {
		return nil, foreign("set %s is a map", s.name)
	}
	interval := s.flags&unix.NFT_SET_INTERVAL != 0
	switch {
	case s.flags&^unix.NFT_SET_INTERVAL == setFlagsAnon:
		d.anon = true
	case s.flags == setFlagsNamed:
	default:
		return nil, foreign("set %s has flags %#x", s.name, s.flags)
	}
	want, ok := keyLens[s.keyType]
	if !ok || s.keyLen != want {
		return nil, foreign("set %s has key type %d of %d bytes", s.name, s.keyType, s.keyLen)
	}
	for _, e := range elems {
		if len(e.key) != int(s.keyLen) {
			return nil, foreign("set %s has an element of %d bytes", s.name, len(e.key))
		}
	}
	switch s.keyType {
	case nftables.TypeIPAddr.GetNFTMagic(), nftables.TypeIP6Addr.GetNFTMagic():
		if !interval {
			return nil, foreign("address set %s is not an interval set", s.name)
		}
		d.prefixes = nft.IntervalPrefixes(addrIntervals(elems))
	case nftables.TypeInetService.GetNFTMagic():
		if !d.anon {
			return nil, foreign("named set %s is not an address set", s.name)
		}
		if interval {
			for _, r := range keyRanges(elems) {
				pr := nft.PortRange{Lo: binary.BigEndian.Uint16(r.start), Hi: 65535}
				if r.end != nil {
					pr.Hi = binary.BigEndian.Uint16(r.end) - 1
				}
				d.ports = append(d.ports, pr)
			}
		} else {
			for _, e := range elems {
				p := binary.BigEndian.Uint16(e.key)
				d.ports = append(d.ports, nft.PortRange{Lo: p, Hi: p})
			}
		}
		d.ports = nft.NormalizePorts(d.ports)
	case nftables.TypeICMPType.GetNFTMagic(), nftables.TypeICMP6Type.GetNFTMagic():
		if !d.anon || interval {
			return nil, foreign("set %s of ICMP types is not an anonymous hash set", s.name)
		}
		for _, e := range elems {
			d.types = append(d.types, e.key[0])
		}
		slices.Sort(d.types)
		d.types = slices.Compact(d.types)
	}
	if d.anon && d.comment != "" {
		return nil, foreign("anonymous set %s has a comment", s.name)
	}
	return d, nil
}

var keyLens = map[uint32]uint32{
	nftables.TypeIPAddr.GetNFTMagic():      4,
	nftables.TypeIP6Addr.GetNFTMagic():     16,
	nftables.TypeInetService.GetNFTMagic(): 2,
	nftables.TypeICMPType.GetNFTMagic():    1,
	nftables.TypeICMP6Type.GetNFTMagic():   1,
}

// keyRange is a range of the keys of an interval set: start is its first
// key and end the first key after it, nil when the range runs to the top
// of the key space; as in nft.Interval.
type keyRange struct{ start, end []byte }

// keyRanges rebuilds the ranges of an interval set from its raw boundary
// elements (G7), whose keys all have the same length: the kernel lists them
// in no useful order, ends before starts, and sets loaded by nft carry an
// extra end element at zero. A key belongs to the set when the nearest
// boundary at or below it is a start; at equal keys a start wins over an
// end (adjacent ranges).
func keyRanges(elems []kElem) []keyRange {
	bs := slices.Clone(elems)
	// Big-endian keys of one length compare as numbers.
	slices.SortFunc(bs, func(a, b kElem) int {
		if c := bytes.Compare(a.key, b.key); c != 0 {
			return c
		}
		switch {
		case a.end == b.end:
			return 0
		case a.end:
			return -1
		}
		return 1
	})
	var out []keyRange
	var open []byte // the start of the range being read; nil: none
	for _, b := range bs {
		switch {
		case !b.end && open == nil:
			open = b.key
		case b.end && open != nil:
			if bytes.Compare(b.key, open) > 0 {
				out = append(out, keyRange{start: open, end: b.key})
			}
			open = nil
		}
	}
	if open != nil {
		out = append(out, keyRange{start: open})
	}
	return out
}

// addrIntervals returns the ranges of an address set's boundary elements
// (4- or 16-byte keys) as nft intervals.
func addrIntervals(elems []kElem) []nft.Interval {
	rs := keyRanges(elems)
	out := make([]nft.Interval, 0, len(rs))
	for _, r := range rs {
		iv := nft.Interval{Start: addrKey(r.start)}
		if r.end != nil {
			iv.End = addrKey(r.end)
		}
		out = append(out, iv)
	}
	return out
}

// addrKey is the address a 4- or 16-byte key holds.
func addrKey(k []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(k)
	return a
}

// decoder turns our table's rules back into IR rules.
type decoder struct {
	sets map[string]*dSet
	used map[string]bool // anonymous sets already bound to a rule
}

// rule decodes the expressions the encoder emits for one rule, in the
// same order; anything else is foreign.
func (d *decoder) rule(kr *kRule) (nft.Rule, error) {
	var r nft.Rule
	if kr.foreign != "" {
		return r, foreign("rule %d: %s", kr.handle, kr.foreign)
	}
	if kr.comment != nil {
		r.Comment = *kr.comment
		if r.Comment == "" {
			return r, foreign("rule %d: empty comment", kr.handle)
		}
	}
	c := cursor{ex: kr.exprs}
	bad := func(what string) error {
		return foreign("rule %d: %s at expression %d", kr.handle, what, c.i)
	}
	// Family.
	if m, ok := c.peek().(*expr.Meta); ok && m.Key == expr.MetaKeyNFPROTO {
		c.i++
		v, ok := c.cmpEq(1)
		if !ok || !isLoad(m) {
			return r, bad("nfproto match")
		}
		switch v[0] {
		case nfprotoIPv4:
			r.Family = nft.FamilyIPv4
		case nfprotoIPv6:
			r.Family = nft.FamilyIPv6
		default:
			return r, bad("nfproto value")
		}
	}
	// Interfaces.
	for _, key := range []expr.MetaKey{expr.MetaKeyIIFNAME, expr.MetaKeyOIFNAME} {
		m, ok := c.peek().(*expr.Meta)
		if !ok || m.Key != key {
			continue
		}
		c.i++
		cm, ok := c.next().(*expr.Cmp)
		if !ok || !isLoad(m) || cm.Op != expr.CmpOpEq || cm.Register != reg1 {
			return r, bad("interface match")
		}
		name, ok := ifName(cm.Data)
		if !ok {
			return r, bad("interface name")
		}
		if key == expr.MetaKeyIIFNAME {
			r.IIF = name
		} else {
			r.OIF = name
		}
	}
	// Conntrack state.
	if ct, ok := c.peek().(*expr.Ct); ok {
		c.i++
		bw, ok1 := c.next().(*expr.Bitwise)
		cm, ok2 := c.next().(*expr.Cmp)
		if !ok1 || !ok2 || ct.Key != expr.CtKeySTATE || ct.Register != reg1 || ct.SourceRegister || ct.Direction != 0 ||
			!isMask(bw, 4) || cm.Op != expr.CmpOpNeq || cm.Register != reg1 || !bytes.Equal(cm.Data, make([]byte, 4)) {
			return r, bad("ct state match")
		}
		st := binary.NativeEndian.Uint32(bw.Mask)
		if st == 0 || st > 0xff {
			return r, bad("ct state value")
		}
		r.CTState = nft.CTState(st)
	}
	// Addresses: source, then destination.
	for _, dst := range []bool{false, true} {
		p, ok := c.peek().(*expr.Payload)
		if !ok || p.Base != expr.PayloadBaseNetworkHeader {
			continue
		}
		v6 := r.Family == nft.FamilyIPv6
		want := exprAddr[boolIndex(v6)][boolIndex(dst)]
		if r.Family == nft.FamilyAny || !isPayload(p, want) {
			if dst {
				return r, bad("address load")
			}
			continue // maybe the destination
		}
		c.i++
		m, err := d.addr(&c, v6)
		if err != nil {
			return r, foreign("rule %d: %v", kr.handle, err)
		}
		if dst {
			r.Dst = m
		} else {
			r.Src = m
		}
	}
	// Protocol.
	if m, ok := c.peek().(*expr.Meta); ok && m.Key == expr.MetaKeyL4PROTO {
		c.i++
		v, ok := c.cmpEq(1)
		if !ok || !isLoad(m) {
			return r, bad("l4proto match")
		}
		r.Proto = protoByNumber(v[0])
		if r.Proto == nft.ProtoAny {
			return r, bad("l4proto value")
		}
	}
	// Ports and ICMP.
	if p, ok := c.peek().(*expr.Payload); ok && isPayload(p, exprDPort) {
		c.i++
		if r.Proto != nft.ProtoTCP && r.Proto != nft.ProtoUDP {
			return r, bad("port match without tcp or udp")
		}
		ports, err := d.ports(&c)
		if err != nil {
			return r, foreign("rule %d: %v", kr.handle, err)
		}
		r.DPorts = ports
	}
	if p, ok := c.peek().(*expr.Payload); ok && isPayload(p, exprICMPType) {
		c.i++
		if r.Proto != nft.ProtoICMP && r.Proto != nft.ProtoICMPv6 {
			return r, bad("icmp match without icmp")
		}
		icmp, err := d.icmp(&c, r.Proto)
		if err != nil {
			return r, foreign("rule %d: %v", kr.handle, err)
		}
		r.ICMP = icmp
	}
	// Log.
	if l, ok := c.peek().(*expr.Log); ok {
		c.i++
		// The kernel lists the default level (warn) it filled in.
		if l.Key&^(1<<unix.NFTA_LOG_LEVEL|1<<unix.NFTA_LOG_FLAGS) != 1<<unix.NFTA_LOG_PREFIX || len(l.Data) == 0 ||
			l.Key&(1<<unix.NFTA_LOG_LEVEL) != 0 && l.Level != expr.LogLevelWarning || l.Flags != 0 {
			return r, bad("log statement")
		}
		r.Log = string(l.Data)
	}
	// Verdict.
	if v, ok := c.peek().(*expr.Verdict); ok {
		c.i++
		switch {
		case v.Chain != "":
			return r, bad("jump")
		case v.Kind == expr.VerdictAccept:
			r.Verdict = nft.Accept
		case v.Kind == expr.VerdictDrop:
			r.Verdict = nft.Drop
		default:
			return r, bad("verdict")
		}
	}
	if c.i != len(c.ex) {
		return r, bad(fmt.Sprintf("unexpected %T", c.ex[c.i]))
	}
	if r.Verdict == "" && r.Log == "" {
		return r, foreign("rule %d: no verdict", kr.handle)
	}
	return r, nil
}

// addr decodes the match after an address load.
func (d *decoder) addr(c *cursor, v6 bool) (*nft.AddrMatch, error) {
	n := 4
	if v6 {
		n = 16
	}
	switch e := c.next().(type) {
	case *expr.Cmp:
		if e.Op != expr.CmpOpEq || e.Register != reg1 || len(e.Data) != n {
			return nil, fmt.Errorf("address comparison")
		}
		a, _ := netip.AddrFromSlice(e.Data)
		return &nft.AddrMatch{Prefixes: []netip.Prefix{netip.PrefixFrom(a, n*8)}}, nil
	case *expr.Bitwise:
		cm, ok := c.next().(*expr.Cmp)
		if !isMask(e, n) || !ok || cm.Op != expr.CmpOpEq || cm.Register != reg1 || len(cm.Data) != n {
			return nil, fmt.Errorf("address prefix match")
		}
		bits, ok := maskBits(e.Mask)
		a, _ := netip.AddrFromSlice(cm.Data)
		p := netip.PrefixFrom(a, bits)
		if !ok || p.Masked() != p {
			return nil, fmt.Errorf("address prefix mask")
		}
		return &nft.AddrMatch{Prefixes: []netip.Prefix{p}}, nil
	case *expr.Lookup:
		s, err := d.lookup(e)
		if err != nil {
			return nil, err
		}
		wantType := nftables.TypeIPAddr.GetNFTMagic()
		if v6 {
			wantType = nftables.TypeIP6Addr.GetNFTMagic()
		}
		if s.keyType != wantType {
			return nil, fmt.Errorf("lookup in set %s of another type", s.name)
		}
		if !s.anon {
			return &nft.AddrMatch{Set: s.name}, nil
		}
		if len(s.prefixes) == 0 {
			return nil, fmt.Errorf("empty anonymous set %s", s.name)
		}
		return &nft.AddrMatch{Prefixes: s.prefixes}, nil
	}
	return nil, fmt.Errorf("address match")
}

func (d *decoder) ports(c *cursor) ([]nft.PortRange, error) {
	switch e := c.next().(type) {
	case *expr.Cmp:
		if e.Register != reg1 || len(e.Data) != 2 {
			break
		}
		lo := binary.BigEndian.Uint16(e.Data)
		switch e.Op {
		case expr.CmpOpEq:
			return []nft.PortRange{{Lo: lo, Hi: lo}}, nil
		case expr.CmpOpGte:
			cm, ok := c.next().(*expr.Cmp)
			if !ok || cm.Op != expr.CmpOpLte || cm.Register != reg1 || len(cm.Data) != 2 {
				return nil, fmt.Errorf("port range")
			}
			return []nft.PortRange{{Lo: lo, Hi: binary.BigEndian.Uint16(cm.Data)}}, nil
		}
	case *expr.Lookup:
		s, err := d.lookup(e)
		if err != nil {
			return nil, err
		}
		if !s.anon || s.keyType != nftables.TypeInetService.GetNFTMagic() || len(s.ports) == 0 {
			return nil, fmt.Errorf("port lookup in set %s", s.name)
		}
		return s.ports, nil
	}
	return nil, fmt.Errorf("port match")
}

func (d *decoder) icmp(c *cursor, proto nft.Proto) ([]nft.ICMPMatch, error) {
	switch e := c.next().(type) {
	case *expr.Cmp:
		if e.Op != expr.CmpOpEq || e.Register != reg1 || len(e.Data) != 1 {
			break
		}
		m := nft.ICMPMatch{Type: e.Data[0]}
		if p, ok := c.peek().(*expr.Payload); ok && isPayload(p, exprICMPCode) {
			c.i++
			v, ok := c.cmpEq(1)
			if !ok {
				return nil, fmt.Errorf("icmp code match")
			}
			code := v[0]
			m.Code = &code
		}
		return []nft.ICMPMatch{m}, nil
	case *expr.Lookup:
		s, err := d.lookup(e)
		if err != nil {
			return nil, err
		}
		want := nftables.TypeICMPType.GetNFTMagic()
		if proto == nft.ProtoICMPv6 {
			want = nftables.TypeICMP6Type.GetNFTMagic()
		}
		if !s.anon || s.keyType != want || len(s.types) == 0 {
			return nil, fmt.Errorf("icmp lookup in set %s", s.name)
		}
		out := make([]nft.ICMPMatch, len(s.types))
		for i, t := range s.types {
			out[i].Type = t
		}
		return out, nil
	}
	return nil, fmt.Errorf("icmp match")
}

// lookup resolves a set lookup; an anonymous set may be bound only once.
func (d *decoder) lookup(l *expr.Lookup) (*dSet, error) {
	if l.SourceRegister != reg1 || l.IsDestRegSet || l.Invert {
		return nil, fmt.Errorf("set lookup form")
	}
	s, ok := d.sets[l.SetName]
	if !ok {
		return nil, fmt.Errorf("lookup in unknown set %q", l.SetName)
	}
	if s.anon {
		if d.used[s.name] {
			return nil, fmt.Errorf("anonymous set %s used twice", s.name)
		}
		d.used[s.name] = true
	}
	return s, nil
}

// cursor walks a rule's expressions.
type cursor struct {
	ex []expr.Any
	i  int
}

func (c *cursor) peek() expr.Any {
	if c.i < len(c.ex) {
		return c.ex[c.i]
	}
	return nil
}

func (c *cursor) next() expr.Any {
	e := c.peek()
	if e != nil {
		c.i++
	}
	return e
}

// cmpEq consumes an equality comparison of register 1 with n bytes.
func (c *cursor) cmpEq(n int) ([]byte, bool) {
	cm, ok := c.next().(*expr.Cmp)
	if !ok || cm.Op != expr.CmpOpEq || cm.Register != reg1 || len(cm.Data) != n {
		return nil, false
	}
	return cm.Data, true
}

func isLoad(m *expr.Meta) bool { return !m.SourceRegister && m.Register == reg1 }

func isPayload(p, want *expr.Payload) bool {
	return p.OperationType == expr.PayloadLoad && p.DestRegister == reg1 && p.Base == want.Base &&
		p.Offset == want.Offset && p.Len == want.Len && p.CsumType == 0
}

// isMask reports whether bw masks register 1 in place with an all-zero xor.
func isMask(bw *expr.Bitwise, n int) bool {
	return bw.SourceRegister == reg1 && bw.DestRegister == reg1 && bw.Len == uint32(n) &&
		len(bw.Mask) == n && bytes.Equal(bw.Xor, make([]byte, n))
}

// maskBits returns the prefix length of a contiguous network mask.
func maskBits(m []byte) (int, bool) {
	bits := 0
	for i, b := range m {
		if b == 0xff {
			bits += 8
			continue
		}
		ones := 0
		for b&0x80 != 0 {
			ones++
			b <<= 1
		}
		if b != 0 {
			return 0, false
		}
		bits += ones
		for _, rest := range m[i+1:] {
			if rest != 0 {
				return 0, false
			}
		}
		break
	}
	return bits, true
}

// ifName decodes an interface name comparison: IFNAMSIZ bytes, NUL-padded,
// for an exact name; fewer bytes (no NUL) for a wildcard prefix.
func ifName(b []byte) (string, bool) {
	if len(b) == ifNameSize {
		i := bytes.IndexByte(b, 0)
		if i <= 0 || !allZero(b[i:]) {
			return "", false
		}
		return string(b[:i]), true
	}
	if len(b) == 0 || len(b) > ifNameSize || bytes.IndexByte(b, 0) >= 0 {
		return "", false
	}
	return string(b) + "*", true
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func protoByNumber(n uint8) nft.Proto {
	for _, p := range []nft.Proto{nft.ProtoTCP, nft.ProtoUDP, nft.ProtoICMP, nft.ProtoICMPv6, nft.ProtoAH, nft.ProtoESP} {
		if p.Number() == n {
			return p
		}
	}
	return nft.ProtoAny
}

func hookName(n uint32) (nft.Hook, bool) {
	switch n {
	case unix.NF_INET_LOCAL_IN:
		return nft.HookInput, true
	case unix.NF_INET_LOCAL_OUT:
		return nft.HookOutput, true
	case unix.NF_INET_FORWARD:
		return nft.HookForward, true
	}
	return "", false
}

// sortSets orders named sets by name, as the IR keeps them.
func sortSets(s []nft.Set) {
	slices.SortFunc(s, func(a, b nft.Set) int { return cmp.Compare(a.Name, b.Name) })
}
