package load

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/fwgit/fwgit/internal/diag"
	"github.com/fwgit/fwgit/schema/fwrule"
	v1 "github.com/fwgit/fwgit/schema/v1"
)

// check runs the per-document validation of a decoded object. Checks that
// need other objects (duplicate names, references to tags and firewalls)
// belong to controller/model.
func (d *docDecoder) check(o *Object) {
	switch {
	case o.Firewall != nil:
		d.checkMeta(o, v1.KindFirewall, o.Firewall.Metadata)
		d.checkFirewall(o, &o.Firewall.Spec)
	case o.Rule != nil:
		d.checkMeta(o, v1.KindRule, o.Rule.Metadata)
		d.checkRule(o, &o.Rule.Spec)
	case o.Tag != nil:
		d.checkMeta(o, v1.KindTag, o.Tag.Metadata)
		d.checkTag(o, &o.Tag.Spec)
	case o.Test != nil:
		d.checkMeta(o, v1.KindTest, o.Test.Metadata)
		d.checkTest(o, &o.Test.Spec)
	case o.Settings != nil:
		d.checkMeta(o, v1.KindSettings, o.Settings.Metadata)
		d.checkSettings(o, &o.Settings.Spec)
	}
}

func (d *docDecoder) has(o *Object, path string) bool {
	_, ok := o.Fields[path]
	return ok
}

func (d *docDecoder) at(o *Object, path, code, format string, args ...any) {
	d.errorf(o.PosOf(path), code, format, args...)
}

func (d *docDecoder) checkMeta(o *Object, kind string, m v1.ObjectMeta) {
	if d.has(o, "metadata.name") {
		var err error
		if kind == v1.KindTag {
			err = v1.ValidateTagName(m.Name)
		} else {
			err = v1.ValidateName(m.Name)
		}
		if err != nil {
			d.at(o, "metadata.name", v1.CodeInvalidName, "metadata.name: %v", err)
		}
	}
	if d.has(o, "metadata.uuid") {
		d.checkUUID(o, "metadata.uuid", m.UUID)
	}
}

func (d *docDecoder) checkUUID(o *Object, path, s string) {
	switch {
	case v1.IsUUID(s):
	case v1.IsUUID(strings.ToLower(s)):
		d.at(o, path, v1.CodeInvalidUUID, "%s: UUID %q must be written in lower case", path, s)
	default:
		d.at(o, path, v1.CodeInvalidUUID, "%s: %q is not a UUID (8-4-4-4-12 lower-case hex digits)", path, s)
	}
}

func (d *docDecoder) checkAddress(o *Object, path, s string) (netip.Addr, bool) {
	a, err := v1.ParseAddress(s)
	if err != nil {
		d.at(o, path, v1.CodeInvalidAddress, "%s: %v", path, err)
		return a, false
	}
	return a, true
}

func (d *docDecoder) checkCIDRs(o *Object, path string, list []string) {
	for i, s := range list {
		p := path + "[" + strconv.Itoa(i) + "]"
		if !d.has(o, p) {
			continue
		}
		if _, err := v1.ParseCIDR(s); err != nil {
			d.at(o, p, v1.CodeInvalidCIDR, "%s: %v", p, err)
		}
	}
}

func (d *docDecoder) checkFirewall(o *Object, s *v1.FirewallSpec) {
	if d.has(o, "spec.owner") {
		d.checkUUID(o, "spec.owner", s.Owner)
	}
	seen := map[netip.Addr]string{}
	for i, a := range s.Addresses {
		p := "spec.addresses[" + strconv.Itoa(i) + "]"
		if !d.has(o, p) {
			continue
		}
		addr, ok := d.checkAddress(o, p, a)
		if !ok {
			continue
		}
		if first, dup := seen[addr]; dup {
			d.at(o, p, v1.CodeDuplicateAddress, "%s: address %s is already listed as %s", p, a, first)
			continue
		}
		seen[addr] = p
	}
	d.checkCIDRs(o, "spec.management", s.Management)
	if s.Agent == nil {
		return
	}
	a := s.Agent
	switch a.Mode {
	case "", v1.AgentPush, v1.AgentPull:
	default:
		d.at(o, "spec.agent.mode", v1.CodeAgentMode, "spec.agent.mode: %q is not one of push, pull%s", a.Mode, didYouMean(a.Mode, []string{v1.AgentPush, v1.AgentPull}))
	}
	switch {
	case a.Mode == v1.AgentPull && a.URL != "":
		d.at(o, "spec.agent.url", v1.CodeAgentMode, "spec.agent.url: an agent in pull mode dials the controller and takes no url")
	case a.EffectiveMode() == v1.AgentPush && a.URL == "":
		d.at(o, "spec.agent", v1.CodeMissingField, "missing required field %q: a push-mode agent needs its https:// URL (or set mode: pull)", "spec.agent.url")
	case a.URL != "":
		if err := v1.ValidateAgentURL(a.URL); err != nil {
			d.at(o, "spec.agent.url", v1.CodeAgentURL, "spec.agent.url: %v", err)
		}
	}
	if d.has(o, "spec.agent.fingerprint") {
		if _, err := v1.NormalizeFingerprint(a.Fingerprint); err != nil {
			d.at(o, "spec.agent.fingerprint", v1.CodeFingerprint, "spec.agent.fingerprint: %v", err)
		}
	}
}

func (d *docDecoder) checkRule(o *Object, s *v1.RuleSpec) {
	if d.has(o, "spec.owner") {
		d.checkUUID(o, "spec.owner", s.Owner)
	}
	switch {
	case s.Owner != "" && s.Global:
		d.at(o, "spec.global", v1.CodeRuleScope, "a rule has either spec.owner or spec.global: true, not both")
	case s.Owner == "" && !s.Global:
		d.at(o, "spec", v1.CodeRuleScope, "a rule needs spec.owner (an owner UUID) or spec.global: true, and has neither")
	}
	if !s.IsEnabled() && d.has(o, "spec.enabled") {
		d.diags.Warnf(o.PosOf("spec.enabled"), v1.CodeRuleDisabled, "rule %q is disabled: it applies to no firewall", o.Rule.Metadata.Name)
	}
	if !d.has(o, "spec.rule") || d.ruleNode == nil {
		return
	}
	if strings.TrimSpace(s.Rule) == "" {
		d.at(o, "spec.rule", v1.CodeMissingField, "spec.rule is empty")
		return
	}
	r, err := fwrule.Create(s.Rule, fwrule.Options{EnforceSubnetMask: true})
	if err == nil {
		r.Log = s.Log
		o.ParsedRule = r
		o.ruleTextPos = d.ruleOffsetPos()
		return
	}
	var fe *fwrule.Error
	if !errors.As(err, &fe) {
		d.at(o, "spec.rule", v1.CodeRuleInvalid, "spec.rule: %v", err)
		return
	}
	code := v1.CodeRuleInvalid
	switch fe.Kind {
	case fwrule.KindSyntax, fwrule.KindSyntaxEOF, fwrule.KindLexical:
		code = v1.CodeRuleSyntax
	}
	d.errorf(d.rulePos(s.Rule, fe), code, "spec.rule: %s (%s)", fe.Msg, fe.Kind)
}

// rulePos finds the file position of a rule-text error: the error's line and
// column within the text, mapped through the YAML scalar's quoting, escapes
// and folding to the file. When the mapping is unsure it falls back to the
// start of the scalar.
func (d *docDecoder) rulePos(text string, fe *fwrule.Error) diag.Pos {
	n := d.ruleNode
	start := d.pos(n)
	off := fe.Offset
	if fe.Line >= 1 && fe.Col >= 1 {
		off = textOffset(text, fe.Line, fe.Col)
	}
	if off < 0 || off > len(text) {
		return start
	}
	fileStart := d.f.lineStarts[start.Line-1] + start.Col - 1
	parentIndent := 0
	if d.ruleKey != nil {
		parentIndent = d.pos(d.ruleKey).Col - 1
	}
	offs := scalarOffsets(d.f.data, fileStart, parentIndent, n)
	if offs == nil {
		return start
	}
	return d.f.posAt(offs[off])
}

// textOffset converts a 1-based line and byte column of text to an offset.
func textOffset(text string, line, col int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := strings.IndexByte(text[off:], '\n')
		if i < 0 {
			return -1
		}
		off += i + 1
	}
	return off + col - 1
}

func (d *docDecoder) checkTag(o *Object, s *v1.TagSpec) {
	seen := map[string]string{}
	for i, v := range s.Values {
		p := "spec.values[" + strconv.Itoa(i) + "]"
		if !d.has(o, p) {
			continue
		}
		if first, dup := seen[v.Text]; dup {
			d.at(o, p, v1.CodeDuplicateValue, "%s: value %q is already declared as %s (values compare as text)", p, v.Text, first)
			continue
		}
		seen[v.Text] = p
	}
}

var protos = []string{v1.ProtoTCP, v1.ProtoUDP, v1.ProtoICMP, v1.ProtoICMP6, v1.ProtoAH, v1.ProtoESP}

func (d *docDecoder) checkTest(o *Object, s *v1.TestSpec) {
	if d.has(o, "spec.cases") && len(s.Cases) == 0 {
		d.at(o, "spec.cases", v1.CodeMissingField, "spec.cases: a Test needs at least one case")
	}
	for i := range s.Cases {
		d.checkCase(o, "spec.cases["+strconv.Itoa(i)+"]", &s.Cases[i])
	}
}

func (d *docDecoder) checkCase(o *Object, p string, c *v1.TestCase) {
	if !d.has(o, p) {
		return
	}
	f := func(name string) string { return p + "." + name }
	if d.has(o, f("firewall")) && c.Firewall == "" {
		d.at(o, f("firewall"), v1.CodeMissingField, "%s is empty", f("firewall"))
	}
	d.enum(o, f("direction"), c.Direction, []string{v1.DirectionIn, v1.DirectionOut})
	d.enum(o, f("expect"), c.Expect, []string{v1.ExpectAccept, v1.ExpectDrop})
	protoOK := d.enum(o, f("proto"), c.Proto, protos)

	if protoOK {
		switch c.Proto {
		case v1.ProtoTCP, v1.ProtoUDP:
			switch {
			case !d.has(o, f("port")):
				d.at(o, p, v1.CodeMissingField, "missing required field %q: a %s case needs a port", f("port"), c.Proto)
			case c.Port < 1 || c.Port > 65535:
				d.at(o, f("port"), v1.CodeInvalidPort, "%s: port %d is outside 1–65535", f("port"), c.Port)
			}
		default:
			if d.has(o, f("port")) {
				d.at(o, f("port"), v1.CodeInvalidPort, "%s: only tcp and udp cases take a port, not %s", f("port"), c.Proto)
			}
		}
		switch c.Proto {
		case v1.ProtoICMP, v1.ProtoICMP6:
			if !d.has(o, f("type")) {
				d.at(o, p, v1.CodeMissingField, "missing required field %q: an %s case needs an ICMP type", f("type"), c.Proto)
			}
			for _, x := range []struct {
				name string
				v    *int
			}{{"type", c.Type}, {"code", c.Code}} {
				if x.v != nil && (*x.v < 0 || *x.v > 255) {
					d.at(o, f(x.name), v1.CodeInvalidICMP, "%s: ICMP %s %d is outside 0–255", f(x.name), x.name, *x.v)
				}
			}
		default:
			for _, name := range []string{"type", "code"} {
				if d.has(o, f(name)) {
					d.at(o, f(name), v1.CodeInvalidICMP, "%s: only icmp and icmp6 cases take a %s, not %s", f(name), name, c.Proto)
				}
			}
		}
	}

	var from, to netip.Addr
	var fromOK, toOK bool
	if d.has(o, f("from")) {
		from, fromOK = d.checkAddress(o, f("from"), c.From)
	}
	if d.has(o, f("to")) {
		to, toOK = d.checkAddress(o, f("to"), c.To)
	}
	switch c.EffectiveDirection() {
	case v1.DirectionIn:
		if c.From == "" && !d.has(o, f("from")) {
			d.at(o, p, v1.CodeMissingField, "missing required field %q: an inbound case needs the source address", f("from"))
		}
	case v1.DirectionOut:
		if c.To == "" && !d.has(o, f("to")) {
			d.at(o, p, v1.CodeMissingField, "missing required field %q: an outbound case needs the destination address", f("to"))
		}
	}
	if fromOK && toOK && from.Is4() != to.Is4() {
		d.at(o, f("to"), v1.CodeAddressFamily, "%s: %s and %s are of different address families", f("to"), c.From, c.To)
	}
	for _, x := range []struct {
		path string
		a    netip.Addr
		ok   bool
	}{{f("from"), from, fromOK}, {f("to"), to, toOK}} {
		switch {
		case !x.ok:
		case c.Proto == v1.ProtoICMP && !x.a.Is4():
			d.at(o, x.path, v1.CodeAddressFamily, "%s: icmp is ICMPv4, but %s is an IPv6 address (use icmp6)", x.path, x.a)
		case c.Proto == v1.ProtoICMP6 && !x.a.Is6():
			d.at(o, x.path, v1.CodeAddressFamily, "%s: icmp6 is ICMPv6, but %s is an IPv4 address (use icmp)", x.path, x.a)
		}
	}
}

// enum checks that the field at path, when present, is one of allowed. It
// reports whether the value is usable.
func (d *docDecoder) enum(o *Object, path, v string, allowed []string) bool {
	if !d.has(o, path) {
		return false
	}
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	d.at(o, path, v1.CodeInvalidValue, "%s: %q is not one of %s%s", path, v, strings.Join(allowed, ", "), didYouMean(v, allowed))
	return false
}

func didYouMean(s string, options []string) string {
	if m := suggest(s, options); m != "" {
		return fmt.Sprintf(" (did you mean %q?)", m)
	}
	return ""
}

func (d *docDecoder) checkSettings(o *Object, s *v1.SettingsSpec) {
	d.checkCIDRs(o, "spec.controllerAddresses", s.ControllerAddresses)
	d.checkCIDRs(o, "spec.management", s.Management)
	if d.has(o, "spec.agentPort") && (s.AgentPort < 1 || s.AgentPort > 65535) {
		d.at(o, "spec.agentPort", v1.CodeInvalidPort, "spec.agentPort: port %d is outside 1–65535", s.AgentPort)
	}
}
