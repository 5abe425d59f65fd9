package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/compile"
	"github.com/fwgit/fwgit/internal/httpapi"
)

// traceForm is the tracer's input as typed: the fields of a Test case.
type traceForm struct {
	Firewall, Direction, From, To, Proto, Port, Type, Code string
}

func parseTraceForm(v url.Values) traceForm {
	get := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	f := traceForm{Firewall: get("firewall"), Direction: get("direction"), From: get("from"), To: get("to"),
		Proto: strings.ToLower(get("proto")), Port: get("port"), Type: get("type"), Code: get("code")}
	if f.Direction == "" {
		f.Direction = "in"
	}
	return f
}

// query converts the form into a [compile.Query]; errors wrap
// compile.ErrQuery so both callers answer them as bad input.
func (f traceForm) query() (compile.Query, error) {
	q := compile.Query{Direction: f.Direction, From: f.From, To: f.To, Proto: f.Proto}
	num := func(name, s string) (*int, error) {
		if s == "" {
			return nil, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %q is not a number", compile.ErrQuery, name, s)
		}
		return &n, nil
	}
	port, err := num("port", f.Port)
	if err != nil {
		return q, err
	}
	if port != nil {
		q.Port = *port
	}
	if q.Type, err = num("type", f.Type); err != nil {
		return q, err
	}
	if q.Code, err = num("code", f.Code); err != nil {
		return q, err
	}
	return q, nil
}

// errNoFirewall reports a trace of a firewall the revision lacks.
var errNoFirewall = errors.New("ui: no such firewall")

// runTrace evaluates the form on the current policy with compile.Trace.
func runTrace(pol *api.Policy, f traceForm) (compile.TraceResult, error) {
	if f.Firewall == "" {
		return compile.TraceResult{}, fmt.Errorf("%w: firewall is required", compile.ErrQuery)
	}
	if f.Proto == "" {
		return compile.TraceResult{}, fmt.Errorf("%w: proto is required", compile.ErrQuery)
	}
	fw := pol.Inventory.FirewallByName(f.Firewall)
	if fw == nil {
		return compile.TraceResult{}, fmt.Errorf("%w: %q is not in revision %s", errNoFirewall, f.Firewall, pol.Revision)
	}
	q, err := f.query()
	if err != nil {
		return compile.TraceResult{}, err
	}
	return compile.Trace(pol.Inventory, fw, pol.Rulesets[fw.Name], q)
}

// TraceHandler answers GET /v1/trace with the query parameters of the
// tracer form (firewall, direction, from, to, proto, port, type, code) and
// the fields and defaults of a Test case. The body is compile.TraceResult's
// JSON ("verdict": accept or drop; "rule": {name, uuid, file, line},
// "default", "disabled" or the always-present rule's comment; "nft": the
// matching nftables rule) plus "revision". Bad input answers 400, an
// unknown firewall 404, no loaded revision 503.
func TraceHandler(view PolicyReader, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return httpapi.Wrap(log, func(w http.ResponseWriter, r *http.Request) error {
		pol := view.Policy()
		if pol == nil {
			return httpapi.Errorf(http.StatusServiceUnavailable, "NotReady", "no good revision loaded yet")
		}
		res, err := runTrace(pol, parseTraceForm(r.URL.Query()))
		switch {
		case errors.Is(err, errNoFirewall):
			return httpapi.Errorf(http.StatusNotFound, "ResourceNotFound", "%s", strings.TrimPrefix(err.Error(), errNoFirewall.Error()+": "))
		case errors.Is(err, compile.ErrQuery):
			return httpapi.Errorf(http.StatusBadRequest, "InvalidParameters", "%s", strings.TrimPrefix(err.Error(), compile.ErrQuery.Error()+": "))
		case err != nil:
			return err
		}
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		var body map[string]any
		if err := json.Unmarshal(b, &body); err != nil {
			return err
		}
		body["revision"] = pol.Revision
		httpapi.WriteJSON(w, http.StatusOK, body)
		return nil
	})
}

// TraceMount returns an [api.Mount] serving [TraceHandler] at GET /v1/trace
// behind the API's bearer token.
func TraceMount(log *slog.Logger) api.Mount {
	return func(mux *http.ServeMux, view api.PolicyView) {
		mux.Handle("GET /v1/trace", TraceHandler(view, log))
	}
}

type traceResultView struct {
	Verdict  string
	Decider  string
	Rule     *ruleItem
	Builtin  string
	Chain    string
	Match    string
	Packet   compile.Packet
	TestCase string
}

type traceView struct {
	Form      traceForm
	Firewalls []string
	Protos    []option
	Dirs      []option
	Error     string
	Result    *traceResultView
	Revision  string
	NoPolicy  bool
}

func (c *console) trace(w http.ResponseWriter, r *http.Request, p *page) error {
	form := parseTraceForm(r.URL.Query())
	if form.Proto == "" && form.Firewall == "" {
		form.Proto = "tcp"
	}
	v := &traceView{Form: form}
	for _, pr := range []string{"tcp", "udp", "icmp", "icmp6", "ah", "esp"} {
		v.Protos = append(v.Protos, option{Value: pr, Label: pr, Selected: pr == form.Proto})
	}
	for _, d := range []struct{ v, l string }{{"in", "in (from → this firewall)"}, {"out", "out (this firewall → to)"}} {
		v.Dirs = append(v.Dirs, option{Value: d.v, Label: d.l, Selected: d.v == form.Direction})
	}
	p.template, p.Title, p.Nav, p.Body = "trace", "Packet tracer", "trace", v
	pol := c.d.Policy.Policy()
	if pol == nil {
		v.NoPolicy = true
		return nil
	}
	v.Revision = pol.Revision
	for _, f := range pol.Inventory.Firewalls {
		v.Firewalls = append(v.Firewalls, f.Name)
	}
	if r.URL.Query().Get("firewall") == "" {
		return nil // the empty form
	}
	res, err := runTrace(pol, form)
	if err != nil {
		if !errors.Is(err, compile.ErrQuery) && !errors.Is(err, errNoFirewall) {
			return err
		}
		v.Error = strings.TrimPrefix(strings.TrimPrefix(err.Error(), compile.ErrQuery.Error()+": "), errNoFirewall.Error()+": ")
		p.status = http.StatusBadRequest
		return nil
	}
	rv := &traceResultView{Verdict: string(res.Verdict), Decider: res.String(), Builtin: res.Builtin, Chain: res.Chain,
		Match: res.Match, Packet: res.Packet, TestCase: testCase(form, string(res.Verdict))}
	if res.Decider == compile.DecidedByRule && res.Rule != nil {
		if rr := pol.Inventory.RuleByUUID(res.Rule.UUID); rr != nil {
			it := c.ruleItem(pol, rr, true)
			rv.Rule = &it
		}
	}
	switch res.Decider {
	case compile.DecidedByDefault:
		rv.Decider = "default policy of the " + res.Chain + " chain"
	case compile.DecidedByDisabled:
		rv.Decider = "the firewall is disabled: it has no table and filters nothing"
	case compile.DecidedByBuiltin:
		rv.Decider = "always-present rule " + res.Builtin
	}
	v.Result = rv
	return nil
}

// testCase writes the query as a Test case a repository can keep.
func testCase(f traceForm, verdict string) string {
	parts := []string{"firewall: " + yamlScalar(f.Firewall)}
	if f.Direction != "in" {
		parts = append(parts, "direction: "+yamlScalar(f.Direction))
	}
	for _, kv := range [][2]string{{"from", f.From}, {"to", f.To}, {"proto", f.Proto}, {"port", f.Port}, {"type", f.Type}, {"code", f.Code}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+": "+yamlScalar(kv[1]))
		}
	}
	return "- {" + strings.Join(append(parts, "expect: "+verdict), ", ") + "}"
}

// yamlScalar quotes s unless it is plainly safe in a flow mapping (names,
// numbers, IPv4 and IPv6 addresses).
func yamlScalar(s string) string {
	for _, r := range s {
		safe := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_:", r)
		if !safe {
			return strconv.Quote(s)
		}
	}
	return s
}
