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

	// byTag, byTagValue and byOwner index the firewalls (sorted by name)
	// by tag name, by tag name and value as text, and by owner ("" for
	// ownerless firewalls). ownerTag and ownerTagValue are the same per
	// owner, so an owned rule's selectors cost only their output.
	byTag         map[string][]*Firewall
	byTagValue    map[tagValue][]*Firewall
	byOwner       map[string][]*Firewall
	ownerTag      map[ownerTag][]*Firewall
	ownerTagValue map[ownerTagValue][]*Firewall

	// sides caches, for every rule of Rules, the firewalls its FROM and TO
	// sides select; fwRules lists, for every firewall, the rules that
	// select it on either side (whatever the enabled flags), by name.
	sides   map[*Rule]*ruleSides
	fwRules [][]*Rule
}

type tagValue struct{ name, value string }

type ownerTag struct{ owner, name string }

type ownerTagValue struct{ owner, name, value string }

// ruleSides holds the firewalls a rule's FROM and TO sides select, each
// sorted by name and free of duplicates.
type ruleSides struct{ from, to []*Firewall }

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

	// idx is the firewall's index in Inventory.Firewalls.
	idx int
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
	// ControllerAddresses are the controller's source CIDRs, normalised.
	ControllerAddresses []netip.Prefix
	// AgentPort is spec.agentPort, or [v1.DefaultAgentPort].
	AgentPort int
	// Management are the SSH CIDRs every firewall keeps, normalised.
	Management []netip.Prefix
	// Pos is the position of the Settings document; zero when the
	// repository has none.
	Pos diag.Pos
}
