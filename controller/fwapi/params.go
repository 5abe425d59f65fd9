package fwapi

import (
	"cmp"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/internal/httpapi"
)

// param is one parameter of a query string, grouped by the name before any
// "[" (spec/fwapi.md §1.4).
type param struct {
	// values are the plain (name=v) and list (name[]=v) occurrences in order.
	values []string
	// list is set when the value is a list: name[]=v, or the name repeated.
	list bool
	// keys holds name[KEY]=v and name[KEY][]=v occurrences, in order of
	// first appearance; isMap is set when there was any.
	keys  []string
	byKey map[string][]string
	// keyList marks keys whose value is a list (repeated, or KEY[]).
	keyList map[string]bool
	isMap   bool
}

// str returns the parameter's value when it is one plain string.
func (p *param) str() (string, bool) {
	if p.isMap || p.list || len(p.values) != 1 {
		return "", false
	}
	return p.values[0], true
}

type query map[string]*param

// maxQueryParts is qs's parameterLimit: parts after the first 1000 are
// ignored.
const maxQueryParts = 1000

// parseQuery splits a raw query string as restify 4's qs does for the forms
// §1.4 specifies: parts split on "&", each at "]=" when present and at its
// first "=" otherwise, "+" meaning a space, and percent-decoding that leaves
// a half it cannot decode as it is. Parts with an empty name are dropped.
func parseQuery(raw string) query {
	q := query{}
	if raw == "" {
		return q
	}
	parts := strings.Split(raw, "&")
	if len(parts) > maxQueryParts {
		parts = parts[:maxQueryParts]
	}
	for _, part := range parts {
		pos := strings.Index(part, "]=")
		if pos >= 0 {
			pos++
		} else {
			pos = strings.IndexByte(part, '=')
		}
		k, v := part, ""
		if pos >= 0 {
			k, v = part[:pos], part[pos+1:]
		}
		name, val := qsDecode(k), qsDecode(v)
		base, rest, bracket := strings.Cut(name, "[")
		if base == "" {
			continue
		}
		p := q[base]
		if p == nil {
			p = &param{}
			q[base] = p
		}
		key, _, _ := strings.Cut(rest, "]")
		switch {
		case !bracket:
			if len(p.values) > 0 {
				p.list = true
			}
			p.values = append(p.values, val)
		case key == "":
			p.list = true
			p.values = append(p.values, val)
		default:
			if p.byKey == nil {
				p.byKey, p.keyList = map[string][]string{}, map[string]bool{}
			}
			if _, seen := p.byKey[key]; seen {
				p.keyList[key] = true
			} else {
				p.keys = append(p.keys, key)
			}
			if strings.HasPrefix(rest[len(key)+1:], "[]") {
				p.keyList[key] = true
			}
			p.byKey[key] = append(p.byKey[key], val)
			p.isMap = true
		}
	}
	return q
}

// qsDecode decodes one half of a query part as qs does: "+" is a space,
// and a string that does not percent-decode to valid UTF-8 (JavaScript's
// decodeURIComponent throws) is kept as it is.
func qsDecode(s string) string {
	s = strings.ReplaceAll(s, "+", " ")
	if !strings.Contains(s, "%") {
		return s
	}
	d, err := url.PathUnescape(s)
	if err != nil || !utf8.ValidString(d) {
		return s
	}
	return d
}

// item is one entry of a 422 "errors" list.
type item struct {
	Field   any      `json:"field"`
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Invalid []string `json:"invalid,omitempty"`
}

func (it item) fieldKey() string {
	if f, ok := it.Field.([]string); ok {
		return strings.Join(f, ",")
	}
	return it.Field.(string)
}

// errs collects 422 items.
type errs []item

func (e *errs) add(field, msg string, invalid ...string) {
	*e = append(*e, item{Field: field, Code: "InvalidParameter", Message: msg, Invalid: invalid})
}

func (e *errs) missing(field string) {
	*e = append(*e, item{Field: field, Code: "MissingParameter", Message: "Missing parameter"})
}

func (e *errs) unknown(names []string) {
	if len(names) == 0 {
		return
	}
	sortUTF16(names)
	*e = append(*e, item{Field: names, Code: "UnknownParameters", Message: "Unknown parameters: " + strings.Join(names, ", ")})
}

type invalidBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Errors  []item `json:"errors"`
}

// err returns the 422 answer for the collected items, or nil.
func (e errs) err() error {
	if len(e) == 0 {
		return nil
	}
	items := slices.Clone([]item(e))
	slices.SortStableFunc(items, func(a, b item) int { return model.CompareUTF16(a.fieldKey(), b.fieldKey()) })
	msg := "Missing parameters"
	for _, it := range items {
		if it.Code != "MissingParameter" {
			msg = "Invalid parameters"
		}
	}
	return &httpapi.HTTPError{Status: http.StatusUnprocessableEntity, Body: invalidBody{"InvalidParameters", msg, items}}
}

// listItems returns the items of a "string split on ',', or a list"
// parameter (restify-warden's arrayify): a single string is split on ",",
// except that the empty string is the empty list; a list's items are taken
// as they are, never split.
func listItems(p *param) []string {
	if v, ok := p.str(); ok {
		if v == "" {
			return []string{}
		}
		return strings.Split(v, ",")
	}
	return p.values
}

// sortUTF16 sorts strings as JavaScript's default sort does.
func sortUTF16(s []string) { slices.SortStableFunc(s, model.CompareUTF16) }

// uuidList validates owner_uuid or vm style parameters: every item must be
// a lower-case UUID. The bad items are reported distinct and sorted. The
// result is the valid items, non-nil: an empty value gives the empty set.
func uuidList(e *errs, field string, p *param) []string {
	if p.isMap {
		e.add(field, "must be an array of strings")
		return nil
	}
	out := []string{}
	var bad []string
	for _, v := range listItems(p) {
		switch {
		case uuidRE.MatchString(v):
			out = append(out, v)
		case !slices.Contains(bad, v):
			bad = append(bad, v)
		}
	}
	if len(bad) > 0 {
		sortUTF16(bad)
		e.add(field, "invalid UUID", bad...)
	}
	return out
}

// parseIP accepts an IPv4 dotted quad without leading zeros or IPv6 text
// (any case, optional dotted-quad tail), with no zone and no prefix.
func parseIP(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}

// addrList validates ip-style parameters. Items are trimmed; the bad ones
// are reported sorted and not de-duplicated, and an empty value (no items)
// is reported as "Empty string".
func addrList(e *errs, field string, p *param) []netip.Addr {
	if p.isMap {
		e.add(field, "must be a string")
		return nil
	}
	items := listItems(p)
	out := []netip.Addr{}
	var bad []string
	if len(items) == 0 {
		bad = append(bad, "Empty string")
	}
	for _, v := range items {
		v = trimJS(v)
		if a, ok := parseIP(v); ok {
			out = append(out, a)
		} else {
			bad = append(bad, v)
		}
	}
	if len(bad) > 0 {
		sortUTF16(bad)
		msg := "invalid IP"
		if len(bad) > 1 {
			msg = "invalid IPs"
		}
		e.add(field, msg, bad...)
	}
	return out
}

// parseSubnet accepts ADDR/LEN: ADDR as for ip, LEN decimal and 8–32
// (IPv4) or 8–128 (IPv6), and no bits set after the prefix.
func parseSubnet(s string) (netip.Prefix, bool) {
	addr, bits, ok := strings.Cut(s, "/")
	if !ok || bits == "" || strings.Contains(bits, "/") {
		return netip.Prefix{}, false
	}
	a, ok := parseIP(addr)
	if !ok {
		return netip.Prefix{}, false
	}
	n := 0
	for _, c := range bits {
		if c < '0' || c > '9' {
			return netip.Prefix{}, false
		}
		if n < 1000 {
			n = n*10 + int(c-'0')
		}
	}
	if n < 8 || n > a.BitLen() {
		return netip.Prefix{}, false
	}
	p := netip.PrefixFrom(a, n)
	if p.Masked() != p {
		return netip.Prefix{}, false
	}
	return p, true
}

// subnetList validates subnet-style parameters, reporting bad items as
// addrList does.
func subnetList(e *errs, field string, p *param) []netip.Prefix {
	if p.isMap {
		e.add(field, "must be a string")
		return nil
	}
	items := listItems(p)
	out := []netip.Prefix{}
	var bad []string
	if len(items) == 0 {
		bad = append(bad, "Empty string")
	}
	for _, v := range items {
		v = trimJS(v)
		if s, ok := parseSubnet(v); ok {
			out = append(out, s)
		} else {
			bad = append(bad, v)
		}
	}
	if len(bad) > 0 {
		sortUTF16(bad)
		e.add(field, "Subnet must be in CIDR form", bad...)
	}
	return out
}

// boolParam validates "true" or "false" exactly.
func boolParam(e *errs, field string, p *param) *bool {
	v, ok := p.str()
	if !ok || (v != "true" && v != "false") {
		e.add(field, "must be a boolean value")
		return nil
	}
	b := v == "true"
	return &b
}

// maxStrLen is restify-warden's string limit, in UTF-16 code units.
const maxStrLen = 64

// stringParam validates a string of at most 64 UTF-16 code units that is
// not all whitespace, in restify-warden's order of checks.
func stringParam(e *errs, field string, p *param) (string, bool) {
	v, ok := p.str()
	switch {
	case !ok:
		e.add(field, "must be a string")
	case len(utf16.Encode([]rune(v))) > maxStrLen:
		e.add(field, fmt.Sprintf("must not be longer than %d characters", maxStrLen))
	case trimJS(v) == "":
		e.add(field, "must not be empty")
	default:
		return v, true
	}
	return "", false
}

// isJSSpace reports whether r is in JavaScript's \s class (which differs
// from unicode.IsSpace: it has U+FEFF and lacks U+0085).
func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

// trimJS removes leading and trailing JavaScript whitespace.
func trimJS(s string) string { return strings.TrimFunc(s, isJSSpace) }

// sortedKeys returns the map's keys in sorted order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Compare(a, b) })
	return keys
}
