package dataplane

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The read side talks netlink directly instead of through google/nftables'
// getters, for three reasons: v0.3.0 silently drops expressions it cannot
// parse (a foreign `dup` or `tproxy` in our table would be invisible), it
// does not decode set comments, and one socket for the whole read is
// faster. Expressions are still decoded with the library's expr types.

// Netlink attribute numbers that golang.org/x/sys/unix does not define.
const (
	nftaHookDevs       = 4    // NFTA_HOOK_DEVS
	nftaChainFlags     = 10   // NFTA_CHAIN_FLAGS
	nftaChainUserData  = 12   // NFTA_CHAIN_USERDATA
	nftaSetExpr        = 0x11 // NFTA_SET_EXPR
	nftaSetExpressions = 0x12 // NFTA_SET_EXPRESSIONS
	nftChainFlagBase   = 1    // NFT_CHAIN_BASE
)

// kTable is a table as the kernel lists it.
type kTable struct {
	family uint8
	name   string
	flags  uint32
}

// kChain is a chain as the kernel lists it.
type kChain struct {
	family   uint8
	table    string
	name     string
	base     bool // it has a hook
	hooknum  uint32
	priority int32
	device   string
	policy   *uint32
	typ      string
	flags    uint32
	userData bool
}

// kSet is a set as the kernel lists it.
type kSet struct {
	name     string
	flags    uint32
	keyType  uint32
	keyLen   uint32
	dataType bool // a map
	comment  string
	extra    string // an attribute the IR cannot express, for the error
}

// kElem is one raw element of a set: a key, possibly an interval end.
type kElem struct {
	key []byte
	end bool
}

// kRule is a rule as the kernel lists it, its expressions decoded.
type kRule struct {
	chain   string
	handle  uint64
	exprs   []expr.Any
	comment *string
	digest  string
	foreign string // why the rule is not ours, or ""
}

func nfMsgType(t uint16) netlink.HeaderType {
	return netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | t)
}

// nfgen is the nfgenmsg header: family, version, resource id.
func nfgen(family uint8) []byte { return []byte{family, unix.NFNETLINK_V0, 0, 0} }

// request sends one request (a dump when dump is set) and returns the
// replies.
func request(c *netlink.Conn, typ uint16, family uint8, dump bool, attrs []netlink.Attribute) ([]netlink.Message, error) {
	data := nfgen(family)
	if len(attrs) > 0 {
		b, err := netlink.MarshalAttributes(attrs)
		if err != nil {
			return nil, err
		}
		data = append(data, b...)
	}
	flags := netlink.Request
	if dump {
		flags |= netlink.Dump
	}
	return c.Execute(netlink.Message{Header: netlink.Header{Type: nfMsgType(typ), Flags: flags}, Data: data})
}

// genID returns the ruleset generation; it changes with every commit.
func genID(c *netlink.Conn) (uint32, error) {
	msgs, err := request(c, unix.NFT_MSG_GETGEN, unix.NFPROTO_UNSPEC, false, nil)
	if err != nil {
		return 0, err
	}
	for _, m := range msgs {
		ad, err := attrs(m)
		if err != nil {
			return 0, err
		}
		for ad.Next() {
			if ad.Type() == unix.NFTA_GEN_ID {
				return ad.Uint32(), nil
			}
		}
	}
	return 0, errors.New("no generation id in the kernel's reply")
}

// attrs returns a big-endian decoder over a message's attributes, after
// the nfgenmsg header.
func attrs(m netlink.Message) (*netlink.AttributeDecoder, error) {
	if len(m.Data) < 4 {
		return nil, errors.New("short nftables message")
	}
	ad, err := netlink.NewAttributeDecoder(m.Data[4:])
	if err != nil {
		return nil, err
	}
	ad.ByteOrder = binary.BigEndian
	return ad, nil
}

func listTables(c *netlink.Conn, family uint8) ([]kTable, error) {
	msgs, err := request(c, unix.NFT_MSG_GETTABLE, family, true, nil)
	if err != nil {
		return nil, err
	}
	out := make([]kTable, 0, len(msgs))
	for _, m := range msgs {
		ad, err := attrs(m)
		if err != nil {
			return nil, err
		}
		t := kTable{family: m.Data[0]}
		for ad.Next() {
			switch ad.Type() {
			case unix.NFTA_TABLE_NAME:
				t.name = ad.String()
			case unix.NFTA_TABLE_FLAGS:
				t.flags = ad.Uint32()
			}
		}
		if err := ad.Err(); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func listChains(c *netlink.Conn, family uint8) ([]kChain, error) {
	msgs, err := request(c, unix.NFT_MSG_GETCHAIN, family, true, nil)
	if err != nil {
		return nil, err
	}
	out := make([]kChain, 0, len(msgs))
	for _, m := range msgs {
		ch, err := parseChain(m)
		if err != nil {
			return nil, err
		}
		out = append(out, ch)
	}
	return out, nil
}

func parseChain(m netlink.Message) (kChain, error) {
	ad, err := attrs(m)
	if err != nil {
		return kChain{}, err
	}
	ch := kChain{family: m.Data[0]}
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_CHAIN_TABLE:
			ch.table = ad.String()
		case unix.NFTA_CHAIN_NAME:
			ch.name = ad.String()
		case unix.NFTA_CHAIN_TYPE:
			ch.typ = ad.String()
		case unix.NFTA_CHAIN_POLICY:
			p := ad.Uint32()
			ch.policy = &p
		case nftaChainFlags:
			ch.flags = ad.Uint32()
		case nftaChainUserData:
			ch.userData = true
		case unix.NFTA_CHAIN_HOOK:
			ch.base = true
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					switch nad.Type() {
					case unix.NFTA_HOOK_HOOKNUM:
						ch.hooknum = nad.Uint32()
					case unix.NFTA_HOOK_PRIORITY:
						ch.priority = int32(nad.Uint32())
					case unix.NFTA_HOOK_DEV:
						ch.device = nad.String()
					case nftaHookDevs:
						ch.device = "(devices)"
					}
				}
				return nil
			})
		}
	}
	return ch, ad.Err()
}

func listSets(c *netlink.Conn, table string) ([]kSet, error) {
	msgs, err := request(c, unix.NFT_MSG_GETSET, unix.NFPROTO_INET, true, []netlink.Attribute{
		{Type: unix.NFTA_SET_TABLE, Data: cstring(table)},
	})
	if err != nil {
		return nil, err
	}
	out := make([]kSet, 0, len(msgs))
	for _, m := range msgs {
		ad, err := attrs(m)
		if err != nil {
			return nil, err
		}
		var s kSet
		for ad.Next() {
			switch ad.Type() {
			case unix.NFTA_SET_NAME:
				s.name = ad.String()
			case unix.NFTA_SET_FLAGS:
				s.flags = ad.Uint32()
			case unix.NFTA_SET_KEY_TYPE:
				s.keyType = ad.Uint32()
			case unix.NFTA_SET_KEY_LEN:
				s.keyLen = ad.Uint32()
			case unix.NFTA_SET_DATA_TYPE, unix.NFTA_SET_DATA_LEN:
				s.dataType = true
			case unix.NFTA_SET_USERDATA:
				// Type 7 is NFTNL_UDATA_SET_COMMENT, NUL-terminated.
				if v, ok := udataGet(ad.Bytes(), 7); ok {
					s.comment = trimNUL(v)
				}
			case unix.NFTA_SET_TIMEOUT:
				s.extra = "a timeout"
			case unix.NFTA_SET_OBJ_TYPE:
				s.extra = "an object map"
			case nftaSetExpr, nftaSetExpressions:
				s.extra = "element expressions"
			}
		}
		if err := ad.Err(); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// listElements returns a set's raw elements. An element with anything but
// a key and the interval-end flag is reported in why.
func listElements(c *netlink.Conn, table, set string) (elems []kElem, why string, err error) {
	msgs, err := request(c, unix.NFT_MSG_GETSETELEM, unix.NFPROTO_INET, true, []netlink.Attribute{
		{Type: unix.NFTA_SET_ELEM_LIST_TABLE, Data: cstring(table)},
		{Type: unix.NFTA_SET_ELEM_LIST_SET, Data: cstring(set)},
	})
	if err != nil {
		return nil, "", err
	}
	for _, m := range msgs {
		ad, err := attrs(m)
		if err != nil {
			return nil, "", err
		}
		for ad.Next() {
			if ad.Type() != unix.NFTA_SET_ELEM_LIST_ELEMENTS {
				continue
			}
			ad.Nested(func(lad *netlink.AttributeDecoder) error {
				es, w := parseElements(lad)
				elems = append(elems, es...)
				if w != "" {
					why = w
				}
				return nil
			})
		}
		if err := ad.Err(); err != nil {
			return nil, "", err
		}
	}
	return elems, why, nil
}

// parseElements decodes the elements nested in an
// NFTA_SET_ELEM_LIST_ELEMENTS attribute. why, when not empty, names
// something an element has beyond a key and the interval-end flag.
func parseElements(lad *netlink.AttributeDecoder) (elems []kElem, why string) {
	for lad.Next() {
		var e kElem
		lad.Nested(func(ead *netlink.AttributeDecoder) error {
			for ead.Next() {
				switch ead.Type() {
				case unix.NFTA_SET_ELEM_KEY:
					ead.Nested(func(kad *netlink.AttributeDecoder) error {
						for kad.Next() {
							if kad.Type() == unix.NFTA_DATA_VALUE {
								e.key = kad.Bytes()
							}
						}
						return nil
					})
				case unix.NFTA_SET_ELEM_FLAGS:
					f := ead.Uint32()
					e.end = f&unix.NFT_SET_ELEM_INTERVAL_END != 0
					if f&^unix.NFT_SET_ELEM_INTERVAL_END != 0 {
						why = fmt.Sprintf("element flags %#x", f)
					}
				default:
					why = fmt.Sprintf("element attribute %d", ead.Type())
				}
			}
			return nil
		})
		elems = append(elems, e)
	}
	return elems, why
}

// listRules returns the rules of our table, or of one chain of it when
// chain is not empty.
func listRules(c *netlink.Conn, table, chain string) ([]kRule, error) {
	a := []netlink.Attribute{{Type: unix.NFTA_RULE_TABLE, Data: cstring(table)}}
	if chain != "" {
		a = append(a, netlink.Attribute{Type: unix.NFTA_RULE_CHAIN, Data: cstring(chain)})
	}
	msgs, err := request(c, unix.NFT_MSG_GETRULE, unix.NFPROTO_INET, true, a)
	if err != nil {
		return nil, err
	}
	out := make([]kRule, 0, len(msgs))
	for _, m := range msgs {
		r, err := parseRule(m)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// exprNames are the expressions the encoder emits; any other one in our
// table is foreign.
var exprNames = map[string]func() expr.Any{
	"meta":      func() expr.Any { return &expr.Meta{} },
	"cmp":       func() expr.Any { return &expr.Cmp{} },
	"payload":   func() expr.Any { return &expr.Payload{} },
	"bitwise":   func() expr.Any { return &expr.Bitwise{} },
	"ct":        func() expr.Any { return &expr.Ct{} },
	"lookup":    func() expr.Any { return &expr.Lookup{} },
	"immediate": func() expr.Any { return &expr.Immediate{} },
	"log":       func() expr.Any { return &expr.Log{} },
}

func parseRule(m netlink.Message) (r kRule, err error) {
	// The library's expression decoders index into the data without
	// checking lengths; a malformed message must not crash the agent.
	defer func() {
		if p := recover(); p != nil {
			r.foreign = fmt.Sprintf("undecodable expression (%v)", p)
			err = nil
		}
	}()
	ad, err := attrs(m)
	if err != nil {
		return r, err
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_RULE_CHAIN:
			r.chain = ad.String()
		case unix.NFTA_RULE_HANDLE:
			r.handle = ad.Uint64()
		case unix.NFTA_RULE_USERDATA:
			ud := ad.Bytes()
			if !udataValid(ud) {
				r.foreign = "malformed userdata"
				continue
			}
			if v, ok := udataGet(ud, 0); ok {
				s := trimNUL(v)
				r.comment = &s
			}
			if v, ok := udataGet(ud, udataDigest); ok {
				r.digest = string(v)
			}
		case unix.NFTA_RULE_COMPAT:
			r.foreign = "xtables compat data"
		case unix.NFTA_RULE_EXPRESSIONS:
			ad.Nested(func(lad *netlink.AttributeDecoder) error {
				for lad.Next() {
					var name string
					var data []byte
					lad.Nested(func(ead *netlink.AttributeDecoder) error {
						for ead.Next() {
							switch ead.Type() {
							case unix.NFTA_EXPR_NAME:
								name = ead.String()
							case unix.NFTA_EXPR_DATA:
								data = ead.Bytes()
							}
						}
						return nil
					})
					mk, ok := exprNames[name]
					if !ok {
						if r.foreign == "" {
							r.foreign = fmt.Sprintf("expression %q", name)
						}
						continue
					}
					e := mk()
					if err := expr.Unmarshal(unix.NFPROTO_INET, data, e); err != nil {
						r.foreign = fmt.Sprintf("undecodable %s expression: %v", name, err)
						continue
					}
					if imm, ok := e.(*expr.Immediate); ok && imm.Register == 0 && len(imm.Data) == 0 {
						// A write to the verdict register is a verdict.
						v := &expr.Verdict{}
						if err := expr.Unmarshal(unix.NFPROTO_INET, data, v); err != nil {
							r.foreign = fmt.Sprintf("undecodable verdict: %v", err)
							continue
						}
						e = v
					}
					r.exprs = append(r.exprs, e)
				}
				return nil
			})
		}
	}
	return r, ad.Err()
}

// udataValid reports whether b is a well-formed list of TLVs.
func udataValid(b []byte) bool {
	for len(b) > 0 {
		if len(b) < 2 || len(b) < 2+int(b[1]) {
			return false
		}
		b = b[2+int(b[1]):]
	}
	return true
}

// udataGet returns the value of the first TLV of type typ in b, checking
// lengths (the library's userdata.Get does not).
func udataGet(b []byte, typ byte) ([]byte, bool) {
	for len(b) >= 2 {
		l := int(b[1])
		if len(b) < 2+l {
			return nil, false
		}
		if b[0] == typ {
			return b[2 : 2+l], true
		}
		b = b[2+l:]
	}
	return nil, false
}

func trimNUL(b []byte) string {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return string(b)
}

func cstring(s string) []byte { return append([]byte(s), 0) }

// firstRule returns the first rule of a chain without reading the rest: it
// starts a dump and decodes only the first datagram, then the caller closes
// the socket, which ends the dump. This keeps StoredDigest O(1) in the size
// of the table.
func firstRule(c *netlink.Conn, table, chain string) (*kRule, error) {
	data := nfgen(unix.NFPROTO_INET)
	a, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_RULE_TABLE, Data: cstring(table)},
		{Type: unix.NFTA_RULE_CHAIN, Data: cstring(chain)},
	})
	if err != nil {
		return nil, err
	}
	req, err := c.Send(netlink.Message{
		Header: netlink.Header{Type: nfMsgType(unix.NFT_MSG_GETRULE), Flags: netlink.Request | netlink.Dump},
		Data:   append(data, a...),
	})
	if err != nil {
		return nil, err
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 64<<10)
	var n int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr = unix.Recvfrom(int(fd), buf, 0)
		return rerr != unix.EAGAIN && rerr != unix.EWOULDBLOCK
	})
	if err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, rerr
	}
	b := buf[:n]
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(binary.NativeEndian.Uint32(b[0:4]))
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return nil, errors.New("malformed netlink message")
		}
		m := netlink.Message{Header: netlink.Header{
			Length:   uint32(l),
			Type:     netlink.HeaderType(binary.NativeEndian.Uint16(b[4:6])),
			Flags:    netlink.HeaderFlags(binary.NativeEndian.Uint16(b[6:8])),
			Sequence: binary.NativeEndian.Uint32(b[8:12]),
		}, Data: b[unix.NLMSG_HDRLEN:l]}
		b = b[min(len(b), (l+3)&^3):]
		if m.Header.Sequence != req.Header.Sequence {
			continue
		}
		switch m.Header.Type {
		case netlink.Done:
			return nil, nil
		case netlink.Error:
			if len(m.Data) >= 4 {
				if errno := int32(binary.NativeEndian.Uint32(m.Data[:4])); errno != 0 {
					return nil, unix.Errno(-errno)
				}
			}
			return nil, nil
		}
		r, err := parseRule(m)
		if err != nil {
			return nil, err
		}
		return &r, nil
	}
	return nil, errors.New("no reply to the rule dump")
}
