package ui

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/controller/plan"
	"github.com/fwgit/fwgit/controller/status"
)

// ruleItem is a rule in a list: the FWAPI view of which rules name a
// firewall.
type ruleItem struct {
	Name     string
	UUID     string
	Text     string
	Enabled  bool
	Global   bool
	Owner    string
	Pos      posView
	Enforced bool
}

// nftLine is one line of a rendered ruleset; UUID is set when the line's
// comment names a rule, which the page links to.
type nftLine struct {
	Pre, UUID, Post string
}

type conditionView struct {
	Type, Status, Reason, Message string
	Since                         time.Time
	Age                           string
}

type historyView struct {
	Time       time.Time
	Age        string
	Revision   string
	Digest     string
	Generation uint64
	Result     string
	Duration   time.Duration
	Error      string
}

type firewallView struct {
	Name        string
	UUID        string
	Owner       string
	Description string
	Enabled     bool
	Addresses   []string
	Tags        []string
	Management  []string
	AgentURL    string
	Mode        string
	Fingerprint string
	Pos         posView
	InPolicy    bool
	Revision    string

	Row        row
	Generation uint64
	Conditions []conditionView
	Rules      []ruleItem
	Ruleset    []nftLine
	NoTable    bool
	History    []historyView
}

var ruleComment = regexp.MustCompile(`comment "rule:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"`)

// rulesetLines splits a rendered ruleset into lines, marking rule comments.
func rulesetLines(text string) []nftLine {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	out := make([]nftLine, len(lines))
	for i, l := range lines {
		m := ruleComment.FindStringSubmatchIndex(l)
		if m == nil {
			out[i] = nftLine{Pre: l}
			continue
		}
		// Link the text rule:<uuid>, inside the quotes.
		out[i] = nftLine{Pre: l[:m[2]-len("rule:")], UUID: l[m[2]:m[3]], Post: l[m[3]:]}
	}
	return out
}

func (c *console) ruleItem(pol *api.Policy, r *model.Rule, enforced bool) ruleItem {
	text := r.Text
	if r.Parsed != nil {
		text = r.Parsed.Text()
	}
	return ruleItem{Name: r.Name, UUID: r.UUID, Text: text, Enabled: r.Enabled, Global: r.Global, Owner: r.Owner,
		Pos: c.pos(r.Pos, pol.Revision, pol.Commit.Hash), Enforced: enforced}
}

func (c *console) firewall(w http.ResponseWriter, r *http.Request, p *page) error {
	name := r.PathValue("name")
	st, err := c.d.Status.Get(name)
	known := err == nil
	if err != nil && !errors.Is(err, status.ErrNotFound) {
		return err
	}
	pol := c.d.Policy.Policy()
	var f *model.Firewall
	if pol != nil {
		f = pol.Inventory.FirewallByName(name)
	}
	if f == nil && !known {
		return notFound("firewall %q is neither in the current good revision nor in status", name)
	}
	if !known {
		st = status.Firewall{Name: name}
	}
	now := c.d.Now()
	v := &firewallView{Name: name, Row: c.row(now, f, &st, pol), Generation: st.Generation}
	for _, cd := range st.Conditions {
		s := "False"
		if cd.Status {
			s = "True"
		}
		v.Conditions = append(v.Conditions, conditionView{Type: string(cd.Type), Status: s, Reason: cd.Reason, Message: cd.Message,
			Since: cd.LastTransitionTime, Age: age(now, cd.LastTransitionTime)})
	}
	if f != nil {
		v.InPolicy, v.Revision = true, pol.Revision
		v.UUID, v.Owner, v.Description, v.Enabled = f.UUID, f.Owner, f.Description, f.Enabled
		v.Addresses, v.Tags = f.AddrText, tagList(f)
		for _, m := range f.Management {
			v.Management = append(v.Management, m.String())
		}
		v.Mode = modeOf(f)
		if f.Agent != nil {
			v.AgentURL, v.Fingerprint = f.Agent.URL, f.Agent.Fingerprint
		}
		v.Pos = c.pos(f.Pos, pol.Revision, pol.Commit.Hash)
		enforced := map[*model.Rule]bool{}
		for _, rr := range pol.Inventory.RulesFor(f) {
			enforced[rr] = true
		}
		for _, rr := range pol.Inventory.FirewallRules(f) {
			v.Rules = append(v.Rules, c.ruleItem(pol, rr, enforced[rr]))
		}
		if rs := pol.Rulesets[name]; rs != nil && !rs.Empty() {
			v.Ruleset = rulesetLines(rs.Render())
		} else {
			v.NoTable = true
		}
	}
	hist, err := c.d.Status.History(name, status.HistoryLimit)
	if err != nil {
		return err
	}
	for _, h := range hist {
		v.History = append(v.History, historyView{Time: h.Time, Age: age(now, h.Time), Revision: h.Revision, Digest: h.Digest,
			Generation: h.Generation, Result: h.Result, Duration: h.Duration, Error: h.Error})
	}
	p.template, p.Title, p.Nav, p.Body = "firewall", "Firewall "+name, "overview", v
	if fws, err := c.d.Status.List(); err == nil {
		p.Live, p.Stamp = "/ui/live", stamp(c.d.Status, fws)
	}
	return nil
}

// fwItem is a firewall in a rule's list.
type fwItem struct {
	Name      string
	UUID      string
	Owner     string
	Addresses []string
	Enabled   bool
	Enforced  bool
}

type warningView struct {
	Code string
	Msg  string
	Pos  posView
}

type ruleView struct {
	ruleItem
	Written     string
	Log         bool
	Description string
	TextPos     posView
	Revision    string
	Affects     []fwItem
	Warnings    []warningView
}

func (c *console) rule(w http.ResponseWriter, r *http.Request, p *page) error {
	id := r.PathValue("uuid")
	pol := c.d.Policy.Policy()
	if pol == nil {
		return &httpError{http.StatusServiceUnavailable, "no good revision is loaded yet"}
	}
	rr := pol.Inventory.RuleByUUID(id)
	if rr == nil {
		return notFound("no rule with UUID %q in revision %s", id, pol.Revision)
	}
	enforced := map[*model.Firewall]bool{}
	for _, f := range pol.Inventory.AffectedBy(rr) {
		enforced[f] = f.Enabled && rr.Enabled
	}
	v := &ruleView{ruleItem: c.ruleItem(pol, rr, true), Written: rr.Text, Log: rr.Log, Description: rr.Description,
		TextPos: c.pos(rr.TextPos, pol.Revision, pol.Commit.Hash), Revision: pol.Revision}
	// The FWAPI answer of GET /rules/{uuid}/vms: the owner's firewalls the
	// rule names; for a global rule, that answer for every owner (and the
	// ownerless firewalls, which global rules also reach).
	var fws []*model.Firewall
	if rr.Global {
		for _, f := range pol.Inventory.Firewalls {
			if model.FWAPIAffects(rr, f) {
				fws = append(fws, f)
			}
		}
	} else {
		fws = pol.Inventory.RuleVMs(rr, rr.Owner)
	}
	for _, f := range fws {
		v.Affects = append(v.Affects, fwItem{Name: f.Name, UUID: f.UUID, Owner: f.Owner, Addresses: f.AddrText, Enabled: f.Enabled, Enforced: enforced[f]})
	}
	for _, wr := range c.ruleWarnings(pol)[rr.Name] {
		v.Warnings = append(v.Warnings, warningView{Code: wr.Code, Msg: wr.Msg, Pos: c.pos(wr.Pos, pol.Revision, pol.Commit.Hash)})
	}
	p.template, p.Title, p.Nav, p.Body = "rule", "Rule "+rr.Name, "overview", v
	return nil
}

// planCache keeps the planner's answers for the current policy: they cost a
// pass over every firewall, and a policy never changes once loaded.
type planCache struct {
	warnPolicy *api.Policy
	warnings   map[string][]plan.Warning
	planKey    [2]*api.Policy
	plan       *plan.Plan

	choicePolicy *api.Policy
	owners, tags []string
}

// ruleWarnings returns the planner's warnings for the whole of pol (every
// firewall counts as touched, so shadowing is checked everywhere), by rule
// name.
func (c *console) ruleWarnings(pol *api.Policy) map[string][]plan.Warning {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cache.warnPolicy == pol {
		return c.cache.warnings
	}
	m := map[string][]plan.Warning{}
	for _, wr := range plan.Warnings(pol.Inventory, pol.Rulesets) {
		m[wr.Rule] = append(m[wr.Rule], wr)
	}
	c.cache.warnPolicy, c.cache.warnings = pol, m
	return m
}

// planBetween returns the plan from base to head, cached for the last pair.
func (c *console) planBetween(base, head *api.Policy) *plan.Plan {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cache.planKey == [2]*api.Policy{base, head} {
		return c.cache.plan
	}
	pl := plan.Compute(base.Inventory, head.Inventory, base.Rulesets, head.Rulesets)
	pl.Base, pl.Head = base.Revision, head.Revision
	c.cache.planKey, c.cache.plan = [2]*api.Policy{base, head}, pl
	return pl
}
