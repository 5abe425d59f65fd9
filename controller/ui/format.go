package ui

import (
	"fmt"
	"html/template"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/fwgit/fwgit/controller/status"
	"github.com/fwgit/fwgit/internal/diag"
)

// funcs are the template helpers. They format; they never look anything up.
var funcs = template.FuncMap{
	"short":    shortDigest,
	"shortRev": shortRevision,
	"shortID":  shortID,
	"when":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"dur":      formatDuration,
	"lower":    strings.ToLower,
}

// shortDigest turns "sha256:<hex>" into "sha256:<12 hex>".
func shortDigest(d string) string {
	if h, ok := strings.CutPrefix(d, "sha256:"); ok && len(h) > 12 {
		return "sha256:" + h[:12]
	}
	return d
}

// shortRevision turns "main@sha1:<hash>" into "main@sha1:<12 hex>".
func shortRevision(r string) string {
	if i := strings.LastIndexByte(r, ':'); i >= 0 && len(r)-i-1 > 12 {
		return r[:i+13]
	}
	return r
}

// shortID shows the first block of a UUID.
func shortID(id string) string {
	if i := strings.IndexByte(id, '-'); i > 0 {
		return id[:i]
	}
	return id
}

// age says how long ago t was, coarsely: "4s", "3m", "2h", "5d".
func age(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h ago"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d ago"
}

func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d/time.Microsecond)
	case d < 10*time.Second:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
	return d.Round(100 * time.Millisecond).String()
}

// fileLink expands the repository web URL template for file:line at commit.
// It returns "" when no template is configured, when the template needs a
// commit and there is none (a directory source), or when the result is not
// an http(s) URL.
func (c *console) fileLink(file string, line int, revision, commit string) string {
	tmpl := c.d.RepoWebURL
	if tmpl == "" || file == "" || strings.HasPrefix(file, "(") {
		return ""
	}
	if strings.Contains(tmpl, "{commit}") && commit == "" {
		return ""
	}
	p := file
	if c.d.RepoPath != "" {
		p = path.Join(c.d.RepoPath, file)
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	ln := ""
	if line > 0 {
		ln = strconv.Itoa(line)
	}
	out := strings.NewReplacer(
		"{revision}", url.PathEscape(revision), "{commit}", url.PathEscape(commit),
		"{path}", strings.Join(segs, "/"), "{line}", ln,
	).Replace(tmpl)
	u, err := url.Parse(out)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	return out
}

// posView is a file position with its web link.
type posView struct {
	Text string
	Link string
}

func (c *console) pos(p diag.Pos, revision, commit string) posView {
	return posView{Text: p.String(), Link: c.fileLink(p.File, p.Line, revision, commit)}
}

// commitView describes a commit for the revision strip.
type commitView struct {
	Revision string
	Subject  string
	Author   string
	Time     time.Time
	Age      string
}

// diagView is one diagnostic of the newest revision.
type diagView struct {
	Pos      posView
	Severity string
	Code     string
	Msg      string
}

// revisionView is the revision strip every page shows, and the refused
// banner with the newest revision's diagnostics.
type revisionView struct {
	Current  commitView
	LastGood commitView
	// Refused is set when the newest revision is invalid: the last good
	// one keeps serving.
	Refused     bool
	Errors      int
	Warnings    int
	Diagnostics []diagView
	Omitted     int
	None        bool
}

func (c *console) commitView(revision string, cm status.Commit) commitView {
	return commitView{Revision: revision, Subject: cm.Subject, Author: cm.Author, Time: cm.Time, Age: age(c.d.Now(), cm.Time)}
}

func (c *console) revisionView(rev status.Revision) *revisionView {
	v := &revisionView{
		Current:  c.commitView(rev.Current, rev.CurrentCommit),
		LastGood: c.commitView(rev.LastGood, rev.LastGoodCommit),
		Refused:  rev.Current != "" && !rev.Valid,
		Errors:   rev.Diagnostics.Errors(), Warnings: rev.Diagnostics.Warnings(),
		Omitted: rev.Omitted, None: rev.Current == "",
	}
	// The refused banner lists the errors first; warnings of a good
	// revision stay on the overview below it.
	for _, d := range rev.Diagnostics {
		v.Diagnostics = append(v.Diagnostics, diagView{
			Pos:      c.pos(d.Pos, rev.Current, rev.CurrentCommit.Hash),
			Severity: d.Severity.String(), Code: d.Code, Msg: d.Msg,
		})
	}
	return v
}
