package load

import (
	"unicode/utf8"

	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// scalarOffsets maps every byte of a scalar's decoded value to the byte
// offset in the file where it came from, so that an error inside a rule text
// can point at its line and column in the YAML file. start is the file offset
// where the scalar's node begins (its quote or block indicator) and
// parentIndent the indentation of the mapping that holds it (for block
// scalars with an explicit indentation indicator).
//
// It re-scans the source with YAML's folding and escaping rules for each
// style. The result is used only when re-scanning reproduces the value the
// parser decoded exactly; otherwise scalarOffsets returns nil and the caller
// falls back to the scalar's start. The returned slice has one more entry
// than the value: the offset just after its last byte.
func scalarOffsets(src []byte, start, parentIndent int, n *yaml.Node) []int {
	if start < 0 || start >= len(src) {
		return nil
	}
	var s scan
	switch n.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		s = scanBlock(src, start, parentIndent, n.Style == yaml.FoldedStyle, len(n.Value))
	case yaml.SingleQuotedStyle:
		s = scanFlow(src, start+1, '\'', len(n.Value))
	case yaml.DoubleQuotedStyle:
		s = scanFlow(src, start+1, '"', len(n.Value))
	case 0, yaml.TaggedStyle:
		s = scanFlow(src, start, 0, len(n.Value))
	default:
		return nil
	}
	if len(s.val) < len(n.Value) || string(s.val[:len(n.Value)]) != n.Value {
		return nil
	}
	offs := s.off[:len(n.Value)]
	end := start
	if len(offs) > 0 {
		last := offs[len(offs)-1]
		_, w := utf8.DecodeRune(src[last:])
		end = last + w
	}
	return append(offs, end)
}

// scan is a value rebuilt from the source with the offset of each byte.
type scan struct {
	val []byte
	off []int
}

func (s *scan) emit(b []byte, at int) {
	s.val = append(s.val, b...)
	for range b {
		s.off = append(s.off, at)
	}
}

func (s *scan) emitByte(c byte, at int) {
	s.val = append(s.val, c)
	s.off = append(s.off, at)
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

func isBreak(c byte) bool { return c == '\n' || c == '\r' }

// skipBreak steps over one line break (LF or CRLF) at i.
func skipBreak(src []byte, i int) int {
	if i < len(src) && src[i] == '\r' {
		i++
	}
	if i < len(src) && src[i] == '\n' {
		i++
	}
	return i
}

// scanFlow rebuilds a plain (quote 0), single-quoted or double-quoted
// scalar starting at i (just after the opening quote), stopping at the
// closing quote, or for a plain scalar once want bytes have been produced.
// Line breaks fold as YAML says: one break becomes a space, n+1 breaks
// become n newlines, and white space around breaks is dropped.
func scanFlow(src []byte, i int, quote byte, want int) scan {
	var s scan
	for i < len(src) {
		// One line of content: hold blanks back until something follows
		// them on the same line.
		pendingFrom := -1
		for i < len(src) && !isBreak(src[i]) {
			c := src[i]
			if quote == 0 && len(s.val) >= want {
				return s
			}
			if isBlank(c) {
				if pendingFrom < 0 {
					pendingFrom = i
				}
				i++
				continue
			}
			if pendingFrom >= 0 {
				for j := pendingFrom; j < i; j++ {
					s.emitByte(src[j], j)
				}
				pendingFrom = -1
			}
			switch {
			case quote == '\'' && c == '\'':
				if i+1 < len(src) && src[i+1] == '\'' {
					s.emitByte('\'', i)
					i += 2
					continue
				}
				return s
			case quote == '"' && c == '"':
				return s
			case quote == '"' && c == '\\':
				if i+1 < len(src) && isBreak(src[i+1]) {
					// An escaped line break joins the lines with
					// nothing between them.
					i = skipBreak(src, i+1)
					for i < len(src) && isBlank(src[i]) {
						i++
					}
					continue
				}
				b, n := unescape(src[i:])
				if n == 0 {
					return s
				}
				s.emit(b, i)
				i += n
				continue
			}
			s.emitByte(c, i)
			i++
		}
		if i >= len(src) || (quote == 0 && len(s.val) >= want) {
			return s
		}
		// Fold the break and any empty lines after it.
		brk := i
		i = skipBreak(src, i)
		var empties []int
		for {
			j := i
			for j < len(src) && isBlank(src[j]) {
				j++
			}
			if j < len(src) && isBreak(src[j]) {
				empties = append(empties, j)
				i = skipBreak(src, j)
				continue
			}
			i = j
			break
		}
		if len(empties) == 0 {
			s.emitByte(' ', brk)
		}
		for _, e := range empties {
			s.emitByte('\n', e)
		}
	}
	return s
}

// unescape decodes the double-quoted escape sequence at the start of b (b[0]
// is the backslash) and returns its bytes and the source length, or n == 0
// for an invalid escape.
func unescape(b []byte) (out []byte, n int) {
	if len(b) < 2 {
		return nil, 0
	}
	simple := map[byte]string{
		'0': "\x00", 'a': "\a", 'b': "\b", 't': "\t", '\t': "\t", 'n': "\n", 'v': "\v",
		'f': "\f", 'r': "\r", 'e': "\x1b", ' ': " ", '"': "\"", '/': "/", '\\': "\\",
		'N': "\u0085", '_': "\u00a0", 'L': "\u2028", 'P': "\u2029",
	}
	if r, ok := simple[b[1]]; ok {
		return []byte(r), 2
	}
	digits := map[byte]int{'x': 2, 'u': 4, 'U': 8}[b[1]]
	if digits == 0 || len(b) < 2+digits {
		return nil, 0
	}
	var r rune
	for _, c := range b[2 : 2+digits] {
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			v = c - 'A' + 10
		default:
			return nil, 0
		}
		r = r<<4 | rune(v)
	}
	return utf8.AppendRune(nil, r), 2 + digits
}

// blockLine is one line of a block scalar's body.
type blockLine struct {
	blank         bool
	from, to, brk int // content [from, to), line break at brk
	more          bool
}

// scanBlock rebuilds a literal (|) or folded (>) block scalar whose
// indicator is at i. Chomping only removes trailing line breaks, so the
// result keeps them all and the caller compares a prefix.
func scanBlock(src []byte, i, parentIndent int, folded bool, want int) scan {
	var s scan
	i++ // the indicator
	indent := 0
	for i < len(src) && !isBreak(src[i]) && src[i] != '#' {
		if c := src[i]; '1' <= c && c <= '9' {
			indent = parentIndent + int(c-'0')
		}
		i++
	}
	for i < len(src) && !isBreak(src[i]) {
		i++
	}
	i = skipBreak(src, i)
	var lines []blockLine
	for i < len(src) {
		j := i
		for j < len(src) && src[j] == ' ' {
			j++
		}
		blank := j >= len(src) || isBreak(src[j])
		if !blank && indent == 0 {
			indent = j - i
		}
		if !blank && j-i < indent {
			break
		}
		end := j
		for end < len(src) && !isBreak(src[end]) {
			end++
		}
		from := i + indent
		if blank || from > end {
			from = end
		}
		l := blockLine{blank: blank, from: from, to: end, brk: end}
		l.more = !blank && from < end && isBlank(src[from])
		lines = append(lines, l)
		i = skipBreak(src, end)
		if i == end {
			break
		}
	}
	for k, l := range lines {
		if len(s.val) >= want {
			break
		}
		for p := l.from; p < l.to; p++ {
			s.emitByte(src[p], p)
		}
		if !folded || l.blank {
			s.emitByte('\n', l.brk)
			continue
		}
		// Folded: a break between two ordinary content lines with no
		// empty line in between becomes a space; empty lines between them
		// stand for themselves and the break itself disappears.
		next := -1
		for m := k + 1; m < len(lines); m++ {
			if !lines[m].blank {
				next = m
				break
			}
		}
		if next < 0 || l.more || lines[next].more {
			s.emitByte('\n', l.brk)
			continue
		}
		if next == k+1 {
			s.emitByte(' ', l.brk)
		}
	}
	return s
}
