package fwrule

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// term is a terminal symbol of the grammar. The order is upstream's symbol
// numbering (jison assigns numbers in order of first appearance in the
// grammar), which decides the order of the "expected" list in syntax errors.
type term uint8

const (
	tEnd term = iota // $end: never produced by the lexer, only accepted after EOF
	tFROM
	tTO
	tEOF
	tPRIORITY
	tWORD
	tLParen
	tRParen
	tOR
	tALL
	tVMS
	tANY
	tIP
	tIPV4ADDR
	tSUBNET
	tCIDRSUFFIX
	tIPV6ADDR
	tVM
	tTAG
	tEq
	tSTRING
	tBLOCK
	tALLOW
	tTCP
	tUDP
	tICMP
	tICMP6
	tAH
	tESP
	tAND
	tPORT
	tPORTS
	tDash
	tComma
	tTYPE
	tCODE
	numTerms
)

// termNames are the token names as jison reports them.
var termNames = [numTerms]string{
	"$end", "FROM", "TO", "EOF", "PRIORITY", "WORD", "(", ")", "OR", "ALL", "VMS",
	"ANY", "IP", "IPV4ADDR", "SUBNET", "CIDRSUFFIX", "IPV6ADDR", "VM", "TAG", "=",
	"STRING", "BLOCK", "ALLOW", "TCP", "UDP", "ICMP", "ICMP6", "AH", "ESP", "AND",
	"PORT", "PORTS", "-", ",", "TYPE", "CODE",
}

// keyword returns the terminal of a keyword in one of its two spellings
// (all upper, all lower case). Keywords end at a word boundary, so a keyword
// matches only when the whole run of word characters equals it.
func keyword(w string) (term, bool) {
	switch w {
	case "FROM", "from":
		return tFROM, true
	case "TO", "to":
		return tTO, true
	case "IP", "ip":
		return tIP, true
	case "SUBNET", "subnet":
		return tSUBNET, true
	case "ANY", "any":
		return tANY, true
	case "ALL", "all":
		return tALL, true
	case "TAG", "tag":
		return tTAG, true
	case "VM", "vm":
		return tVM, true
	case "VMS", "vms":
		return tVMS, true
	case "OR", "or":
		return tOR, true
	case "AND", "and":
		return tAND, true
	case "BLOCK", "block":
		return tBLOCK, true
	case "ALLOW", "allow":
		return tALLOW, true
	case "PORT", "port":
		return tPORT, true
	case "PORTS", "ports":
		return tPORTS, true
	case "TCP", "tcp":
		return tTCP, true
	case "UDP", "udp":
		return tUDP, true
	case "ICMP", "icmp":
		return tICMP, true
	case "ICMP6", "icmp6":
		return tICMP6, true
	case "AH", "ah":
		return tAH, true
	case "ESP", "esp":
		return tESP, true
	case "TYPE", "type":
		return tTYPE, true
	case "CODE", "code":
		return tCODE, true
	case "PRIORITY", "priority":
		return tPRIORITY, true
	}
	return 0, false
}

// token is one lexed token. text is the source text (raw, quotes and escapes
// included for a STRING); val is the value the grammar sees (the unescaped
// contents for a STRING, text otherwise).
type token struct {
	kind       term
	start, end int // byte offsets in the input
	text       string
	val        string
}

// lexer produces tokens on demand, as jison's lexer does: the parser asks
// for the next token only when it needs a lookahead.
type lexer struct {
	in  string
	pos int
}

// isWordByte reports whether c is a word character for \b: [A-Za-z0-9_].
func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// isJSSpace reports whether r is in JavaScript's \s set.
func isJSSpace(r rune) bool {
	switch {
	case r >= 0x09 && r <= 0x0d, r == 0x20, r == 0xa0, r == 0x1680,
		r >= 0x2000 && r <= 0x200a, r == 0x2028, r == 0x2029, r == 0x202f,
		r == 0x205f, r == 0x3000, r == 0xfeff:
		return true
	}
	return false
}

// skipSpace returns the end of the whitespace run starting at i.
func skipSpace(s string, i int) int {
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c == ' ' || c >= 0x09 && c <= 0x0d {
				i++
				continue
			}
			return i
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isJSSpace(r) || r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return i
}

// next returns the next token, skipping whitespace, or ok=false when no
// token rule matches at the current position (a lexical error at l.pos).
func (l *lexer) next() (token, bool) {
	s := l.in
	i := skipSpace(s, l.pos)
	l.pos = i
	if i == len(s) {
		return token{kind: tEOF, start: i, end: i}, true
	}
	c := s[i]
	// Keywords: the run of word characters must equal a keyword exactly.
	if isWordByte(c) && !(c >= '0' && c <= '9') {
		j := i
		for j < len(s) && isWordByte(s[j]) {
			j++
		}
		if k, ok := keyword(s[i:j]); ok {
			return l.emit(k, i, j), true
		}
	}
	switch c {
	case '-':
		return l.emit(tDash, i, i+1), true
	case ',':
		return l.emit(tComma, i, i+1), true
	case '=':
		return l.emit(tEq, i, i+1), true
	case '(':
		return l.emit(tLParen, i, i+1), true
	case ')':
		return l.emit(tRParen, i, i+1), true
	case '"':
		end, ok := scanString(s, i)
		if !ok {
			return token{}, false
		}
		t := l.emit(tSTRING, i, end)
		t.val = tagUnescape(s[i+1 : end-1])
		return t, true
	case '/':
		j := i + 1
		for j < len(s) && j < i+4 && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j > i+1 {
			return l.emit(tCIDRSUFFIX, i, j), true
		}
		return token{}, false
	}
	if end := scanIPv4(s, i); end > 0 {
		return l.emit(tIPV4ADDR, i, end), true
	}
	if end := scanIPv6(s, i); end > 0 {
		return l.emit(tIPV6ADDR, i, end), true
	}
	j := i
	for j < len(s) && (isWordByte(s[j]) || s[j] == '-') {
		j++
	}
	if j > i {
		return l.emit(tWORD, i, j), true
	}
	return token{}, false
}

func (l *lexer) emit(k term, start, end int) token {
	l.pos = end
	t := l.in[start:end]
	return token{kind: k, start: start, end: end, text: t, val: t}
}

// scanString matches rule 4 of spec §1 at s[i] == '"' and returns the end
// offset (after the closing quote).
func scanString(s string, i int) (int, bool) {
	j := i + 1
	for j < len(s) {
		switch s[j] {
		case '"':
			return j + 1, true
		case '\\':
			if j+1 >= len(s) {
				return 0, false
			}
			switch s[j+1] {
			case '"', 'b', 'f', 'n', 'r', 't', '/', '(', ')', '\\':
				j += 2
			case 'u':
				if j+6 > len(s) || !isHex4(s[j+2:j+6]) {
					return 0, false
				}
				j += 6
			default:
				return 0, false
			}
		default:
			j++
		}
	}
	return 0, false
}

func isHex4(s string) bool {
	for i := 0; i < 4; i++ {
		if hexVal(s[i]) < 0 {
			return false
		}
	}
	return true
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// scanIPv4 matches four groups of 1–3 digits separated by dots, with no
// word boundary at the end; it returns the end offset or 0.
func scanIPv4(s string, i int) int {
	j := i
	for g := 0; g < 4; g++ {
		if g > 0 {
			if j >= len(s) || s[j] != '.' {
				return 0
			}
			j++
		}
		k := j
		for k < len(s) && k < j+3 && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k == j {
			return 0
		}
		j = k
	}
	return j
}

func isLowerHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

// scanIPv6 matches [0-9a-f]*:[0-9a-f]*:[:0-9a-f]* and returns the end
// offset or 0.
func scanIPv6(s string, i int) int {
	j := i
	for g := 0; g < 2; g++ {
		for j < len(s) && isLowerHex(s[j]) {
			j++
		}
		if j >= len(s) || s[j] != ':' {
			return 0
		}
		j++
	}
	for j < len(s) && (isLowerHex(s[j]) || s[j] == ':') {
		j++
	}
	return j
}

// tagUnescape returns the value of a STRING's contents (spec §3.6). \uXXXX
// escapes are UTF-16 code units: a high and a low surrogate in a row join
// into one character; a lone surrogate becomes U+FFFD.
func tagUnescape(raw string) string {
	if !utf8.ValidString(raw) {
		raw = validUTF8(raw)
	}
	if strings.IndexByte(raw, '\\') < 0 {
		return raw
	}
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		e := raw[i+1]
		i++
		switch e {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			u := hex4(raw[i+1 : i+5])
			i += 4
			r := rune(u)
			if utf16.IsSurrogate(r) {
				r = utf8.RuneError
				if u < 0xdc00 && i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					if lo := hex4(raw[i+3 : i+7]); lo >= 0xdc00 && lo <= 0xdfff {
						r = utf16.DecodeRune(rune(u), rune(lo))
						i += 6
					}
				}
			}
			b.WriteRune(r)
		default: // " / ( ) \ stand for themselves
			b.WriteByte(e)
		}
	}
	return b.String()
}

// validUTF8 replaces each byte of s that is not part of valid UTF-8 with
// U+FFFD, the policy for input that JavaScript strings could not hold.
func validUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+w])
		}
		i += w
	}
	return b.String()
}

func hex4(s string) int {
	v := 0
	for i := 0; i < 4; i++ {
		v = v<<4 | hexVal(s[i])
	}
	return v
}

// utf16Len returns the length of s in UTF-16 code units, as JavaScript
// counts it (an invalid byte counts as one unit).
func utf16Len(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		i += w
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// toUTF16 converts s to UTF-16 code units.
func toUTF16(s string) []uint16 {
	out := make([]uint16, 0, len(s))
	for _, r := range s {
		if r >= 0x10000 {
			a, b := utf16.EncodeRune(r)
			out = append(out, uint16(a), uint16(b))
		} else {
			out = append(out, uint16(r))
		}
	}
	return out
}

// compareUTF16 compares a and b the way JavaScript's default sort does: by
// UTF-16 code units.
func compareUTF16(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ca, cb := a[i], b[j]
		if ca < utf8.RuneSelf && cb < utf8.RuneSelf {
			if ca != cb {
				return int(ca) - int(cb)
			}
			i++
			j++
			continue
		}
		ra, wa := utf8.DecodeRuneInString(a[i:])
		rb, wb := utf8.DecodeRuneInString(b[j:])
		if ra != rb {
			return utf16Key(ra) - utf16Key(rb)
		}
		i += wa
		j += wb
	}
	return (len(a) - i) - (len(b) - j)
}

// utf16Key orders runes by their first UTF-16 unit, then their second: a
// supplementary character sorts between U+D7FF and U+E000.
func utf16Key(r rune) int {
	if r >= 0x10000 {
		hi, lo := utf16.EncodeRune(r)
		return int(hi)<<16 | int(lo)
	}
	return int(r) << 16
}
