package ui

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/fwgit/fwgit/controller/api"
	"github.com/fwgit/fwgit/controller/plan"
)

// diffLine is one line of a unified diff with its kind (add, del, hunk or
// ctx) for styling; the sign stays in the text, so colour is not the only
// cue.
type diffLine struct {
	Kind, Text string
}

type causeView struct {
	Kind, Name, UUID string
	Pos              posView
}

type fwPlanView struct {
	Name          string
	Status        string
	Added         int
	Removed       int
	Causes        []causeView
	Diff          []diffLine
	Names         []string
	PendingOnThis bool
}

type planView struct {
	Base, Head string
	Counts     plan.Counts
	Changed    []fwPlanView
	Unchanged  int
	Warnings   []warningView
	Markdown   string
}

// behind is a firewall whose agent does not run the desired ruleset yet.
type behind struct {
	Name            string
	Condition       string
	AppliedRevision string
	AppliedDigest   string
	DesiredDigest   string
	Ruleset         []nftLine
}

type pendingView struct {
	Head     string
	Refused  bool
	Current  string
	Behind   []behind
	Plans    []*planView
	Missing  []string
	NoPolicy bool
	BaseCmd  string
}

// pending shows what is about to land: the firewalls whose agents do not
// run the desired digest yet and, for each revision they do run that the
// archive still holds, the plan from it to the desired revision. A revision
// the archive lacks (loaded before the controller started, or older than
// the archive keeps) cannot be compiled here, so the page says so and shows
// the desired ruleset of each such firewall instead.
func (c *console) pending(w http.ResponseWriter, r *http.Request, p *page) error {
	p.template, p.Title, p.Nav = "pending", "Pending change", "pending"
	v := &pendingView{}
	p.Body = v
	fws, err := c.d.Status.List()
	if err != nil {
		return err
	}
	p.Live, p.Stamp = "/ui/live", stamp(c.d.Status, fws)
	rev, err := c.d.Status.Revision()
	if err != nil {
		return err
	}
	v.Refused, v.Current = rev.Current != "" && !rev.Valid, rev.Current
	pol := c.d.Policy.Policy()
	if pol == nil {
		v.NoPolicy = true
		return nil
	}
	v.Head = pol.Revision
	byBase := map[string][]string{}
	rows := c.rows(pol, fws)
	for i := range rows {
		rw := &rows[i]
		want := pol.Digests[rw.Name]
		if !rw.InPolicy || rw.AppliedDigest == want {
			continue
		}
		var st behind
		st.Name, st.Condition, st.AppliedDigest, st.DesiredDigest = rw.Name, rw.Condition, rw.AppliedDigest, want
		if s, err := c.d.Status.Get(rw.Name); err == nil {
			st.AppliedRevision = s.AppliedRevision
		}
		byBase[st.AppliedRevision] = append(byBase[st.AppliedRevision], st.Name)
		v.Behind = append(v.Behind, st)
	}
	for _, base := range sortedKeys(byBase) {
		var bp *api.Policy
		if base != "" && base != pol.Revision && c.d.Archive != nil {
			bp = c.d.Archive.PolicyAt(base)
		}
		if bp == nil {
			v.Missing = append(v.Missing, base)
			continue
		}
		v.Plans = append(v.Plans, c.planView(c.planBetween(bp, pol), byBase[base]))
	}
	if len(v.Missing) > 0 {
		missing := map[string]bool{}
		for _, b := range v.Missing {
			for _, n := range byBase[b] {
				missing[n] = true
			}
		}
		for i := range v.Behind {
			if b := &v.Behind[i]; missing[b.Name] {
				if rs := pol.Rulesets[b.Name]; rs != nil && !rs.Empty() {
					b.Ruleset = rulesetLines(rs.Render())
				}
			}
		}
		if h := commitOf(pol.Revision); h != "" {
			for _, b := range v.Missing {
				if bh := commitOf(b); bh != "" {
					v.BaseCmd = "fwgit plan --base " + bh + " --head " + h
					break
				}
			}
		}
	}
	return nil
}

// commitOf returns the hash of a "branch@sha1:<hash>" revision.
func commitOf(rev string) string {
	if _, h, ok := strings.Cut(rev, "@sha1:"); ok {
		return h
	}
	return ""
}

func (c *console) planView(pl *plan.Plan, pendingOn []string) *planView {
	v := &planView{Base: pl.Base, Head: pl.Head, Counts: pl.Counts}
	head := c.d.Policy.Policy()
	rev, commit := pl.Head, commitOf(pl.Head)
	if head != nil && head.Revision == pl.Head {
		commit = head.Commit.Hash
	}
	for _, f := range pl.Firewalls {
		if f.Status == plan.Unchanged {
			v.Unchanged++
			continue
		}
		fv := fwPlanView{Name: f.Name, Status: string(f.Status), Added: f.Added, Removed: f.Removed, PendingOnThis: slices.Contains(pendingOn, f.Name)}
		for _, cs := range f.Causes {
			cv := causeView{Kind: string(cs.Kind), Name: cs.Name, UUID: cs.UUID, Pos: c.pos(cs.Pos, rev, commit)}
			if cs.Kind == plan.RuleRemoved {
				// The rule lives only in the base revision: no Rule page,
				// and its position is the base's.
				cv.UUID, cv.Pos = "", c.pos(cs.Pos, pl.Base, commitOf(pl.Base))
			}
			fv.Causes = append(fv.Causes, cv)
		}
		for _, l := range strings.Split(strings.TrimRight(f.Diff, "\n"), "\n") {
			k := "ctx"
			switch {
			case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
				k = "file"
			case strings.HasPrefix(l, "@@"):
				k = "hunk"
			case strings.HasPrefix(l, "+"):
				k = "add"
			case strings.HasPrefix(l, "-"):
				k = "del"
			}
			fv.Diff = append(fv.Diff, diffLine{Kind: k, Text: l})
		}
		v.Changed = append(v.Changed, fv)
	}
	for _, wr := range pl.Warnings {
		v.Warnings = append(v.Warnings, warningView{Code: wr.Code, Msg: wr.Msg, Pos: c.pos(wr.Pos, rev, commit)})
	}
	var md strings.Builder
	if err := pl.WriteMarkdown(&md); err == nil {
		v.Markdown = md.String()
	}
	return v
}

// Recorder is an [Archive] of the last few good policies, fed by following
// a policy view. The controller keeps only the current policy; the recorder
// keeps the ones before it so the pending-change page can plan from the
// revision the agents still run. Policies are immutable, so keeping one
// costs only the memory it already had.
type Recorder struct {
	mu   sync.Mutex
	keep int
	list []*api.Policy // oldest first
}

var _ Archive = (*Recorder)(nil)

// NewRecorder returns a recorder keeping the last keep policies (at least
// 2: the current one and the one before it).
func NewRecorder(keep int) *Recorder {
	return &Recorder{keep: max(keep, 2)}
}

// Observe records p (nil and repeats are ignored).
func (rc *Recorder) Observe(p *api.Policy) {
	if p == nil {
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if n := len(rc.list); n > 0 && rc.list[n-1] == p {
		return
	}
	rc.list = slices.DeleteFunc(rc.list, func(q *api.Policy) bool { return q.Revision == p.Revision })
	rc.list = append(rc.list, p)
	if len(rc.list) > rc.keep {
		rc.list = slices.Delete(rc.list, 0, len(rc.list)-rc.keep)
	}
}

// PolicyAt implements [Archive].
func (rc *Recorder) PolicyAt(revision string) *api.Policy {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for i := len(rc.list) - 1; i >= 0; i-- {
		if rc.list[i].Revision == revision {
			return rc.list[i]
		}
	}
	return nil
}

// Run records every policy view publishes until ctx is cancelled.
func (rc *Recorder) Run(ctx context.Context, view api.PolicyView) error {
	for {
		ch := view.Changed()
		rc.Observe(view.Policy())
		select {
		case <-ctx.Done():
			return nil
		case <-ch:
		}
	}
}
