package dataplane

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/fwgit/fwgit/internal/nft"
)

// recorder is a netlink peer that acknowledges every message of a batch
// and keeps them, so tests see exactly what Flush would send the kernel.
type recorder struct {
	msgs []netlink.Message
}

func (rec *recorder) conn(t testing.TB) *nftables.Conn {
	t.Helper()
	c, err := nftables.New(nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
		var replies []netlink.Message
		for _, m := range req {
			if m.Header.Type == netlink.HeaderType(unix.NFNL_MSG_BATCH_BEGIN) || m.Header.Type == netlink.HeaderType(unix.NFNL_MSG_BATCH_END) {
				continue
			}
			data := make([]byte, 4)
			data = append(data, make([]byte, 16)...)
			rec.msgs = append(rec.msgs, m)
			replies = append(replies, netlink.Message{Header: netlink.Header{Type: netlink.Error, Sequence: m.Header.Sequence}, Data: data})
		}
		return replies, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// kernelView turns a recorded batch into what the kernel would list: sets
// with their raw elements (anonymous ones numbered as the kernel does) and
// rules parsed from the very bytes that were sent.
func kernelView(t *testing.T, msgs []netlink.Message) (map[string]*dSet, []kRule) {
	t.Helper()
	type rawSet struct {
		ks    kSet
		elems []kElem
	}
	byID := map[uint32]*rawSet{}
	var order []*rawSet
	anon := 0
	var rules []kRule
	for _, m := range msgs {
		switch m.Header.Type & 0xff {
		case unix.NFT_MSG_NEWSET:
			ad, err := attrs(m)
			if err != nil {
				t.Fatal(err)
			}
			rs := &rawSet{}
			var id uint32
			for ad.Next() {
				switch ad.Type() {
				case unix.NFTA_SET_NAME:
					rs.ks.name = ad.String()
				case unix.NFTA_SET_FLAGS:
					rs.ks.flags = ad.Uint32()
				case unix.NFTA_SET_KEY_TYPE:
					rs.ks.keyType = ad.Uint32()
				case unix.NFTA_SET_KEY_LEN:
					rs.ks.keyLen = ad.Uint32()
				case unix.NFTA_SET_ID:
					id = ad.Uint32()
				case unix.NFTA_SET_USERDATA:
					if v, ok := udataGet(ad.Bytes(), 7); ok {
						rs.ks.comment = trimNUL(v)
					}
				}
			}
			if rs.ks.name == "__set%d" {
				rs.ks.name = fmt.Sprintf("__set%d", anon)
				anon++
			}
			byID[id] = rs
			order = append(order, rs)
		case unix.NFT_MSG_NEWSETELEM:
			ad, err := attrs(m)
			if err != nil {
				t.Fatal(err)
			}
			var id uint32
			var elems []kElem
			for ad.Next() {
				switch ad.Type() {
				case unix.NFTA_SET_ELEM_LIST_SET_ID:
					id = ad.Uint32()
				case unix.NFTA_SET_ELEM_LIST_ELEMENTS:
					ad.Nested(func(lad *netlink.AttributeDecoder) error {
						es, why := parseElements(lad)
						if why != "" {
							t.Errorf("the encoder sent an element with %s", why)
						}
						elems = append(elems, es...)
						return nil
					})
				}
			}
			rs, ok := byID[id]
			if !ok {
				t.Fatalf("elements for unknown set id %d", id)
			}
			// The kernel lists interval boundaries in no useful order
			// (G7); reverse them to prove the decoder does not care.
			for i := len(elems) - 1; i >= 0; i-- {
				rs.elems = append(rs.elems, elems[i])
			}
		case unix.NFT_MSG_NEWRULE:
			// Point lookups of "__set%d" at the kernel's names.
			r, err := parseRule(m)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range r.exprs {
				if l, ok := e.(*expr.Lookup); ok && l.SetName == "__set%d" {
					l.SetName = byID[l.SetID].ks.name
				}
			}
			rules = append(rules, r)
		}
	}
	sets := map[string]*dSet{}
	for _, rs := range order {
		d, err := decodeSet(rs.ks, rs.elems)
		if err != nil {
			t.Fatalf("decodeSet(%s): %v", rs.ks.name, err)
		}
		sets[d.name] = d
	}
	return sets, rules
}

// roundTrip encodes rs, records the batch, and decodes it back to the IR.
func roundTrip(t *testing.T, rs *nft.Ruleset) (*nft.Ruleset, string, []netlink.Message) {
	t.Helper()
	b, err := encode(rs, rs.Digest())
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	var rec recorder
	c := rec.conn(t)
	if err := b.write(c); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := c.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	sets, krules := kernelView(t, rec.msgs)
	got := &nft.Ruleset{Version: nft.IRVersion, Table: rs.Table}
	for _, s := range sets {
		if s.anon {
			continue
		}
		typ := nft.SetIPv4
		if s.keyType == keyTypeIPv6 {
			typ = nft.SetIPv6
		}
		got.Sets = append(got.Sets, nft.Set{Name: s.name, Type: typ, Elements: s.prefixes, Comment: s.comment})
	}
	sortSets(got.Sets)
	d := decoder{sets: sets, used: map[string]bool{}}
	k := 0
	digest := ""
	for _, c := range rs.Chains {
		ch := nft.Chain{Name: c.Name, Hook: c.Hook, Priority: c.Priority, Policy: c.Policy}
		for range c.Rules {
			if k == 0 {
				digest = krules[k].digest
			}
			r, err := d.rule(&krules[k])
			if err != nil {
				t.Fatalf("decoding rule %d: %v", k, err)
			}
			ch.Rules = append(ch.Rules, r)
			k++
		}
		got.Chains = append(got.Chains, ch)
	}
	if k != len(krules) {
		t.Fatalf("batch has %d rules, ruleset %d", len(krules), k)
	}
	return got, digest, rec.msgs
}

func TestEncodeRoundTrip(t *testing.T) {
	code0 := uint8(0)
	single := func(r nft.Rule) *nft.Ruleset {
		return &nft.Ruleset{Version: nft.IRVersion, Table: "fwgit", Chains: []nft.Chain{
			{Name: "input", Hook: nft.HookInput, Policy: nft.Drop, Rules: []nft.Rule{r}},
		}}
	}
	pfx := func(ss ...string) *nft.AddrMatch {
		m := &nft.AddrMatch{}
		for _, s := range ss {
			m.Prefixes = append(m.Prefixes, netip.MustParsePrefix(s))
		}
		return m
	}
	tests := []struct {
		name string
		rs   *nft.Ruleset
	}{
		{"sample", sampleRuleset()},
		{"many rules", manyRules(300)},
		{"many cidrs", manyCIDRs(5000)},
		{"whole v4 space", single(nft.Rule{Family: nft.FamilyIPv4, Src: pfx("0.0.0.0/0"), Verdict: nft.Accept})},
		{"whole v6 space", single(nft.Rule{Family: nft.FamilyIPv6, Dst: pfx("::/0"), Verdict: nft.Accept})},
		{"top of v4 space", single(nft.Rule{Family: nft.FamilyIPv4, Src: pfx("10.0.0.0/8", "224.0.0.0/3"), Verdict: nft.Accept})},
		{"top of v6 space", single(nft.Rule{Family: nft.FamilyIPv6, Src: pfx("fd00::/8", "ff00::/8"), Verdict: nft.Drop})},
		{"odd prefix", single(nft.Rule{Family: nft.FamilyIPv4, Dst: pfx("198.18.64.0/19"), Verdict: nft.Accept})},
		{"v6 odd prefix", single(nft.Rule{Family: nft.FamilyIPv6, Dst: pfx("fd00:1234:5600::/41"), Verdict: nft.Accept})},
		{"port to the top", single(nft.Rule{Proto: nft.ProtoUDP, DPorts: []nft.PortRange{{Lo: 1, Hi: 1}, {Lo: 60000, Hi: 65535}}, Verdict: nft.Accept})},
		{"one range to the top", single(nft.Rule{Proto: nft.ProtoTCP, DPorts: []nft.PortRange{{Lo: 1024, Hi: 65535}}, Verdict: nft.Accept})},
		{"icmp code zero", single(nft.Rule{Proto: nft.ProtoICMP, ICMP: []nft.ICMPMatch{{Type: 0, Code: &code0}}, Verdict: nft.Accept})},
		{"icmpv6 types", single(nft.Rule{Family: nft.FamilyIPv6, Proto: nft.ProtoICMPv6, ICMP: []nft.ICMPMatch{{Type: 1}, {Type: 128}, {Type: 255}}, Verdict: nft.Accept})},
		{"all ct states", single(nft.Rule{CTState: nft.CTInvalid | nft.CTEstablished | nft.CTRelated | nft.CTNew, Verdict: nft.Drop})},
		{"long names", single(nft.Rule{IIF: "abcdefghijklmno", OIF: "abcdefghijklmn*", Log: strings.Repeat("l", nft.MaxLogPrefixLen), Verdict: nft.Accept, Comment: strings.Repeat("c", nft.MaxCommentLen)})},
		{"chains without rules", &nft.Ruleset{Version: nft.IRVersion, Table: "fwgit", Chains: []nft.Chain{
			{Name: "input", Hook: nft.HookInput, Policy: nft.Accept, Priority: -2147483648},
			{Name: "output", Hook: nft.HookOutput, Policy: nft.Drop, Priority: 2147483647},
		}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := tc.rs.Validate(); err != nil {
				t.Fatalf("test ruleset invalid: %v", err)
			}
			got, digest, msgs := roundTrip(t, tc.rs)
			if diff := cmp.Diff(tc.rs, got, cmpIR); diff != "" {
				t.Errorf("round trip mismatch (-sent +decoded):\n%s", diff)
			}
			if got.Digest() != tc.rs.Digest() {
				t.Errorf("decoded digest %s, want %s", got.Digest(), tc.rs.Digest())
			}
			hasRules := false
			for _, c := range tc.rs.Chains {
				hasRules = hasRules || len(c.Rules) > 0
			}
			if want := tc.rs.Digest(); hasRules && digest != want {
				t.Errorf("stored digest %q, want %q", digest, want)
			}
			checkBatchShape(t, tc.rs.Table, msgs)
		})
	}
}

// checkBatchShape checks the invariants of every batch: it starts by
// creating, deleting and recreating our table, names no other table,
// never flushes the ruleset, and keeps every element list under 64 KiB.
func checkBatchShape(t *testing.T, table string, msgs []netlink.Message) {
	t.Helper()
	want := []uint16{unix.NFT_MSG_NEWTABLE, unix.NFT_MSG_DELTABLE, unix.NFT_MSG_NEWTABLE}
	for i, w := range want {
		if i >= len(msgs) || uint16(msgs[i].Header.Type&0xff) != w {
			t.Fatalf("message %d is not %d: the batch must start add, delete, add table", i, w)
		}
	}
	for i, m := range msgs {
		typ := uint16(m.Header.Type & 0xff)
		if m.Data[0] != unix.NFPROTO_INET {
			t.Errorf("message %d has family %d, want inet", i, m.Data[0])
		}
		ad, err := attrs(m)
		if err != nil {
			t.Fatal(err)
		}
		named := false
		for ad.Next() {
			// NFTA_{TABLE_NAME,CHAIN_TABLE,RULE_TABLE,SET_TABLE,SET_ELEM_LIST_TABLE} are all 1.
			if ad.Type() == 1 {
				named = true
				if got := ad.String(); got != table {
					t.Errorf("message %d names table %q, want only %q", i, got, table)
				}
			}
			if typ == unix.NFT_MSG_NEWSETELEM && ad.Type() == unix.NFTA_SET_ELEM_LIST_ELEMENTS && len(ad.Bytes()) > maxChunkBytes+4 {
				t.Errorf("message %d: element list of %d bytes exceeds %d (G3)", i, len(ad.Bytes()), maxChunkBytes)
			}
		}
		if !named {
			t.Errorf("message %d (type %d) names no table: it would act on the whole ruleset", i, typ)
		}
	}
}

func TestEncodeEstimate(t *testing.T) {
	for _, rs := range []*nft.Ruleset{sampleRuleset(), manyRules(2000), manyCIDRs(20000)} {
		b, err := encode(rs, rs.Digest())
		if err != nil {
			t.Fatal(err)
		}
		var rec recorder
		c := rec.conn(t)
		if err := b.write(c); err != nil {
			t.Fatal(err)
		}
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
		size := 0
		for _, m := range rec.msgs {
			size += 16 + len(m.Data)
		}
		if b.bytes < size {
			t.Errorf("estimate %d bytes < real batch %d bytes: the send buffer would be too small (G1)", b.bytes, size)
		}
		if b.msgs != len(rec.msgs) {
			t.Errorf("estimate %d messages, batch has %d", b.msgs, len(rec.msgs))
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	base := func(mod func(rs *nft.Ruleset)) *nft.Ruleset {
		rs := sampleRuleset()
		mod(rs)
		return rs
	}
	tests := []struct {
		name string
		rs   *nft.Ruleset
	}{
		{"missing set", base(func(rs *nft.Ruleset) { rs.Chains[0].Rules[6].Src.Set = "v4_nothere" })},
		{"set of the other family", base(func(rs *nft.Ruleset) { rs.Chains[0].Rules[6].Src.Set = rs.Sets[1].Name })},
		{"prefix of the other family", base(func(rs *nft.Ruleset) {
			rs.Chains[0].Rules[5].Src.Prefixes[0] = netip.MustParsePrefix("fd00::/8")
		})},
		{"address without family", base(func(rs *nft.Ruleset) { rs.Chains[0].Rules[4].Family = nft.FamilyAny })},
		{"ports without tcp", base(func(rs *nft.Ruleset) { rs.Chains[0].Rules[4].Proto = nft.ProtoESP })},
		{"unknown hook", base(func(rs *nft.Ruleset) { rs.Chains[2].Hook = "prerouting" })},
		{"unknown verdict", base(func(rs *nft.Ruleset) { rs.Chains[0].Rules[0].Verdict = "jump" })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := encode(tc.rs, ""); err == nil {
				t.Errorf("encode accepted an invalid ruleset")
			}
		})
	}
}

func TestIntervals(t *testing.T) {
	k4 := func(s string, end bool) kElem {
		a := netip.MustParseAddr(s).As4()
		return kElem{key: a[:], end: end}
	}
	p := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	tests := []struct {
		name  string
		elems []kElem
		want  []netip.Prefix
	}{
		{"as sent", []kElem{k4("10.0.0.0", false), k4("11.0.0.0", true)}, p("10.0.0.0/8")},
		{"as listed: ends first, descending (G7)", []kElem{
			k4("172.32.0.0", true), k4("172.16.0.0", false), k4("11.0.0.0", true), k4("10.0.0.0", false),
		}, p("10.0.0.0/8", "172.16.0.0/12")},
		{"nft's zero sentinel", []kElem{k4("0.0.0.0", true), k4("10.0.0.0", false), k4("11.0.0.0", true)}, p("10.0.0.0/8")},
		{"open end", []kElem{k4("224.0.0.0", false)}, p("224.0.0.0/3")},
		{"whole space", []kElem{k4("0.0.0.0", false)}, p("0.0.0.0/0")},
		{"adjacent ranges", []kElem{
			k4("10.0.0.0", false), k4("10.0.0.128", true), k4("10.0.0.128", false), k4("10.0.1.0", true),
		}, p("10.0.0.0/24")},
		{"range that is no prefix", []kElem{k4("10.0.0.1", false), k4("10.0.0.7", true)}, p("10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32")},
		{"single address", []kElem{k4("198.18.0.1", false), k4("198.18.0.2", true)}, p("198.18.0.1/32")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := nft.IntervalPrefixes(addrIntervals(tc.elems))
			if diff := cmp.Diff(tc.want, got, cmpIR); diff != "" {
				t.Errorf("addrIntervals(%v) mismatch (-want +got):\n%s", tc.elems, diff)
			}
		})
	}
}

func TestDecodeForeign(t *testing.T) {
	v4 := func(ex ...expr.Any) []expr.Any {
		return append([]expr.Any{exprNFProto, exprIsIPv4}, ex...)
	}
	cmpEq := func(b ...byte) *expr.Cmp { return &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: b} }
	sets := map[string]*dSet{
		"v6_x":    {name: "v6_x", keyType: keyTypeIPv6},
		"__set0":  {name: "__set0", anon: true, keyType: keyTypeIPv4, prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
		"__ports": {name: "__ports", anon: true, keyType: nftables.TypeInetService.GetNFTMagic(), ports: []nft.PortRange{{Lo: 1, Hi: 2}}},
	}
	tests := []struct {
		name string
		r    kRule
	}{
		{"foreign expression", kRule{foreign: `expression "counter"`, exprs: []expr.Any{exprAccept}}},
		{"no verdict", kRule{exprs: v4()}},
		{"jump", kRule{exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: "x"}}}},
		{"return", kRule{exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictReturn}}}},
		{"two verdicts", kRule{exprs: []expr.Any{exprAccept, exprDrop}}},
		{"nfproto arp", kRule{exprs: []expr.Any{exprNFProto, cmpEq(3), exprAccept}}},
		{"neq nfproto", kRule{exprs: []expr.Any{exprNFProto, &expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: []byte{2}}, exprAccept}}},
		{"address without family", kRule{exprs: []expr.Any{exprAddr[0][0], cmpEq(10, 0, 0, 1), exprAccept}}},
		{"v4 address in a v6 set", kRule{exprs: v4(exprAddr[0][0], &expr.Lookup{SourceRegister: reg1, SetName: "v6_x"}, exprAccept)}},
		{"inverted lookup", kRule{exprs: v4(exprAddr[0][0], &expr.Lookup{SourceRegister: reg1, SetName: "__set0", Invert: true}, exprAccept)}},
		{"unknown set", kRule{exprs: v4(exprAddr[0][0], &expr.Lookup{SourceRegister: reg1, SetName: "nope"}, exprAccept)}},
		{"non-contiguous mask", kRule{exprs: v4(exprAddr[0][0],
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: []byte{0xff, 0, 0xff, 0}, Xor: make([]byte, 4)},
			cmpEq(10, 0, 0, 0), exprAccept)}},
		{"unmasked value", kRule{exprs: v4(exprAddr[0][0],
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: []byte{0xff, 0, 0, 0}, Xor: make([]byte, 4)},
			cmpEq(10, 0, 0, 1), exprAccept)}},
		{"address lookup in a port set", kRule{exprs: v4(exprAddr[0][0], &expr.Lookup{SourceRegister: reg1, SetName: "__ports"}, exprAccept)}},
		{"port without protocol", kRule{exprs: []expr.Any{exprDPort, cmpEq(0, 22), exprAccept}}},
		{"unknown protocol", kRule{exprs: []expr.Any{exprL4Proto, cmpEq(132), exprAccept}}},
		{"payload write", kRule{exprs: []expr.Any{exprL4Proto, cmpEq(6), &expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}, exprAccept}}},
		{"meta set", kRule{exprs: []expr.Any{&expr.Meta{Key: expr.MetaKeyIIFNAME, SourceRegister: true, Register: 1}, exprAccept}}},
		{"interface name not padded", kRule{exprs: []expr.Any{exprIIFName, cmpEq('l', 'o', 0), exprAccept}}},
		{"ct status", kRule{exprs: []expr.Any{&expr.Ct{Key: expr.CtKeySTATUS, Register: 1},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: []byte{1, 0, 0, 0}, Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: make([]byte, 4)}, exprAccept}}},
		{"log with level", kRule{exprs: []expr.Any{&expr.Log{Key: 1<<unix.NFTA_LOG_PREFIX | 1<<unix.NFTA_LOG_LEVEL, Level: expr.LogLevelInfo, Data: []byte("x")}, exprAccept}}},
		{"log with flags", kRule{exprs: []expr.Any{&expr.Log{Key: 1<<unix.NFTA_LOG_PREFIX | 1<<unix.NFTA_LOG_FLAGS, Flags: expr.LogFlagsUID, Data: []byte("x")}, exprAccept}}},
		{"log group", kRule{exprs: []expr.Any{&expr.Log{Key: 1<<unix.NFTA_LOG_PREFIX | 1<<unix.NFTA_LOG_GROUP, Data: []byte("x")}, exprAccept}}},
		{"out of order", kRule{exprs: []expr.Any{exprL4Proto, cmpEq(6), exprNFProto, exprIsIPv4, exprAccept}}},
		{"empty comment", kRule{exprs: []expr.Any{exprAccept}, comment: new(string)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := decoder{sets: sets, used: map[string]bool{}}
			got, err := d.rule(&tc.r)
			if !errors.Is(err, ErrForeign) {
				t.Errorf("rule() = %+v, %v, want ErrForeign", got, err)
			}
		})
	}
}

func TestDecodeSetForeign(t *testing.T) {
	k := func(b ...byte) kElem { return kElem{key: b} }
	tests := []struct {
		name  string
		s     kSet
		elems []kElem
	}{
		{"map", kSet{name: "m", flags: unix.NFT_SET_INTERVAL | unix.NFT_SET_MAP, keyType: keyTypeIPv4, keyLen: 4, dataType: true}, nil},
		{"timeout", kSet{name: "t", flags: unix.NFT_SET_INTERVAL, keyType: keyTypeIPv4, keyLen: 4, extra: "a timeout"}, nil},
		{"dynamic", kSet{name: "d", flags: unix.NFT_SET_INTERVAL | unix.NFT_SET_EVAL, keyType: keyTypeIPv4, keyLen: 4}, nil},
		{"not interval", kSet{name: "h", keyType: keyTypeIPv4, keyLen: 4}, []kElem{k(10, 0, 0, 1)}},
		{"wrong key length", kSet{name: "w", flags: unix.NFT_SET_INTERVAL, keyType: keyTypeIPv4, keyLen: 4}, []kElem{k(10, 0, 0)}},
		{"unknown key type", kSet{name: "u", flags: unix.NFT_SET_INTERVAL, keyType: 19, keyLen: 4}, nil},
		{"named port set", kSet{name: "p", flags: unix.NFT_SET_INTERVAL, keyType: nftables.TypeInetService.GetNFTMagic(), keyLen: 2}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeSet(tc.s, tc.elems); !errors.Is(err, ErrForeign) {
				t.Errorf("decodeSet = %v, want ErrForeign", err)
			}
		})
	}
}

func TestUdata(t *testing.T) {
	tests := []struct {
		name  string
		b     []byte
		valid bool
		typ   byte
		want  string
		found bool
	}{
		{"comment", []byte{0, 3, 'h', 'i', 0}, true, 0, "hi\x00", true},
		{"second tlv", []byte{0, 1, 0, udataDigest, 2, 's', 'h'}, true, udataDigest, "sh", true},
		{"truncated", []byte{0, 9, 'h'}, false, 0, "", false},
		{"lone type byte", []byte{0, 0, 7}, false, 7, "", false},
		{"empty", nil, true, 0, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := udataValid(tc.b); got != tc.valid {
				t.Errorf("udataValid(%v) = %v, want %v", tc.b, got, tc.valid)
			}
			v, ok := udataGet(tc.b, tc.typ)
			if string(v) != tc.want || ok != tc.found {
				t.Errorf("udataGet(%v, %d) = %q, %v, want %q, %v", tc.b, tc.typ, v, ok, tc.want, tc.found)
			}
		})
	}
}

func TestParseRuleSurvivesGarbage(t *testing.T) {
	// A log expression whose prefix attribute is empty makes the library's
	// decoder index out of range; parseRule must report it, not crash.
	logData, err := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.NFTA_LOG_PREFIX, Data: nil}})
	if err != nil {
		t.Fatal(err)
	}
	el, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_EXPR_NAME, Data: cstring("log")},
		{Type: unix.NLA_F_NESTED | unix.NFTA_EXPR_DATA, Data: logData},
	})
	if err != nil {
		t.Fatal(err)
	}
	list, err := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.NLA_F_NESTED | unix.NFTA_LIST_ELEM, Data: el}})
	if err != nil {
		t.Fatal(err)
	}
	body, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_RULE_CHAIN, Data: cstring("input")},
		{Type: unix.NLA_F_NESTED | unix.NFTA_RULE_EXPRESSIONS, Data: list},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseRule(netlink.Message{Data: append(nfgen(unix.NFPROTO_INET), body...)})
	if err != nil || r.foreign == "" {
		t.Errorf("parseRule = %+v, %v, want a foreign rule", r, err)
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], 1)
	if _, err := parseRule(netlink.Message{Data: b[:2]}); err == nil {
		t.Errorf("parseRule accepted a short message")
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, bc := range []struct {
		name string
		rs   *nft.Ruleset
	}{
		{"rules=500-policy", realisticPolicy(500)},
		{"rules=10000", manyRules(10000)},
		{"cidrs=50000", manyCIDRs(50000)},
	} {
		digest := bc.rs.Digest()
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bt, err := encode(bc.rs, digest)
				if err != nil {
					b.Fatal(err)
				}
				// Marshal into a connection that is never flushed: the
				// library encodes each message as it is added.
				c, err := nftables.New()
				if err != nil {
					b.Fatal(err)
				}
				if err := bt.write(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDigest is the agent-side check that makes re-applying an
// unchanged ruleset free: the digest of what arrived, compared with the
// digest applied last (goal ≤ 5 ms).
func BenchmarkDigest(b *testing.B) {
	for _, bc := range []struct {
		name string
		rs   *nft.Ruleset
	}{
		{"rules=500-policy", realisticPolicy(500)},
		{"rules=10000", manyRules(10000)},
		{"cidrs=50000", manyCIDRs(40000)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = bc.rs.Digest()
			}
		})
	}
}
