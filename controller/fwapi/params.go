package fwapi

import (
	"cmp"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

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
	isMap bool
}

type query map[string]*param

// parseQuery splits a raw query string as restify's qs does for the forms
// §1.4 specifies. Invalid percent-encoding answers 400.
func parseQuery(raw string) (query, error) {
	q := query{}
	if raw == "" {
		return q, nil
	}
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return nil, httpapi.Errorf(http.StatusBadRequest, "InvalidContent", "invalid query string")
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, httpapi.Errorf(http.StatusBadRequest, "InvalidContent", "invalid query string")
		}
		base, rest, bracket := strings.Cut(name, "[")
		p := q[base]
		if p == nil {
			p = &param{}
			q[base] = p
		}
		switch {
		case !bracket:
			if len(p.values) > 0 {
				p.list = true
			}
			p.values = append(p.values, val)
		case rest == "]":
			p.list = true
			p.values = append(p.values, val)
		default:
			key, _, _ := strings.Cut(rest, "]")
			if p.byKey == nil {
				p.byKey = map[string][]string{}
			}
			if _, seen := p.byKey[key]; !seen {
				p.keys = append(p.keys, key)
			}
			p.byKey[key] = append(p.byKey[key], val)
			p.isMap = true
		}
	}
	return q, nil
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
	slices.Sort(names)
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

// splitItems returns the items of a string-or-list parameter, each string
// split on ",".
func splitItems(values []string) []string {
	var out []string
	for _, v := range values {
		out = append(out, strings.Split(v, ",")...)
	}
	return out
}

// uuidList validates owner_uuid or vm style parameters: lower-case UUIDs.
// Empty items are dropped; the result is non-nil when the parameter was given.
func uuidList(e *errs, field string, p *param) []string {
	if p.isMap {
		e.add(field, "must be an array of strings")
		return nil
	}
	out := []string{}
	var bad []string
	for _, v := range splitItems(p.values) {
		switch {
		case v == "":
		case uuidRE.MatchString(v):
			out = append(out, v)
		case !slices.Contains(bad, v):
			bad = append(bad, v)
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
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

// addrList validates ip-style parameters; items are trimmed.
func addrList(e *errs, field string, p *param) []netip.Addr {
	if p.isMap {
		e.add(field, "must be a string")
		return nil
	}
	out := []netip.Addr{}
	var bad []string
	for _, v := range splitItems(p.values) {
		v = strings.TrimSpace(v)
		if v == "" {
			bad = append(bad, "Empty string")
			continue
		}
		if a, ok := parseIP(v); ok {
			out = append(out, a)
		} else {
			bad = append(bad, v)
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		msg := "invalid IP"
		if len(bad) > 1 {
			msg = "invalid IPs"
		}
		e.add(field, msg, bad...)
	}
	return out
}

// parseSubnet accepts ADDR/LEN with LEN 8–32 (IPv4) or 8–128 (IPv6) and no
// bits set after the prefix.
func parseSubnet(s string) (netip.Prefix, bool) {
	addr, bits, ok := strings.Cut(s, "/")
	if !ok || bits == "" {
		return netip.Prefix{}, false
	}
	a, ok := parseIP(addr)
	if !ok {
		return netip.Prefix{}, false
	}
	for _, c := range bits {
		if c < '0' || c > '9' {
			return netip.Prefix{}, false
		}
	}
	n, err := strconv.Atoi(bits)
	if err != nil || n < 8 || n > a.BitLen() {
		return netip.Prefix{}, false
	}
	p := netip.PrefixFrom(a, n)
	if p.Masked() != p {
		return netip.Prefix{}, false
	}
	return p, true
}

func subnetList(e *errs, field string, p *param) []netip.Prefix {
	if p.isMap {
		e.add(field, "must be a string")
		return nil
	}
	out := []netip.Prefix{}
	var bad []string
	for _, v := range splitItems(p.values) {
		v = strings.TrimSpace(v)
		if v == "" {
			bad = append(bad, "Empty string")
			continue
		}
		if s, ok := parseSubnet(v); ok {
			out = append(out, s)
		} else {
			bad = append(bad, v)
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		e.add(field, "Subnet must be in CIDR form", bad...)
	}
	return out
}

// boolParam validates "true" or "false" exactly.
func boolParam(e *errs, field string, p *param) *bool {
	if p.isMap || p.list || len(p.values) != 1 || (p.values[0] != "true" && p.values[0] != "false") {
		e.add(field, "must be a boolean value")
		return nil
	}
	b := p.values[0] == "true"
	return &b
}

// single returns the parameter's value when it is one plain string.
func single(p *param) (string, bool) {
	if p.isMap || p.list || len(p.values) != 1 {
		return "", false
	}
	return p.values[0], true
}

// stringParam validates a non-empty string of at most 64 characters.
func stringParam(e *errs, field string, p *param) (string, bool) {
	v, ok := single(p)
	switch {
	case !ok:
		e.add(field, "must be a string")
	case len([]rune(v)) > 64:
		e.add(field, "must not be longer than 64 characters")
	case strings.TrimSpace(v) == "":
		e.add(field, "must not be empty")
	default:
		return v, true
	}
	return "", false
}

// sortedKeys returns the map's keys in sorted order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Compare(a, b) })
	return keys
}
