package v1

import (
	"encoding/json"
	"strconv"
)

// APIVersion is the apiVersion of every manifest of this package.
const APIVersion = "fwgit/v1"

// The kinds of manifest.
const (
	KindFirewall = "Firewall"
	KindRule     = "Rule"
	KindTag      = "Tag"
	KindTest     = "Test"
	KindSettings = "Settings"
)

// TypeMeta is the apiVersion and kind every document carries.
type TypeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// ObjectMeta names an object.
type ObjectMeta struct {
	// Name is unique among objects of the same kind.
	Name string `json:"name"`
	// UUID is optional for Firewall and Rule; when absent a UUIDv5 is derived
	// from the kind and name (see [DeriveUUID]).
	UUID string `json:"uuid,omitempty"`
}

// Firewall is a host running fwgit-agent.
type Firewall struct {
	TypeMeta `json:",inline"`
	Metadata ObjectMeta   `json:"metadata"`
	Spec     FirewallSpec `json:"spec"`
}

// FirewallSpec describes a firewall.
type FirewallSpec struct {
	Description string `json:"description,omitempty"`
	// Owner is the owner UUID (lower case); empty means the firewall gets
	// only global rules.
	Owner string `json:"owner,omitempty"`
	// Addresses are the host's IPv4 and IPv6 addresses.
	Addresses []string `json:"addresses,omitempty"`
	// Tags maps tag names to values (string, number or boolean).
	Tags map[string]TagValue `json:"tags,omitempty"`
	// Enabled is FWAPI's firewall_enabled; nil means true.
	Enabled *bool `json:"enabled,omitempty"`
	// Agent says how the controller reaches the agent; nil means no agent.
	Agent *Agent `json:"agent,omitempty"`
	// Management lists CIDRs that always keep SSH access (anti-lockout).
	Management []string `json:"management,omitempty"`
}

// IsEnabled reports whether the firewall filters traffic (default true).
func (s FirewallSpec) IsEnabled() bool { return s.Enabled == nil || *s.Enabled }

// Agent modes.
const (
	AgentPush = "push"
	AgentPull = "pull"
)

// Agent describes the agent of a firewall.
type Agent struct {
	// Mode is "push" (default when URL is set) or "pull".
	Mode string `json:"mode,omitempty"`
	// URL is the agent's https:// URL in push mode.
	URL string `json:"url,omitempty"`
	// Fingerprint pins the agent's certificate: "sha256:" and 64 hex digits.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// Rule is one firewall rule in the fwrule language.
type Rule struct {
	TypeMeta `json:",inline"`
	Metadata ObjectMeta `json:"metadata"`
	Spec     RuleSpec   `json:"spec"`
}

// RuleSpec describes a rule. Exactly one of Owner and Global is set.
type RuleSpec struct {
	// Rule is the rule text (spec/fwrule.md).
	Rule        string `json:"rule"`
	Description string `json:"description,omitempty"`
	// Enabled defaults to true: the pull request is the review.
	Enabled *bool  `json:"enabled,omitempty"`
	Log     bool   `json:"log,omitempty"`
	Owner   string `json:"owner,omitempty"`
	Global  bool   `json:"global,omitempty"`
}

// IsEnabled reports whether the rule is enabled (default true).
func (s RuleSpec) IsEnabled() bool { return s.Enabled == nil || *s.Enabled }

// Tag declares a tag that firewalls may carry and rules may name.
type Tag struct {
	TypeMeta `json:",inline"`
	Metadata ObjectMeta `json:"metadata"`
	// Spec may be left out: a Tag needs only its name.
	Spec TagSpec `json:"spec,omitempty"`
}

// TagSpec describes a tag.
type TagSpec struct {
	Description string `json:"description,omitempty"`
	// Values, when set, are the only values the tag may take.
	Values []TagValue `json:"values,omitempty"`
}

// Test states packets that must be accepted or dropped.
type Test struct {
	TypeMeta `json:",inline"`
	Metadata ObjectMeta `json:"metadata"`
	Spec     TestSpec   `json:"spec"`
}

// TestSpec is a list of cases.
type TestSpec struct {
	Description string     `json:"description,omitempty"`
	Cases       []TestCase `json:"cases"`
}

// Directions of a test case.
const (
	DirectionIn  = "in"
	DirectionOut = "out"
)

// Expectations of a test case.
const (
	ExpectAccept = "accept"
	ExpectDrop   = "drop"
)

// TestCase is one packet expectation. With Direction "in" (the default) From
// is the source and the firewall the destination; with "out" the firewall is
// the source and To the destination.
type TestCase struct {
	Name      string `json:"name,omitempty"`
	Firewall  string `json:"firewall"`
	Direction string `json:"direction,omitempty"`
	From      string `json:"from,omitempty"`
	To        string `json:"to,omitempty"`
	// Proto is tcp, udp, icmp, icmp6, ah or esp.
	Proto string `json:"proto"`
	Port  int    `json:"port,omitempty"`
	Type  *int   `json:"type,omitempty"`
	Code  *int   `json:"code,omitempty"`
	// Expect is "accept" or "drop".
	Expect string `json:"expect"`
}

// Settings holds repository-wide settings; at most one per repository.
type Settings struct {
	TypeMeta `json:",inline"`
	Metadata ObjectMeta `json:"metadata"`
	// Spec may be left out: every setting has a default.
	Spec SettingsSpec `json:"spec,omitempty"`
}

// DefaultAgentPort is the agent's default HTTPS port.
const DefaultAgentPort = 33033

// SettingsSpec holds the settings.
type SettingsSpec struct {
	// ControllerAddresses are the CIDRs the controller connects from; the
	// compiled anti-lockout rule admits them to the agent port.
	ControllerAddresses []string `json:"controllerAddresses,omitempty"`
	// AgentPort defaults to [DefaultAgentPort].
	AgentPort int `json:"agentPort,omitempty"`
	// Management lists SSH CIDRs added to every firewall's own.
	Management []string `json:"management,omitempty"`
}

// TagValue is a tag value as written in YAML: a string, a number or a
// boolean. Matching always uses [TagValue.String].
type TagValue struct {
	// Text is the value as text: the string itself, "true"/"false", or the
	// number in plain decimal.
	Text string
	// Kind is one of TagString, TagNumber or TagBool.
	Kind TagKind
}

// TagKind is the YAML type of a [TagValue].
type TagKind int

// Tag value kinds.
const (
	TagString TagKind = iota
	TagNumber
	TagBool
)

// String returns the value as the text rules match against.
func (v TagValue) String() string { return v.Text }

// MarshalJSON writes the value with its JSON type (string, number, boolean).
func (v TagValue) MarshalJSON() ([]byte, error) {
	switch v.Kind {
	case TagNumber, TagBool:
		return []byte(v.Text), nil
	}
	return json.Marshal(v.Text)
}

// UnmarshalJSON reads a string, number or boolean.
func (v *TagValue) UnmarshalJSON(b []byte) error {
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	switch t := x.(type) {
	case string:
		*v = TagValue{Text: t, Kind: TagString}
	case bool:
		*v = TagValue{Text: strconv.FormatBool(t), Kind: TagBool}
	case float64:
		*v = TagValue{Text: strconv.FormatFloat(t, 'f', -1, 64), Kind: TagNumber}
	default:
		return &json.UnmarshalTypeError{Value: string(b), Type: nil}
	}
	return nil
}
