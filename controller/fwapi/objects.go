package fwapi

import (
	"cmp"
	"encoding/json"
	"slices"

	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/schema/fwrule"
)

// ruleObject is the serialised rule of spec/fwapi.md §2.3, keys in order:
// the fingerprint's fields, then version and parsed.
type ruleObject struct {
	fingerprint
	Version string  `json:"version"`
	Parsed  *parsed `json:"parsed,omitempty"`
}

// parsed is the optional "parsed" object of §2.4, keys in order.
type parsed struct {
	Action   string     `json:"action,omitempty"`
	FromTags orderedMap `json:"fromtags,omitzero"`
	Ports    []any      `json:"ports,omitempty"`
	Protocol string     `json:"protocol,omitempty"`
	ToTags   orderedMap `json:"totags,omitzero"`
}

type tagsSide struct {
	All    bool     `json:"all"`
	Values []string `json:"values"`
}

type portRange struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// vmObject is the VM object of §2.2, keys in order.
type vmObject struct {
	Alias           string     `json:"alias"`
	FirewallEnabled bool       `json:"firewall_enabled"`
	IPs             []string   `json:"ips"`
	OwnerUUID       string     `json:"owner_uuid,omitempty"`
	State           string     `json:"state"`
	Tags            orderedMap `json:"tags"`
	UUID            string     `json:"uuid"`
}

// member is one key of an [orderedMap].
type member struct {
	Key   string
	Value any
}

// orderedMap is a JSON object whose keys are written sorted by UTF-16 code
// units (spec/fwapi.md §2.5), as JavaScript sorts them; nil is {}.
type orderedMap []member

func (m orderedMap) MarshalJSON() ([]byte, error) {
	sorted := slices.Clone(m)
	slices.SortStableFunc(sorted, func(a, b member) int { return model.CompareUTF16(a.Key, b.Key) })
	buf := []byte{'{'}
	for i, kv := range sorted {
		if i > 0 {
			buf = append(buf, ',')
		}
		k, err := json.Marshal(kv.Key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(kv.Value)
		if err != nil {
			return nil, err
		}
		buf = append(append(append(buf, k...), ':'), v...)
	}
	return append(buf, '}'), nil
}

func newVMObject(f *model.Firewall) vmObject {
	tags := orderedMap{}
	for name, v := range f.Tags {
		tags = append(tags, member{name, v})
	}
	ips := f.AddrText
	if ips == nil {
		ips = []string{}
	}
	return vmObject{Alias: f.Name, FirewallEnabled: f.Enabled, IPs: ips, OwnerUUID: f.Owner,
		State: "running", Tags: tags, UUID: f.UUID}
}

// ruleFields are the parsed.* names GET /rules accepts in "fields".
var ruleFields = []string{"parsed.action", "parsed.ports", "parsed.protocol", "parsed.tags"}

func (s *Snapshot) ruleObject(r *model.Rule, fields []string) ruleObject {
	fp := s.fingerprint(r)
	o := ruleObject{fingerprint: fp, Version: s.version(r, fp)}
	if len(fields) > 0 && r.Parsed != nil {
		o.Parsed = parsedFields(s.folded(r), fields)
	}
	return o
}

func parsedFields(p *fwrule.Rule, fields []string) *parsed {
	var out parsed
	set := false
	for _, f := range fields {
		switch f {
		case "parsed.action":
			out.Action, set = p.Action.String(), true
		case "parsed.protocol":
			out.Protocol, set = p.Protocol.String(), true
		case "parsed.ports":
			if p.Protocol == fwrule.TCP || p.Protocol == fwrule.UDP {
				out.Ports, set = portList(p), true
			}
		case "parsed.tags":
			out.FromTags, out.ToTags, set = sideTags(p.From), sideTags(p.To), true
		}
	}
	if !set {
		return nil
	}
	return &out
}

// portList is the canonical port list of §2.4: numbers, "all", or
// {start, end} for ranges, sorted by start (stable), as FWAPI folds them.
func portList(p *fwrule.Rule) []any {
	if p.AllPorts {
		return []any{"all"}
	}
	ports := slices.Clone(p.Ports)
	slices.SortStableFunc(ports, func(a, b fwrule.Port) int { return cmp.Compare(a.Lo, b.Lo) })
	out := make([]any, 0, len(ports))
	for _, pt := range ports {
		if pt.IsRange && pt.Lo != pt.Hi {
			out = append(out, portRange{pt.Lo, pt.Hi})
		} else {
			out = append(out, pt.Lo)
		}
	}
	return out
}

// sideTags builds fromtags/totags from a side's canonical tag list: a bare
// tag swallows that name's values.
func sideTags(side []fwrule.Target) orderedMap {
	bare := map[string]bool{}
	vals := map[string][]string{}
	for _, t := range side {
		if t.Kind != fwrule.TargetTag {
			continue
		}
		if !t.HasValue {
			bare[t.Value] = true
		} else if !slices.Contains(vals[t.Value], t.TagValue) {
			vals[t.Value] = append(vals[t.Value], t.TagValue)
		}
	}
	out := orderedMap{}
	for name := range bare {
		out = append(out, member{name, tagsSide{All: true, Values: []string{}}})
	}
	for name, vs := range vals {
		if bare[name] {
			continue
		}
		slices.SortFunc(vs, model.CompareUTF16)
		out = append(out, member{name, tagsSide{Values: vs}})
	}
	return out
}
