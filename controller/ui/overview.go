package ui

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/model"
	"github.com/fwgit/fwgit/controller/status"
)

// Paging of the overview table.
const (
	DefaultPerPage = 50
	MaxPerPage     = 1000
)

// Condition labels the overview counts and filters by. A firewall carries
// its headline (status.Firewall.Summary) and every condition that is true,
// plus OutOfSync when InSync is false.
var conditionLabels = []string{"Ready", "InSync", "OutOfSync", "NotReady", "Stalled", "Unreachable", "RolledBack", "Unknown"}

// row is one firewall of the overview.
type row struct {
	Name      string
	Owner     string
	Tags      []string
	Condition string
	Reason    string
	Message   string
	// Sync is InSync, OutOfSync or "" when not observed.
	Sync          string
	Labels        []string
	DesiredDigest string
	AppliedDigest string
	Drift         string
	LastApply     time.Time
	LastApplyAge  string
	Mode          string
	// InPolicy is false for a firewall only the status store knows.
	InPolicy bool
}

func (r *row) has(label string) bool { return slices.Contains(r.Labels, label) }

// rows joins the status store with the current policy: every firewall of
// either, sorted by name.
func (c *console) rows(pol *api.Policy, fws []status.Firewall) []row {
	now := c.d.Now()
	var inv *model.Inventory
	if pol != nil {
		inv = pol.Inventory
	}
	out := make([]row, 0, len(fws))
	seen := make(map[string]bool, len(fws))
	for i := range fws {
		st := &fws[i]
		seen[st.Name] = true
		var f *model.Firewall
		if inv != nil {
			f = inv.FirewallByName(st.Name)
		}
		out = append(out, c.row(now, f, st, pol))
	}
	if inv != nil {
		for _, f := range inv.Firewalls {
			if !seen[f.Name] {
				out = append(out, c.row(now, f, &status.Firewall{Name: f.Name}, pol))
			}
		}
		slices.SortFunc(out, func(a, b row) int { return strings.Compare(a.Name, b.Name) })
	}
	return out
}

func (c *console) row(now time.Time, f *model.Firewall, st *status.Firewall, pol *api.Policy) row {
	r := row{Name: st.Name, Condition: st.Summary(), DesiredDigest: st.DesiredDigest, AppliedDigest: st.AppliedDigest,
		LastApply: st.LastApply, LastApplyAge: age(now, st.LastApply), Mode: st.Mode}
	r.Reason, r.Message = st.Message()
	r.Labels = append(r.Labels, r.Condition)
	for _, cd := range st.Conditions {
		if cd.Status && string(cd.Type) != r.Condition {
			r.Labels = append(r.Labels, string(cd.Type))
		}
	}
	if cd := st.Condition(status.InSync); cd != nil {
		r.Sync = "OutOfSync"
		if cd.Status {
			r.Sync = "InSync"
		} else {
			r.Labels = append(r.Labels, "OutOfSync")
		}
	}
	if st.Drift != nil {
		r.Drift = st.Drift.Reason
		if st.Drift.Repaired {
			r.Drift += " (repaired)"
		}
	}
	if f != nil {
		r.InPolicy = true
		r.Owner = f.Owner
		r.Tags = tagList(f)
		if r.Mode == "" {
			r.Mode = modeOf(f)
		}
		if r.DesiredDigest == "" && pol != nil {
			r.DesiredDigest = pol.Digests[f.Name]
		}
	}
	return r
}

func modeOf(f *model.Firewall) string {
	switch {
	case f.Agent == nil:
		return status.ModeNone
	case f.Agent.Mode == status.ModePull:
		return status.ModePull
	}
	return status.ModePush
}

// tagList renders a firewall's tags as sorted "name=value" strings.
func tagList(f *model.Firewall) []string {
	out := make([]string, 0, len(f.Tags))
	for k, v := range f.Tags {
		out = append(out, k+"="+v.String())
	}
	slices.Sort(out)
	return out
}

// overviewQuery is the overview's filter, sort and page, from the URL.
type overviewQuery struct {
	Cond, Tag, Owner, Name string
	Sort                   string
	Desc                   bool
	Page, Per              int
}

var sortColumns = []string{"name", "owner", "tags", "condition", "sync", "desired", "applied", "drift", "lastApply", "mode"}

func parseOverview(v url.Values) overviewQuery {
	q := overviewQuery{Cond: v.Get("cond"), Tag: strings.TrimSpace(v.Get("tag")), Owner: strings.TrimSpace(v.Get("owner")),
		Name: strings.TrimSpace(v.Get("name")), Sort: v.Get("sort"), Desc: v.Get("dir") == "desc", Page: 1, Per: DefaultPerPage}
	if !slices.Contains(sortColumns, q.Sort) {
		q.Sort = "name"
	}
	if !slices.Contains(conditionLabels, q.Cond) {
		q.Cond = ""
	}
	if n, err := strconv.Atoi(v.Get("page")); err == nil && n > 0 {
		q.Page = n
	}
	if n, err := strconv.Atoi(v.Get("per")); err == nil && n > 0 {
		q.Per = min(n, MaxPerPage)
	}
	return q
}

// values encodes q, leaving defaults out so links stay short.
func (q overviewQuery) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("cond", q.Cond)
	set("tag", q.Tag)
	set("owner", q.Owner)
	set("name", q.Name)
	if q.Sort != "name" {
		v.Set("sort", q.Sort)
	}
	if q.Desc {
		v.Set("dir", "desc")
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	if q.Per != DefaultPerPage {
		v.Set("per", strconv.Itoa(q.Per))
	}
	return v
}

func (q overviewQuery) href() string {
	if s := q.values().Encode(); s != "" {
		return "/ui/?" + s
	}
	return "/ui/"
}

func (q overviewQuery) match(r *row) bool {
	if q.Cond != "" && !r.has(q.Cond) {
		return false
	}
	if q.Owner != "" && r.Owner != q.Owner && !strings.HasPrefix(r.Owner, q.Owner) {
		return false
	}
	if q.Name != "" && !strings.Contains(r.Name, q.Name) {
		return false
	}
	if q.Tag != "" {
		name, value, hasValue := strings.Cut(q.Tag, "=")
		found := false
		for _, t := range r.Tags {
			k, v, _ := strings.Cut(t, "=")
			if k == name && (!hasValue || v == value) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func compareRows(col string) func(a, b *row) int {
	key := func(r *row) string {
		switch col {
		case "owner":
			return r.Owner
		case "tags":
			return strings.Join(r.Tags, ",")
		case "condition":
			return r.Condition
		case "sync":
			return r.Sync
		case "desired":
			return r.DesiredDigest
		case "applied":
			return r.AppliedDigest
		case "drift":
			return r.Drift
		case "mode":
			return r.Mode
		}
		return r.Name
	}
	if col == "lastApply" {
		return func(a, b *row) int { return cmp.Or(a.LastApply.Compare(b.LastApply), strings.Compare(a.Name, b.Name)) }
	}
	return func(a, b *row) int { return cmp.Or(strings.Compare(key(a), key(b)), strings.Compare(a.Name, b.Name)) }
}

// column is a sortable table header.
type column struct {
	Label string
	Href  string
	// Sorted is "ascending", "descending" or "none" (aria-sort).
	Sorted string
	Arrow  string
}

// count is one condition count at the top of the overview.
type count struct {
	Label  string
	N      int
	Href   string
	Active bool
}

// pageLink is a link of the pager.
type pageLink struct {
	Label   string
	Href    string
	Current bool
}

type option struct {
	Value, Label string
	Selected     bool
}

type overviewView struct {
	Q          overviewQuery
	Total      int
	Matched    int
	Counts     []count
	Columns    []column
	Rows       []*row
	Pages      []pageLink
	First      int
	Last       int
	Conditions []option
	Owners     []option
	TagChoices []string
	Filtered   bool
	NoPolicy   bool
	Pending    bool
}

func (c *console) overview(w http.ResponseWriter, r *http.Request, p *page) error {
	fws, err := c.d.Status.List()
	if err != nil {
		return err
	}
	pol := c.d.Policy.Policy()
	rows := c.rows(pol, fws)
	p.template, p.Title, p.Nav = "overview", "Overview", "overview"
	p.Live, p.Stamp = "/ui/live", stamp(c.d.Status, fws)
	p.Body = c.overviewView(parseOverview(r.URL.Query()), rows, pol)
	return nil
}

func (c *console) overviewView(q overviewQuery, rows []row, pol *api.Policy) *overviewView {
	v := &overviewView{Q: q, Total: len(rows), NoPolicy: pol == nil}
	tally := map[string]int{}
	var sel []*row
	for i := range rows {
		r := &rows[i]
		for _, l := range r.Labels {
			tally[l]++
		}
		if pol != nil && r.InPolicy && r.AppliedDigest != pol.Digests[r.Name] {
			v.Pending = true
		}
		if q.match(r) {
			sel = append(sel, r)
		}
	}
	v.Matched = len(sel)
	v.Filtered = q.Cond != "" || q.Tag != "" || q.Owner != "" || q.Name != ""
	for _, l := range conditionLabels {
		cq := q
		cq.Cond, cq.Page = l, 1
		if q.Cond == l {
			cq.Cond = ""
		}
		v.Counts = append(v.Counts, count{Label: l, N: tally[l], Href: cq.href(), Active: q.Cond == l})
		v.Conditions = append(v.Conditions, option{Value: l, Label: l, Selected: q.Cond == l})
	}
	cmpf := compareRows(q.Sort)
	if q.Desc {
		slices.SortStableFunc(sel, func(a, b *row) int { return cmpf(b, a) })
	} else {
		slices.SortStableFunc(sel, cmpf)
	}
	for _, col := range []struct{ key, label string }{
		{"name", "Firewall"}, {"owner", "Owner"}, {"tags", "Tags"}, {"condition", "Condition"}, {"sync", "Sync"},
		{"desired", "Desired"}, {"applied", "Applied"}, {"drift", "Drift"}, {"lastApply", "Last apply"}, {"mode", "Agent"},
	} {
		cq := q
		cq.Sort, cq.Desc, cq.Page = col.key, false, 1
		h := column{Label: col.label, Sorted: "none"}
		if q.Sort == col.key {
			cq.Desc = !q.Desc
			h.Sorted, h.Arrow = "ascending", "▲"
			if q.Desc {
				h.Sorted, h.Arrow = "descending", "▼"
			}
		}
		h.Href = cq.href()
		v.Columns = append(v.Columns, h)
	}
	pages := max(1, (len(sel)+q.Per-1)/q.Per)
	if q.Page > pages {
		q.Page = pages
		v.Q.Page = pages
	}
	lo := (q.Page - 1) * q.Per
	hi := min(lo+q.Per, len(sel))
	v.Rows = sel[lo:hi]
	v.First, v.Last = lo+1, hi
	if len(sel) == 0 {
		v.First = 0
	}
	if pages > 1 {
		link := func(label string, n int) {
			pq := q
			pq.Page = n
			v.Pages = append(v.Pages, pageLink{Label: label, Href: pq.href(), Current: n == q.Page})
		}
		if q.Page > 1 {
			link("« previous", q.Page-1)
		}
		for n := 1; n <= pages; n++ {
			if n == 1 || n == pages || (n >= q.Page-3 && n <= q.Page+3) {
				link(strconv.Itoa(n), n)
			} else if n == q.Page-4 || n == q.Page+4 {
				v.Pages = append(v.Pages, pageLink{Label: "…"})
			}
		}
		if q.Page < pages {
			link("next »", q.Page+1)
		}
	}
	if pol != nil {
		owners, tags := c.choices(pol)
		for _, o := range owners {
			v.Owners = append(v.Owners, option{Value: o, Label: o, Selected: o == q.Owner})
		}
		v.TagChoices = tags
	}
	return v
}

// choices returns the owners and tag suggestions of the filter form,
// computed once per policy.
func (c *console) choices(pol *api.Policy) (owners, tags []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cache.choicePolicy != pol {
		set := map[string]bool{}
		for _, f := range pol.Inventory.Firewalls {
			if f.Owner != "" {
				set[f.Owner] = true
			}
		}
		c.cache.choicePolicy, c.cache.owners, c.cache.tags = pol, sortedKeys(set), tagChoices(pol.Inventory, 200)
	}
	return c.cache.owners, c.cache.tags
}

// tagChoices lists "name" and "name=value" for the tag filter's
// suggestions, at most n.
func tagChoices(inv *model.Inventory, n int) []string {
	var out []string
	for _, name := range sortedKeys(inv.Tags) {
		out = append(out, name)
		vals := map[string]bool{}
		for _, f := range inv.TagFirewalls(name) {
			vals[f.Tags[name].String()] = true
		}
		for _, v := range sortedKeys(vals) {
			out = append(out, name+"="+v)
		}
		if len(out) >= n {
			return out[:n]
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// stamp summarises what the pages show, so the refresh script reloads only
// when something changed: the revision and every firewall's condition,
// digests, drift and last apply.
func stamp(st StatusReader, fws []status.Firewall) string {
	h := sha256.New()
	if rev, err := st.Revision(); err == nil {
		h.Write([]byte(rev.Current + "\x00" + rev.LastGood + "\x00" + strconv.FormatBool(rev.Valid) + "\x00"))
	}
	for i := range fws {
		f := &fws[i]
		h.Write([]byte(f.Name + "\x00" + f.Summary() + "\x00" + f.AppliedDigest + "\x00" + f.DesiredDigest + "\x00" +
			f.LastApply.String() + "\x00" + strconv.FormatBool(f.IsTrue(status.InSync)) + "\x00" + strconv.FormatBool(f.Drift != nil) + "\x00"))
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// live answers the refresh script: the current stamp.
func (c *console) live(w http.ResponseWriter, r *http.Request, p *page) error {
	fws, err := c.d.Status.List()
	if err != nil {
		return err
	}
	b, _ := json.Marshal(map[string]string{"stamp": stamp(c.d.Status, fws)})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(append(b, '\n'))
	return nil
}
