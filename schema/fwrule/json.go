package fwrule

import (
	"bytes"
	"encoding/json"
)

// Parsed is the machine-readable form of a parsed rule (spec §0), the
// "parsed" member of `fwgit rule parse --json`. Targets, ports and types
// keep source order and duplicates.
type Parsed struct {
	From     []ParsedTarget `json:"from"`
	To       []ParsedTarget `json:"to"`
	Action   string         `json:"action"`
	Protocol string         `json:"protocol"`
	// Ports is a list of n or [lo, hi], the string "all", or null.
	Ports any `json:"ports"`
	// Types is a list of [type, code|null], the string "all", or null.
	Types any `json:"types"`
	// Priority is null when the text has no PRIORITY clause.
	Priority *int `json:"priority"`
	Log      bool `json:"log"`
}

// ParsedTarget is one target of [Parsed]: exactly one of the members is
// set, except that a valued tag sets Tag and Value.
type ParsedTarget struct {
	Any    bool    `json:"any,omitempty"`
	AllVMs bool    `json:"allvms,omitempty"`
	IP     *string `json:"ip,omitempty"`
	Subnet *string `json:"subnet,omitempty"`
	VM     *string `json:"vm,omitempty"`
	Tag    *string `json:"tag,omitempty"`
	Value  *string `json:"value,omitempty"`
}

// Parsed returns the spec §0 form of r.
func (r *Rule) Parsed() Parsed {
	p := Parsed{
		From:     parsedSide(r.From),
		To:       parsedSide(r.To),
		Action:   r.Action.String(),
		Protocol: r.Protocol.String(),
		Log:      r.Log,
	}
	switch r.Protocol {
	case TCP, UDP:
		if r.AllPorts {
			p.Ports = "all"
		} else {
			ports := make([]any, len(r.Ports))
			for i, pt := range r.Ports {
				if pt.IsRange {
					ports[i] = [2]int{pt.Lo, pt.Hi}
				} else {
					ports[i] = pt.Lo
				}
			}
			p.Ports = ports
		}
	case ICMP, ICMP6:
		if r.AllTypes {
			p.Types = "all"
		} else {
			types := make([][2]*int, len(r.Types))
			for i, t := range r.Types {
				ty := t.Type
				types[i][0] = &ty
				if t.HasCode {
					c := t.Code
					types[i][1] = &c
				}
			}
			p.Types = types
		}
	}
	if r.HasPriority {
		pr := r.Priority
		p.Priority = &pr
	}
	return p
}

func parsedSide(ts []Target) []ParsedTarget {
	out := make([]ParsedTarget, len(ts))
	for i, t := range ts {
		v := t.Value
		switch t.Kind {
		case TargetAny:
			out[i].Any = true
		case TargetAllVMs:
			out[i].AllVMs = true
		case TargetIP:
			out[i].IP = &v
		case TargetSubnet:
			out[i].Subnet = &v
		case TargetVM:
			out[i].VM = &v
		case TargetTag:
			out[i].Tag = &v
			if t.HasValue {
				tv := t.TagValue
				out[i].Value = &tv
			}
		}
	}
	return out
}

// ParsedJSON returns the spec §0 form of r as compact JSON (no HTML
// escaping, no trailing newline).
func (r *Rule) ParsedJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r.Parsed()); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
