package model

import (
	"net/netip"

	"github.com/fwgit/fwgit/internal/diag"
	"github.com/fwgit/fwgit/schema/fwrule"
	v1 "github.com/fwgit/fwgit/schema/v1"
)

// Inventory is the closed world of one revision: every firewall, rule, tag
// and test, with references checked. It is immutable once built and safe for
// concurrent readers.
type Inventory struct {
	// Firewalls sorted by name.
	Firewalls []*Firewall
	// Rules sorted by name. Rules whose text is invalid are absent.
	Rules []*Rule
	// Tags by name.
	Tags map[string]*Tag
	// Tests sorted by name.
	Tests    []*Test
	Settings Settings

	fwByName, fwByUUID map[string]*Firewall
	ruleByUUID         map[string]*Rule
}

// Firewall is a resolved Firewall manifest.
type Firewall struct {
	Name        string
	UUID        string
	Owner       string
	Description string
	// Addresses parsed, in manifest order; AddrText as written.
	Addresses []netip.Addr
	AddrText  []string
	Tags      map[string]v1.TagValue
	Enabled   bool
	// Agent is nil when the firewall has no agent.
	Agent *v1.Agent
	// Management is the firewall's own SSH CIDRs plus the Settings ones,
	// normalised.
	Management []netip.Prefix
	// Pos is the position of the document; File its file.
	Pos diag.Pos
}

// Rule is a resolved Rule manifest with its parsed text.
type Rule struct {
	Name        string
	UUID        string
	Owner       string
	Global      bool
	Enabled     bool
	Log         bool
	Description string
	// Text is the rule text as written; Parsed its parse.
	Text   string
	Parsed *fwrule.Rule
	// Pos is the position of the document, TextPos of spec.rule.
	Pos     diag.Pos
	TextPos diag.Pos
}

// Tag is a declared tag.
type Tag struct {
	Name        string
	Description string
	// Values are the allowed values as text; nil means any value.
	Values []string
	Pos    diag.Pos
}

// Test is a Test manifest.
type Test struct {
	Name  string
	Cases []TestCase
	Pos   diag.Pos
}

// TestCase is one case of a Test with its position.
type TestCase struct {
	v1.TestCase
	Pos diag.Pos
}

// Settings are the repository-wide settings with defaults applied.
type Settings struct {
	ControllerAddresses []netip.Prefix
	AgentPort           int
	Management          []netip.Prefix
}
