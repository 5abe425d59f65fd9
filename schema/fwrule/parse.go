package fwrule

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// CurrentVersion is the newest language version (spec §8): v2 adds PORTS
// and port ranges, v3 IPv6 targets, icmp6 and TYPE all, v4 PRIORITY, ah and
// esp, and 24 instead of 8 protocol targets.
const CurrentVersion = 4

// Options are the parser options of spec §0. The zero value is upstream's
// default: the newest language and no subnet-mask enforcement.
type Options struct {
	// MaxVersion rejects features newer than this language version. Zero
	// means "not given": the newest version (4).
	MaxVersion int
	// EnforceSubnetMask rejects subnets with host bits set (FWAPI sets it).
	EnforceSubnetMask bool
	// MaxVersionSet records that MaxVersion was given explicitly. It only
	// matters for an explicit 0, which upstream's parser treats as 4 while
	// its port-count check then applies the old limit of 8 (spec §8).
	MaxVersionSet bool
}

// parserVersion is the version the grammar's feature gates compare against:
// upstream uses `maxVersion || 4`.
func (o Options) parserVersion() int {
	if o.MaxVersion == 0 {
		return CurrentVersion
	}
	return o.MaxVersion
}

// protoLimit is the maximum number of ports or types (spec §4.2): upstream
// tests `maxVersion < 4`, which is false when the option is absent.
func (o Options) protoLimit() int {
	if (o.MaxVersion != 0 || o.MaxVersionSet) && o.MaxVersion < 4 {
		return 8
	}
	return 24
}

// Parse parses text at upstream's parse() layer: grammar, value checks and
// feature gating, stopping at the first problem left to right. The result
// keeps source order and duplicates. Errors are [*Error].
func Parse(text string, opts Options) (*Rule, error) {
	r, _, err := parse(text, opts)
	return r, err
}

// parseInfo carries positions that the rule-level checks report errors at.
type parseInfo struct {
	start      int   // offset of the first token
	entryOffs  []int // offset of each port or type entry, in source order
	entryToks  []string
	protoOff   int
	protoToken string
}

type sval struct {
	tok     token
	targets []Target
	ports   []Port
	types   []ICMPType
	all     bool
	str     string
	num     int
	action  Action
	proto   Protocol
}

type entry struct {
	state int
	v     sval
}

type parser struct {
	text    string
	opts    Options
	lex     lexer
	lastEnd int // end offset of the last shifted token, -1 before any
	info    parseInfo
	rule    *Rule
}

func parse(text string, opts Options) (*Rule, *parseInfo, error) {
	tb, err := getTable()
	if err != nil {
		return nil, nil, err
	}
	p := &parser{text: text, opts: opts, lex: lexer{in: text}, lastEnd: -1}
	p.info.start = skipSpace(text, 0)
	var stack [24]entry
	st := stack[:1]
	var look token
	have := false
	for {
		s := st[len(st)-1].state
		act := tb.defaults[s]
		if act == 0 {
			if !have {
				var ok bool
				look, ok = p.lex.next()
				if !ok {
					return nil, nil, p.lexicalError()
				}
				have = true
			}
			act = tb.action[s][look.kind]
			if act == 0 {
				return nil, nil, p.syntaxError(tb, s, look)
			}
		}
		if act > 0 {
			st = append(st, entry{state: int(act) - 1, v: sval{tok: look}})
			p.lastEnd = look.end
			have = false
			continue
		}
		prod := prodID(-act - 1)
		n := len(productions[prod].rhs)
		v, err := p.reduce(prod, st[len(st)-n:])
		if err != nil {
			return nil, nil, err
		}
		if p.rule != nil {
			return p.rule, &p.info, nil
		}
		st = st[:len(st)-n]
		g := tb.gotos[st[len(st)-1].state][productions[prod].lhs]
		st = append(st, entry{state: int(g) - 1, v: v})
	}
}

// gate is upstream's validateOKVersion.
func (p *parser) gate(ver int, feature string, at token) error {
	if ver > p.opts.parserVersion() {
		return p.valueErr(KindFeatureVersion, at,
			fmt.Sprintf("The rule uses a feature (%s) newer than this API allows", feature))
	}
	return nil
}

func (p *parser) valueErr(kind Kind, at token, msg string) *Error {
	return newErrAt(kind, p.text, at.start, at.text, msg)
}

func (p *parser) addEntry(at token) {
	p.info.entryOffs = append(p.info.entryOffs, at.start)
	p.info.entryToks = append(p.info.entryToks, at.text)
}

// reduce runs the semantic action of production prod over its right-hand
// side, in the order upstream's actions run their checks.
func (p *parser) reduce(prod prodID, rhs []entry) (sval, error) {
	switch prod {
	case pRule, pRulePrio:
		if prod == pRulePrio {
			if err := p.gate(4, "priority levels", rhs[6].v.tok); err != nil {
				return sval{}, err
			}
		}
		r := &Rule{
			From:     rhs[1].v.targets,
			To:       rhs[3].v.targets,
			Action:   rhs[4].v.action,
			Protocol: rhs[5].v.proto,
		}
		pv := rhs[5].v
		switch r.Protocol {
		case TCP, UDP:
			r.Ports, r.AllPorts = pv.ports, pv.all
		case ICMP, ICMP6:
			r.Types, r.AllTypes = pv.types, pv.all
		}
		if prod == pRulePrio {
			r.Priority, r.HasPriority = rhs[7].v.num, true
		}
		p.rule = r
		return sval{}, nil
	case pPrioLevel:
		n, ok := smallNumber(rhs[0].v.tok.val)
		if !ok || n > 100 {
			return sval{}, p.valueErr(KindInvalidPriority, rhs[0].v.tok,
				fmt.Sprintf("Priority level \"%s\" is invalid", rhs[0].v.tok.val))
		}
		return sval{num: n}, nil
	case pTLParen, pAllVMsParen, pAnyParen, pPLParen, pPLAllParen, pTyLParen, pTyLAllParen:
		if prod == pAllVMsParen {
			return sval{targets: []Target{{Kind: TargetAllVMs, Offset: rhs[1].v.tok.start}}}, nil
		}
		if prod == pAnyParen {
			return sval{targets: []Target{{Kind: TargetAny, Offset: rhs[1].v.tok.start}}}, nil
		}
		return rhs[1].v, nil
	case pOrNext:
		v := rhs[0].v
		v.targets = append(v.targets, rhs[2].v.targets...)
		return v, nil
	case pAllVMs:
		return sval{targets: []Target{{Kind: TargetAllVMs, Offset: rhs[0].v.tok.start}}}, nil
	case pAnyBare:
		return sval{targets: []Target{{Kind: TargetAny, Offset: rhs[0].v.tok.start}}}, nil
	case pIPv4:
		a := rhs[1].v.tok
		if !isIPv4(a.val) || a.val == "0.0.0.0" || a.val == "255.255.255.255" {
			return sval{}, p.valueErr(KindInvalidIPv4, a, fmt.Sprintf("IPv4 address \"%s\" is invalid", a.val))
		}
		return sval{targets: []Target{{Kind: TargetIP, Value: a.val, Offset: rhs[0].v.tok.start}}}, nil
	case pIPv6:
		a := rhs[1].v.tok
		if err := p.gate(3, "IPv6", a); err != nil {
			return sval{}, err
		}
		if !isIPv6(a.val) {
			return sval{}, p.valueErr(KindInvalidIPv6, a, fmt.Sprintf("IPv6 address \"%s\" is invalid", a.val))
		}
		return sval{targets: []Target{{Kind: TargetIP, Value: a.val, Offset: rhs[0].v.tok.start}}}, nil
	case pIPv4Sub, pIPv6Sub:
		a := rhs[1].v.tok
		if prod == pIPv6Sub {
			if err := p.gate(3, "IPv6", a); err != nil {
				return sval{}, err
			}
		}
		cidr := a.val + rhs[2].v.tok.val
		at := token{start: a.start, text: p.text[a.start:rhs[2].v.tok.end]}
		if kind, msg := checkSubnet(cidr, p.opts.EnforceSubnetMask); kind != "" {
			return sval{}, p.valueErr(kind, at, msg)
		}
		return sval{targets: []Target{{Kind: TargetSubnet, Value: cidr, Offset: rhs[0].v.tok.start}}}, nil
	case pVM:
		return sval{targets: []Target{{Kind: TargetVM, Value: rhs[1].v.str, Offset: rhs[0].v.tok.start}}}, nil
	case pUUID:
		w := rhs[0].v.tok
		if !isUUID(w.val) {
			return sval{}, p.valueErr(KindInvalidUUID, w, fmt.Sprintf("UUID \"%s\" is invalid", w.val))
		}
		return sval{str: w.val}, nil
	case pTag:
		return sval{targets: []Target{{Kind: TargetTag, Value: rhs[1].v.str, Offset: rhs[0].v.tok.start}}}, nil
	case pTagValue:
		return sval{targets: []Target{{Kind: TargetTag, Value: rhs[1].v.str, TagValue: rhs[3].v.str,
			HasValue: true, Offset: rhs[0].v.tok.start}}}, nil
	case pTagString, pTagWord:
		return sval{str: rhs[0].v.tok.val}, nil
	case pBlock:
		return sval{action: Block}, nil
	case pAllow:
		return sval{action: Allow}, nil
	case pTCPList, pTCPPorts, pUDPList, pUDPPorts, pICMP, pICMP6:
		kw := rhs[0].v.tok
		if prod == pICMP6 {
			if err := p.gate(3, "IPv6", kw); err != nil {
				return sval{}, err
			}
		}
		v := rhs[1].v
		switch prod {
		case pTCPList, pTCPPorts:
			v.proto = TCP
		case pUDPList, pUDPPorts:
			v.proto = UDP
		case pICMP:
			v.proto = ICMP
		default:
			v.proto = ICMP6
		}
		p.info.protoOff, p.info.protoToken = kw.start, kw.text
		return v, nil
	case pAH, pESP:
		kw := rhs[0].v.tok
		proto, feature := AH, "AH"
		if prod == pESP {
			proto, feature = ESP, "ESP"
		}
		if err := p.gate(4, feature, kw); err != nil {
			return sval{}, err
		}
		p.info.protoOff, p.info.protoToken = kw.start, kw.text
		p.addEntry(kw)
		return sval{proto: proto}, nil
	case pAndNext, pNumsNext:
		v := rhs[0].v
		v.ports = append(v.ports, rhs[2].v.ports...)
		return v, nil
	case pTyAndNext:
		v := rhs[0].v
		v.types = append(v.types, rhs[2].v.types...)
		return v, nil
	case pPort:
		return sval{ports: []Port{{Lo: rhs[1].v.num, Hi: rhs[1].v.num}}}, nil
	case pPorts:
		if err := p.gate(2, "port ranges", rhs[0].v.tok); err != nil {
			return sval{}, err
		}
		return rhs[1].v, nil
	case pPortAll, pTypeAll:
		if prod == pTypeAll {
			if err := p.gate(3, "all ICMP types", rhs[0].v.tok); err != nil {
				return sval{}, err
			}
		}
		p.addEntry(rhs[0].v.tok)
		return sval{all: true}, nil
	case pPortNumber:
		w := rhs[0].v.tok
		n, err := p.port(w, w.val)
		if err != nil {
			return sval{}, err
		}
		p.addEntry(w)
		return sval{num: n}, nil
	case pRangeWord:
		w := rhs[0].v.tok
		parts := strings.Split(w.val, "-")
		switch len(parts) {
		case 1:
			n, err := p.port(w, parts[0])
			if err != nil {
				return sval{}, err
			}
			p.addEntry(w)
			return sval{ports: []Port{{Lo: n, Hi: n}}}, nil
		case 2:
			pt, err := p.portRange(w, w, parts[0], parts[1])
			if err != nil {
				return sval{}, err
			}
			p.addEntry(w)
			return sval{ports: []Port{pt}}, nil
		}
		return sval{}, p.valueErr(KindInvalidPortRange, w,
			fmt.Sprintf("\"%s\" is not a valid port number or range", w.val))
	case pRangeDash:
		lo, hi := rhs[0].v.tok, rhs[2].v.tok
		pt, err := p.portRange(lo, hi, lo.val, hi.val)
		if err != nil {
			return sval{}, err
		}
		p.addEntry(lo)
		return sval{ports: []Port{pt}}, nil
	case pTypeCode, pType:
		it := ICMPType{Type: rhs[1].v.num}
		if prod == pTypeCode {
			it.Code, it.HasCode = rhs[3].v.num, true
		}
		p.addEntry(rhs[0].v.tok)
		return sval{types: []ICMPType{it}}, nil
	case pICMPType, pICMPCode:
		w := rhs[0].v.tok
		n, ok := smallNumber(w.val)
		if !ok || n > 255 {
			what, kind := "type", KindInvalidICMPType
			if prod == pICMPCode {
				what, kind = "code", KindInvalidICMPCode
			}
			return sval{}, p.valueErr(kind, w, fmt.Sprintf("ICMP %s \"%s\" is invalid", what, w.val))
		}
		return sval{num: n}, nil
	}
	// Pass-through productions: target_list → any | all | target, target →
	// ipv4 | …, the first element of a list, and the like.
	return rhs[0].v, nil
}

// port is upstream's validatePortNumber on s (part of the token at).
func (p *parser) port(at token, s string) (int, error) {
	n, ok := smallNumber(s)
	if !ok || n < 1 || n > 65535 {
		return 0, p.valueErr(KindInvalidPort, at, fmt.Sprintf("Port number \"%s\" is invalid", s))
	}
	return n, nil
}

func (p *parser) portRange(loTok, hiTok token, lo, hi string) (Port, error) {
	a, err := p.port(loTok, lo)
	if err != nil {
		return Port{}, err
	}
	b, err := p.port(hiTok, hi)
	if err != nil {
		return Port{}, err
	}
	if b < a {
		return Port{}, p.valueErr(KindPortRangeOrder, loTok,
			fmt.Sprintf("The end of the range (%s) cannot be less than the start (%s)", hi, lo))
	}
	return Port{Lo: a, Hi: b, IsRange: true}, nil
}

// smallNumber parses a string of ASCII digits (leading zeros allowed) as
// JavaScript's Number would; values past 1<<20 are clamped, which is beyond
// every limit checked here. The empty string is 0, as Number("") is.
func smallNumber(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < 1<<20 {
			n = n*10 + int(c-'0')
		}
	}
	return n, true
}

func (p *parser) syntaxError(tb *lrTable, state int, look token) *Error {
	var exp []string
	for x := tFROM; x < numTerms; x++ {
		if tb.action[state][x] != 0 {
			exp = append(exp, "'"+displayExpected(x)+"'")
		}
	}
	found := termNames[look.kind]
	if look.kind == tWORD {
		found = "word"
	}
	col := 0
	if p.lastEnd >= 0 {
		col = jisonColumn(p.text, p.lastEnd)
	}
	kind := KindSyntax
	if look.kind == tEOF {
		kind = KindSyntaxEOF
	}
	msg := fmt.Sprintf("Error at character %d: '%s', expected: %s, found: %s",
		col, look.text, strings.Join(exp, ", "), found)
	return newErrAt(kind, p.text, look.start, look.text, msg)
}

func displayExpected(x term) string {
	switch x {
	case tALL, tANY, tIP, tSUBNET, tTAG, tVM:
		return strings.ToLower(termNames[x])
	}
	return termNames[x]
}

// lexicalError reproduces jison's message: N is the length of its display
// of the consumed input (at most 20 characters, "..." before when cut, line
// feeds removed) and the text is the next 20 characters, line feeds removed.
func (p *parser) lexicalError() *Error {
	pos := p.lex.pos
	past := toUTF16(p.text[:pos])
	n := 0
	if len(past) > 20 {
		n = 3
		past = past[len(past)-20:]
	}
	for _, u := range past {
		if u != '\n' {
			n++
		}
	}
	next := toUTF16(p.text[pos:])
	if len(next) > 20 {
		next = next[:20]
	}
	shown := strings.ReplaceAll(string(utf16.Decode(next)), "\n", "")
	msg := fmt.Sprintf("Error at character %d: '%s', found: unexpected text", n, shown)
	_, w := utf8.DecodeRuneInString(p.text[pos:])
	tokText := p.text[pos : pos+w]
	return newErrAt(KindLexical, p.text, pos, tokText, msg)
}

// jisonColumn returns jison's yylloc.last_column after the match ending at
// byte offset end: columns count UTF-16 units and restart after a line break
// (\r, \n or \r\n) inside a match, where JavaScript's "." stops the count at
// U+2028 or U+2029.
func jisonColumn(text string, end int) int {
	col, pos := 0, 0
	l := lexer{in: text}
	for pos < end {
		m := skipSpace(text, pos)
		if m == pos {
			l.pos = pos
			tok, ok := l.next()
			if !ok || tok.end <= pos {
				break
			}
			m = tok.end
		}
		col = advanceColumn(col, text[pos:m])
		pos = m
	}
	return col
}

func advanceColumn(col int, m string) int {
	i := strings.LastIndexAny(m, "\r\n")
	if i < 0 {
		return col + utf16Len(m)
	}
	seg := m[i+1:]
	if j := strings.IndexAny(seg, "\u2028\u2029"); j >= 0 {
		seg = seg[:j]
	}
	return utf16Len(seg)
}
