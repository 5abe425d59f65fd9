package dataplane

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/fwgit/fwgit/internal/nft"
)

// Wire constants of the IR's matches. Registers: everything goes through
// register 1 (NFT_REG_1), as nft does.
const (
	reg1 = 1

	nfprotoIPv4 = unix.NFPROTO_IPV4
	nfprotoIPv6 = unix.NFPROTO_IPV6

	ifNameSize = 16 // IFNAMSIZ

	// Offsets in the IPv4 and IPv6 headers and the transport header.
	offSrc4, offDst4 = 12, 16
	offSrc6, offDst6 = 8, 24
	offDPort         = 2
	offICMPType      = 0
	offICMPCode      = 1

	// maxChunkBytes bounds the encoded elements of one NEWSETELEM message:
	// the nested attribute that holds them has a 16-bit length that
	// overflows silently past 64 KiB (G3).
	maxChunkBytes = 60 << 10

	// udataDigest is the userdata TLV type under which the ruleset digest
	// is stored on the table's first rule. nft prints only the comment
	// (type 0) and ignores types it does not know, so `nft list table`
	// shows the same text as for a table loaded from [nft.Ruleset.Render].
	udataDigest = 0xf6
	// maxUserData is the kernel's NFT_USERDATA_MAXLEN.
	maxUserData = 256
)

// Expressions that are the same in every rule are shared: marshalling only
// reads them.
var (
	exprNFProto   = &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: reg1}
	exprL4Proto   = &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1}
	exprIIFName   = &expr.Meta{Key: expr.MetaKeyIIFNAME, Register: reg1}
	exprOIFName   = &expr.Meta{Key: expr.MetaKeyOIFNAME, Register: reg1}
	exprCTState   = &expr.Ct{Key: expr.CtKeySTATE, Register: reg1}
	exprIsIPv4    = &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{nfprotoIPv4}}
	exprIsIPv6    = &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{nfprotoIPv6}}
	exprNotZero32 = &expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: make([]byte, 4)}
	exprDPort     = &expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseTransportHeader, Offset: offDPort, Len: 2}
	exprICMPType  = &expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseTransportHeader, Offset: offICMPType, Len: 1}
	exprICMPCode  = &expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseTransportHeader, Offset: offICMPCode, Len: 1}
	exprAccept    = &expr.Verdict{Kind: expr.VerdictAccept}
	exprDrop      = &expr.Verdict{Kind: expr.VerdictDrop}
	exprAddr      = [2][2]*expr.Payload{ // [v6][dst]
		{
			{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: offSrc4, Len: 4},
			{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: offDst4, Len: 4},
		},
		{
			{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: offSrc6, Len: 16},
			{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: offDst6, Len: 16},
		},
	}
	exprProto = func() map[nft.Proto]*expr.Cmp {
		m := make(map[nft.Proto]*expr.Cmp)
		for _, p := range []nft.Proto{nft.ProtoTCP, nft.ProtoUDP, nft.ProtoICMP, nft.ProtoICMPv6, nft.ProtoAH, nft.ProtoESP} {
			m[p] = &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{p.Number()}}
		}
		return m
	}()
)

// batch is a ruleset translated into the objects of one netlink
// transaction, before it is written to a connection. Building it is pure,
// so it can be tested and benchmarked without a kernel.
type batch struct {
	table  *nftables.Table
	sets   []setOp // named sets
	chains []chainOp
	nextID uint32

	// msgs and bytes estimate the transaction's size to size the socket
	// buffers (G1, G2).
	msgs, bytes int
}

type setOp struct {
	set   *nftables.Set
	elems []nftables.SetElement
}

type chainOp struct {
	chain *nftables.Chain
	rules []ruleOp
}

type ruleOp struct {
	exprs    []expr.Any
	userData []byte
	anon     []setOp // anonymous sets the rule looks up, created before it
}

// encode translates rs, which must have passed nft.Validate, for table
// name. digest is stored on the first rule. References are checked again
// here (G5): the kernel's error would not say which rule is wrong.
func encode(rs *nft.Ruleset, digest string) (*batch, error) {
	b := &batch{table: &nftables.Table{Name: rs.Table, Family: nftables.TableFamilyINet}}
	b.msgs, b.bytes = 3, 3*64
	named := make(map[string]*setOp, len(rs.Sets))
	b.sets = make([]setOp, 0, len(rs.Sets))
	for i := range rs.Sets {
		s := &rs.Sets[i]
		kt, ok := setKeyType(s.Type)
		if !ok {
			return nil, fmt.Errorf("set %q: unknown type %q", s.Name, s.Type)
		}
		if _, dup := named[s.Name]; dup {
			return nil, fmt.Errorf("set %q: defined twice", s.Name)
		}
		op := setOp{
			set: &nftables.Set{
				Table:    b.table,
				ID:       b.id(),
				Name:     s.Name,
				KeyType:  kt,
				Interval: true,
				Comment:  s.Comment,
			},
			elems: prefixElements(s.Elements, s.Type == nft.SetIPv6),
		}
		b.addSetSize(&op)
		b.sets = append(b.sets, op)
		named[s.Name] = &b.sets[len(b.sets)-1]
	}
	b.chains = make([]chainOp, 0, len(rs.Chains))
	first := true
	for ci := range rs.Chains {
		c := &rs.Chains[ci]
		hook, ok := chainHook(c.Hook)
		if !ok {
			return nil, fmt.Errorf("chain %q: unknown hook %q", c.Name, c.Hook)
		}
		policy := nftables.ChainPolicyDrop
		if c.Policy == nft.Accept {
			policy = nftables.ChainPolicyAccept
		}
		co := chainOp{
			chain: &nftables.Chain{
				Name:     c.Name,
				Table:    b.table,
				Hooknum:  hook,
				Priority: nftables.ChainPriorityRef(nftables.ChainPriority(c.Priority)),
				Type:     nftables.ChainTypeFilter,
				Policy:   &policy,
			},
			rules: make([]ruleOp, 0, len(c.Rules)),
		}
		b.msgs++
		b.bytes += 256
		for ri := range c.Rules {
			d := ""
			if first {
				d, first = digest, false
			}
			op, err := b.rule(&c.Rules[ri], named, d)
			if err != nil {
				return nil, fmt.Errorf("chain %q rule %d: %w", c.Name, ri, err)
			}
			co.rules = append(co.rules, op)
		}
		b.chains = append(b.chains, co)
	}
	return b, nil
}

func (b *batch) id() uint32 {
	b.nextID++
	return b.nextID
}

// addSetSize counts a set and its element chunks in the size estimate.
func (b *batch) addSetSize(op *setOp) {
	b.msgs += 1 + len(chunks(op.elems, op.set.KeyType.Bytes))
	b.bytes += 256 + len(op.elems)*elemBytes(op.set.KeyType.Bytes) + 128*len(chunks(op.elems, op.set.KeyType.Bytes))
}

// rule encodes one rule as an expression list, in the IR's match order:
// Family, IIF, OIF, CTState, Src, Dst, Proto, DPorts, ICMP, Log, Verdict.
// The family match precedes address payloads and the protocol match
// precedes transport payloads, so no payload reads the wrong header (G9).
func (b *batch) rule(r *nft.Rule, named map[string]*setOp, digest string) (ruleOp, error) {
	op := ruleOp{exprs: make([]expr.Any, 0, ruleExprCount(r))}
	switch r.Family {
	case nft.FamilyAny:
	case nft.FamilyIPv4:
		op.exprs = append(op.exprs, exprNFProto, exprIsIPv4)
	case nft.FamilyIPv6:
		op.exprs = append(op.exprs, exprNFProto, exprIsIPv6)
	default:
		return op, fmt.Errorf("unknown family %q", r.Family)
	}
	if r.IIF != "" {
		op.exprs = append(op.exprs, exprIIFName, ifNameCmp(r.IIF))
	}
	if r.OIF != "" {
		op.exprs = append(op.exprs, exprOIFName, ifNameCmp(r.OIF))
	}
	if r.CTState != 0 {
		mask := make([]byte, 4)
		binary.NativeEndian.PutUint32(mask, uint32(r.CTState))
		op.exprs = append(op.exprs, exprCTState,
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
			exprNotZero32)
	}
	for dst, m := range [2]*nft.AddrMatch{r.Src, r.Dst} {
		if m == nil {
			continue
		}
		if err := b.addrMatch(&op, r.Family, dst == 1, m, named); err != nil {
			return op, err
		}
	}
	if r.Proto != nft.ProtoAny {
		c, ok := exprProto[r.Proto]
		if !ok {
			return op, fmt.Errorf("unknown protocol %q", r.Proto)
		}
		op.exprs = append(op.exprs, exprL4Proto, c)
	}
	if len(r.DPorts) > 0 {
		if r.Proto != nft.ProtoTCP && r.Proto != nft.ProtoUDP {
			return op, fmt.Errorf("ports need tcp or udp, not %q", r.Proto)
		}
		op.exprs = append(op.exprs, exprDPort)
		switch pr := r.DPorts[0]; {
		case len(r.DPorts) == 1 && pr.Lo == pr.Hi:
			op.exprs = append(op.exprs, &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: be16(pr.Lo)})
		case len(r.DPorts) == 1:
			op.exprs = append(op.exprs,
				&expr.Cmp{Op: expr.CmpOpGte, Register: reg1, Data: be16(pr.Lo)},
				&expr.Cmp{Op: expr.CmpOpLte, Register: reg1, Data: be16(pr.Hi)})
		default:
			b.anonLookup(&op, nftables.TypeInetService, true, portElements(r.DPorts))
		}
	}
	if len(r.ICMP) > 0 {
		kt := nftables.TypeICMPType
		switch r.Proto {
		case nft.ProtoICMP:
		case nft.ProtoICMPv6:
			kt = nftables.TypeICMP6Type
		default:
			return op, fmt.Errorf("icmp types need icmp or icmpv6, not %q", r.Proto)
		}
		op.exprs = append(op.exprs, exprICMPType)
		if len(r.ICMP) == 1 {
			m := r.ICMP[0]
			op.exprs = append(op.exprs, &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{m.Type}})
			if m.Code != nil {
				op.exprs = append(op.exprs, exprICMPCode, &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{*m.Code}})
			}
		} else {
			elems := make([]nftables.SetElement, len(r.ICMP))
			for i, m := range r.ICMP {
				if m.Code != nil {
					return op, fmt.Errorf("icmp type %d has a code but is not the only type", m.Type)
				}
				elems[i].Key = []byte{m.Type}
			}
			b.anonLookup(&op, kt, false, elems)
		}
	}
	if r.Log != "" {
		op.exprs = append(op.exprs, &expr.Log{Key: 1 << unix.NFTA_LOG_PREFIX, Data: []byte(r.Log)})
	}
	switch r.Verdict {
	case nft.Accept:
		op.exprs = append(op.exprs, exprAccept)
	case nft.Drop:
		op.exprs = append(op.exprs, exprDrop)
	case "":
	default:
		return op, fmt.Errorf("unknown verdict %q", r.Verdict)
	}
	if r.Comment != "" || digest != "" {
		ud := make([]byte, 0, 4+len(r.Comment)+len(digest))
		if r.Comment != "" {
			ud = append(ud, 0, byte(len(r.Comment)+1)) // NFTNL_UDATA_RULE_COMMENT
			ud = append(ud, r.Comment...)
			ud = append(ud, 0)
		}
		if digest != "" {
			ud = append(ud, udataDigest, byte(len(digest)))
			ud = append(ud, digest...)
		}
		if len(r.Comment) > 254 || len(digest) > 255 || len(ud) > maxUserData {
			return op, fmt.Errorf("comment of %d bytes is too long", len(r.Comment))
		}
		op.userData = ud
	}
	b.msgs++
	b.bytes += 128 + 96*len(op.exprs) + len(op.userData)
	return op, nil
}

// ruleExprCount returns how many expressions rule r encodes to, at most.
func ruleExprCount(r *nft.Rule) int {
	n := 1
	if r.Family != nft.FamilyAny {
		n += 2
	}
	if r.IIF != "" {
		n += 2
	}
	if r.OIF != "" {
		n += 2
	}
	if r.CTState != 0 {
		n += 3
	}
	if r.Src != nil {
		n += 3
	}
	if r.Dst != nil {
		n += 3
	}
	if r.Proto != "" {
		n += 2
	}
	if len(r.DPorts) > 0 {
		n += 3
	}
	if len(r.ICMP) > 0 {
		n += 4
	}
	if r.Log != "" {
		n++
	}
	return n
}

// addrMatch appends the payload load of the source or destination address
// and its match: an equality for one address, a mask and an equality for
// one prefix, a lookup in an anonymous interval set for several, or a
// lookup in a named set.
func (b *batch) addrMatch(op *ruleOp, fam nft.Family, dst bool, m *nft.AddrMatch, named map[string]*setOp) error {
	v6 := fam == nft.FamilyIPv6
	if fam != nft.FamilyIPv4 && !v6 {
		return fmt.Errorf("an address match needs family ipv4 or ipv6")
	}
	di := 0
	if dst {
		di = 1
	}
	ld := exprAddr[boolIndex(v6)][di]
	switch {
	case m.Set != "":
		s, ok := named[m.Set]
		if !ok {
			return fmt.Errorf("set %q does not exist", m.Set)
		}
		if (s.set.KeyType.Bytes == 16) != v6 {
			return fmt.Errorf("set %q is not of the rule's family %s", m.Set, fam)
		}
		op.exprs = append(op.exprs, ld, &expr.Lookup{SourceRegister: reg1, SetName: s.set.Name, SetID: s.set.ID})
	case len(m.Prefixes) == 1:
		p := m.Prefixes[0].Masked()
		if p.Addr().Is6() != v6 {
			return fmt.Errorf("prefix %s is not of the rule's family %s", p, fam)
		}
		op.exprs = append(op.exprs, ld)
		if p.IsSingleIP() {
			op.exprs = append(op.exprs, &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: p.Addr().AsSlice()})
			break
		}
		n := len(p.Addr().AsSlice())
		op.exprs = append(op.exprs,
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: uint32(n), Mask: prefixMask(p.Bits(), n), Xor: make([]byte, n)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: p.Addr().AsSlice()})
	case len(m.Prefixes) > 1:
		for _, p := range m.Prefixes {
			if p.Addr().Is6() != v6 {
				return fmt.Errorf("prefix %s is not of the rule's family %s", p, fam)
			}
		}
		kt := nftables.TypeIPAddr
		if v6 {
			kt = nftables.TypeIP6Addr
		}
		op.exprs = append(op.exprs, ld)
		b.anonLookup(op, kt, true, prefixElements(m.Prefixes, v6))
	default:
		return fmt.Errorf("an address match needs a set or prefixes")
	}
	return nil
}

// anonLookup adds an anonymous constant set with elems to the rule and
// appends the lookup of register 1 in it.
func (b *batch) anonLookup(op *ruleOp, kt nftables.SetDatatype, interval bool, elems []nftables.SetElement) {
	s := setOp{
		set: &nftables.Set{
			Table:     b.table,
			ID:        b.id(),
			Name:      "__set%d", // the kernel numbers anonymous sets
			Anonymous: true,
			Constant:  true,
			Interval:  interval,
			KeyType:   kt,
		},
		elems: elems,
	}
	b.addSetSize(&s)
	op.anon = append(op.anon, s)
	op.exprs = append(op.exprs, &expr.Lookup{SourceRegister: reg1, SetName: s.set.Name, SetID: s.set.ID})
}

// write adds the whole transaction to c: our table is created (so the
// delete cannot fail), deleted with everything in it, and recreated, then
// filled. Nothing else is touched; the kernel commits it all or nothing at
// Flush.
func (b *batch) write(c *nftables.Conn) error {
	c.AddTable(b.table)
	c.DelTable(b.table)
	c.AddTable(b.table)
	for i := range b.sets {
		if err := addSet(c, &b.sets[i]); err != nil {
			return err
		}
	}
	for i := range b.chains {
		co := &b.chains[i]
		c.AddChain(co.chain)
		for j := range co.rules {
			ro := &co.rules[j]
			for k := range ro.anon {
				if err := addSet(c, &ro.anon[k]); err != nil {
					return err
				}
			}
			c.AddRule(&nftables.Rule{Table: b.table, Chain: co.chain, Exprs: ro.exprs, UserData: ro.userData})
		}
	}
	return nil
}

// deleteTable adds the transaction that removes our table, whether or not
// it exists.
func deleteTable(c *nftables.Conn, name string) {
	t := &nftables.Table{Name: name, Family: nftables.TableFamilyINet}
	c.AddTable(t)
	c.DelTable(t)
}

// addSet creates a set and adds its elements in chunks whose encoding stays
// under 60 KiB (G3); all chunks go into the same transaction.
func addSet(c *nftables.Conn, op *setOp) error {
	ch := chunks(op.elems, op.set.KeyType.Bytes)
	if op.set.Anonymous && len(ch) <= 1 {
		// As nft does: the elements go with the set, which sizes it.
		return c.AddSet(op.set, op.elems)
	}
	if err := c.AddSet(op.set, nil); err != nil {
		return fmt.Errorf("adding set %s: %w", op.set.Name, err)
	}
	// The library refuses to add elements to an anonymous set after the
	// fact; the kernel allows it until a rule binds the set, which happens
	// after this.
	target := op.set
	if target.Anonymous {
		alias := *op.set
		alias.Anonymous = false
		target = &alias
	}
	for _, part := range ch {
		if err := c.SetAddElements(target, part); err != nil {
			return fmt.Errorf("adding elements to set %s: %w", op.set.Name, err)
		}
	}
	return nil
}

// elemBytes is the encoded size of one element with a key of keyLen bytes,
// interval-end flag included.
func elemBytes(keyLen uint32) int {
	return 4 + 4 + 4 + int(keyLen+3)&^3 + 8
}

// chunks splits elems so that each part's encoding stays under
// maxChunkBytes.
func chunks(elems []nftables.SetElement, keyLen uint32) [][]nftables.SetElement {
	if len(elems) == 0 {
		return nil
	}
	per := maxChunkBytes / elemBytes(keyLen)
	out := make([][]nftables.SetElement, 0, (len(elems)+per-1)/per)
	for len(elems) > per {
		out = append(out, elems[:per:per])
		elems = elems[per:]
	}
	return append(out, elems)
}

// prefixElements returns the interval elements of ps (G3, G4): per prefix
// a start element and an end element holding the first address after it,
// except for a prefix that runs to the top of the address space, which gets
// no end element. ps must be normalised (sorted, masked, merged), which
// nft.Validate checks; one interval per prefix keeps what the kernel lists
// equal to what nft.Ruleset.Render prints.
func prefixElements(ps []netip.Prefix, v6 bool) []nftables.SetElement {
	n := 4
	if v6 {
		n = 16
	}
	// One backing array for all keys: one allocation instead of one per
	// element.
	keys := make([]byte, 0, 2*n*len(ps))
	elems := make([]nftables.SetElement, 0, 2*len(ps))
	for _, p := range ps {
		if p.Addr().Is6() != v6 {
			continue
		}
		iv := nft.PrefixInterval(p)
		keys = appendAddrKey(keys, iv.Start)
		elems = append(elems, nftables.SetElement{Key: keys[len(keys)-n:]})
		if !iv.End.IsValid() {
			continue // to the top of the address space: no end element
		}
		keys = appendAddrKey(keys, iv.End)
		elems = append(elems, nftables.SetElement{Key: keys[len(keys)-n:], IntervalEnd: true})
	}
	return elems
}

// appendAddrKey appends the 4 (IPv4) or 16 bytes of a.
func appendAddrKey(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		k := a.As4()
		return append(b, k[:]...)
	}
	k := a.As16()
	return append(b, k[:]...)
}

// portElements returns the interval elements of port ranges: the first
// port, and the port after the last unless the range runs to 65535.
func portElements(rs []nft.PortRange) []nftables.SetElement {
	elems := make([]nftables.SetElement, 0, 2*len(rs))
	for _, r := range rs {
		elems = append(elems, nftables.SetElement{Key: be16(r.Lo)})
		if r.Hi != 65535 {
			elems = append(elems, nftables.SetElement{Key: be16(r.Hi + 1), IntervalEnd: true})
		}
	}
	return elems
}

// ifNameCmp matches an interface name as nft does: the name padded with
// NULs to IFNAMSIZ, or for a name ending in '*' only the bytes before it.
func ifNameCmp(name string) *expr.Cmp {
	if prefix, ok := cutWildcard(name); ok {
		return &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte(prefix)}
	}
	data := make([]byte, ifNameSize)
	copy(data, name)
	return &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: data}
}

func cutWildcard(name string) (string, bool) {
	if len(name) > 1 && name[len(name)-1] == '*' {
		return name[:len(name)-1], true
	}
	return name, false
}

func prefixMask(bits, n int) []byte {
	m := make([]byte, n)
	for i := range m {
		switch {
		case bits >= 8:
			m[i] = 0xff
			bits -= 8
		case bits > 0:
			m[i] = byte(0xff << (8 - bits))
			bits = 0
		}
	}
	return m
}

func be16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

func setKeyType(t nft.SetType) (nftables.SetDatatype, bool) {
	switch t {
	case nft.SetIPv4:
		return nftables.TypeIPAddr, true
	case nft.SetIPv6:
		return nftables.TypeIP6Addr, true
	}
	return nftables.SetDatatype{}, false
}

func chainHook(h nft.Hook) (*nftables.ChainHook, bool) {
	switch h {
	case nft.HookInput:
		return nftables.ChainHookInput, true
	case nft.HookOutput:
		return nftables.ChainHookOutput, true
	case nft.HookForward:
		return nftables.ChainHookForward, true
	}
	return nil, false
}
