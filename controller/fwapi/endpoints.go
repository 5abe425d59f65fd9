package fwapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/internal/httpapi"
	"github.com/fwgit/fwgit/schema/fwrule"
)

var protocols = []string{"tcp", "udp", "icmp", "icmp6", "ah", "esp"}

// listRules answers GET /rules (§5).
func (s *Server) listRules(w http.ResponseWriter, snap *Snapshot, q query) error {
	var (
		e      errs
		f      model.RuleFilter
		fields []string
		proto  string
		hasPro bool
		unk    []string
	)
	for _, name := range sortedKeys(q) {
		p := q[name]
		switch name {
		case "owner_uuid":
			f.Owners = uuidList(&e, name, p)
		case "vm":
			f.VMs = uuidList(&e, name, p)
		case "ip":
			f.IPs = addrList(&e, name, p)
		case "subnet":
			f.Subnets = subnetList(&e, name, p)
		case "tag":
			f.Tags = model.TagQuery{}
			for _, v := range p.values {
				f.Tags[v] = model.TagWant{Any: true}
			}
			for _, k := range p.keys {
				w := f.Tags[k]
				if !w.Any {
					w.Values = append(w.Values, p.byKey[k]...)
				}
				f.Tags[k] = w
			}
		case "enabled":
			f.Enabled = boolParam(&e, name, p)
		case "global":
			f.Global = boolParam(&e, name, p)
		case "log":
			f.Log = boolParam(&e, name, p)
		case "action":
			switch v, _ := p.str(); v {
			case "allow":
				f.Action = fwrule.Allow
			case "block":
				f.Action = fwrule.Block
			default:
				e.add(name, `action must be "block" or "allow"`)
			}
		case "protocol":
			proto, hasPro = stringParam(&e, name, p)
		case "wildcard":
			if p.isMap {
				f.Wildcards = []string{}
			} else {
				f.Wildcards = slices.Clone(p.values)
			}
		case "fields":
			switch {
			case p.isMap:
				e.add(name, "must be an array of strings")
			case len(p.values) == 0:
				e.add(name, "must not be an empty array")
			case len(p.values) > 4:
				e.add(name, "can only specify a maximum of 4 fields")
			default:
				for _, v := range p.values {
					if !slices.Contains(ruleFields, v) {
						e.add(name, "unknown field specified")
						break
					}
				}
				fields = p.values
			}
		default:
			unk = append(unk, name)
		}
	}
	e.unknown(unk)
	if err := e.err(); err != nil {
		return err
	}
	if hasPro {
		if !slices.Contains(protocols, strings.ToLower(proto)) {
			return httpapi.Errorf(http.StatusConflict, "InvalidArgument", "Invalid value for protocol: must be one of: %s", strings.Join(protocols, ", "))
		}
		f.Protocol = proto
	}
	rules := snap.Inventory.FilterRules(f)
	out := make([]ruleObject, len(rules))
	for i, r := range rules {
		out[i] = snap.ruleObject(r, fields)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func invalidUUID(field, msg string) error {
	var e errs
	e.add(field, msg)
	return e.err()
}

var errRuleNotFound = httpapi.Errorf(http.StatusNotFound, "ResourceNotFound", "Rule not found")

func forbidden() error {
	return &httpapi.HTTPError{Status: http.StatusForbidden, Body: struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Errors  []item `json:"errors"`
	}{"Forbidden", "owner does not match", []item{{Field: "owner_uuid", Code: "InvalidParameter", Message: "owner_uuid does not match"}}}}
}

// ruleFor runs the common checks of §6 and §7: UUID format, existence.
func ruleFor(snap *Snapshot, id string) (*model.Rule, error) {
	if !uuidRE.MatchString(id) {
		return nil, invalidUUID("uuid", "Invalid UUID")
	}
	r := snap.Inventory.RuleByUUID(id)
	if r == nil {
		return nil, errRuleNotFound
	}
	return r, nil
}

// ownerParam returns owner_uuid as the route handlers of §6 and §7 see it:
// whether it was given, and its value when it is one string (a list or a
// map equals no owner).
func ownerParam(q query) (owner string, isString, given bool) {
	p, ok := q["owner_uuid"]
	if !ok {
		return "", false, false
	}
	v, isStr := p.str()
	return v, isStr, true
}

// getRule answers GET /rules/{uuid} (§6).
func (s *Server) getRule(w http.ResponseWriter, snap *Snapshot, id string, q query) error {
	r, err := ruleFor(snap, id)
	if err != nil {
		return err
	}
	if owner, isStr, given := ownerParam(q); given && (r.Global || !isStr || r.Owner != owner) {
		return forbidden()
	}
	httpapi.WriteJSON(w, http.StatusOK, snap.ruleObject(r, nil))
	return nil
}

// ruleVMs answers GET /rules/{uuid}/vms (§7).
func (s *Server) ruleVMs(w http.ResponseWriter, snap *Snapshot, id string, q query) error {
	r, err := ruleFor(snap, id)
	if err != nil {
		return err
	}
	owner, isStr, given := ownerParam(q)
	if given && !r.Global && (!isStr || r.Owner != owner) {
		return forbidden()
	}
	if !given || (isStr && owner == "") {
		return httpapi.Errorf(http.StatusConflict, "MissingParameter", `"owner_uuid" parameter required`)
	}
	var fws []*model.Firewall
	if isStr {
		fws = snap.Inventory.RuleVMs(r, owner)
	}
	out := make([]vmObject, len(fws))
	for i, f := range fws {
		out[i] = newVMObject(f)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// firewallRules answers GET /firewalls/vms/{uuid} (§8).
func (s *Server) firewallRules(w http.ResponseWriter, snap *Snapshot, id string, q query) error {
	var e errs
	if !uuidRE.MatchString(id) {
		e.add("uuid", "invalid UUID")
	}
	var unk []string
	owner, hasOwner := "", false
	for _, name := range sortedKeys(q) {
		switch name {
		case "uuid": // the path parameter wins over the query's
		case "owner_uuid":
			v, ok := q[name].str()
			if !ok || !uuidRE.MatchString(v) {
				e.add(name, "invalid UUID")
			}
			owner, hasOwner = v, true
		default:
			unk = append(unk, name)
		}
	}
	e.unknown(unk)
	if err := e.err(); err != nil {
		return err
	}
	f := snap.Inventory.FirewallByUUID(id)
	if f == nil || (hasOwner && f.Owner != owner) {
		return httpapi.Errorf(http.StatusNotFound, "ResourceNotFound", "VM not found")
	}
	rules := snap.Inventory.FirewallRules(f)
	out := make([]ruleObject, len(rules))
	for i, r := range rules {
		out[i] = snap.ruleObject(r, nil)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

type resolveBody struct {
	Rules     []ruleObject `json:"rules"`
	Tags      orderedMap   `json:"tags"`
	VMs       []string     `json:"vms"`
	AllVMs    bool         `json:"allVMs"`
	OwnerUUID string       `json:"owner_uuid"`
}

// resolve answers POST /resolve (§9).
func (s *Server) resolve(w http.ResponseWriter, r *http.Request, snap *Snapshot, q query) error {
	params, err := resolveParams(w, r, q)
	if err != nil {
		return err
	}
	var e errs
	owner := ""
	switch v, ok := params["owner_uuid"]; {
	case !ok:
		e.missing("owner_uuid")
	default:
		str, isStr := v.(string)
		if !isStr || !uuidRE.MatchString(str) {
			e.add("owner_uuid", "invalid UUID")
		}
		owner = str
	}
	var vms []string
	if v, ok := params["vms"]; ok {
		vms = jsonUUIDs(&e, "vms", v)
	}
	tags := model.TagQuery{}
	if v, ok := params["tags"]; ok {
		tags = jsonTags(&e, v)
	}
	if v, ok := params["tag"]; ok {
		stringParam(&e, "tag", jsonParam(v))
	}
	if v, ok := params["ips"]; ok {
		addrList(&e, "ips", jsonParam(v))
	}
	if v, ok := params["allVMs"]; ok {
		switch v {
		case true, false, "true", "false":
		default:
			e.add("allVMs", "must be a boolean value")
		}
	}
	if err := e.err(); err != nil {
		return err
	}
	res := snap.Inventory.Resolve(owner, vms, tags)
	body := resolveBody{Rules: make([]ruleObject, len(res.Rules)), VMs: res.VMs, AllVMs: res.AllVMs, OwnerUUID: owner}
	for i, rule := range res.Rules {
		body.Rules[i] = snap.ruleObject(rule, nil)
	}
	for name, vals := range res.Tags {
		if vals == nil {
			body.Tags = append(body.Tags, member{name, true})
		} else {
			body.Tags = append(body.Tags, member{name, vals})
		}
	}
	if body.VMs == nil {
		body.VMs = []string{}
	}
	httpapi.WriteJSON(w, http.StatusOK, body)
	return nil
}

// resolveParams reads the JSON body of POST /resolve and merges in the
// query string's parameters the body does not set (§1.3, §9.1). An empty
// body is {}; any other body must be application/json (415) and valid JSON
// (400), and must hold an object (422).
func resolveParams(w http.ResponseWriter, r *http.Request, q query) (map[string]any, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, httpapi.Errorf(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "request body over %d bytes", MaxBody)
		}
		return nil, httpapi.Errorf(http.StatusBadRequest, "InvalidContent", "reading body: %v", err)
	}
	params := map[string]any{}
	if len(data) > 0 {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			return nil, httpapi.Errorf(http.StatusUnsupportedMediaType, "UnsupportedMediaType", "request body must be application/json")
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		err = dec.Decode(&v)
		if err == nil && len(bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n")) > 0 {
			err = errors.New("unexpected data after the value")
		}
		if err != nil {
			return nil, httpapi.Errorf(http.StatusBadRequest, "InvalidContent", "Invalid JSON: %v", err)
		}
		switch t := v.(type) {
		case nil:
		case map[string]any:
			params = t
		default:
			var e errs
			e.add("parameters", "Parameters must be objects")
			return nil, e.err()
		}
	}
	for name, p := range q {
		if _, set := params[name]; set {
			continue
		}
		params[name] = queryValue(p)
	}
	return params, nil
}

// queryValue turns a query parameter into the JSON-like value restify
// would have put in req.params.
func queryValue(p *param) any {
	strs := func(vs []string) []any {
		l := make([]any, len(vs))
		for i, v := range vs {
			l[i] = v
		}
		return l
	}
	if p.isMap {
		m := map[string]any{}
		for _, k := range p.keys {
			if vs := p.byKey[k]; p.keyList[k] {
				m[k] = strs(vs)
			} else {
				m[k] = vs[0]
			}
		}
		return m
	}
	if v, ok := p.str(); ok {
		return v
	}
	return strs(p.values)
}

// jsonParam adapts a JSON value to a query-style param for the shared
// validators: a string or a list of strings; anything else is a map.
func jsonParam(v any) *param {
	switch t := v.(type) {
	case string:
		return &param{values: []string{t}}
	case []any:
		p := &param{list: true}
		for _, x := range t {
			s, ok := x.(string)
			if !ok {
				return &param{isMap: true}
			}
			p.values = append(p.values, s)
		}
		return p
	}
	return &param{isMap: true}
}

// jsonUUIDs validates a JSON "string split on ',', or list" of UUIDs and
// returns the valid ones, distinct. List items that are not strings are
// checked as JavaScript would see them, as strings.
func jsonUUIDs(e *errs, field string, v any) []string {
	var p *param
	switch t := v.(type) {
	case string:
		p = &param{values: []string{t}}
	case []any:
		p = &param{list: true, values: make([]string, len(t))}
		for i, x := range t {
			p.values[i] = jsString(x)
		}
	default:
		e.add(field, "must be an array of strings")
		return nil
	}
	valid := uuidList(e, field, p)
	slices.Sort(valid)
	return slices.Compact(valid)
}

// jsonTags validates the "tags" object of /resolve into a query: a value
// is true (any value), a scalar (one value) or a list of scalars, each
// compared as a string.
func jsonTags(e *errs, v any) model.TagQuery {
	m, ok := v.(map[string]any)
	if !ok {
		e.add("tags", "must be an object")
		return nil
	}
	q := model.TagQuery{}
	bad := false
	for name, val := range m {
		switch t := val.(type) {
		case bool:
			if t {
				q[name] = model.TagWant{Any: true}
			} else {
				q[name] = model.TagWant{Values: []string{"false"}}
			}
		case string, json.Number:
			q[name] = model.TagWant{Values: []string{jsString(t)}}
		case []any:
			w := model.TagWant{Values: []string{}}
			for _, x := range t {
				switch x.(type) {
				case string, json.Number, bool:
					w.Values = append(w.Values, jsString(x))
				default:
					bad = true
				}
			}
			q[name] = w
		default:
			bad = true
		}
	}
	if bad {
		e.add("tags", "tag values must be true, strings, numbers, booleans or lists of them")
	}
	return q
}

// jsString gives a decoded JSON value as JavaScript's String() does.
func jsString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case bool:
		return strconv.FormatBool(t)
	case nil:
		return "null"
	case json.Number:
		f, err := t.Float64()
		if err != nil { // out of range: JavaScript has Infinity
			if strings.HasPrefix(t.String(), "-") {
				return "-Infinity"
			}
			return "Infinity"
		}
		return jsNumber(f)
	case []any:
		parts := make([]string, len(t))
		for i, x := range t {
			if x != nil {
				parts[i] = jsString(x)
			}
		}
		return strings.Join(parts, ",")
	}
	return "[object Object]"
}

// jsNumber formats a finite number as ECMAScript's Number::toString: the
// shortest round-trip digits, in plain decimal when the decimal exponent
// is in [-6, 21), else in exponent form ("1e+21", "1.5e-7").
func jsNumber(f float64) string {
	if f == 0 {
		return "0"
	}
	if f < 0 {
		return "-" + jsNumber(-f)
	}
	mant, exp, _ := strings.Cut(strconv.FormatFloat(f, 'e', -1, 64), "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	k, n := len(digits), x+1
	switch {
	case k <= n && n <= 21:
		return digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		return digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		return "0." + strings.Repeat("0", -n) + digits
	}
	sign := "+"
	if n-1 < 0 {
		sign = "-"
	}
	e := strconv.Itoa(abs(n - 1))
	if k == 1 {
		return digits + "e" + sign + e
	}
	return digits[:1] + "." + digits[1:] + "e" + sign + e
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
